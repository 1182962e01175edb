package ui

// Stand-in for the admin shell (branch admin, ui/admin.go) until it is
// merged; removed by that merge.

import (
	"net/http"

	"github.com/clinchsso/clinch/auth"
)

func (h *Handler) adminPage(next func(w http.ResponseWriter, r *http.Request, me *auth.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _, ok := h.CurrentUser(r)
		if !ok {
			http.Redirect(w, r, signinURL(r.URL.RequestURI(), ""), http.StatusSeeOther)
			return
		}
		if !u.Admin {
			h.RenderError(w, r, http.StatusForbidden, "Not allowed", "This page is for administrators.")
			return
		}
		next(w, r, u)
	}
}

func (h *Handler) registerAdmin(mux *http.ServeMux) { h.registerAdminApps(mux) }
