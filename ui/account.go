package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/mail"
	"github.com/clinchsso/clinch/web"
)

// The account page, the hub of what a signed-in person manages about
// themselves:
//
//	GET  /account                        profile, password, second factors, sessions, connected apps
//	POST /account/profile                the display name
//	POST /account/email                  ask to change the email (current password); mails a link to the new address
//	GET  /account/email/confirm?token=T  the link: a page with one button
//	POST /account/email/confirm          uses the link up: the address changes now
//	POST /account/password               a new password (current password); ends the other sessions
//	POST /account/sessions/{id}/signout  ends one of the user's sessions
//	POST /account/apps/{id}/revoke       takes back an OIDC app's consent and tokens
//
// Second factors and passkeys keep their own pages (security.go,
// passkeys.go); this page shows their state and links there.
const (
	pathAccount      = "/account"
	pathEmailConfirm = "/account/email/confirm"
)

// ConnectedApp is an OIDC application a user let in.
type ConnectedApp struct {
	ID     string
	Name   string
	Scopes []string
	Since  time.Time
}

// ConnectedApps lists and revokes the OIDC applications a user let in;
// main wires the OIDC grants in.
type ConnectedApps interface {
	UserApps(ctx context.Context, userID string) ([]ConnectedApp, error)
	// RevokeUserApp ends the user's consent and every token at the app.
	RevokeUserApp(ctx context.Context, userID, appID string) error
}

// EmailChangeURL is the link an email-change token is used at.
func EmailChangeURL(host *url.URL, token string) string {
	return strings.TrimSuffix(host.String(), "/") + pathEmailConfirm + "?" + url.Values{"token": {token}}.Encode()
}

func (h *Handler) registerAccount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+pathAccount, h.account)
	mux.HandleFunc("POST "+pathAccount+"/profile", h.accountProfile)
	mux.HandleFunc("POST "+pathAccount+"/email", h.accountEmail)
	mux.HandleFunc("GET "+pathEmailConfirm, h.emailConfirmForm)
	mux.HandleFunc("POST "+pathEmailConfirm, h.emailConfirm)
	mux.HandleFunc("POST "+pathAccount+"/password", h.accountPassword)
	mux.HandleFunc("POST "+pathAccount+"/sessions/{id}/signout", h.accountSignOut)
	mux.HandleFunc("POST "+pathAccount+"/apps/{id}/revoke", h.accountRevokeApp)
}

// accountNotice is the message after a change, named by ?done= so a
// reload does not post again.
func accountNotice(done string) string {
	switch done {
	case "name":
		return "Your name was saved."
	case "password":
		return "Your password was changed. Every other browser and app signed in as you was signed out."
	case "signedout":
		return "That session was signed out."
	case "revoked":
		return "Access revoked. The application's tokens no longer work, and it will ask for your consent again."
	case "email":
		return "Your email address was changed."
	}
	return ""
}

// accountUser returns the browser's user and session, or sends it to sign
// in and come back to the account page.
func (h *Handler) accountUser(w http.ResponseWriter, r *http.Request) (*auth.User, *auth.Session, bool) {
	u, sess, ok := h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, signinURL(pathAccount, ""), http.StatusSeeOther)
	}
	return u, sess, ok
}

func (h *Handler) account(w http.ResponseWriter, r *http.Request) {
	u, cur, ok := h.accountUser(w, r)
	if !ok {
		return
	}
	h.accountPage(w, r, u, cur, http.StatusOK, &page{Notice: accountNotice(r.URL.Query().Get("done"))})
}

