package ui

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// The audit log, for admins:
//
//	GET /admin/audit?user=&kind=&since=&until=&cursor=   one page, newest first
//	GET /admin/audit/export?user=&kind=&since=&until=    every event the filters select, as JSON lines
//
// Filters are a GET form, so a filtered view is a link an admin can keep.
const (
	pathAdminAudit = pathAdmin + "/audit"
	// auditPerPage is the page size of the list; the dashboard shows
	// recentCount.
	auditPerPage = 50
	recentCount  = 10
	// timeInput is the format of <input type="datetime-local">, read as
	// UTC.
	timeInput = "2006-01-02T15:04"
)

// AuditLog is what the admin pages need of the audit trail; *audit.Log
// is one.
type AuditLog interface {
	List(ctx context.Context, f audit.Filter) (audit.Page, error)
	Export(ctx context.Context, w io.Writer, f audit.Filter) error
}

// auditView is the audit page.
type auditView struct {
	// The filters as typed.
	User, Kind, Since, Until string
	Kinds                    []audit.Kind
	Events                   []eventView
	Next, First, Export      string
	// On is false when the server keeps no audit trail.
	On bool
}

// eventView is one event with the people in it named.
type eventView struct {
	audit.Event
	// ActorName is the actor as a person reads it: an email, "the
	// command line", "API token x", or "" for someone not signed in.
	ActorName string
	// Details are Detail's entries sorted by key.
	Details []detail
}

type detail struct{ Key, Value string }

// auditFilter reads the filters of a request. A problem (a malformed
// time) comes back as a sentence; the user filter accepts an email or a
// username, or an id (for events of a deleted user).
func (h *Handler) auditFilter(ctx context.Context, q url.Values) (audit.Filter, *auditView, string) {
	v := &auditView{
		User: strings.TrimSpace(q.Get("user")), Kind: q.Get("kind"),
		Since: q.Get("since"), Until: q.Get("until"), Kinds: audit.Kinds(), On: h.audit != nil,
	}
	f := audit.Filter{Cursor: q.Get("cursor"), Limit: auditPerPage}
	if v.User != "" {
		f.User = v.User
		if u, err := h.auth.UserByLogin(ctx, v.User); err == nil {
			f.User = u.ID
		}
	}
	if v.Kind != "" {
		if !slices.Contains(v.Kinds, audit.Kind(v.Kind)) {
			return f, v, "There is no event kind “" + v.Kind + "”."
		}
		f.Kind = audit.Kind(v.Kind)
	}
	for _, t := range []struct {
		in   string
		out  *time.Time
		name string
	}{{v.Since, &f.Since, "From"}, {v.Until, &f.Until, "Until"}} {
		if t.in == "" {
			continue
		}
		at, err := time.Parse(timeInput, t.in)
		if err != nil {
			return f, v, t.name + " is not a date and time like 2026-01-31T18:00."
		}
		*t.out = at
	}
	return f, v, ""
}

// query is the filters as URL parameters, for links.
func (v *auditView) query() url.Values {
	q := url.Values{}
	for k, val := range map[string]string{"user": v.User, "kind": v.Kind, "since": v.Since, "until": v.Until} {
		if val != "" {
			q.Set(k, val)
		}
	}
	return q
}

func withQuery(p string, q url.Values) string {
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}

