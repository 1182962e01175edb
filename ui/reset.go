package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/mail"
	"github.com/clinchsso/clinch/web"
)

// Password reset by mail:
//
//	GET/POST /forgot-password         ask for a link by email
//	GET      /password-reset?token=T  the link: a form for the new password
//	POST     /password-reset          uses the link up and sets the password
//
// The token rides in the query and then in the form, never in the path,
// which logs (refused forms, panics) may show.
//
// The answer to a request is the same page whether or not an account has
// the address: only the rate limits (the same for every address) run on
// the request; looking the account up, making the link and sending it run
// after the answer, so neither the page nor its timing tells. Opening the
// link changes nothing: mail scanners that follow links cannot use it up.
// A reset starts no session; the person signs in afterwards, second
// factor included.

const (
	pathForgot = "/forgot-password"
	pathReset  = "/password-reset"
	// sendTimeout bounds the background work of one request.
	sendTimeout = time.Minute
)

// Mailer takes one message for delivery; *outbox.Outbox is one, which
// queues it and returns at once, so a slow or failing mail server never
// holds a request. An error means the message was not taken.
type Mailer interface {
	Send(ctx context.Context, m mail.Message) error
}

// mailDelivers reports whether mail reaches the person it is for; a
// Mailer that writes to the log (no SMTP) reaches only the administrator.
func (h *Handler) mailDelivers() bool { return h.mailer != nil && !h.mailLog }

// ResetURL is the link a reset token is used at.
func ResetURL(host *url.URL, token string) string {
	return strings.TrimSuffix(host.String(), "/") + pathReset + "?" + url.Values{"token": {token}}.Encode()
}

// WaitMail waits until the reset mails being sent in the background are
// sent (or have failed), or ctx ends; the server calls it on the way out,
// before the store closes.
func (h *Handler) WaitMail(ctx context.Context) {
	done := make(chan struct{})
	go func() { h.sending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (h *Handler) forgotPage(p *page) *page {
	p.Title = "Reset your password"
	p.MailOn, p.MailLog = h.mailer != nil, h.mailLog
	return p
}

func (h *Handler) forgotForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "forgot", h.forgotPage(&page{}))
}

func (h *Handler) forgot(w http.ResponseWriter, r *http.Request) {
	p := h.forgotPage(&page{Email: strings.TrimSpace(r.PostFormValue("email"))})
	if h.mailer == nil {
		h.render(w, r, http.StatusOK, "forgot", p)
		return
	}
	if p.Email == "" || len(p.Email) > auth.MaxLoginLen {
		p.Error = "Enter the email address of your account."
		h.render(w, r, http.StatusBadRequest, "forgot", p)
		return
	}
	log := web.Logger(r, h.log)
	err := h.auth.LimitPasswordReset(r.Context(), p.Email, web.ClientIP(r, h.trusted))
	var rl *auth.RateLimitError
	switch {
	case errors.As(err, &rl):
		p.Error = "Too many requests for a reset link. Try again in " + humanWait(rl.RetryAfter) + "."
		setRetryAfter(w, rl.RetryAfter)
		h.render(w, r, http.StatusTooManyRequests, "forgot", p)
		return
	case err != nil:
		log.Error("password reset rate limit", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), sendTimeout)
	h.sending.Go(func() {
		defer cancel()
		h.sendReset(ctx, log, p.Email)
	})
	p.Sent = true
	h.render(w, r, http.StatusOK, "forgot", p)
}

// sendReset makes a link for the account with the email, if there is an
// active one, and mails it. It logs the user id, never the link or the
// address.
func (h *Handler) sendReset(ctx context.Context, log *slog.Logger, email string) {
	tok, u, err := h.auth.NewPasswordReset(ctx, email)
	if errors.Is(err, auth.ErrNotFound) {
		log.Info("password reset requested for no active account")
		return
	}
	if err != nil {
		log.Error("password reset link", "err", err)
		return
	}
	msg, err := composeMail("reset", "Reset your password", u, ResetURL(h.site.Host, tok))
	if err != nil {
		log.Error("password reset mail", "user_id", u.ID, "err", err)
		return
	}
	h.queueMail(ctx, log, "password reset", u.ID, msg)
}

func (h *Handler) resetPage(p *page, token string) *page {
	p.Title = "Choose a new password"
	p.Token = token
	p.MinPassword, p.MaxPassword = auth.MinPasswordLen, auth.MaxPasswordLen
	return p
}

// badLink is the answer for a link that is unknown, used, expired or void.
func (h *Handler) badLink(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, "reset", &page{Title: "This link does not work", BadLink: true, MailOn: h.mailer != nil})
}

func (h *Handler) resetForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	u, err := h.auth.PasswordResetUser(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		h.badLink(w, r)
		return
	case err != nil:
		web.Logger(r, h.log).Error("password reset link", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	h.render(w, r, http.StatusOK, "reset", h.resetPage(&page{Person: u}, token))
}

func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("token")
	p := h.resetPage(&page{}, token)
	password := r.PostFormValue("password")
	if password != r.PostFormValue("password_confirm") {
		u, err := h.auth.PasswordResetUser(r.Context(), token)
		if err != nil {
			h.badLink(w, r)
			return
		}
		p.Person, p.Error = u, "The two passwords do not match."
		h.render(w, r, http.StatusBadRequest, "reset", p)
		return
	}
	u, err := h.auth.ResetPassword(r.Context(), token, password)
	var inv *auth.InvalidError
	switch {
	case errors.As(err, &inv):
		if p.Person, err = h.auth.PasswordResetUser(r.Context(), token); err != nil {
			h.badLink(w, r)
			return
		}
		p.Error = fieldLabel(inv.Field) + " " + inv.Reason + "."
		h.render(w, r, http.StatusBadRequest, "reset", p)
		return
	case errors.Is(err, auth.ErrNotFound):
		h.badLink(w, r)
		return
	case err != nil:
		web.Logger(r, h.log).Error("password reset", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "The password was not changed. Please try again.")
		return
	}
	web.Logger(r, h.log).Info("password reset by link", "user_id", u.ID)
	// Whoever was signed in in this browser is signed out: the reset ended
	// every session of the user, and the person signs in afresh.
	h.site.ClearSession(w)
	http.Redirect(w, r, "/signin?reset=done", http.StatusSeeOther)
}
