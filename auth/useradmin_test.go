package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

func ptr[T any](v T) *T { return &v }

func TestNormalizeClaims_NamesTheProblem(t *testing.T) {
	tests := []struct {
		raw, want string
	}{
		{`{"a": 1,}`, "line 1, column 9"},
		{"{\n  \"a\": 1\n  \"b\": 2\n}", "line 3, column 3"},
		{`["admin"]`, "not array"},
		{`"text"`, "not string"},
		{`{"a": 1`, "not valid JSON"},
	}
	for _, tt := range tests {
		_, err := auth.NormalizeClaims(tt.raw)
		var inv *auth.InvalidError
		if !errors.As(err, &inv) || inv.Field != "claims" || !strings.Contains(inv.Reason, tt.want) {
			t.Errorf("NormalizeClaims(%q) = %v, want a claims error mentioning %q", tt.raw, err, tt.want)
		}
	}
	if c, err := auth.NormalizeClaims(` {"b": 1, "a": "x"} `); err != nil || string(c) != `{"a":"x","b":1}` {
		t.Errorf("valid claims: %s, %v", c, err)
	}
}

func TestUpdateUser(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	admin, err := s.CreateUser(ctx, auth.NewUser{Email: "ada@example.com", Password: "ada-password", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.CreateUser(ctx, auth.NewUser{Email: "bob@example.com", Username: "bob", Password: "bob-password"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"staff", "ops"} {
		if _, err := s.CreateGroup(ctx, g, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		email string
		in    auth.UserUpdate
		want  error
	}{
		{"bad claims", bob.Email, auth.UserUpdate{DisplayName: ptr("Bobby"), Claims: ptr(`{"x":`)}, auth.ErrInvalid},
		{"email taken", bob.Email, auth.UserUpdate{DisplayName: ptr("Bobby"), Email: ptr("ADA@example.com")}, auth.ErrConflict},
		{"unknown group", bob.Email, auth.UserUpdate{DisplayName: ptr("Bobby"), Groups: &[]string{"staff", "nope"}}, auth.ErrNotFound},
		{"last admin", admin.Email, auth.UserUpdate{DisplayName: ptr("Ada"), Admin: ptr(false)}, auth.ErrLastAdmin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.UpdateUser(ctx, tt.email, tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("UpdateUser = %v, want %v", err, tt.want)
			}
			// Nothing of a refused update was saved.
			u, err := s.UserByEmail(ctx, tt.email)
			if err != nil || u.DisplayName != "" {
				t.Fatalf("after a refused update: %+v, %v", u, err)
			}
			if gs, _ := s.UserGroups(ctx, u.ID); len(gs) != 0 {
				t.Fatalf("after a refused update the user is in %d groups", len(gs))
			}
		})
	}
	u, err := s.UpdateUser(ctx, bob.Email, auth.UserUpdate{
		Email: ptr("Robert@Example.com"), Username: ptr(""), DisplayName: ptr(" Robert "), Admin: ptr(true),
		Claims: ptr(`{"team": "blue"}`), Groups: &[]string{"ops", "Staff"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "robert@example.com" || u.Username != "" || u.DisplayName != "Robert" || !u.Admin || string(u.Claims) != `{"team":"blue"}` {
		t.Fatalf("saved %+v", u)
	}
	if _, err := s.UserByEmail(ctx, "bob@example.com"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("the old email still finds the user: %v", err)
	}
	if _, err := s.UserByLogin(ctx, "bob"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("the removed username still finds the user: %v", err)
	}
	gs, _ := s.UserGroups(ctx, u.ID)
	if len(gs) != 2 {
		t.Fatalf("groups %v", auth.GroupIDs(gs))
	}
	// The set replaces: leaving ops.
	if _, err := s.UpdateUser(ctx, u.Email, auth.UserUpdate{Groups: &[]string{"staff"}}); err != nil {
		t.Fatal(err)
	}
	if gs, _ := s.UserGroups(ctx, u.ID); len(gs) != 1 || gs[0].Name != "staff" {
		t.Fatalf("after leaving ops: %d groups", len(gs))
	}
	// With two admins, one may stop being one.
	if _, err := s.UpdateUser(ctx, admin.Email, auth.UserUpdate{Admin: ptr(false)}); err != nil {
		t.Fatal(err)
	}
}

// Joining a group that requires a second factor through the edit form
// signs a user without one out, as `clinch group add` does.
func TestUpdateUser_StrictGroupSignsOut(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u, err := s.CreateUser(ctx, auth.NewUser{Email: "bob@example.com", Password: "bob-password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroup(ctx, "strict", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateGroup(ctx, "strict", auth.GroupUpdate{RequireSecondFactor: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.StartSession(ctx, u, "10.0.0.1", "test", false, "1", []string{"pwd"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, u.Email, auth.UserUpdate{Groups: &[]string{"strict"}}); err != nil {
		t.Fatal(err)
	}
	if ss, _ := s.UserSessions(ctx, u.ID); len(ss) != 0 {
		t.Errorf("%d sessions left", len(ss))
	}
}

func TestSignOutEveryone(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	var changes []auth.Change
	s.Subscribe(func(c auth.Change) { changes = append(changes, c) })
	hooked := 0
	s.OnSignOutEveryone(func(*kv.Txn) error { hooked++; return nil })
	for _, e := range []string{"a@example.com", "b@example.com"} {
		u, err := s.CreateUser(ctx, auth.NewUser{Email: e, Password: "password-1"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, _, err := s.StartSession(ctx, u, "10.0.0.1", "test", false, "1", []string{"pwd"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	changes = nil
	n, err := s.SignOutEveryone(ctx)
	if err != nil || n != 4 {
		t.Fatalf("SignOutEveryone = %d, %v; want 4", n, err)
	}
	if left, _ := s.CountActiveSessions(ctx); left != 0 || hooked != 1 {
		t.Fatalf("%d sessions left, hook ran %d times", left, hooked)
	}
	ended := 0
	for _, c := range changes {
		if c.Kind == auth.ChangeUser {
			ended += len(c.EndedSessions)
		}
	}
	if ended != 4 {
		t.Errorf("changes announced %d ended sessions, want 4", ended)
	}
	// A failing hook leaves every session in place.
	u, _ := s.UserByEmail(ctx, "a@example.com")
	if _, _, err := s.StartSession(ctx, u, "10.0.0.1", "test", false, "1", []string{"pwd"}); err != nil {
		t.Fatal(err)
	}
	s.OnSignOutEveryone(func(*kv.Txn) error { return errors.New("boom") })
	if _, err := s.SignOutEveryone(ctx); err == nil {
		t.Fatal("a failing hook did not fail SignOutEveryone")
	}
	if left, _ := s.CountActiveSessions(ctx); left != 1 {
		t.Errorf("a failed sign-out ended sessions: %d left", left)
	}
}