func (h *Handler) adminAudit(w http.ResponseWriter, r *http.Request, me *auth.User) {
	ctx := r.Context()
	f, v, problem := h.auditFilter(ctx, r.URL.Query())
	pg := &page{Title: "Audit log", Admin: v, Error: problem}
	status := http.StatusOK
	if problem != "" {
		status = http.StatusBadRequest
	}
	if h.audit != nil && problem == "" {
		res, err := h.audit.List(ctx, f)
		if errors.Is(err, audit.ErrCursor) {
			http.Redirect(w, r, withQuery(pathAdminAudit, v.query()), http.StatusSeeOther)
			return
		}
		if err != nil {
			h.adminInternalError(w, r, "audit list", err)
			return
		}
		if v.Events, err = h.eventViews(ctx, res.Events); err != nil {
			h.adminInternalError(w, r, "audit names", err)
			return
		}
		q := v.query()
		v.Export = withQuery(pathAdminAudit+"/export", q)
		if f.Cursor != "" {
			v.First = withQuery(pathAdminAudit, q)
		}
		if res.Next != "" {
			q.Set("cursor", res.Next)
			v.Next = withQuery(pathAdminAudit, q)
		}
	}
	h.renderAdmin(w, r, status, "audit", tabAudit, me, pg)
}

// eventViews names the actors of events: user ids become emails, looked
// up once each.
func (h *Handler) eventViews(ctx context.Context, es []audit.Event) ([]eventView, error) {
	emails := map[string]string{}
	out := make([]eventView, 0, len(es))
	for _, e := range es {
		ev := eventView{Event: e}
		switch a := e.Actor; {
		case a == "":
		case a == audit.ActorCLI:
			ev.ActorName = "the command line"
		case strings.HasPrefix(a, "api:"):
			ev.ActorName = "API token " + strings.TrimPrefix(a, "api:")
		case strings.HasPrefix(a, "client:"):
			ev.ActorName = "application " + strings.TrimPrefix(a, "client:")
		case a == e.Subject && e.Email != "":
			ev.ActorName = e.Email
		default:
			name, ok := emails[a]
			if !ok {
				u, err := h.auth.User(ctx, a)
				switch {
				case err == nil:
					name = u.Email
				case errors.Is(err, auth.ErrNotFound):
					name = "deleted user " + a
				default:
					return nil, err
				}
				emails[a] = name
			}
			ev.ActorName = name
		}
		for k, val := range e.Detail {
			ev.Details = append(ev.Details, detail{k, val})
		}
		slices.SortFunc(ev.Details, func(x, y detail) int { return strings.Compare(x.Key, y.Key) })
		out = append(out, ev)
	}
	return out, nil
}

// adminAuditExport streams the selected events as JSON lines.
func (h *Handler) adminAuditExport(w http.ResponseWriter, r *http.Request, me *auth.User) {
	f, _, problem := h.auditFilter(r.Context(), r.URL.Query())
	if problem != "" {
		h.RenderError(w, r, http.StatusBadRequest, "Cannot export", problem)
		return
	}
	if h.audit == nil {
		h.RenderError(w, r, http.StatusNotFound, "No audit log", "This server keeps no audit log.")
		return
	}
	f.Cursor = ""
	// A store that cannot be read fails here, with an error page, rather
	// than as an empty download.
	if _, err := h.audit.List(r.Context(), audit.Filter{Limit: 1}); err != nil {
		h.adminInternalError(w, r, "audit export", err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/jsonl; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="clinch-audit-`+h.auth.Now().UTC().Format("20060102-150405")+`.jsonl"`)
	hd.Set("Cache-Control", "no-store")
	web.Logger(r, h.log).Info("admin exported the audit log", "admin_id", me.ID)
	// Once the first line is out the status is sent; a failure after it
	// can only end the download early, which the log records.
	if err := h.audit.Export(r.Context(), w, f); err != nil {
		web.Logger(r, h.log).Error("audit export", "err", err)
	}
}

// recentEvents is the dashboard's last few events; nil without an audit
// trail or on failure (logged: the dashboard still shows the rest).
func (h *Handler) recentEvents(r *http.Request) []eventView {
	if h.audit == nil {
		return nil
	}
	ctx := r.Context()
	res, err := h.audit.List(ctx, audit.Filter{Limit: recentCount})
	var evs []eventView
	if err == nil {
		evs, err = h.eventViews(ctx, res.Events)
	}
	if err != nil {
		web.Logger(r, h.log).Error("dashboard: recent audit events", "err", err)
		return nil
	}
	return evs
}
