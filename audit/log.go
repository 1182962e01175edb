package audit

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/clinchsso/clinch/kv"
)

// Sentinel errors. Callers check them with errors.Is.
var (
	ErrInvalid = errors.New("audit: invalid event")
	ErrCursor  = errors.New("audit: invalid cursor")
)

// DefaultRetention is how long events are kept when Config.Retention is 0.
const DefaultRetention = 90 * 24 * time.Hour

// Page sizes of List.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Config wires a Log.
type Config struct {
	Store *kv.Store
	// Retention is how long an event is kept (CLINCH_AUDIT_RETENTION);
	// 0 means DefaultRetention.
	Retention time.Duration
	// Count is told the kind of every event stored (a Prometheus
	// counter); nil counts nothing.
	Count func(Kind)
	// Now defaults to time.Now; tests move the clock.
	Now func() time.Time
	// Logger defaults to discarding.
	Logger *slog.Logger
}

// Log is the audit trail in the store.
type Log struct {
	store     *kv.Store
	retention time.Duration
	count     func(Kind)
	now       func() time.Time
	log       *slog.Logger
	// seq orders the events this Log records within one nanosecond.
	seq atomic.Uint32
}

// New returns a Log over an open store.
func New(cfg Config) (*Log, error) {
	if cfg.Store == nil {
		return nil, errors.New("audit: Store is required")
	}
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("audit: negative retention %v", cfg.Retention)
	}
	l := &Log{store: cfg.Store, retention: cfg.Retention, count: cfg.Count, now: cfg.Now, log: cfg.Logger}
	if l.retention == 0 {
		l.retention = DefaultRetention
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

// Retention is how long events are kept.
func (l *Log) Retention() time.Duration { return l.retention }

// idTime is the time part of an id: fixed width, so ids sort as times do
// (until the year 9999).
const idTime = "20060102T150405.000000000Z"

// newID is the time, then a sequence number so that events recorded in one
// nanosecond keep their order, then random characters so that two
// processes (a test's two Logs on one store) never collide.
func (l *Log) newID(t time.Time) string {
	var b [5]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return fmt.Sprintf("%s-%08x%s", t.UTC().Format(idTime), l.seq.Add(1), base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Record stores e with the Log's retention as its TTL. It sets ID and, when
// zero, Time from the clock; an empty Actor or IP is taken from the
// context's Origin. The event and its per-user index entries are written in
// one transaction.
func (l *Log) Record(ctx context.Context, e Event) error {
	if e.Kind == "" {
		return fmt.Errorf("%w: no kind", ErrInvalid)
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	o := OriginOf(ctx)
	if e.Actor == "" {
		e.Actor = o.Actor
	}
	if e.IP == "" {
		e.IP = o.IP
	}
	e.ID = l.newID(e.Time)
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: encode: %w", err)
	}
	err = l.store.Update(ctx, func(t *kv.Txn) error {
		if err := t.Set(kv.PrefixAudit.Key(e.ID), b, l.retention); err != nil {
			return err
		}
		for _, u := range indexedUsers(e) {
			if err := t.Set(kv.PrefixAuditByUser.Key(u+"/"+e.ID), nil, l.retention); err != nil {
				return err
			}
		}
		return t.Set(kv.PrefixAuditByKind.Key(string(e.Kind)+"/"+e.ID), nil, l.retention)
	})
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Kind, err)
	}
	if l.count != nil {
		l.count(e.Kind)
	}
	return nil
}

// indexedUsers are the users an event is listed under: its subject and,
// when a user did it, its actor.
func indexedUsers(e Event) []string {
	var us []string
	if e.Subject != "" {
		us = append(us, e.Subject)
	}
	if e.Actor != "" && e.Actor != e.Subject && e.Actor != ActorCLI && !strings.HasPrefix(e.Actor, "api:") {
		us = append(us, e.Actor)
	}
	return us
}

// Filter selects events. The zero Filter selects the newest DefaultLimit.
type Filter struct {
	// User selects events about the user with this id, or done by them.
	User string
	// Kind selects one kind.
	Kind Kind
	// Since (inclusive) and Until (exclusive) bound the time; zero is
	// unbounded.
	Since, Until time.Time
	// Cursor is a previous Page's Next: the page goes on from there.
	Cursor string
	// Limit is the page size: 0 means DefaultLimit, at most MaxLimit.
	Limit int
}

// Page is one page of events, newest first. Next is the Cursor of the
// following page, "" on the last one.
type Page struct {
	Events []Event
	Next   string
}

// List returns a page of the events the filter selects, newest first. It
// walks keys backwards from the cursor (or Until): the user's index when
// User is set, else the kind's when Kind is, else the events themselves.
// A page costs what it returns (plus, with both User and Kind, the user's
// events of other kinds), never a scan of the whole trail.
func (l *Log) List(ctx context.Context, f Filter) (Page, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var p Page
	err := l.store.View(ctx, func(t *kv.Txn) error {
		var more bool
		var err error
		p.Events, more, err = l.walk(t, f, limit)
		if err != nil {
			return err
		}
		if more && len(p.Events) > 0 {
			p.Next = p.Events[len(p.Events)-1].ID
		}
		return nil
	})
	return p, err
}

// walk collects up to limit events and reports whether another one
// follows.
func (l *Log) walk(t *kv.Txn, f Filter, limit int) ([]Event, bool, error) {
	if f.Cursor != "" {
		if _, err := time.Parse(idTime, idTimePart(f.Cursor)); err != nil {
			return nil, false, fmt.Errorf("%w: %q", ErrCursor, f.Cursor)
		}
	}
	// Ids sort as their times do, so the walk starts at the newer bound
	// of Until and the cursor and stops below Since.
	start := ""
	if !f.Until.IsZero() {
		// Every id at Until sorts above its bare time, so Until is
		// exclusive.
		start = f.Until.UTC().Format(idTime)
	}
	if f.Cursor != "" && (start == "" || f.Cursor < start) {
		start = f.Cursor
	}
	since := ""
	if !f.Since.IsZero() {
		since = f.Since.UTC().Format(idTime)
	}
	prefix := []byte(kv.PrefixAudit)
	indexed := true
	switch {
	case f.User != "":
		prefix = kv.PrefixAuditByUser.Key(f.User + "/")
	case f.Kind != "":
		prefix = kv.PrefixAuditByKind.Key(string(f.Kind) + "/")
	default:
		indexed = false
	}
	var from []byte
	if start != "" {
		from = append(append([]byte{}, prefix...), start...)
	}
	var out []Event
	more := false
	err := t.ScanReverse(prefix, from, func(key, val []byte) error {
		id := string(key[len(prefix):])
		if id == f.Cursor {
			return nil // the cursor is the last event of the page before
		}
		if since != "" && id < since {
			return kv.ErrStop
		}
		if indexed {
			// An index holds no value: read the event. Both were
			// written with one TTL, but the index may outlive it by a
			// second.
			v, err := t.Get(kv.PrefixAudit.Key(id))
			if errors.Is(err, kv.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			val = v
		}
		var e Event
		if err := json.Unmarshal(val, &e); err != nil {
			return fmt.Errorf("audit: decode %s: %w", id, err)
		}
		if f.Kind != "" && e.Kind != f.Kind {
			return nil
		}
		if len(out) == limit {
			more = true
			return kv.ErrStop
		}
		out = append(out, e)
		return nil
	})
	return out, more, err
}

func idTimePart(id string) string {
	if len(id) < len(idTime) {
		return id
	}
	return id[:len(idTime)]
}

// Export writes every event the filter selects to w as JSON lines, newest
// first: one Event object per line. Limit is ignored (it reads them all,
// page by page, each page its own read transaction); a Cursor starts it
// there.
func (l *Log) Export(ctx context.Context, w io.Writer, f Filter) error {
	f.Limit = MaxLimit
	enc := json.NewEncoder(w)
	for {
		p, err := l.List(ctx, f)
		if err != nil {
			return err
		}
		for i := range p.Events {
			if err := enc.Encode(&p.Events[i]); err != nil {
				return fmt.Errorf("audit: export: %w", err)
			}
		}
		if p.Next == "" {
			return nil
		}
		f.Cursor = p.Next
	}
}
