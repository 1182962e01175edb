package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/passkeytest"
)

// password is the first step of ann's sign-in: with a passkey she has a
// second factor, so the sign-in waits for it.
func (f *passkeyFixture) password(t *testing.T, ip string) *auth.SignInResult {
	t.Helper()
	res, err := f.svc.Authenticate(context.Background(), auth.SignIn{Login: "ann", Password: "correct horse", IP: ip})
	if err != nil {
		t.Fatalf("password step: %v", err)
	}
	if res.Done() || res.Pending.Step != auth.StepSecondFactor {
		t.Fatalf("after the password: done %v, pending %+v; want the second-factor step", res.Done(), res.Pending)
	}
	return res
}

// secondFactor answers the passkey step of the pending sign-in token
// with a (told how by ans).
func (f *passkeyFixture) secondFactor(t *testing.T, token string, a *passkeytest.Authenticator, ans passkeytest.Answer, ip string) (*auth.SignInResult, error) {
	t.Helper()
	ctx := context.Background()
	ch, err := f.svc.BeginPasskeySecondFactor(ctx, token, ip)
	if err != nil {
		t.Fatalf("begin the passkey step: %v", err)
	}
	resp := answer(t, a, ch, ans)
	return f.svc.SignInSecondFactorPasskey(ctx, auth.PasskeySecondFactor{Token: token, Ceremony: ch.Ceremony, Response: resp, IP: ip, UserAgent: "test"})
}

func TestPasskey_SecondFactorAfterPassword(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		ans     passkeytest.Answer
		wantAMR []string
	}{
		{"user verified", passkeytest.Answer{}, []string{"pwd", "hwk", "user"}},
		{"user present only", passkeytest.Answer{NoUV: true}, []string{"pwd", "hwk"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newPasskeyFixture(t)
			f.mustRegister(t)
			res := f.password(t, "10.30.0.1")
			ch, err := f.svc.BeginPasskeySecondFactor(ctx, res.PendingToken, "10.30.0.1")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(ch.Options, []byte(`"allowCredentials"`)) || !bytes.Contains(ch.Options, []byte(`"userVerification":"preferred"`)) {
				t.Errorf("second-factor options = %s; want ann's credentials allowed, user verification preferred", ch.Options)
			}
			done, err := f.svc.SignInSecondFactorPasskey(ctx, auth.PasskeySecondFactor{
				Token: res.PendingToken, Ceremony: ch.Ceremony, Response: answer(t, f.key, ch, tt.ans), IP: "10.30.0.1",
			})
			if err != nil {
				t.Fatalf("passkey step: %v", err)
			}
			if !done.Done() || done.Session.ACR != "2" || !slices.Equal(done.Session.AMR, tt.wantAMR) {
				t.Fatalf("session = %+v, want acr 2 amr %v", done.Session, tt.wantAMR)
			}
			if _, err := f.svc.PendingSignIn(ctx, res.PendingToken); !errors.Is(err, auth.ErrNoSignIn) {
				t.Errorf("the pending sign-in outlived its session: %v", err)
			}
		})
	}
}

