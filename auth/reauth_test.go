package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/authtest"
	"github.com/clinchsso/clinch/auth/passkeytest"
)

// Adding a second factor from a signed-in page asks for the current
// password: someone holding a stolen session cookie, but not the
// password, must not be able to add a factor of their own and keep access
// after the victim changes their password.

// badPasswords are what the holder of a stolen session may try.
func badPasswords(t *testing.T, f *passkeyFixture) []struct {
	name, password string
	want           error
} {
	t.Helper()
	if _, err := f.svc.CreateUser(context.Background(), auth.NewUser{Email: "mallory@example.com", Password: "mallory's own"}); err != nil {
		t.Fatal(err)
	}
	return []struct {
		name, password string
		want           error
	}{
		{"no password", "", auth.ErrPasswordRequired},
		{"a wrong password", "Correct horse", auth.ErrInvalidCredentials},
		{"the attacker's own password", "mallory's own", auth.ErrInvalidCredentials},
		{"a password longer than any", pkPassword + string(make([]byte, auth.MaxPasswordLen)), auth.ErrInvalidCredentials},
	}
}

func TestPasskeyAdd_StolenSessionCannotAddOne(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	for _, tc := range badPasswords(t, f) {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, tc.password, "10.40.0.1")
			if !errors.Is(err, tc.want) || ch != nil {
				t.Fatalf("begin = %v, %v; want %v and no challenge", ch, err, tc.want)
			}
		})
	}
	// Without a checked begin there is no ceremony to finish: an answer
	// to a challenge of the attacker's own making is refused.
	_, err := f.svc.FinishPasskeyRegistration(ctx, auth.PasskeyRegistration{
		User: f.ann, Session: f.annSess, Ceremony: auth.PrefixCeremonyToken + "made-up", Response: []byte("{}"),
	})
	if !errors.Is(err, auth.ErrPasskeyCeremony) {
		t.Fatalf("finish without a begin = %v, want ErrPasskeyCeremony", err)
	}
	if ps, err := f.svc.UserPasskeys(ctx, f.ann.ID); err != nil || len(ps) != 0 {
		t.Fatalf("ann's passkeys after the refusals: %v, %v", ps, err)
	}
	// With the password, the same session adds one.
	if _, err := f.register(t, f.ann, f.annSess, f.key, passkeytest.Answer{}); err != nil {
		t.Fatalf("add with the password: %v", err)
	}
}

func TestTOTPSetup_StolenSessionCannotEnrol(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	secret, err := f.svc.TOTPEnrolment(ctx, f.annSess)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range badPasswords(t, f) {
		t.Run(tc.name, func(t *testing.T) {
			codes, err := f.svc.ConfirmTOTPEnrolment(ctx, f.annSess, authtest.TOTP(t, secret, f.clock()), tc.password, "10.41.0.1")
			if !errors.Is(err, tc.want) || codes != nil {
				t.Fatalf("confirm = %v, %v; want %v and no backup codes", codes, err, tc.want)
			}
			if st, err := f.svc.SecondFactorStatus(ctx, f.ann.ID); err != nil || st.TOTP {
				t.Fatalf("after a refused set-up: %+v, %v; want no TOTP", st, err)
			}
		})
	}
	// The set-up is still there, and the password finishes it.
	if _, err := f.svc.ConfirmTOTPEnrolment(ctx, f.annSess, authtest.TOTP(t, secret, f.clock()), pkPassword, "10.41.0.1"); err != nil {
		t.Fatalf("confirm with the password: %v", err)
	}
}

// A wrong password on the pages that add a factor is a failed sign-in:
// counted against the account (with its progressive delay, shared with
// sign-in) and against the address.
func TestAddFactor_WrongPasswordCountedAndLimited(t *testing.T) {
	ctx := context.Background()
	t.Run("per account, shared with sign-in", func(t *testing.T) {
		f := newPasskeyFixture(t)
		secret, err := f.svc.TOTPEnrolment(ctx, f.annSess)
		if err != nil {
			t.Fatal(err)
		}
		for i := range auth.AccountFreeFailures {
			ip := fmt.Sprintf("10.42.0.%d", i)
			if i%2 == 0 {
				_, err = f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, "guess", ip)
			} else {
				_, err = f.svc.ConfirmTOTPEnrolment(ctx, f.annSess, authtest.TOTP(t, secret, f.clock()), "guess", ip)
			}
			if !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("wrong password %d = %v", i+1, err)
			}
		}
		steps := []struct {
			name string
			try  func() error
		}{
			{"add a passkey", func() error {
				_, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, pkPassword, "10.42.1.1")
				return err
			}},
			{"set up TOTP", func() error {
				_, err := f.svc.ConfirmTOTPEnrolment(ctx, f.annSess, authtest.TOTP(t, secret, f.clock()), pkPassword, "10.42.1.2")
				return err
			}},
			{"sign in", func() error {
				_, err := f.svc.Authenticate(ctx, auth.SignIn{Login: "ann", Password: pkPassword, IP: "10.42.1.3"})
				return err
			}},
		}
		for _, st := range steps {
			if err := st.try(); !rateLimited(err, auth.ScopeAccount) {
				t.Errorf("%s with the right password after %d failures = %v, want the account limit", st.name, auth.AccountFreeFailures, err)
			}
		}
		f.advance(auth.AccountFirstDelay)
		if _, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, pkPassword, "10.42.1.4"); err != nil {
			t.Fatalf("after the delay, with the password: %v", err)
		}
	})
	t.Run("per address", func(t *testing.T) {
		f := newPasskeyFixture(t)
		for i := range auth.IPAttempts {
			if _, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, pkPassword, "10.43.0.1"); err != nil {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
		}
		if _, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, pkPassword, "10.43.0.1"); !rateLimited(err, auth.ScopeIP) {
			t.Fatalf("attempt %d from one address = %v, want the address limit", auth.IPAttempts+1, err)
		}
	})
	// The check and the count are one transaction: guesses at once get no
	// more tries than the account allows.
	t.Run("concurrent guesses", func(t *testing.T) {
		f := newPasskeyFixture(t)
		const n = 30
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, fmt.Sprintf("guess %d", i), fmt.Sprintf("10.44.0.%d", i))
			}()
		}
		wg.Wait()
		checked := 0
		for i, err := range errs {
			switch {
			case errors.Is(err, auth.ErrInvalidCredentials):
				checked++
			case errors.Is(err, auth.ErrRateLimited):
			default:
				t.Errorf("guess %d = %v", i, err)
			}
		}
		if checked > auth.AccountFreeFailures {
			t.Fatalf("%d guesses were checked, want at most %d", checked, auth.AccountFreeFailures)
		}
	})
}
