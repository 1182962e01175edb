package ui

import (
	"net/http"
	"strconv"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// The admin pages, for admins only:
//
//	GET  /admin                  the dashboard (admindash.go)
//	     /admin/users…           users (adminusers.go)
//	     /admin/groups…          groups (admingroups.go)
//	     /admin/apps…            applications
//	     /admin/audit…           the audit log
//
// Every admin handler is wrapped in adminPage, so the one rule (signed out:
// sign in first; not an admin: 403) is written once. Every admin page is a
// template in templates/admin/ rendered inside layout.html with the admin
// navigation (templates/admin_nav.html) at its top; renderAdmin fills in
// what the navigation needs.
//
// A destructive action is two requests: a GET of a confirmation page
// (templates/admin/confirm.html, rendered by confirmPage) that says what
// will happen, whose form then POSTs the action with the CSRF token. It
// needs no JavaScript, and a link alone (a GET) never changes anything.

// pathAdmin is the admin area's root.
const pathAdmin = "/admin"

// Admin navigation tabs (page.AdminTab).
const (
	tabDashboard = "dashboard"
	tabUsers     = "users"
	tabGroups    = "groups"
	tabApps      = "apps"
	tabAudit     = "audit"
)

// registerAdmin adds the admin pages to mux; Register calls it.
func (h *Handler) registerAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET "+pathAdmin, h.adminPage(h.adminDashboard))
	mux.HandleFunc("GET "+pathAdmin+"/{$}", h.adminPage(h.adminDashboard))
	mux.HandleFunc("GET "+pathSignOutEveryone, h.adminPage(h.signOutEveryoneForm))
	mux.HandleFunc("POST "+pathSignOutEveryone, h.adminPage(h.signOutEveryone))

	mux.HandleFunc("GET "+pathAdminUsers, h.adminPage(h.adminUsers))
	mux.HandleFunc("GET "+pathAdminUsers+"/new", h.adminPage(h.adminNewUser))
	mux.HandleFunc("POST "+pathAdminUsers+"/new", h.adminPage(h.adminCreateUser))
	mux.HandleFunc("POST "+pathAdminUsers+"/invite", h.adminPage(h.adminInviteUser))
	user := pathAdminUsers + "/{id}"
	mux.HandleFunc("GET "+user, h.adminPage(h.adminUser))
	mux.HandleFunc("POST "+user, h.adminPage(h.adminSaveUser))
	mux.HandleFunc("GET "+user+"/disable", h.adminPage(h.adminDisableUserForm))
	mux.HandleFunc("POST "+user+"/disable", h.adminPage(h.adminDisableUser))
	mux.HandleFunc("POST "+user+"/enable", h.adminPage(h.adminEnableUser))
	mux.HandleFunc("GET "+user+"/delete", h.adminPage(h.adminDeleteUserForm))
	mux.HandleFunc("POST "+user+"/delete", h.adminPage(h.adminDeleteUser))
	mux.HandleFunc("POST "+user+"/second-factor", h.adminPage(h.adminRequireSecondFactor))
	mux.HandleFunc("GET "+user+"/reset-second-factors", h.adminPage(h.adminResetFactorsForm))
	mux.HandleFunc("POST "+user+"/reset-second-factors", h.adminPage(h.adminResetFactors))
	mux.HandleFunc("POST "+user+"/sessions/{sid}/end", h.adminPage(h.adminEndSession))
	mux.HandleFunc("POST "+user+"/sessions/end", h.adminPage(h.adminEndSessions))
	mux.HandleFunc("POST "+user+"/grants/revoke", h.adminPage(h.adminRevokeGrants))
	mux.HandleFunc("POST "+user+"/app-claims", h.adminPage(h.adminSetAppClaims))
	mux.HandleFunc("POST "+user+"/invite", h.adminPage(h.adminReinvite))

	mux.HandleFunc("GET "+pathAdminAudit, h.adminPage(h.adminAudit))
	mux.HandleFunc("GET "+pathAdminAudit+"/export", h.adminPage(h.adminAuditExport))

	mux.HandleFunc("GET "+pathAdminGroups, h.adminPage(h.adminGroups))
	mux.HandleFunc("POST "+pathAdminGroups, h.adminPage(h.adminCreateGroup))
	group := pathAdminGroups + "/{name}"
	mux.HandleFunc("GET "+group, h.adminPage(h.adminGroup))
	mux.HandleFunc("POST "+group, h.adminPage(h.adminSaveGroup))
	mux.HandleFunc("POST "+group+"/members", h.adminPage(h.adminAddMember))
	mux.HandleFunc("POST "+group+"/members/remove", h.adminPage(h.adminRemoveMember))
	mux.HandleFunc("GET "+group+"/delete", h.adminPage(h.adminDeleteGroupForm))
	mux.HandleFunc("POST "+group+"/delete", h.adminPage(h.adminDeleteGroup))

	h.registerAdminApps(mux)
}

