package adminapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clinchsso/clinch/audit"
)

// AuditLog is what the API reads of the audit trail; *audit.Log is one.
type AuditLog interface {
	List(ctx context.Context, f audit.Filter) (audit.Page, error)
	Export(ctx context.Context, w io.Writer, f audit.Filter) error
}

// auditPage is a page of events in JSON.
type auditPage struct {
	Events     []audit.Event `json:"events"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// GET /api/admin/audit?user=&kind=&since=&until=&cursor=&limit=[&format=jsonl]
//
// user is a user's id or email; since and until are RFC 3339 times.
// format=jsonl exports every matching event as JSON lines (newest first),
// without pages.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var f audit.Filter
	if u := q.Get("user"); u != "" {
		// A user who was deleted is still in the trail under their id: only
		// an email is looked up.
		f.User = u
		if user, err := a.env.GetUser(r.Context(), u); err == nil {
			f.User = user.ID
		} else if strings.Contains(u, "@") {
			return err
		}
	}
	if k := q.Get("kind"); k != "" {
		if !slices.Contains(audit.Kinds(), audit.Kind(k)) {
			return &inputError{status: http.StatusBadRequest, field: "kind", msg: "kind " + strconv.Quote(k) + " is not a kind of audit event"}
		}
		f.Kind = audit.Kind(k)
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return &inputError{status: http.StatusBadRequest, field: p.name, msg: p.name + " must be an RFC 3339 time like 2026-01-02T15:04:05Z"}
			}
			*p.dst = t
		}
	}
	f.Cursor = q.Get("cursor")
	switch q.Get("format") {
	case "", "json":
	case "jsonl":
		w.Header().Set("Content-Type", "application/jsonl")
		w.Header().Set("Content-Disposition", `attachment; filename="clinch-audit.jsonl"`)
		if err := a.audit.Export(r.Context(), w, f); err != nil {
			if errors.Is(err, audit.ErrCursor) {
				return &inputError{status: http.StatusBadRequest, field: "cursor", msg: "cursor is not a next_cursor this API gave"}
			}
			// Lines may be out already: cut the stream so the client sees
			// a broken body, not a short export that looks whole.
			a.log.Error("admin API: audit export", "err", err)
			panic(http.ErrAbortHandler)
		}
		return nil
	default:
		return &inputError{status: http.StatusBadRequest, field: "format", msg: "format must be json or jsonl"}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > audit.MaxLimit {
			return &inputError{status: http.StatusBadRequest, field: "limit", msg: "limit must be a number from 1 to " + strconv.Itoa(audit.MaxLimit)}
		}
		f.Limit = n
	}
	p, err := a.audit.List(r.Context(), f)
	if errors.Is(err, audit.ErrCursor) {
		return &inputError{status: http.StatusBadRequest, field: "cursor", msg: "cursor is not a next_cursor this API gave"}
	}
	if err != nil {
		return err
	}
	out := auditPage{Events: p.Events, NextCursor: p.Next}
	if out.Events == nil {
		out.Events = []audit.Event{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
