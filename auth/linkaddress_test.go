package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// Reset and sign-in links were mailed to an address: once the person's
// address changes, by their own confirmed request or by an admin, the
// links outstanding for the old one are void, and new ones work.
func TestLinks_VoidAfterEmailChange(t *testing.T) {
	ctx := context.Background()
	const to = "ann@new.example"
	changes := []struct {
		name   string
		change func(t *testing.T, f *signInFixture, u *auth.User)
	}{
		{"confirmed by the person", func(t *testing.T, f *signInFixture, u *auth.User) {
			tok, _, err := f.svc.RequestEmailChange(ctx, auth.EmailChangeRequest{UserID: u.ID, Password: mfaPassword, NewEmail: to, IP: "10.0.0.1"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.ConfirmEmailChange(ctx, tok); err != nil {
				t.Fatal(err)
			}
		}},
		{"by an admin", func(t *testing.T, f *signInFixture, u *auth.User) {
			e := to
			if _, err := f.svc.UpdateUser(ctx, u.Email, auth.UserUpdate{Email: &e}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignInFixture(t, 4)
			ann := f.mfaUser(t, "ann@example.com")
			oldReset, oldMagic := f.resetLink(t, ann.Email), f.magicLink(t, ann.Email)
			tt.change(t, f, ann)

			if _, err := f.svc.PasswordResetUser(ctx, oldReset); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("old reset link's page: %v, want ErrNotFound", err)
			}
			if _, err := f.svc.ResetPassword(ctx, oldReset, newPassword); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("old reset link: %v, want ErrNotFound", err)
			}
			if _, err := f.svc.MagicLinkInfo(ctx, oldMagic); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("old sign-in link's page: %v, want ErrNotFound", err)
			}
			if _, err := f.svc.UseMagicLink(ctx, auth.MagicSignIn{Token: oldMagic, IP: "10.0.0.1"}); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("old sign-in link: %v, want ErrNotFound", err)
			}

			if _, err := f.svc.ResetPassword(ctx, f.resetLink(t, to), newPassword); err != nil {
				t.Errorf("reset link made after the change: %v", err)
			}
			res, err := f.svc.UseMagicLink(ctx, auth.MagicSignIn{Token: f.magicLink(t, to), IP: "10.0.0.1"})
			if err != nil || !res.Done() || res.Session.UserID != ann.ID {
				t.Errorf("sign-in link made after the change: %+v, %v", res, err)
			}
		})
	}
}