// accountPage draws the account page for u in the session cur with p's
// message and form values.
func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request, u *auth.User, cur *auth.Session, status int, p *page) {
	ctx := r.Context()
	fail := func(what string, err error) {
		web.Logger(r, h.log).Error("account page: "+what, "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
	}
	ss, err := h.auth.UserSessions(ctx, u.ID)
	if err != nil {
		fail("sessions", err)
		return
	}
	for _, s := range ss {
		p.Sessions = append(p.Sessions, sessionView{Session: s, Current: s.ID == cur.ID})
	}
	if p.Security, err = h.auth.SecondFactorStatus(ctx, u.ID); err != nil {
		fail("second factors", err)
		return
	}
	if h.connected != nil {
		if p.Connected, err = h.connected.UserApps(ctx, u.ID); err != nil {
			fail("connected apps", err)
			return
		}
	}
	p.Title, p.User, p.MailOn = "Your account", u, h.mailDelivers()
	p.PasskeysOn = h.auth.PasskeysEnabled()
	p.MinPassword, p.MaxPassword = auth.MinPasswordLen, auth.MaxPasswordLen
	// A refused name (too long, so never empty) is shown as typed.
	if p.Name == "" {
		p.Name = u.DisplayName
	}
	h.render(w, r, status, "account", p)
}

func (h *Handler) accountProfile(w http.ResponseWriter, r *http.Request) {
	u, cur, ok := h.accountUser(w, r)
	if !ok {
		return
	}
	name := r.PostFormValue("name")
	_, err := h.auth.SetName(r.Context(), u.ID, name)
	var inv *auth.InvalidError
	switch {
	case errors.As(err, &inv):
		h.accountPage(w, r, u, cur, http.StatusBadRequest, &page{Name: name, Error: fieldLabel(inv.Field) + " " + inv.Reason + "."})
		return
	case err != nil:
		web.Logger(r, h.log).Error("save name", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Your name was not saved. Please try again.")
		return
	}
	http.Redirect(w, r, pathAccount+"?done=name", http.StatusSeeOther)
}

// passwordError is the account page's words for a refused current
// password; false when err is not about it.
func (h *Handler) passwordError(w http.ResponseWriter, err error) (string, int, bool) {
	var rl *auth.RateLimitError
	switch {
	case errors.As(err, &rl):
		h.rateLimited(w, rl)
		return "Too many attempts. Try again in " + humanWait(rl.RetryAfter) + ".", http.StatusTooManyRequests, true
	case errors.Is(err, auth.ErrPasswordRequired):
		return "Enter your current password to confirm.", http.StatusBadRequest, true
	case errors.Is(err, auth.ErrInvalidCredentials):
		return "Your current password is not right.", http.StatusUnauthorized, true
	}
	return "", 0, false
}

func (h *Handler) accountEmail(w http.ResponseWriter, r *http.Request) {
	u, cur, ok := h.accountUser(w, r)
	if !ok {
		return
	}
	p := &page{Email: strings.TrimSpace(r.PostFormValue("email"))}
	if !h.mailDelivers() {
		// Without mail the new address cannot be confirmed (a link in the
		// log proves no mailbox); nothing is changed or stored.
		p.Error = "Email changes need mail, which this Clinch does not send. Ask an administrator to change your address (clinch user update)."
		h.accountPage(w, r, u, cur, http.StatusConflict, p)
		return
	}
	log := web.Logger(r, h.log)
	tok, ch, err := h.auth.RequestEmailChange(r.Context(), auth.EmailChangeRequest{
		UserID: u.ID, Password: r.PostFormValue("password"), NewEmail: p.Email, IP: web.ClientIP(r, h.trusted),
	})
	var inv *auth.InvalidError
	if msg, status, ok := h.passwordError(w, err); ok {
		log.Info("email change refused", "user_id", u.ID, "reason", err.Error())
		p.Error = msg
		h.accountPage(w, r, u, cur, status, p)
		return
	}
	switch {
	case errors.As(err, &inv):
		p.Error = "The new email address " + inv.Reason + "."
		h.accountPage(w, r, u, cur, http.StatusBadRequest, p)
		return
	case errors.Is(err, auth.ErrConflict):
		p.Error = "Another account has that email address."
		h.accountPage(w, r, u, cur, http.StatusConflict, p)
		return
	case err != nil:
		log.Error("email change", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Your email address was not changed. Please try again.")
		return
	}
	msg := mail.Message{To: ch.NewEmail, Subject: "Confirm your new email address", Text: emailConfirmText(u, ch.NewEmail, EmailChangeURL(h.site.Host, tok))}
	h.sendLater(r, log, "email change confirmation", u.ID, msg)
	log.Info("email change asked", "user_id", u.ID)
	h.accountPage(w, r, u, cur, http.StatusOK, &page{Notice: "We sent a link to " + ch.NewEmail + ". Your address changes when you open it (within 24 hours). Until then, " + u.Email + " stays your address."})
}

// sendLater mails msg after the answer, as reset links are sent, so a
// slow mail server does not hold the page. It logs the user id, never the
// message.
func (h *Handler) sendLater(r *http.Request, log *slog.Logger, what, userID string, msg mail.Message) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), sendTimeout)
	h.sendWith(ctx, cancel, log, what, userID, msg)
}

func (h *Handler) sendWith(ctx context.Context, cancel context.CancelFunc, log *slog.Logger, what, userID string, msg mail.Message) {
	h.sending.Go(func() {
		defer cancel()
		h.queueMail(ctx, log, what, userID, msg)
	})
}

// queueMail hands msg to the mail queue and logs the outcome with the
// user id, never the address or the body.
func (h *Handler) queueMail(ctx context.Context, log *slog.Logger, what, userID string, msg mail.Message) {
	if err := h.mailer.Send(ctx, msg); err != nil {
		log.Error(what+" mail not queued", "user_id", userID, "err", err)
		return
	}
	log.Info(what+" mail queued", "user_id", userID)
}

func emailConfirmText(u *auth.User, newEmail, link string) string {
	return "Hello " + u.Name() + ",\n\n" +
		"Someone (we hope you) asked to change the email address of your Clinch account to " + newEmail + ".\n" +
		"Open this link to confirm it. It works once, within 24 hours:\n\n" +
		link + "\n\n" +
		"If you did not ask for this, ignore this message: the address stays as it is.\n"
}

