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

// auditFlags are the filter flags both commands share.
type auditFlags struct {
	user, kind, since, until string
}

func (f *auditFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.user, "user", "", "events about or by this user: an email, or a user id (for deleted users)")
	fs.StringVar(&f.kind, "kind", "", "one kind, e.g. signin.failed (see the README's audit section)")
	fs.StringVar(&f.since, "since", "", "only events this long ago or later (24h, 7d) or since an RFC 3339 time")
	fs.StringVar(&f.until, "until", "", "only events before this (a duration ago, or an RFC 3339 time)")
}

// filter turns the flags into an audit.Filter, resolving an email.
func (f *auditFlags) filter(ctx context.Context, env *Env) (audit.Filter, error) {
	var out audit.Filter
	now := env.Auth.Now()
	var err error
	if out.Since, err = timeFlag("since", f.since, now); err != nil {
		return out, err
	}
	if out.Until, err = timeFlag("until", f.until, now); err != nil {
		return out, err
	}
	if f.kind != "" {
		k := audit.Kind(strings.ToLower(strings.TrimSpace(f.kind)))
		known := false
		for _, c := range audit.Kinds() {
			known = known || c == k
		}
		if !known {
			return out, usagef("--kind %q is not a kind of event; see the README's audit section", f.kind)
		}
		out.Kind = k
	}
	if u := strings.TrimSpace(f.user); u != "" {
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
		return time.Time{}, usagef("--%s %q is neither a duration like 24h or 7d nor a time like 2026-01-02T15:04:05Z", name, v)
	}
	return t, nil
}

func auditTrail(env *Env) (AuditTrail, error) {
	if env.Audit == nil {
		return nil, errors.New("the audit trail is not available here")
	}
	return env.Audit, nil
}

func auditList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("audit list")
	var af auditFlags
	af.register(fs)
	limit := fs.Int("limit", audit.DefaultLimit, fmt.Sprintf("events per page, at most %d", audit.MaxLimit))
	cursor := fs.String("cursor", "", "go on from the cursor a previous page printed")
	asJSON := fs.Bool("json", false, "print JSON: {\"events\": [...], \"next\": cursor}")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *limit < 1 || *limit > audit.MaxLimit {
		return usagef("--limit must be from 1 to %d", audit.MaxLimit)
	}
	trail, err := auditTrail(env)
	if err != nil {
		return err
	}
	f, err := af.filter(ctx, env)
	if err != nil {
		return err
	}
	f.Limit, f.Cursor = *limit, *cursor
	p, err := trail.List(ctx, f)
	if err != nil {
		if errors.Is(err, audit.ErrCursor) {
			return usagef("--cursor %q is not a cursor this command printed", *cursor)
		}
		return err
	}
	if *asJSON {
		if p.Events == nil {
			p.Events = []audit.Event{}
		}
		return writeJSON(out, struct {
			Events []audit.Event `json:"events"`
			Next   string        `json:"next,omitempty"`
		}{p.Events, p.Next})
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
	var af auditFlags
	af.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	trail, err := auditTrail(env)
	if err != nil {
		return err
	}
	f, err := af.filter(ctx, env)
	if err != nil {
		return err
	}
	return trail.Export(ctx, out, f)
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
