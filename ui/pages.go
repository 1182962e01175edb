package ui

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/metrics"
	"github.com/clinchsso/clinch/web"
)

// ---- first-run wizard ----

func (h *Handler) needsSetup(w http.ResponseWriter, r *http.Request) bool {
	need, err := h.auth.NeedsSetup(r.Context())
	if err != nil {
		web.Logger(r, h.log).Error("check first run", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return false
	}
	if !need {
		// Once an account exists the wizard does not exist either.
		h.RenderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	}
	return need
}

func (h *Handler) signupPage(r *http.Request, p *page) *page {
	p.Title = "Create the first account"
	p.MinPassword, p.MaxPassword = auth.MinPasswordLen, auth.MaxPasswordLen
	p.AskSetupCode = !web.LocalRequest(r, h.trusted)
	p.NoSetupCode = p.AskSetupCode && h.setupCode == ""
	return p
}

func (h *Handler) signupForm(w http.ResponseWriter, r *http.Request) {
	if !h.needsSetup(w, r) {
		return
	}
	h.render(w, r, http.StatusOK, "signup", h.signupPage(r, &page{}))
}

func (h *Handler) signup(w http.ResponseWriter, r *http.Request) {
	if !h.needsSetup(w, r) {
		return
	}
	p := h.signupPage(r, &page{
		Email:    strings.TrimSpace(r.PostFormValue("email")),
		Name:     strings.TrimSpace(r.PostFormValue("name")),
		Username: strings.TrimSpace(r.PostFormValue("username")),
	})
	// From another machine, the setup code proves the person can read
	// Clinch's log, so a server on a network cannot be claimed by whoever
	// finds it first. Checked before anything else is looked at.
	if p.AskSetupCode {
		code := r.PostFormValue("setup_code")
		if !setupCodeMatches(h.setupCode, code) {
			web.Logger(r, h.log).Info("first-run wizard refused: setup code missing or wrong",
				"ip", web.ClientIP(r, h.trusted), "code_given", code != "")
			switch {
			case h.setupCode == "":
				p.Error = "This Clinch has no setup code: it prints one in its log when it starts with no accounts. Restart Clinch, or open this page on the machine Clinch runs on."
			case strings.TrimSpace(code) == "":
				p.Error = "Enter the setup code. Clinch printed it in its log when it started (the line with setup_code=)."
			default:
				p.Error = "That setup code is not right. Copy it from Clinch's log (the line with setup_code=); it changes each time Clinch starts."
			}
			h.render(w, r, http.StatusForbidden, "signup", p)
			return
		}
		p.SetupCode = code
	}
	password := r.PostFormValue("password")
	if password != r.PostFormValue("password_confirm") {
		p.Error = "The two passwords do not match."
		h.render(w, r, http.StatusBadRequest, "signup", p)
		return
	}
	ctx := r.Context()
	u, err := h.auth.SetupFirstUser(ctx, auth.NewUser{
		Email: p.Email, DisplayName: p.Name, Username: p.Username, Password: password,
	})
	var inv *auth.InvalidError
	switch {
	case errors.Is(err, auth.ErrSetupDone):
		h.RenderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
		return
	case errors.As(err, &inv):
		p.Error = fieldLabel(inv.Field) + " " + inv.Reason + "."
		h.render(w, r, http.StatusBadRequest, "signup", p)
		return
	case err != nil:
		web.Logger(r, h.log).Error("first-run setup", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "The account was not created. Please try again.")
		return
	}
	web.Logger(r, h.log).Info("first admin created", "user_id", u.ID)
	sess, token, err := h.auth.StartSession(ctx, u, web.ClientIP(r, h.trusted), r.UserAgent(), false, "1", []string{"pwd"})
	if err != nil {
		web.Logger(r, h.log).Error("start session after setup", "err", err)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	h.site.SetSession(w, token, sess.ExpiresAt, false)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func fieldLabel(f string) string {
	switch f {
	case "email":
		return "Email"
	case "username":
		return "Username"
	case "password":
		return "Password"
	case "name":
		return "Name"
	}
	return "Input"
}

// ---- sign-in ----

// signinPage fills in the sign-in page's title and its CSP: Chromium
// applies form-action to the redirects that follow the POST, so a sign-in
// heading on to an application must allow that application's origin. The
// origin comes only from what Clinch has registered: a pending OIDC
// authorization's registered redirect URI, or a host a forward_auth app
// covers.
func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request, p *page, step *Continuation) *page {
	p.Title = "Sign in"
	if p.PasskeysOn = h.auth.PasskeysEnabled(); p.PasskeysOn {
		p.Script = h.jsURL
	}
	var extra []string
	if step != nil {
		p.Authz, p.AppName = step.ID, step.AppName
		extra = append(extra, step.FormAction...)
	} else if p.RD != "" {
		if u, ok := web.ParseReturnURL(h.site, p.RD); ok && web.Origin(u) != web.Origin(h.site.Host) &&
			h.covers != nil && h.covers(r.Context(), u) {
			extra = append(extra, web.Origin(u))
		}
	}
	if len(extra) > 0 {
		w.Header().Set("Content-Security-Policy", web.CSP(extra...))
	}
	return p
}

// continuation returns the pending step id names for this browser, or nil.
func (h *Handler) continuation(r *http.Request, id string) *Continuation {
	if id == "" || h.pending == nil {
		return nil
	}
	c, ok := h.pending(r, id)
	if !ok {
		return nil
	}
	c.ID = id
	return c
}

func (h *Handler) signinForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rd := q.Get("rd")
	p := &page{RD: rd}
	step := h.continuation(r, q.Get(authzParam))
	if q.Get(authzParam) != "" && step == nil {
		p.Error = "The application's sign-in request has expired or was started in another browser. Sign in here, then open the application again."
	}
	if u, sess, ok := h.CurrentUser(r); ok {
		switch {
		case step == nil:
			http.Redirect(w, r, h.returnTarget(r.Context(), rd, sess), http.StatusSeeOther)
			return
		case !step.Reauth:
			http.Redirect(w, r, step.Continue, http.StatusSeeOther)
			return
		case q.Get("other") == "":
			// The application asked for a fresh sign-in: the same person
			// types their password again, or picks another account.
			p.Reauth, p.User, p.Login = true, u, u.Login()
		}
	} else {
		need, err := h.auth.NeedsSetup(r.Context())
		if err != nil {
			web.Logger(r, h.log).Error("check first run", "err", err)
		}
		if need {
			http.Redirect(w, r, "/signup", http.StatusSeeOther)
			return
		}
	}
	h.render(w, r, http.StatusOK, "signin", h.signinPage(w, r, p, step))
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	p := &page{
		Login:    strings.TrimSpace(r.PostFormValue("login")),
		Remember: r.PostFormValue("remember") == "1",
		RD:       r.PostFormValue("rd"),
	}
	step := h.continuation(r, r.PostFormValue(authzParam))
	h.signinPage(w, r, p, step)
	password := r.PostFormValue("password")
	if p.Login == "" || password == "" {
		p.Error = "Enter your email or username and your password."
		h.render(w, r, http.StatusBadRequest, "signin", p)
		return
	}
	ctx := r.Context()
	log := web.Logger(r, h.log)
	ip := web.ClientIP(r, h.trusted)
	_, sess, token, err := h.auth.Authenticate(ctx, auth.SignIn{
		Login: p.Login, Password: password, IP: ip, UserAgent: r.UserAgent(), Remember: p.Remember,
	})
	var rl *auth.RateLimitError
	switch {
	case errors.As(err, &rl):
		h.countSignIn(metrics.SigninRateLimited)
		log.Warn("sign-in rate limited", "ip", ip, "scope", rl.Scope)
		secs := int(math.Ceil(rl.RetryAfter.Seconds()))
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		p.Error = "Too many sign-in attempts. For your safety, sign-in is paused; try again in " + humanWait(rl.RetryAfter) + "."
		h.render(w, r, http.StatusTooManyRequests, "signin", p)
		return
	case errors.Is(err, auth.ErrLoginTooLong):
		h.countSignIn(metrics.SigninInvalid)
		log.Info("sign-in refused: login too long", "ip", ip)
		// Whatever was typed (a password, as like as not) is not sent back.
		p.Login = ""
		p.Error = "The email or username is longer than " + strconv.Itoa(auth.MaxLoginLen) + " characters. Did you type your password into the first box?"
		h.render(w, r, http.StatusBadRequest, "signin", p)
		return
	case errors.Is(err, auth.ErrInvalidCredentials):
		h.countSignIn(metrics.SigninInvalid)
		log.Info("sign-in failed", "ip", ip)
		p.Error = "The email, username or password is not right."
		h.render(w, r, http.StatusUnauthorized, "signin", p)
		return
	case err != nil:
		h.countSignIn(metrics.SigninError)
		log.Error("sign-in", "err", err)
		p.Error = "Something went wrong on our side. Please try again."
		h.render(w, r, http.StatusInternalServerError, "signin", p)
		return
	}
	h.countSignIn(metrics.SigninSuccess)
	log.Info("signed in", "user_id", sess.UserID, "ip", ip)
	// A browser that signs in again leaves no orphaned session behind.
	if old := web.SessionToken(r); old != "" {
		if prev, err := h.auth.SessionByToken(ctx, old); err == nil && prev.ID != sess.ID {
			_ = h.auth.EndSession(ctx, prev.ID, "")
		}
	}
	h.site.SetSession(w, token, sess.ExpiresAt, sess.Remember)
	if step != nil {
		http.Redirect(w, r, step.Continue, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, h.returnTarget(ctx, p.RD, sess), http.StatusSeeOther)
}

func (h *Handler) countSignIn(result string) {
	if h.metrics != nil {
		h.metrics.SignIn(result)
	}
}

// humanWait says a retry delay in words.
func humanWait(d time.Duration) string {
	switch m := int(math.Ceil(d.Minutes())); {
	case d < time.Minute:
		return "a minute"
	case m == 1:
		return "1 minute"
	default:
		return strconv.Itoa(m) + " minutes"
	}
}

// returnTarget is where a signed-in browser goes: a return URL on Clinch
// itself, one on another host only when ReturnTo vouches for it, else "/".
func (h *Handler) returnTarget(ctx context.Context, rd string, sess *auth.Session) string {
	if rd == "" {
		return "/"
	}
	u, err := web.CheckReturnURL(h.site, rd)
	if err != nil {
		// Why, never the URL itself: its query may carry anything.
		reason := err.Error()
		var re *web.ReturnURLError
		if errors.As(err, &re) {
			reason = re.Reason
		}
		web.ContextLogger(ctx, h.log).Info("return URL dropped", "reason", reason)
		return "/"
	}
	if web.Origin(u) == web.Origin(h.site.Host) {
		switch u.Path {
		case "/signin", "/signup":
			return "/"
		}
		// Absolute, so a path like "//x" can never become protocol-relative.
		return u.String()
	}
	if h.returnTo != nil {
		if target, ok := h.returnTo(ctx, u, sess); ok {
			return target
		}
	}
	return "/"
}

// ---- sign-out and sessions ----

func (h *Handler) signout(w http.ResponseWriter, r *http.Request) {
	if _, sess, ok := h.CurrentUser(r); ok {
		if err := h.auth.EndSession(r.Context(), sess.ID, sess.UserID); err != nil && !errors.Is(err, auth.ErrNotFound) {
			web.Logger(r, h.log).Error("sign out", "err", err)
		}
	}
	h.site.ClearSession(w)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	u, cur, ok := h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	ss, err := h.auth.UserSessions(r.Context(), u.ID)
	if err != nil {
		web.Logger(r, h.log).Error("list sessions", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	p := &page{Title: "Home", User: u, Apps: h.apps(r.Context(), u), PasskeysOn: h.auth.PasskeysEnabled()}
	for _, s := range ss {
		p.Sessions = append(p.Sessions, sessionView{Session: s, Current: s.ID == cur.ID})
	}
	h.render(w, r, http.StatusOK, "home", p)
}

func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	u, cur, ok := h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	id := r.PathValue("id")
	// EndSession with the owner's id refuses anybody else's session as
	// not found, so a user cannot even learn that a session id exists.
	err := h.auth.EndSession(r.Context(), id, u.ID)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		h.RenderError(w, r, http.StatusNotFound, "Session not found", "That session has already ended or is not yours.")
		return
	case err != nil:
		web.Logger(r, h.log).Error("end session", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	if id == cur.ID {
		h.site.ClearSession(w)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
