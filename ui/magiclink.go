package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// Sign-in links by mail ("Email me a sign-in link"):
//
//	GET/POST /signin/email         ask for a link (rd and authz ride along)
//	GET      /signin/link?token=T  the link: a page with one button
//	POST     /signin/link          uses the link up: the first sign-in step
//
// As with password resets, the answer to a request is the same whether or
// not an account has the address: only the rate limits run before it, and
// the link is made and mailed after. Opening the link changes nothing;
// the button on its page (a POST with the CSRF token) uses it, so mail
// scanners that follow links cannot burn it. The link is one factor, like
// a password: after it the pipeline asks for the user's second factor, if
// they have one, which is why it may be opened in any browser. Config's
// MagicLinks (CLINCH_MAGIC_LINKS) turns the pages off; so does having no
// SMTP server: a link written to the log helps nobody sign in by
// themselves.

const (
	pathMagicRequest = "/signin/email"
	pathMagicLink    = "/signin/link"
)

// MagicLinkURL is the link a sign-in token is used at.
func MagicLinkURL(host *url.URL, token string) string {
	return strings.TrimSuffix(host.String(), "/") + pathMagicLink + "?" + url.Values{"token": {token}}.Encode()
}

// magicOn reports whether people may ask for sign-in links.
func (h *Handler) magicOn() bool { return h.magic && h.mailDelivers() }

// magicHref is the sign-in page's link to ask for a sign-in link, with the
// sign-in's destination.
func magicHref(rd, authz string) string {
	q := url.Values{}
	if rd != "" {
		q.Set("rd", rd)
	}
	if authz != "" {
		q.Set(authzParam, authz)
	}
	if len(q) == 0 {
		return pathMagicRequest
	}
	return pathMagicRequest + "?" + q.Encode()
}

func (h *Handler) magicPage(p *page) *page {
	p.Title = "Sign in with a link by email"
	return p
}

func (h *Handler) magicOff(w http.ResponseWriter, r *http.Request) {
	h.RenderError(w, r, http.StatusNotFound, "Sign-in links are off", "This Clinch does not send sign-in links. Sign in with your password.")
}

func (h *Handler) magicRequestForm(w http.ResponseWriter, r *http.Request) {
	if !h.magicOn() {
		h.magicOff(w, r)
		return
	}
	q := r.URL.Query()
	h.render(w, r, http.StatusOK, "magic", h.magicPage(&page{RD: q.Get("rd"), Authz: q.Get(authzParam)}))
}

func (h *Handler) magicRequest(w http.ResponseWriter, r *http.Request) {
	if !h.magicOn() {
		h.magicOff(w, r)
		return
	}
	p := h.magicPage(&page{Email: strings.TrimSpace(r.PostFormValue("email")), RD: r.PostFormValue("rd"), Authz: r.PostFormValue(authzParam)})
	if p.Email == "" || len(p.Email) > auth.MaxLoginLen {
		p.Error = "Enter the email address of your account."
		h.render(w, r, http.StatusBadRequest, "magic", p)
		return
	}
	log := web.Logger(r, h.log)
	err := h.auth.LimitMagicLink(r.Context(), p.Email, web.ClientIP(r, h.trusted))
	var rl *auth.RateLimitError
	switch {
	case errors.As(err, &rl):
		p.Error = "Too many requests for a sign-in link. Try again in " + humanWait(rl.RetryAfter) + ", or sign in with your password."
		setRetryAfter(w, rl.RetryAfter)
		h.render(w, r, http.StatusTooManyRequests, "magic", p)
		return
	case err != nil:
		log.Error("sign-in link rate limit", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	req := auth.MagicRequest{Email: p.Email, RD: p.RD, Authz: p.Authz}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), sendTimeout)
	h.sending.Go(func() {
		defer cancel()
		h.sendMagicLink(ctx, log, req)
	})
	p.Sent = true
	h.render(w, r, http.StatusOK, "magic", p)
}

// sendMagicLink makes a link for the account with the email, if there is
// an active one, and mails it. It logs the user id, never the link or the
// address.
func (h *Handler) sendMagicLink(ctx context.Context, log *slog.Logger, req auth.MagicRequest) {
	tok, u, err := h.auth.NewMagicLink(ctx, req)
	if errors.Is(err, auth.ErrNotFound) {
		log.Info("sign-in link requested for no active account")
		return
	}
	if err != nil {
		log.Error("sign-in link", "err", err)
		return
	}
	msg, err := composeMail("magiclink", "Your sign-in link", u, MagicLinkURL(h.site.Host, tok))
	if err != nil {
		log.Error("sign-in link mail", "user_id", u.ID, "err", err)
		return
	}
	h.queueMail(ctx, log, "sign-in link", u.ID, msg)
}

func (h *Handler) badMagicLink(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, "magic", &page{Title: "This link does not work", BadLink: true})
}

func (h *Handler) magicLinkForm(w http.ResponseWriter, r *http.Request) {
	if !h.magicOn() {
		h.badMagicLink(w, r)
		return
	}
	token := r.URL.Query().Get("token")
	l, err := h.auth.MagicLinkInfo(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		h.badMagicLink(w, r)
		return
	case err != nil:
		web.Logger(r, h.log).Error("sign-in link", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	p := &page{Title: "Sign in", Person: l.User, Token: token, RD: l.RD}
	// The button's POST may redirect on to where the sign-in goes.
	h.widenFormAction(w, r, l.RD, h.continuation(r, l.Authz))
	h.render(w, r, http.StatusOK, "magic", p)
}

func (h *Handler) useMagicLink(w http.ResponseWriter, r *http.Request) {
	if !h.magicOn() {
		h.badMagicLink(w, r)
		return
	}
	ip := web.ClientIP(r, h.trusted)
	res, err := h.auth.UseMagicLink(r.Context(), auth.MagicSignIn{
		Token: r.PostFormValue("token"), IP: ip, UserAgent: r.UserAgent(), Remember: r.PostFormValue("remember") == "1",
		Previous: web.SessionToken(r), Pending: web.SignInToken(r),
	})
	switch {
	case errors.Is(err, auth.ErrNotFound):
		h.badMagicLink(w, r)
		return
	case err != nil:
		web.Logger(r, h.log).Error("sign-in link use", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	web.Logger(r, h.log).Info("sign-in link used", "user_id", res.User.ID, "ip", ip)
	h.stepDone(w, r, res)
}
