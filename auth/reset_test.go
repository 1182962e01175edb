package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

const newPassword = "a brand new password"

func (f *signInFixture) resetLink(t *testing.T, email string) string {
	t.Helper()
	tok, _, err := f.svc.NewPasswordReset(context.Background(), email)
	if err != nil {
		t.Fatalf("NewPasswordReset(%s): %v", email, err)
	}
	if !strings.HasPrefix(tok, auth.PrefixResetToken) {
		t.Fatalf("token %q lacks the prefix %q", tok, auth.PrefixResetToken)
	}
	return tok
}

func TestResetPassword_SingleUseEndsSessionsAndGrants(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	if _, _, err := f.svc.StartSession(ctx, ann, "10.0.0.1", "test", false, auth.ACRPassword, []string{auth.AMRPassword}); err != nil {
		t.Fatal(err)
	}
	var grantsEnded []string
	f.svc.OnSignOutEverywhere(func(_ *kv.Txn, uid string) error { grantsEnded = append(grantsEnded, uid); return nil })
	tok := f.resetLink(t, "ANN@example.com")

	// Looking at the link (the GET of the page) does not use it up.
	for range 2 {
		if u, err := f.svc.PasswordResetUser(ctx, tok); err != nil || u.ID != ann.ID {
			t.Fatalf("PasswordResetUser = %v, %v", u, err)
		}
	}
	// A password against the rules leaves the link usable.
	if _, err := f.svc.ResetPassword(ctx, tok, "short"); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("short password: %v, want ErrInvalid", err)
	}
	if _, err := f.svc.ResetPassword(ctx, tok, newPassword); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if n := len(f.sessionsOf(t, ann.ID)); n != 0 {
		t.Errorf("%d sessions outlive the reset", n)
	}
	if len(grantsEnded) != 1 || grantsEnded[0] != ann.ID {
		t.Errorf("sign-out hooks (OIDC grants) ran for %v", grantsEnded)
	}
	if _, err := f.svc.ResetPassword(ctx, tok, "another new password"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("second use: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.PasswordResetUser(ctx, tok); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("used link still shows its page: %v", err)
	}
	if err := f.signIn(ann.Email, mfaPassword, "10.0.0.2"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("old password: %v, want refused", err)
	}
	if err := f.signIn(ann.Email, newPassword, "10.0.0.2"); err != nil {
		t.Errorf("new password: %v", err)
	}
}

func TestResetPassword_Refused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		token func(t *testing.T, f *signInFixture) string
	}{
		{"expired by the auth clock", func(t *testing.T, f *signInFixture) string {
			tok := f.resetLink(t, "ann@example.com")
			f.advance(auth.ResetTTL)
			return tok
		}},
		{"password changed since", func(t *testing.T, f *signInFixture) string {
			tok := f.resetLink(t, "ann@example.com")
			if _, err := f.svc.SetPassword(ctx, "ann@example.com", "set by an admin"); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"another link was used", func(t *testing.T, f *signInFixture) string {
			tok := f.resetLink(t, "ann@example.com")
			if _, err := f.svc.ResetPassword(ctx, f.resetLink(t, "ann@example.com"), "the other link's"); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"user disabled since", func(t *testing.T, f *signInFixture) string {
			tok := f.resetLink(t, "ann@example.com")
			if _, err := f.svc.SetStatus(ctx, "ann@example.com", auth.StatusDisabled); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"tampered", func(t *testing.T, f *signInFixture) string { return f.resetLink(t, "ann@example.com") + "x" }},
		{"another kind of token", func(t *testing.T, f *signInFixture) string {
			tok := f.resetLink(t, "ann@example.com")
			return auth.PrefixSessionToken + strings.TrimPrefix(tok, auth.PrefixResetToken)
		}},
		{"empty", func(*testing.T, *signInFixture) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignInFixture(t, 4)
			f.mfaUser(t, "ann@example.com")
			tok := tt.token(t, f)
			if _, err := f.svc.PasswordResetUser(ctx, tok); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("PasswordResetUser = %v, want ErrNotFound", err)
			}
			if _, err := f.svc.ResetPassword(ctx, tok, newPassword); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("ResetPassword = %v, want ErrNotFound", err)
			}
		})
	}
}

// Unknown, disabled and invited-but-pending addresses get one and the
// same answer, and no link.
func TestNewPasswordReset_SameAnswerForNoUsableAccount(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	f.mfaUser(t, "off@example.com")
	if _, err := f.svc.SetStatus(ctx, "off@example.com", auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "invited@example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"nobody@example.com", "off@example.com", "invited@example.com", "not an email"} {
		t.Run(email, func(t *testing.T) {
			tok, u, err := f.svc.NewPasswordReset(ctx, email)
			if !errors.Is(err, auth.ErrNotFound) || tok != "" || u != nil {
				t.Fatalf("NewPasswordReset = %q, %v, %v; want ErrNotFound and nothing else", tok, u, err)
			}
		})
	}
}

func TestLimitPasswordReset(t *testing.T) {
	ctx := context.Background()
	t.Run("per address, whatever its spelling, known or not", func(t *testing.T) {
		f := newSignInFixture(t, 4)
		for _, email := range []string{"ann@example.com", "nobody@example.com"} {
			if email == "ann@example.com" {
				f.mfaUser(t, email)
			}
			for i := range auth.ResetAddressRequests {
				if err := f.svc.LimitPasswordReset(ctx, strings.ToUpper(email), "10.0.0."+string(rune('1'+i))); err != nil {
					t.Fatalf("%s request %d: %v", email, i+1, err)
				}
			}
			if err := f.svc.LimitPasswordReset(ctx, " "+email, "10.0.1.1"); !rateLimited(err, auth.ScopeResetAddress) {
				t.Fatalf("%s over the limit: %v", email, err)
			}
		}
		f.advance(auth.ResetWindow)
		if err := f.svc.LimitPasswordReset(ctx, "ann@example.com", "10.0.1.1"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
	t.Run("per client address", func(t *testing.T) {
		f := newSignInFixture(t, 4)
		for i := range auth.ResetIPRequests {
			if err := f.svc.LimitPasswordReset(ctx, "u"+string(rune('a'+i))+"@example.com", "10.0.0.1"); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		if err := f.svc.LimitPasswordReset(ctx, "fresh@example.com", "10.0.0.1"); !rateLimited(err, auth.ScopeResetIP) {
			t.Fatalf("over the limit: %v", err)
		}
		if err := f.svc.LimitPasswordReset(ctx, "fresh@example.com", "10.0.0.2"); err != nil {
			t.Fatalf("another address: %v", err)
		}
	})
}

// A reset proves only the mailbox: it starts no session, and the next
// sign-in still stops at the second factor.
func TestResetPassword_SecondFactorStillRequired(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	f.enrol(t, ann)
	if _, err := f.svc.ResetPassword(ctx, f.resetLink(t, ann.Email), newPassword); err != nil {
		t.Fatal(err)
	}
	if n := len(f.sessionsOf(t, ann.ID)); n != 0 {
		t.Fatalf("the reset left %d sessions", n)
	}
	res, err := f.svc.Authenticate(ctx, auth.SignIn{Login: ann.Email, Password: newPassword, IP: "10.0.0.1"})
	if err != nil || res.Done() || res.Pending.Step != auth.StepSecondFactor {
		t.Fatalf("sign-in after the reset: %+v, %v; want pending at the second factor", res, err)
	}
}
