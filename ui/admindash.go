package ui

import (
	"context"
	"fmt"
	"net/http"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/mail/outbox"
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
	v := &dashboardView{Overview: o, Warnings: h.warnings(r.Context(), o), Recent: h.recentEvents(r), AuditOn: h.audit != nil}
	h.renderAdmin(w, r, http.StatusOK, "dashboard", tabDashboard, me, &page{Title: "Admin", Admin: v})
}

// warnings lists what the admin should fix, most serious first.
func (h *Handler) warnings(ctx context.Context, o *auth.Overview) []string {
	var out []string
	if h.site.Host.Scheme == "http" {
		out = append(out, "CLINCH_HOST is "+h.site.Host.String()+": plain http. Passwords and session cookies cross the network unencrypted; put Clinch behind HTTPS and set CLINCH_HOST to its https address.")
	}
	if !h.mailDelivers() {
		out = append(out, "No mail is configured (SMTP_ADDRESS is not set): password-reset links and security notices are written to Clinch's log (WARN \"SMTP is not configured\") for you to pass on; nobody can get a sign-in link by mail or change their own email; invitation links are shown to you here and by `clinch user invite` instead.")
	}
	out = append(out, h.mailWarnings(ctx)...)
	for _, u := range o.AdminsWithoutSecondFactor {
		out = append(out, "The admin "+u.Email+" has no second factor: their password alone gives full control of Clinch.")
	}
	return out
}

// mailWarnings tell the admin about mail that did not go out: given up
// since the server started, or waiting behind a failing server.
func (h *Handler) mailWarnings(ctx context.Context) []string {
	if h.mailStatus == nil {
		return nil
	}
	st, err := h.mailStatus(ctx)
	if err != nil {
		h.log.Warn("admin dashboard: mail status", "err", err)
		return []string{"Clinch could not read the mail queue's state; see its log."}
	}
	var out []string
	last := ""
	if !st.LastFailure.IsZero() {
		last = fmt.Sprintf(" The last attempt failed at %s: %s.", st.LastFailure.UTC().Format("2 Jan 2006, 15:04 UTC"), st.LastError)
	}
	if st.Failed > 0 {
		out = append(out, fmt.Sprintf("%d mail(s) could not be delivered and were given up since Clinch started.%s Check the SMTP settings; `clinch mail status` shows the queue.", st.Failed, last))
	} else if st.Queued > 0 && last != "" {
		out = append(out, fmt.Sprintf("%d mail(s) are waiting to be sent.%s Clinch keeps retrying.", st.Queued, last))
	}
	return out
}

// MailStatusFunc reports the mail queue's state; (*outbox.Outbox).Status
// is one.
type MailStatusFunc func(ctx context.Context) (outbox.Status, error)