// At the second-factor step only the user's own passkeys count, held to
// the same checks as a passwordless sign-in; every refusal is a
// second-factor failure, limited like wrong codes.
func TestPasskey_SecondFactorRefusals(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	f.mustRegister(t)
	bob, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "bob@example.com", Username: "bob", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	bobSess, _, err := f.svc.StartSession(ctx, bob, "10.0.0.1", "test", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	bobsKey := &passkeytest.Authenticator{Origin: pkOrigin}
	if _, err := f.register(t, bob, bobSess, bobsKey, passkeytest.Answer{}); err != nil {
		t.Fatal(err)
	}
	res := f.password(t, "10.31.0.1")
	for i, tt := range []struct {
		name string
		key  *passkeytest.Authenticator
		ans  passkeytest.Answer
	}{
		{"someone else's passkey", bobsKey, passkeytest.Answer{}},
		{"another origin", f.key, passkeytest.Answer{Origin: "https://evil.example.net"}},
		{"no UP flag", f.key, passkeytest.Answer{NoUP: true}},
		{"counter repeated", f.key, passkeytest.Answer{Counter: new(uint32)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := f.svc.BeginPasskeySecondFactor(ctx, res.PendingToken, "10.31.0.2")
			if err != nil {
				t.Fatal(err)
			}
			if tt.key == bobsKey {
				// Bob's authenticator answers ann's options with his own
				// credential, as an attacker's would.
				bobsKey.Keys()[0].Counter = 10
				resp, err := bobsKey.Sign(bobsKey.Keys()[0], pkRPID, challengeOf(t, ch), tt.ans)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.svc.SignInSecondFactorPasskey(ctx, auth.PasskeySecondFactor{Token: res.PendingToken, Ceremony: ch.Ceremony, Response: resp, IP: fmt.Sprintf("10.31.1.%d", i)})
				if !errors.Is(err, auth.ErrPasskeyRefused) {
					t.Fatalf("= %v, want refused", err)
				}
				return
			}
			if tt.ans.Counter != nil {
				// Bring ann's stored counter above zero first, through a
				// passwordless sign-in.
				five := uint32(5)
				ch := f.begin(t)
				if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{Counter: &five}), "10.31.2.1"); err != nil {
					t.Fatal(err)
				}
				*tt.ans.Counter = 5
			}
			_, err = f.svc.SignInSecondFactorPasskey(ctx, auth.PasskeySecondFactor{
				Token: res.PendingToken, Ceremony: ch.Ceremony, Response: answer(t, tt.key, ch, tt.ans), IP: fmt.Sprintf("10.31.1.%d", i),
			})
			if !errors.Is(err, auth.ErrPasskeyRefused) {
				t.Fatalf("= %v, want refused", err)
			}
		})
	}
	if !strings.Contains(f.log.String(), "signature counter did not advance") {
		t.Errorf("the repeated counter at the second-factor step was not logged:\n%s", f.log.String())
	}
	// The pending sign-in survives refusals; failures are counted like
	// wrong codes, and after the free ones even the right passkey waits.
	for i := 4; i < auth.AccountFreeFailures; i++ {
		if _, err := f.secondFactor(t, res.PendingToken, f.key, passkeytest.Answer{Origin: "https://evil.example.net"}, fmt.Sprintf("10.31.3.%d", i)); !errors.Is(err, auth.ErrPasskeyRefused) {
			t.Fatalf("failure %d = %v", i+1, err)
		}
	}
	if _, err := f.secondFactor(t, res.PendingToken, f.key, passkeytest.Answer{}, "10.31.4.1"); !rateLimited(err, auth.ScopeSecondFactor) {
		t.Fatalf("right passkey after %d failures = %v, want the second-factor limit", auth.AccountFreeFailures, err)
	}
}

