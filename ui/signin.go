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

// The sign-in pages. auth runs the sign-in (auth.Authenticate and the
// steps after it); these pages only show each step and post to it:
//
//	GET/POST /signin                  the password (first step)
//	GET/POST /signin/second-factor    a TOTP or backup code
//	GET/POST /signin/setup-totp       TOTP set-up, when a second factor is required
//	GET      /signin/step-up          a second factor for the signed-in user
//
// Between steps the browser holds only the clinch_signin cookie; where
// the sign-in goes afterwards (rd, or a pending OIDC authorization) is
// kept with the pending sign-in on the server.

// widenFormAction sets the CSP of a sign-in page whose form, when it
// succeeds, redirects on to an application: Chromium applies form-action to
// the redirects that follow the POST. The origin comes only from what
// Clinch has registered: a pending OIDC authorization's registered
// redirect URI, or a host a forward_auth app covers.
func (h *Handler) widenFormAction(w http.ResponseWriter, r *http.Request, rd string, step *Continuation) {
	var extra []string
	if step != nil {
		extra = append(extra, step.FormAction...)
	} else if rd != "" {
		if u, ok := web.ParseReturnURL(h.site, rd); ok && web.Origin(u) != web.Origin(h.site.Host) &&
			h.covers != nil && h.covers(r.Context(), u) {
			extra = append(extra, web.Origin(u))
		}
	}
	if len(extra) > 0 {
		w.Header().Set("Content-Security-Policy", web.CSP(extra...))
	}
}

// signinPage fills in the sign-in page's title, pending authorization and
// CSP.
func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request, p *page, step *Continuation) *page {
	p.Title = "Sign in"
	if p.PasskeysOn = h.auth.PasskeysEnabled(); p.PasskeysOn {
		p.Script = h.jsURL
	}
	if step != nil {
		p.Authz, p.AppName = step.ID, step.AppName
	}
	if h.magicOn() {
		p.MagicHref = magicHref(p.RD, p.Authz)
	}
	h.widenFormAction(w, r, p.RD, step)
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
	if q.Get("reset") == "done" {
		p.Notice = "Your password was changed and every session of your account was signed out. Sign in with the new password."
	}
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
	res, err := h.auth.Authenticate(ctx, auth.SignIn{
		Login: p.Login, Password: password, IP: ip, UserAgent: r.UserAgent(), Remember: p.Remember,
		RD: p.RD, Authz: p.Authz, Previous: web.SessionToken(r), Pending: web.SignInToken(r),
	})
	var rl *auth.RateLimitError
	switch {
	case errors.As(err, &rl):
		h.rateLimited(w, rl)
		log.Warn("sign-in rate limited", "ip", ip, "scope", rl.Scope)
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
	h.stepDone(w, r, res)
}

// stepDone answers a sign-in step that succeeded: on to the next step's
// page (its cookie set), or, when the sign-in is done, the session cookie
// and on to where the sign-in was going.
func (h *Handler) stepDone(w http.ResponseWriter, r *http.Request, res *auth.SignInResult) {
	if !res.Done() {
		if res.PendingToken != "" {
			h.site.SetSignIn(w, res.PendingToken)
		}
		web.Logger(r, h.log).Info("sign-in continues", "user_id", res.User.ID, "step", string(res.Pending.Step))
		http.Redirect(w, r, stepPath(res.Pending.Step), http.StatusSeeOther)
		return
	}
	h.signedIn(w, r, res)
	http.Redirect(w, r, h.destination(r, res.RD, res.Authz, res.Session), http.StatusSeeOther)
}

// signedIn sets the cookies of a finished sign-in and counts it.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, res *auth.SignInResult) {
	h.countSignIn(metrics.SigninSuccess)
	web.Logger(r, h.log).Info("signed in", "user_id", res.Session.UserID, "ip", res.Session.IP, "acr", res.Session.ACR)
	if web.SignInToken(r) != "" {
		h.site.ClearSignIn(w)
	}
	h.site.SetSession(w, res.SessionToken, res.Session.ExpiresAt, res.Session.Remember)
}

// destination is where a finished sign-in goes: the pending authorization
// it was for (when this browser still has it), else the return URL.
func (h *Handler) destination(r *http.Request, rd, authz string, sess *auth.Session) string {
	if step := h.continuation(r, authz); step != nil {
		return step.Continue
	}
	return h.returnTarget(r.Context(), rd, sess)
}

// stepPath is the page of a sign-in step.
func stepPath(s auth.SignInStep) string {
	if s == auth.StepSetupTOTP {
		return pathSetupTOTP
	}
	return pathSecondFactor
}

func (h *Handler) rateLimited(w http.ResponseWriter, rl *auth.RateLimitError) {
	h.countSignIn(metrics.SigninRateLimited)
	setRetryAfter(w, rl.RetryAfter)
}

// setRetryAfter says in whole seconds (at least one) when to try again.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
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
		switch {
		case u.Path == "/signin", u.Path == "/signup", strings.HasPrefix(u.Path, "/signin/"):
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
