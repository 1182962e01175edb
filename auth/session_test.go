package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// SessionIdentity is verify's one read on a cache miss: the session, its
// user and the user's groups from one snapshot; only the user when asked.
func TestSessionIdentity(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	s := f.svc
	for _, g := range []string{"staff", "family"} {
		if _, err := s.CreateGroup(ctx, g, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse battery", Groups: []string{"staff", "family"}})
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := s.StartSession(ctx, u, "10.0.0.1", "test", false, auth.ACRSecondFactor, []string{auth.AMRPassword})
	if err != nil {
		t.Fatal(err)
	}
	got, gu, gs, err := s.SessionIdentity(ctx, sess.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != sess.ID || got.UserID != u.ID || got.ACR != auth.ACRSecondFactor || !got.ExpiresAt.Equal(sess.ExpiresAt) || !got.LastActiveAt.Equal(sess.LastActiveAt) {
		t.Errorf("session %+v, want the fields of %+v", got, sess)
	}
	if gu == nil || gu.ID != u.ID || len(gs) != 2 || gs[0].Name != "family" || gs[1].Name != "staff" {
		t.Errorf("user %v, groups %v", gu, gs)
	}
	var asked string
	_, gu, gs, err = s.SessionIdentity(ctx, sess.ID, func(id string) bool { asked = id; return false })
	if err != nil || gu != nil || gs != nil || asked != u.ID {
		t.Errorf("user not needed: user %v, groups %v, asked about %q, err %v", gu, gs, asked, err)
	}
	if _, _, _, err := s.SessionIdentity(ctx, "no-such-session", nil); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}
	f.advance(auth.SessionTTL + time.Second)
	if _, _, _, err := s.SessionIdentity(ctx, sess.ID, nil); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("expired session: %v", err)
	}
}

// TouchSessions records activity on many sessions in one transaction,
// never moving it back, and skips sessions that are gone.
func TestTouchSessions(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	s := f.svc
	u, err := s.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := s.StartSession(ctx, u, "", "", false, auth.ACRPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.StartSession(ctx, u, "", "", false, auth.ACRPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	later := a.LastActiveAt.Add(5 * time.Minute)
	err = s.TouchSessions(ctx, map[string]time.Time{a.ID: later, b.ID: b.LastActiveAt.Add(-time.Minute), "gone": later})
	if err != nil {
		t.Fatal(err)
	}
	ga, _ := s.SessionByID(ctx, a.ID)
	gb, _ := s.SessionByID(ctx, b.ID)
	if !ga.LastActiveAt.Equal(later) || !gb.LastActiveAt.Equal(b.LastActiveAt) {
		t.Errorf("last active %v and %v, want %v and %v", ga.LastActiveAt, gb.LastActiveAt, later, b.LastActiveAt)
	}
}
