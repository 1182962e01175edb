package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/mail"
	"github.com/clinchsso/clinch/web"
)

// Invitations:
//
//	GET  /invitation?token=T  the link: a form for the first password
//	POST /invitation          uses the link up, sets the password, signs in
//
// Opening the link changes nothing, so mail scanners cannot use it up.
// Accepting signs the person in at once through the sign-in pipeline, as
// a right password would: they just proved both the mailbox and the
// password, and asking for the password again a second later would prove
// nothing more. A user who must have a second factor goes on to its
// set-up page, and no session exists before it is done.

const pathInvitation = "/invitation"

// InvitationURL is the link an invitation token is used at.
func InvitationURL(host *url.URL, token string) string {
	return strings.TrimSuffix(host.String(), "/") + pathInvitation + "?" + url.Values{"token": {token}}.Encode()
}

// InvitationMail is the message that carries an invitation link.
func InvitationMail(u *auth.User, link string) (mail.Message, error) {
	return composeMail("invitation", "You are invited to sign in", u, link)
}

func (h *Handler) invitationPage(p *page, token string) *page {
	p.Title = "Choose your password"
	p.Token = token
	p.MinPassword, p.MaxPassword = auth.MinPasswordLen, auth.MaxPasswordLen
	return p
}

// badInvitation is the answer for a link that is unknown, used, expired
// or void.
func (h *Handler) badInvitation(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusNotFound, "invitation", &page{Title: "This link does not work", BadLink: true})
}

func (h *Handler) invitationForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	u, err := h.auth.InvitationUser(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		h.badInvitation(w, r)
		return
	case err != nil:
		web.Logger(r, h.log).Error("invitation link", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	h.render(w, r, http.StatusOK, "invitation", h.invitationPage(&page{Person: u}, token))
}

func (h *Handler) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("token")
	p := h.invitationPage(&page{}, token)
	password := r.PostFormValue("password")
	if password != r.PostFormValue("password_confirm") {
		u, err := h.auth.InvitationUser(r.Context(), token)
		if err != nil {
			h.badInvitation(w, r)
			return
		}
		p.Person, p.Error = u, "The two passwords do not match."
		h.render(w, r, http.StatusBadRequest, "invitation", p)
		return
	}
	log := web.Logger(r, h.log)
	res, err := h.auth.AcceptInvitation(r.Context(), auth.Acceptance{
		Token: token, Password: password, IP: web.ClientIP(r, h.trusted), UserAgent: r.UserAgent(),
		Previous: web.SessionToken(r), Pending: web.SignInToken(r),
	})
	var inv *auth.InvalidError
	switch {
	case errors.As(err, &inv):
		if p.Person, err = h.auth.InvitationUser(r.Context(), token); err != nil {
			h.badInvitation(w, r)
			return
		}
		p.Error = fieldLabel(inv.Field) + " " + inv.Reason + "."
		h.render(w, r, http.StatusBadRequest, "invitation", p)
		return
	case errors.Is(err, auth.ErrNotFound):
		h.badInvitation(w, r)
		return
	case err != nil:
		log.Error("invitation accept", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	log.Info("invitation accepted", "user_id", res.User.ID)
	h.stepDone(w, r, res)
}
