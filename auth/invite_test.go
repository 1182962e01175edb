package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

func (f *signInFixture) invite(t *testing.T, email string) (string, *auth.User) {
	t.Helper()
	tok, u, _, err := f.svc.Invite(context.Background(), auth.NewUser{Email: email})
	if err != nil {
		t.Fatalf("Invite(%s): %v", email, err)
	}
	if !strings.HasPrefix(tok, auth.PrefixInviteToken) {
		t.Fatalf("token %q lacks the prefix %q", tok, auth.PrefixInviteToken)
	}
	return tok, u
}

func TestInvite_AcceptSingleUse(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	tok, u := f.invite(t, "New@Example.com")
	if u.Status != auth.StatusPendingInvitation {
		t.Fatalf("status %s, want pending_invitation", u.Status)
	}
	// Looking at the link (the GET of the page) does not use it up.
	for range 2 {
		if got, err := f.svc.InvitationUser(ctx, tok); err != nil || got.ID != u.ID {
			t.Fatalf("InvitationUser = %v, %v", got, err)
		}
	}
	if _, err := f.svc.AcceptInvitation(ctx, auth.Acceptance{Token: tok, Password: "short"}); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("short password: %v, want ErrInvalid", err)
	}
	res, err := f.svc.AcceptInvitation(ctx, auth.Acceptance{Token: tok, Password: newPassword, IP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("AcceptInvitation: %v", err)
	}
	if !res.Done() || res.Session.ACR != auth.ACRPassword {
		t.Fatalf("accepting with no second factor required: %+v, want a session at acr 1", res)
	}
	if res.User.Status != auth.StatusActive {
		t.Errorf("status %s after accepting, want active", res.User.Status)
	}
	if err := f.signIn("new@example.com", newPassword, "10.0.0.1"); err != nil {
		t.Errorf("sign-in with the chosen password: %v", err)
	}
	if _, err := f.svc.AcceptInvitation(ctx, auth.Acceptance{Token: tok, Password: "another new password"}); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("second use: %v, want ErrNotFound", err)
	}
	// An active user cannot be invited again.
	if _, _, _, err := f.svc.Invite(ctx, auth.NewUser{Email: "new@example.com"}); !errors.Is(err, auth.ErrNotInvitable) {
		t.Fatalf("inviting an active user: %v, want ErrNotInvitable", err)
	}
}

func TestInvite_LinkDoesNotWork(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		link func(t *testing.T, f *signInFixture) string
	}{
		{"expired by the auth clock", func(t *testing.T, f *signInFixture) string {
			tok, _ := f.invite(t, "ann@example.com")
			f.advance(auth.InviteTTL)
			return tok
		}},
		{"voided by a new invitation", func(t *testing.T, f *signInFixture) string {
			tok, _ := f.invite(t, "ann@example.com")
			f.invite(t, "ann@example.com")
			return tok
		}},
		{"user disabled", func(t *testing.T, f *signInFixture) string {
			tok, _ := f.invite(t, "ann@example.com")
			if _, err := f.svc.SetStatus(ctx, "ann@example.com", auth.StatusDisabled); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"password set another way", func(t *testing.T, f *signInFixture) string {
			tok, _ := f.invite(t, "ann@example.com")
			if _, err := f.svc.SetPassword(ctx, "ann@example.com", "set by an admin"); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"tampered", func(t *testing.T, f *signInFixture) string {
			tok, _ := f.invite(t, "ann@example.com")
			return tok + "x"
		}},
		{"a reset token", func(t *testing.T, f *signInFixture) string {
			f.mfaUser(t, "bob@example.com")
			return f.resetLink(t, "bob@example.com")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignInFixture(t, 4)
			tok := tt.link(t, f)
			if _, err := f.svc.InvitationUser(ctx, tok); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("InvitationUser: %v, want ErrNotFound", err)
			}
			if _, err := f.svc.AcceptInvitation(ctx, auth.Acceptance{Token: tok, Password: newPassword}); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("AcceptInvitation: %v, want ErrNotFound", err)
			}
		})
	}
}

func TestInvite_ReinviteKeepsUserAddsGroups(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	if _, err := f.svc.CreateGroup(ctx, "staff", "", ""); err != nil {
		t.Fatal(err)
	}
	_, first := f.invite(t, "ann@example.com")
	tok, again, created, err := f.svc.Invite(ctx, auth.NewUser{Email: "ann@example.com", Groups: []string{"staff"}})
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("re-invite = %v, created %v, %v; want the same user", again, created, err)
	}
	gs, err := f.svc.UserGroups(ctx, first.ID)
	if err != nil || len(gs) != 1 || gs[0].Name != "staff" {
		t.Fatalf("groups after re-invite = %v, %v", gs, err)
	}
	if _, err := f.svc.AcceptInvitation(ctx, auth.Acceptance{Token: tok, Password: newPassword}); err != nil {
		t.Fatalf("the newest link: %v", err)
	}
	if _, _, _, err := f.svc.Invite(ctx, auth.NewUser{Email: "ann@example.com"}); !errors.Is(err, auth.ErrNotInvitable) {
		t.Fatalf("inviting an active user: %v, want ErrNotInvitable", err)
	}
	if _, _, _, err := f.svc.Invite(ctx, auth.NewUser{Email: "x@example.com", Password: "a password given"}); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("invite with a password: %v, want ErrInvalid", err)
	}
}

// A user who must have a second factor sets one up
// before any session exists: accepting goes on through the pipeline.
func TestInvite_AcceptSecondFactorRequired(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	tok, u := f.invite(t, "ops@example.com")
	if _, _, err := f.svc.SetRequireSecondFactor(ctx, u.Email, true); err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.AcceptInvitation(ctx, auth.Acceptance{Token: tok, Password: newPassword, IP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("AcceptInvitation: %v", err)
	}
	if res.Done() || res.Pending == nil || res.Pending.Step != auth.StepSetupTOTP || res.PendingToken == "" {
		t.Fatalf("result %+v, want a pending sign-in at TOTP set-up", res)
	}
	if n := len(f.sessionsOf(t, u.ID)); n != 0 {
		t.Errorf("%d sessions before the second factor is set up", n)
	}
}
