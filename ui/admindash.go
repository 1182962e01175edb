package ui

import (
	"net/http"

	"github.com/clinchsso/clinch/auth"
)

// dashboardView is the admin dashboard's data.
type dashboardView struct {
	*auth.Overview
	// Warnings are things the admin should act on, one sentence each.
	Warnings []string
	// Recent are the newest audit events; AuditOn says there is a trail.
	Recent  []eventView
	AuditOn bool
}

// adminDashboard is GET /admin: counts, warnings, recent audit events.
func (h *Handler) adminDashboard(w http.ResponseWriter, r *http.Request, me *auth.User) {
	o, err := h.auth.Overview(r.Context())
	if err != nil {
		h.adminInternalError(w, r, "dashboard", err)
		return
	}
	v := &dashboardView{Overview: o, Warnings: h.warnings(o), Recent: h.recentEvents(r), AuditOn: h.audit != nil}
	h.renderAdmin(w, r, http.StatusOK, "dashboard", tabDashboard, me, &page{Title: "Admin", Admin: v})
}

// warnings lists what the admin should fix, most serious first.
func (h *Handler) warnings(o *auth.Overview) []string {
	var out []string
	if h.site.Host.Scheme == "http" {
		out = append(out, "CLINCH_HOST is "+h.site.Host.String()+": plain http. Passwords and session cookies cross the network unencrypted; put Clinch behind HTTPS and set CLINCH_HOST to its https address.")
	}
	if h.mailer == nil {
		out = append(out, "No mail is configured (SMTP_ADDRESS is not set): invitations, password resets and sign-in links are written to Clinch's log instead of being sent.")
	}
	for _, u := range o.AdminsWithoutSecondFactor {
		out = append(out, "The admin "+u.Email+" has no second factor: their password alone gives full control of Clinch.")
	}
	return out
}