// adminPage lets only admins reach next: a signed-out visitor is sent to
// sign in and come back to the page; a signed-in person who is not an
// admin gets the 403 page. next receives the signed-in admin.
func (h *Handler) adminPage(next func(w http.ResponseWriter, r *http.Request, me *auth.User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		me, _, ok := h.CurrentUser(r)
		if !ok {
			// A form sent after the session ended cannot be replayed by a
			// redirect; come back to the page it was on (or the admin
			// root) instead.
			back := r.URL.RequestURI()
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				back = pathAdmin
			}
			http.Redirect(w, r, signinURL(back, ""), http.StatusSeeOther)
			return
		}
		if !me.Admin {
			web.Logger(r, h.log).Info("admin page refused: not an admin", "user_id", me.ID, "method", r.Method, "path", r.URL.Path)
			h.RenderError(w, r, http.StatusForbidden, "Admins only", "This page is for Clinch's administrators. Your account is not one.")
			return
		}
		// The audit trail names the admin as the actor of every change
		// made through these pages.
		o := audit.OriginOf(r.Context())
		o.Actor = me.ID
		if o.IP == "" {
			o.IP = web.ClientIP(r, h.trusted)
		}
		next(w, r.WithContext(audit.WithOrigin(r.Context(), o)), me)
	}
}

// renderAdmin renders the admin page templates/admin/<name>.html for the
// admin me, under the navigation tab tab. p carries the page's own data
// (Title, Admin, Notice, Error, …).
func (h *Handler) renderAdmin(w http.ResponseWriter, r *http.Request, status int, name, tab string, me *auth.User, p *page) {
	p.User, p.AdminTab = me, tab
	h.render(w, r, status, adminTemplate(name), p)
}

// adminTemplate is the key of an admin page in Handler.pages.
func adminTemplate(name string) string { return "admin/" + name }

// adminInternalError answers an admin request that failed on Clinch's
// side; nothing was changed (every change is one transaction).
func (h *Handler) adminInternalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	web.Logger(r, h.log).Error("admin: "+what, "err", err)
	h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Nothing was changed. Please try again.")
}

// confirmation is the confirmation page of a destructive action.
type confirmation struct {
	Heading string // "Delete alice@example.com?"
	// Lines say what will happen, one paragraph each.
	Lines []string
	// Action is the URL the form POSTs to (same origin, path only).
	Action string
	// Button is the confirming button's label ("Delete the user").
	Button string
	// Cancel is where "Cancel" goes back to.
	Cancel string
	// Hidden are extra form fields the action needs, by name.
	Hidden map[string]string
}

// confirmPage renders c under tab for the admin me.
func (h *Handler) confirmPage(w http.ResponseWriter, r *http.Request, tab string, me *auth.User, c *confirmation) {
	h.renderAdmin(w, r, http.StatusOK, "confirm", tab, me, &page{Title: c.Heading, Admin: c})
}

// plural is "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
