package control

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/config"
)

// AuditTrail is what the audit commands read; *audit.Log is one.
type AuditTrail interface {
	List(ctx context.Context, f audit.Filter) (audit.Page, error)
	Export(ctx context.Context, w io.Writer, f audit.Filter) error
}

// auditCommands are `clinch audit ...`.
func auditCommands() []Command {
	return []Command{
		{Name: "audit list", Summary: "[--user EMAIL|ID] [--kind K] [--since 24h] [--until T] [--limit N] [--cursor C] [--json]  audit events, newest first", Run: auditList},
		{Name: "audit export", Summary: "[--user EMAIL|ID] [--kind K] [--since 24h] [--until T]  every matching event as JSON lines, newest first", Run: auditExport},
	}
}

// AuditQuery selects audit events: the input of AuditEvents and
// ExportAudit.
type AuditQuery struct {
	// User: events about or by this user, an email or a user id (a
	// deleted user's events are found by their id).
	User string `json:"user"`
	// Kind is one kind, e.g. signin.failed.
	Kind string `json:"kind"`
	// Since and Until bound the time: a duration before now (24h, 7d) or
	// an RFC 3339 time.
	Since string `json:"since"`
	Until string `json:"until"`
	// Cursor goes on from a previous page's Next; Limit is the page size
	// (0: audit.DefaultLimit). Export ignores Limit.
	Cursor string `json:"cursor"`
	Limit  int    `json:"limit"`
}

// AuditPage is a page of events, newest first; Next is the Cursor of the
// page after it, "" on the last one.
type AuditPage struct {
	Events []audit.Event `json:"events"`
	Next   string        `json:"next,omitempty"`
}

// auditFilter turns q into an audit.Filter, resolving an email.
func (env *Env) auditFilter(ctx context.Context, q AuditQuery) (audit.Filter, error) {
	var out audit.Filter
	now := env.Auth.Now()
	var err error
	if out.Since, err = timeFlag("since", q.Since, now); err != nil {
		return out, err
	}
	if out.Until, err = timeFlag("until", q.Until, now); err != nil {
		return out, err
	}
	if q.Kind != "" {
		k := audit.Kind(strings.ToLower(strings.TrimSpace(q.Kind)))
		if !slices.Contains(audit.Kinds(), k) {
			return out, &FieldError{Field: "kind", Reason: fmt.Sprintf("%q is not a kind of event; see the README's audit section", q.Kind)}
		}
		out.Kind = k
	}
	if u := strings.TrimSpace(q.User); u != "" {
		if !strings.Contains(u, "@") {
			out.User = u
		} else {
			usr, err := env.Auth.UserByEmail(ctx, u)
			if err != nil {
				return out, fmt.Errorf("%w (a deleted user's events are found by their user id)", err)
			}
			out.User = usr.ID
		}
	}
	if q.Limit < 0 || q.Limit > audit.MaxLimit {
		return out, &FieldError{Field: "limit", Reason: fmt.Sprintf("must be from 1 to %d", audit.MaxLimit)}
	}
	out.Limit, out.Cursor = q.Limit, q.Cursor
	return out, nil
}

// timeFlag reads a time: "" is none, a duration (24h, 7d) is that long
// before now, anything else must be RFC 3339.
func timeFlag(name, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := config.ParseDays(v); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, &FieldError{Field: name, Reason: fmt.Sprintf("%q is neither a duration like 24h or 7d nor a time like 2026-01-02T15:04:05Z", v)}
	}
	return t, nil
}

func auditTrail(env *Env) (AuditTrail, error) {
	if env.Audit == nil {
		return nil, errors.New("the audit trail is not available here")
	}
	return env.Audit, nil
}