func (h *Handler) emailConfirmPage(p *page, token string) *page {
	p.Title = "Confirm your new email address"
	p.Token = token
	return p
}

func (h *Handler) badEmailLink(w http.ResponseWriter, r *http.Request) {
	u, _, _ := h.CurrentUser(r)
	h.render(w, r, http.StatusNotFound, "emailchange", &page{Title: "This link does not work", BadLink: true, User: u})
}

func (h *Handler) emailConfirmForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	ch, err := h.auth.EmailChangeInfo(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		h.badEmailLink(w, r)
		return
	case err != nil:
		web.Logger(r, h.log).Error("email change link", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	u, _, _ := h.CurrentUser(r)
	h.render(w, r, http.StatusOK, "emailchange", h.emailConfirmPage(&page{User: u, Email: ch.NewEmail, Person: ch.User}, token))
}

func (h *Handler) emailConfirm(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("token")
	ch, err := h.auth.ConfirmEmailChange(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		h.badEmailLink(w, r)
		return
	case errors.Is(err, auth.ErrConflict):
		u, _, _ := h.CurrentUser(r)
		h.render(w, r, http.StatusConflict, "emailchange", h.emailConfirmPage(&page{User: u, Error: "Another account has this email address now, so yours was not changed."}, ""))
		return
	case err != nil:
		web.Logger(r, h.log).Error("email change", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Your email address was not changed. Please try again.")
		return
	}
	web.Logger(r, h.log).Info("email changed", "user_id", ch.User.ID)
	if u, _, ok := h.CurrentUser(r); ok && u.ID == ch.User.ID {
		http.Redirect(w, r, pathAccount+"?done=email", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "emailchange", h.emailConfirmPage(&page{Title: "Email address changed", Sent: true, Email: ch.NewEmail}, ""))
}

func (h *Handler) accountPassword(w http.ResponseWriter, r *http.Request) {
	u, cur, ok := h.accountUser(w, r)
	if !ok {
		return
	}
	newPassword := r.PostFormValue("new_password")
	if newPassword != r.PostFormValue("new_password_confirm") {
		h.accountPage(w, r, u, cur, http.StatusBadRequest, &page{Error: "The two new passwords do not match."})
		return
	}
	log := web.Logger(r, h.log)
	ended, err := h.auth.ChangePassword(r.Context(), auth.PasswordChange{
		Session: cur, Current: r.PostFormValue("current_password"), New: newPassword, IP: web.ClientIP(r, h.trusted),
	})
	var inv *auth.InvalidError
	if msg, status, ok := h.passwordError(w, err); ok {
		log.Info("password change refused", "user_id", u.ID, "reason", err.Error())
		h.accountPage(w, r, u, cur, status, &page{Error: msg})
		return
	}
	switch {
	case errors.As(err, &inv):
		h.accountPage(w, r, u, cur, http.StatusBadRequest, &page{Error: "The new password " + inv.Reason + "."})
		return
	case errors.Is(err, auth.ErrNotFound):
		// This session ended meanwhile (signed out from another device).
		h.site.ClearSession(w)
		http.Redirect(w, r, signinURL(pathAccount, ""), http.StatusSeeOther)
		return
	case err != nil:
		log.Error("password change", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Your password was not changed. Please try again.")
		return
	}
	log.Info("password changed", "user_id", u.ID, "sessions_ended", len(ended))
	http.Redirect(w, r, pathAccount+"?done=password", http.StatusSeeOther)
}

func (h *Handler) accountSignOut(w http.ResponseWriter, r *http.Request) {
	u, cur, ok := h.accountUser(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	// EndSession with the owner's id answers someone else's session
	// exactly like a missing one.
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
	web.Logger(r, h.log).Info("session signed out from the account page", "user_id", u.ID, "current", id == cur.ID)
	if id == cur.ID {
		h.site.ClearSession(w)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, pathAccount+"?done=signedout", http.StatusSeeOther)
}

func (h *Handler) accountRevokeApp(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.accountUser(w, r)
	if !ok {
		return
	}
	notFound := func() {
		h.RenderError(w, r, http.StatusNotFound, "Application not found", "That application has no access to your account, or it was already revoked.")
	}
	if h.connected == nil {
		notFound()
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	apps, err := h.connected.UserApps(ctx, u.ID)
	if err == nil && !slices.ContainsFunc(apps, func(a ConnectedApp) bool { return a.ID == id }) {
		notFound()
		return
	}
	if err == nil {
		err = h.connected.RevokeUserApp(ctx, u.ID, id)
	}
	if err != nil {
		web.Logger(r, h.log).Error("revoke app access", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Access was not revoked. Please try again.")
		return
	}
	web.Logger(r, h.log).Info("app access revoked by the user", "user_id", u.ID, "app_id", id)
	http.Redirect(w, r, pathAccount+"?done=revoked", http.StatusSeeOther)
}
