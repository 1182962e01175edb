package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// CheckPassword (HTTP Basic at /api/verify) lets in only an active user
// without a second factor; one who has or must have a second factor is
// refused with the password alone.
func TestCheckPassword(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	f.mfaUser(t, "ann@example.com")
	f.enrol(t, f.mfaUser(t, "totp@example.com"))
	f.mfaUser(t, "own@example.com")
	if _, _, err := f.svc.SetRequireSecondFactor(ctx, "own@example.com", true); err != nil {
		t.Fatal(err)
	}
	f.mfaUser(t, "grp@example.com")
	if _, err := f.svc.CreateGroup(ctx, "staff", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.AddToGroup(ctx, "staff", "grp@example.com"); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := f.svc.UpdateGroup(ctx, "staff", auth.GroupUpdate{RequireSecondFactor: &on}); err != nil {
		t.Fatal(err)
	}
	f.mfaUser(t, "off@example.com")
	if _, err := f.svc.SetStatus(ctx, "off@example.com", auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		login, password string
		want            error // nil: the user
	}{
		{"ann@example.com", mfaPassword, nil},
		{" ANN@example.com ", mfaPassword, nil},
		{"ann@example.com", "wrong horse", auth.ErrInvalidCredentials},
		{"nobody@example.com", mfaPassword, auth.ErrInvalidCredentials},
		{"off@example.com", mfaPassword, auth.ErrInvalidCredentials},
		{"totp@example.com", mfaPassword, auth.ErrPasswordNotEnough},
		{"own@example.com", mfaPassword, auth.ErrPasswordNotEnough},
		{"grp@example.com", mfaPassword, auth.ErrPasswordNotEnough},
		// A wrong password of such a user says nothing about the factor.
		{"totp@example.com", "wrong horse", auth.ErrInvalidCredentials},
	} {
		t.Run(fmt.Sprintf("%d %s", i, tc.login), func(t *testing.T) {
			// One address each, so the address limit stays out of it.
			u, err := f.svc.CheckPassword(ctx, tc.login, tc.password, fmt.Sprintf("10.7.0.%d", i))
			switch {
			case tc.want == nil && (err != nil || u == nil || u.Email != "ann@example.com"):
				t.Fatalf("got %v, %v; want ann", u, err)
			case tc.want != nil && (!errors.Is(err, tc.want) || u != nil):
				t.Fatalf("got %v, %v; want %v", u, err, tc.want)
			}
		})
	}
}

// Basic passwords and the sign-in page share one account counter, checked
// and counted atomically before bcrypt: 30 guesses at once, half through
// each door, get no more than the free failures.
func TestCheckPassword_SharesTheSignInLimits(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	f.mfaUser(t, "ann@example.com")
	const attempts = 30
	errs := make([]error, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			ip, pw := fmt.Sprintf("10.9.%d.%d", i/200, i%200), fmt.Sprintf("guess %d", i)
			if i%2 == 0 {
				_, errs[i] = f.svc.CheckPassword(ctx, "ann@example.com", pw, ip)
			} else {
				errs[i] = f.signIn("ann@example.com", pw, ip)
			}
		})
	}
	wg.Wait()
	guessed := 0
	for i, err := range errs {
		switch {
		case errors.Is(err, auth.ErrInvalidCredentials):
			guessed++
		case rateLimited(err, "account"):
		default:
			t.Errorf("attempt %d = %v", i, err)
		}
	}
	if guessed != auth.AccountFreeFailures {
		t.Errorf("%d passwords checked; want %d", guessed, auth.AccountFreeFailures)
	}
	if _, err := f.svc.CheckPassword(ctx, "ann@example.com", mfaPassword, "10.8.0.1"); !rateLimited(err, "account") {
		t.Fatalf("right password after the limit = %v, want the account limit", err)
	}
	// And one address gets IPAttempts tries, whatever the accounts.
	for i := range auth.IPAttempts {
		if _, err := f.svc.CheckPassword(ctx, fmt.Sprintf("u%d@example.com", i), "x", "10.6.0.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("attempt %d from one address = %v", i, err)
		}
	}
	if _, err := f.svc.CheckPassword(ctx, "x@example.com", "x", "10.6.0.1"); !rateLimited(err, "ip") {
		t.Fatalf("past the address limit = %v", err)
	}
}
