package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// newLog returns a Log whose clock the test sets through *now.
func newLog(t *testing.T, retention time.Duration) (*audit.Log, *kv.Store, *time.Time, map[audit.Kind]int) {
	t.Helper()
	st := kvtest.Open(t)
	now := t0
	counted := map[audit.Kind]int{}
	l, err := audit.New(audit.Config{Store: st, Retention: retention, Now: func() time.Time { return now }, Count: func(k audit.Kind) { counted[k]++ }})
	if err != nil {
		t.Fatal(err)
	}
	return l, st, &now, counted
}

func record(t *testing.T, l *audit.Log, e audit.Event) {
	t.Helper()
	if err := l.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

// seed records n events one minute apart, alternating subjects u1/u2 and
// kinds signin/signin.failed; event i has Detail n=i.
func seed(t *testing.T, l *audit.Log, now *time.Time, n int) {
	t.Helper()
	for i := range n {
		*now = t0.Add(time.Duration(i) * time.Minute)
		e := audit.Event{Kind: audit.SignIn, Subject: "u1", Detail: map[string]string{"n": fmt.Sprint(i)}}
		if i%2 == 1 {
			e.Kind, e.Subject, e.Reason = audit.SignInFailed, "u2", "wrong password"
		}
		record(t, l, e)
	}
}

func ns(es []audit.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Detail["n"])
	}
	return out
}

