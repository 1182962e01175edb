package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/clinchsso/clinch/auth"
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
	case "claims":
		return "Custom claims"
	case "groups":
		return "Groups"
	case "description":
		return "Description"
	}
	return "Input"
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
	err := h.auth.RevokeSession(asUser(r, u), id, u.ID)
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
