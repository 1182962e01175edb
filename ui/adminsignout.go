package ui

import (
	"net/http"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// "Sign out everyone", for after a suspected break-in:
//
//	GET  /admin/sign-out-everyone   the confirmation page
//	POST /admin/sign-out-everyone   ends every session and OIDC grant at once
const pathSignOutEveryone = pathAdmin + "/sign-out-everyone"

func (h *Handler) signOutEveryoneForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	n, err := h.auth.CountActiveSessions(r.Context())
	if err != nil {
		h.adminInternalError(w, r, "count sessions", err)
		return
	}
	h.confirmPage(w, r, tabDashboard, me, &confirmation{
		Heading: "Sign out everyone?",
		Lines: []string{
			"This ends all " + plural(n, "active session", "active sessions") + " and every application's access (OIDC tokens) of every person, at once.",
			"Everyone, you included, has to sign in again; applications have to be signed in to again as well.",
		},
		Action: pathSignOutEveryone,
		Button: "Sign out everyone",
		Cancel: pathAdmin,
	})
}

func (h *Handler) signOutEveryone(w http.ResponseWriter, r *http.Request, me *auth.User) {
	n, err := h.auth.SignOutEveryone(r.Context())
	if err != nil {
		h.adminInternalError(w, r, "sign out everyone", err)
		return
	}
	web.Logger(r, h.log).Warn("admin signed out everyone", "admin_id", me.ID, "sessions", n)
	// The admin's own session ended too.
	h.site.ClearSession(w)
	http.Redirect(w, r, signinURL(pathAdmin, ""), http.StatusSeeOther)
}