func TestList_NewestFirstWithFilters(t *testing.T) {
	l, _, now, _ := newLog(t, 0)
	seed(t, l, now, 10)
	tests := []struct {
		name string
		f    audit.Filter
		want []string
	}{
		{"all", audit.Filter{}, []string{"9", "8", "7", "6", "5", "4", "3", "2", "1", "0"}},
		{"kind", audit.Filter{Kind: audit.SignInFailed}, []string{"9", "7", "5", "3", "1"}},
		{"kind that prefixes another", audit.Filter{Kind: audit.SignIn}, []string{"8", "6", "4", "2", "0"}},
		{"kind and since", audit.Filter{Kind: audit.SignIn, Since: t0.Add(5 * time.Minute)}, []string{"8", "6"}},
		{"user", audit.Filter{User: "u1"}, []string{"8", "6", "4", "2", "0"}},
		{"user and kind that never match", audit.Filter{User: "u1", Kind: audit.SignInFailed}, nil},
		{"unknown user", audit.Filter{User: "u"}, nil}, // "u" is a prefix of u1 and u2: must not match them
		{"since is inclusive", audit.Filter{Since: t0.Add(7 * time.Minute)}, []string{"9", "8", "7"}},
		{"until is exclusive", audit.Filter{Until: t0.Add(2 * time.Minute)}, []string{"1", "0"}},
		{"since and until", audit.Filter{Since: t0.Add(3 * time.Minute), Until: t0.Add(6 * time.Minute)}, []string{"5", "4", "3"}},
		{"user and time", audit.Filter{User: "u2", Since: t0.Add(4 * time.Minute), Until: t0.Add(8 * time.Minute)}, []string{"7", "5"}},
		{"since after everything", audit.Filter{Since: t0.Add(time.Hour)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := l.List(context.Background(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if got := ns(p.Events); !slices.Equal(got, tc.want) {
				t.Errorf("events %v, want %v", got, tc.want)
			}
			if p.Next != "" {
				t.Errorf("Next %q on the only page", p.Next)
			}
		})
	}
}

func TestList_LimitGivesNext(t *testing.T) {
	l, _, now, _ := newLog(t, 0)
	seed(t, l, now, 10)
	p, err := l.List(context.Background(), audit.Filter{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns(p.Events); !slices.Equal(got, []string{"9", "8", "7"}) || p.Next != p.Events[2].ID {
		t.Errorf("events %v, next %q; want 9 8 7 and the id of 7", got, p.Next)
	}
	p, err = l.List(context.Background(), audit.Filter{Limit: 3, Cursor: p.Next})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns(p.Events); !slices.Equal(got, []string{"6", "5", "4"}) {
		t.Errorf("second page %v, want 6 5 4", got)
	}
}

func TestList_CursorPagesThroughEverythingOnce(t *testing.T) {
	l, _, now, _ := newLog(t, 0)
	seed(t, l, now, 10)
	// Two events in the same nanosecond still page apart: ids differ.
	record(t, l, audit.Event{Kind: audit.SignIn, Subject: "u1", Detail: map[string]string{"n": "10"}})
	record(t, l, audit.Event{Kind: audit.SignIn, Subject: "u1", Detail: map[string]string{"n": "11"}})
	tests := []struct {
		name  string
		f     audit.Filter
		pages int
		total int
	}{
		{"all by 3", audit.Filter{Limit: 3}, 4, 12},
		{"all by 4", audit.Filter{Limit: 4}, 3, 12}, // the last page is full: Next must still end the walk after it
		{"user by 2", audit.Filter{User: "u1", Limit: 2}, 4, 7},
		{"kind by 2", audit.Filter{Kind: audit.SignInFailed, Limit: 2}, 3, 5},
		{"until by 2", audit.Filter{Until: t0.Add(5 * time.Minute), Limit: 2}, 3, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			seen := map[string]bool{}
			var last time.Time
			pages := 0
			for {
				p, err := l.List(context.Background(), f)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, e := range p.Events {
					if seen[e.ID] {
						t.Fatalf("event %s twice", e.ID)
					}
					seen[e.ID] = true
					if !last.IsZero() && e.Time.After(last) {
						t.Fatalf("event at %v after one at %v: not newest first", e.Time, last)
					}
					last = e.Time
				}
				if p.Next == "" {
					break
				}
				if pages > 20 {
					t.Fatal("cursor never ends")
				}
				f.Cursor = p.Next
			}
			if pages != tc.pages || len(seen) != tc.total {
				t.Errorf("%d pages, %d events; want %d, %d", pages, len(seen), tc.pages, tc.total)
			}
		})
	}
}

func TestList_BadCursor(t *testing.T) {
	l, _, _, _ := newLog(t, 0)
	for _, c := range []string{"x", "../../user/", "2026"} {
		if _, err := l.List(context.Background(), audit.Filter{Cursor: c}); !errors.Is(err, audit.ErrCursor) {
			t.Errorf("cursor %q: err %v, want ErrCursor", c, err)
		}
	}
}

func TestRecord_FillsIDTimeAndOriginAndCounts(t *testing.T) {
	l, _, _, counted := newLog(t, 0)
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "admin-id", IP: "192.0.2.7"})
	record(t, l, audit.Event{Kind: audit.UserUpdated, Subject: "u1"})
	if err := l.Record(ctx, audit.Event{Kind: audit.UserUpdated, Subject: "u1", Actor: audit.ActorCLI}); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, audit.Event{Kind: audit.UserDeleted, Subject: "u2"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(ctx, audit.Event{}); !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("event without kind: err %v, want ErrInvalid", err)
	}
	p, err := l.List(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 3 {
		t.Fatalf("%d events, want 3", len(p.Events))
	}
	got := p.Events[0]
	if got.ID == "" || !got.Time.Equal(t0) || got.Actor != "admin-id" || got.IP != "192.0.2.7" {
		t.Errorf("recorded %+v: want an id, time %v, actor and IP from the context", got, t0)
	}
	if p.Events[1].Actor != audit.ActorCLI {
		t.Errorf("the event's own actor %q was replaced by the context's", p.Events[1].Actor)
	}
	// The admin who acted finds the event under their own id too.
	p, err = l.List(context.Background(), audit.Filter{User: "admin-id"})
	if err != nil || len(p.Events) != 1 || p.Events[0].Kind != audit.UserDeleted {
		t.Errorf("events by the actor: %+v, %v; want the deletion", p.Events, err)
	}
	if counted[audit.UserUpdated] != 2 || counted[audit.UserDeleted] != 1 || len(counted) != 2 {
		t.Errorf("counted %v", counted)
	}
}

func TestRecord_KeptForTheRetention(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		want      time.Duration
	}{
		{"default 90 days", 0, audit.DefaultRetention},
		{"short", 2 * time.Hour, 2 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, st, _, _ := newLog(t, tc.retention)
			before := time.Now()
			record(t, l, audit.Event{Kind: audit.SignIn, Subject: "u1"})
			p, err := l.List(context.Background(), audit.Filter{})
			if err != nil || len(p.Events) != 1 {
				t.Fatalf("%v %v", p, err)
			}
			// Badger expires by the wall clock; the test reads the expiry
			// written, so it needs no waiting.
			for _, key := range [][]byte{kv.PrefixAudit.Key(p.Events[0].ID), kv.PrefixAuditByUser.Key("u1/" + p.Events[0].ID), kv.PrefixAuditByKind.Key("signin/" + p.Events[0].ID)} {
				var exp time.Time
				if err := st.View(context.Background(), func(tx *kv.Txn) error {
					var err error
					exp, err = tx.ExpiresAt(key)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if lo, hi := before.Add(tc.want), time.Now().Add(tc.want+3*time.Second); exp.Before(lo.Truncate(time.Second)) || exp.After(hi) {
					t.Errorf("%s expires at %v, want between %v and %v", key, exp, lo, hi)
				}
			}
		})
	}
}

func TestNew_RefusesNegativeRetention(t *testing.T) {
	if _, err := audit.New(audit.Config{Store: kvtest.Open(t), Retention: -time.Hour}); err == nil {
		t.Error("negative retention accepted")
	}
}

func TestExport_JSONLinesNewestFirst(t *testing.T) {
	l, _, now, _ := newLog(t, 0)
	seed(t, l, now, 1500) // more than one internal page of MaxLimit
	*now = t0.Add(-time.Hour)
	record(t, l, audit.Event{Kind: audit.UserUpdated, Actor: audit.ActorCLI, Subject: "u3", Email: "c@example.com",
		Before: audit.Snapshot(map[string]any{"admin": false}), After: audit.Snapshot(map[string]any{"admin": true})})
	tests := []struct {
		name      string
		f         audit.Filter
		lines     int
		firstKind audit.Kind
	}{
		{"everything, ignoring Limit", audit.Filter{Limit: 5}, 1501, audit.SignInFailed},
		{"one user", audit.Filter{User: "u3"}, 1, audit.UserUpdated},
		{"since", audit.Filter{Since: t0.Add(1498 * time.Minute)}, 2, audit.SignInFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := l.Export(context.Background(), &buf, tc.f); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(&buf)
			n := 0
			var prev string
			for sc.Scan() {
				var e audit.Event
				dec := json.NewDecoder(strings.NewReader(sc.Text()))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&e); err != nil {
					t.Fatalf("line %d %q: %v", n+1, sc.Text(), err)
				}
				if n == 0 && e.Kind != tc.firstKind {
					t.Errorf("first line is %s, want %s", e.Kind, tc.firstKind)
				}
				if prev != "" && e.ID >= prev {
					t.Errorf("line %d: id %s not older than %s", n+1, e.ID, prev)
				}
				if e.Kind == audit.UserUpdated && (string(e.Before) != `{"admin":false}` || string(e.After) != `{"admin":true}` || e.Actor != "cli") {
					t.Errorf("before/after/actor lost: %s", sc.Text())
				}
				prev = e.ID
				n++
			}
			if n != tc.lines {
				t.Errorf("%d lines, want %d", n, tc.lines)
			}
		})
	}
}