// challengeOf is the challenge of a ceremony's options.
func challengeOf(t *testing.T, ch *auth.PasskeyChallenge) []byte {
	t.Helper()
	var o struct {
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(ch.Options, &o); err != nil {
		t.Fatal(err)
	}
	b, err := base64.RawURLEncoding.DecodeString(o.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A second-factor ceremony belongs to its pending sign-in: another
// browser's pending sign-in cannot use it, and a passwordless ceremony
// does not count for it.
func TestPasskey_SecondFactorCeremonyBoundToItsSignIn(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	f.mustRegister(t)
	mine := f.password(t, "10.32.0.1")
	other := f.password(t, "10.32.0.2")
	ch, err := f.svc.BeginPasskeySecondFactor(ctx, mine.PendingToken, "10.32.0.1")
	if err != nil {
		t.Fatal(err)
	}
	resp := answer(t, f.key, ch, passkeytest.Answer{})
	if _, err := f.svc.SignInSecondFactorPasskey(ctx, auth.PasskeySecondFactor{Token: other.PendingToken, Ceremony: ch.Ceremony, Response: resp, IP: "10.32.0.2"}); !errors.Is(err, auth.ErrPasskeyCeremony) {
		t.Fatalf("another sign-in's ceremony = %v, want the ceremony refused", err)
	}
	pw := f.begin(t)
	if _, err := f.svc.SignInSecondFactorPasskey(ctx, auth.PasskeySecondFactor{Token: mine.PendingToken, Ceremony: pw.Ceremony, Response: answer(t, f.key, pw, passkeytest.Answer{}), IP: "10.32.0.1"}); !errors.Is(err, auth.ErrPasskeyCeremony) {
		t.Fatalf("a passwordless ceremony at the second-factor step = %v, want the ceremony refused", err)
	}
	if _, err := f.svc.BeginPasskeySecondFactor(ctx, "csi_nonsense", "10.32.0.3"); !errors.Is(err, auth.ErrNoSignIn) {
		t.Fatalf("begin without a pending sign-in = %v, want ErrNoSignIn", err)
	}
	// The other browser's own sign-in still works.
	if done, err := f.secondFactor(t, other.PendingToken, f.key, passkeytest.Answer{}, "10.32.0.2"); err != nil || !done.Done() {
		t.Fatalf("the other sign-in: %v", err)
	}
}

// A passkey satisfies a second-factor requirement: no TOTP set-up is
// forced, requiring one ends no session, and the last passkey of such a
// user cannot be deleted; an admin's mfa reset removes passkeys too.
func TestPasskey_CountsAsTheRequiredSecondFactor(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	p := f.mustRegister(t)
	if _, ended, err := f.svc.SetRequireSecondFactor(ctx, "ann@example.com", true); err != nil || len(ended) != 0 {
		t.Fatalf("requiring a second factor of ann, who has a passkey: ended %v, %v", ended, err)
	}
	st, err := f.svc.SecondFactorStatus(ctx, f.ann.ID)
	if err != nil || st.Passkeys != 1 || !st.Required() {
		t.Fatalf("status = %+v, %v", st, err)
	}
	f.password(t, "10.33.0.1") // the second-factor step, not TOTP set-up
	if err := f.svc.DeletePasskey(ctx, f.ann.ID, p.ID); !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Fatalf("deleting the last required second factor = %v, want ErrSecondFactorRequired", err)
	}
	if _, _, err := f.svc.ResetSecondFactors(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if ps, _ := f.svc.UserPasskeys(ctx, f.ann.ID); len(ps) != 0 {
		t.Fatalf("passkeys after mfa reset: %+v", ps)
	}
	res, err := f.svc.Authenticate(ctx, auth.SignIn{Login: "ann", Password: "correct horse", IP: "10.33.0.2"})
	if err != nil || res.Done() || res.Pending.Step != auth.StepSetupTOTP {
		t.Fatalf("after the reset the password leads to %+v, %v; want TOTP set-up", res, err)
	}
}

// A session made with the password alone steps up with the passkey.
func TestPasskey_StepUp(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	f.mustRegister(t)
	up, err := f.svc.BeginStepUp(ctx, sessionToken(t, f), auth.StepUp{IP: "10.34.0.1"})
	if err != nil || up.Done() || up.Pending.Step != auth.StepSecondFactor {
		t.Fatalf("step-up = %+v, %v", up, err)
	}
	done, err := f.secondFactor(t, up.PendingToken, f.key, passkeytest.Answer{}, "10.34.0.1")
	if err != nil || done.Session.ACR != "2" || !slices.Equal(done.Session.AMR, []string{"pwd", "hwk", "user"}) {
		t.Fatalf("stepped-up session = %+v, %v", done, err)
	}
}

// sessionToken starts a password session for ann and returns its cookie
// token.
func sessionToken(t *testing.T, f *passkeyFixture) string {
	t.Helper()
	_, tok, err := f.svc.StartSession(context.Background(), f.ann, "10.0.0.1", "test", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