// AuditEvents returns a page of the events q selects, newest first.
func (env *Env) AuditEvents(ctx context.Context, q AuditQuery) (AuditPage, error) {
	trail, err := auditTrail(env)
	if err != nil {
		return AuditPage{}, err
	}
	f, err := env.auditFilter(ctx, q)
	if err != nil {
		return AuditPage{}, err
	}
	p, err := trail.List(ctx, f)
	if errors.Is(err, audit.ErrCursor) {
		return AuditPage{}, &FieldError{Field: "cursor", Reason: fmt.Sprintf("%q is not a cursor a previous page gave", q.Cursor)}
	}
	if err != nil {
		return AuditPage{}, err
	}
	if p.Events == nil {
		p.Events = []audit.Event{}
	}
	return AuditPage{Events: p.Events, Next: p.Next}, nil
}

// ExportAudit writes every event q selects to w as JSON lines, newest
// first. Input mistakes are reported before anything is written.
func (env *Env) ExportAudit(ctx context.Context, w io.Writer, q AuditQuery) error {
	trail, err := auditTrail(env)
	if err != nil {
		return err
	}
	q.Limit = 0
	f, err := env.auditFilter(ctx, q)
	if err != nil {
		return err
	}
	if f.Cursor != "" {
		// A bad cursor is the input's mistake: find it before a line is out.
		if _, err := trail.List(ctx, audit.Filter{Cursor: f.Cursor, Limit: 1}); errors.Is(err, audit.ErrCursor) {
			return &FieldError{Field: "cursor", Reason: fmt.Sprintf("%q is not a cursor a previous page gave", q.Cursor)}
		}
	}
	return trail.Export(ctx, w, f)
}

// registerAuditFlags are the filter flags both commands share.
func registerAuditFlags(fs *flag.FlagSet, q *AuditQuery) {
	fs.StringVar(&q.User, "user", "", "events about or by this user: an email, or a user id (for deleted users)")
	fs.StringVar(&q.Kind, "kind", "", "one kind, e.g. signin.failed (see the README's audit section)")
	fs.StringVar(&q.Since, "since", "", "only events this long ago or later (24h, 7d) or since an RFC 3339 time")
	fs.StringVar(&q.Until, "until", "", "only events before this (a duration ago, or an RFC 3339 time)")
}

func auditList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("audit list")
	var q AuditQuery
	registerAuditFlags(fs, &q)
	fs.IntVar(&q.Limit, "limit", audit.DefaultLimit, fmt.Sprintf("events per page, at most %d", audit.MaxLimit))
	fs.StringVar(&q.Cursor, "cursor", "", "go on from the cursor a previous page printed")
	asJSON := fs.Bool("json", false, "print JSON: {\"events\": [...], \"next\": cursor}")
	if err := parse(fs, args); err != nil {
		return err
	}
	if q.Limit < 1 {
		return &FieldError{Field: "limit", Reason: fmt.Sprintf("must be from 1 to %d", audit.MaxLimit)}
	}
	p, err := env.AuditEvents(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, p)
	}
	if len(p.Events) == 0 {
		_, err := fmt.Fprintln(out, "no events")
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tACTOR\tUSER\tAPP\tIP\tDETAIL")
	for _, e := range p.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Kind, dash(e.Actor),
			dash(firstOf(e.Email, e.Subject)), dash(e.App), dash(e.IP), dash(detailLine(e)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p.Next != "" {
		_, err := fmt.Fprintf(out, "more: --cursor %s\n", p.Next)
		return err
	}
	return nil
}

func auditExport(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("audit export")
	var q AuditQuery
	registerAuditFlags(fs, &q)
	if err := parse(fs, args); err != nil {
		return err
	}
	return env.ExportAudit(ctx, out, q)
}

// detailLine is an event's reason and detail on one line, keys sorted;
// before and after are left to --json and export.
func detailLine(e audit.Event) string {
	var parts []string
	if e.Reason != "" {
		parts = append(parts, "reason="+quoteIfSpace(e.Reason))
	}
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+quoteIfSpace(e.Detail[k]))
	}
	if e.Before != nil || e.After != nil {
		parts = append(parts, "(before/after: --json)")
	}
	return strings.Join(parts, " ")
}

func quoteIfSpace(s string) string {
	if strings.ContainsAny(s, " \t\n\"") || s == "" {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
