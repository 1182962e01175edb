package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/authtest"
)

const mfaPassword = "correct horse"

// mfaUser creates an active user with a password.
func (f *signInFixture) mfaUser(t *testing.T, email string) *auth.User {
	t.Helper()
	u, err := f.svc.CreateUser(context.Background(), auth.NewUser{Email: email, Password: mfaPassword})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// enrol sets up TOTP for the user from a signed-in session, as the
// security page does, and returns the secret and the backup codes. The
// clock then moves on ten minutes, so the code used here is long past.
func (f *signInFixture) enrol(t *testing.T, u *auth.User) (string, []string) {
	t.Helper()
	ctx := context.Background()
	sess, _, err := f.svc.StartSession(ctx, u, "10.9.9.9", "test", false, auth.ACRPassword, []string{auth.AMRPassword})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := f.svc.TOTPEnrolment(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := f.svc.ConfirmTOTPEnrolment(ctx, sess, authtest.TOTP(t, secret, f.clock()), mfaPassword, "10.9.9.9")
	if err != nil {
		t.Fatalf("confirm set-up: %v", err)
	}
	if err := f.svc.EndSession(ctx, sess.ID, ""); err != nil {
		t.Fatal(err)
	}
	f.advance(10 * time.Minute)
	return secret, codes
}

// password runs the password step and fails unless it is pending at want.
func (f *signInFixture) password(t *testing.T, email, ip string, want auth.SignInStep) *auth.SignInResult {
	t.Helper()
	res, err := f.svc.Authenticate(context.Background(), auth.SignIn{Login: email, Password: mfaPassword, IP: ip})
	if err != nil {
		t.Fatalf("password step: %v", err)
	}
	if res.Done() || res.Pending.Step != want {
		t.Fatalf("after the password: done %v, pending %+v; want pending at %q", res.Done(), res.Pending, want)
	}
	if !strings.HasPrefix(res.PendingToken, auth.PrefixSignInToken) || res.Pending.ID == res.PendingToken {
		t.Fatalf("pending token %q (id %q)", res.PendingToken, res.Pending.ID)
	}
	return res
}

func (f *signInFixture) sessionsOf(t *testing.T, userID string) []*auth.Session {
	t.Helper()
	ss, err := f.svc.UserSessions(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func TestSignIn_WithTOTP_SessionRecordsACR2(t *testing.T) {
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	secret, _ := f.enrol(t, ann)
	res, err := f.svc.Authenticate(context.Background(), auth.SignIn{Login: ann.Email, Password: mfaPassword, IP: "10.0.0.1", Remember: true, RD: "/x"})
	if err != nil || res.Done() || res.Pending.Step != auth.StepSecondFactor {
		t.Fatalf("password step: %+v, %v", res, err)
	}
	if n := len(f.sessionsOf(t, ann.ID)); n != 0 {
		t.Fatalf("%d sessions exist after the password alone", n)
	}
	done, err := f.svc.SignInSecondFactor(context.Background(), res.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.0.0.1")
	if err != nil || !done.Done() {
		t.Fatalf("second factor: %+v, %v", done, err)
	}
	if done.Session.ACR != "2" || !slices.Equal(done.Session.AMR, []string{"pwd", "otp"}) {
		t.Errorf("session acr %q amr %v, want 2 [pwd otp]", done.Session.ACR, done.Session.AMR)
	}
	if !done.Session.Remember || done.Session.ExpiresAt.Sub(done.Session.CreatedAt) != auth.RememberSessionTTL || done.RD != "/x" {
		t.Errorf("remember-me and rd did not survive the second step: %+v, rd %q", done.Session, done.RD)
	}
	if _, err := f.svc.PendingSignIn(context.Background(), res.PendingToken); !errors.Is(err, auth.ErrNoSignIn) {
		t.Errorf("the pending sign-in outlives its last step: %v", err)
	}
}

// A code is accepted once: the same code again, and any code of the same
// or an earlier step, is refused as used, also from another sign-in.
func TestTOTP_ReplayedCodeIsRefused(t *testing.T) {
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	secret, _ := f.enrol(t, ann)
	ctx := context.Background()
	now := f.clock()
	tests := []struct {
		name string
		at   time.Time // when the code was made
		want error
	}{
		{"the current code", now, nil},
		{"the same code again", now, auth.ErrCodeUsed},
		{"the previous step's code, after a later one", now.Add(-30 * time.Second), auth.ErrCodeUsed},
		{"the next step's code", now.Add(30 * time.Second), nil},
		{"the next step's code again", now.Add(30 * time.Second), auth.ErrCodeUsed},
		{"the current code, now older than one accepted", now, auth.ErrCodeUsed},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.password(t, "ann@example.com", fmt.Sprintf("10.0.1.%d", i), auth.StepSecondFactor)
			_, err := f.svc.SignInSecondFactor(ctx, res.PendingToken, authtest.TOTP(t, secret, tt.at), fmt.Sprintf("10.0.1.%d", i))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("SignInSecondFactor = %v, want %v", err, tt.want)
			}
		})
	}
}

// One step of skew either way, no more: codes from ±300 s are refused.
func TestTOTP_CodesFromOtherTimes(t *testing.T) {
	tests := []struct {
		offset time.Duration
		ok     bool
	}{
		{-300 * time.Second, false},
		{-61 * time.Second, false},
		{-31 * time.Second, false},
		{-30 * time.Second, true},
		{-1 * time.Second, true},
		{0, true},
		{29 * time.Second, true},
		{30 * time.Second, true},
		{59 * time.Second, true},
		{60 * time.Second, false},
		{300 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.offset.String(), func(t *testing.T) {
			f := newSignInFixture(t, 4)
			u := f.mfaUser(t, "ann@example.com")
			secret, _ := f.enrol(t, u)
			// The fixture's clock sits at the start of a step.
			if f.clock().Unix()%30 != 0 {
				t.Fatalf("clock %v is not at a step boundary", f.clock())
			}
			res := f.password(t, "ann@example.com", "10.0.2.1", auth.StepSecondFactor)
			_, err := f.svc.SignInSecondFactor(context.Background(), res.PendingToken, authtest.TOTP(t, secret, f.clock().Add(tt.offset)), "10.0.2.1")
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, auth.ErrWrongCode) {
				t.Fatalf("code from %v: %v, want ok %v", tt.offset, err, tt.ok)
			}
		})
	}
}

// Input that cannot be a code is refused with a message and counts
// nowhere; "12 3456" is the code 123456 (spaces are dropped).
func TestSecondFactor_WrongFormats(t *testing.T) {
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	secret, _ := f.enrol(t, ann)
	ctx := context.Background()
	tests := []struct {
		in   string
		want string // part of the message; "" for a well-formed code
	}{
		{"", "Enter the 6-digit code"},
		{"   ", "Enter the 6-digit code"},
		{"12345", "has 6 digits; that has 5"},
		{"1234567", "has 6 digits; that has 7"},
		{"abcdef", "not a code"},
		{"12345678901", "has 6 digits; that has 11"},
		{"１２３４５６", "not a code"},      // full-width digits
		{"abcde-fghju", "not a code"}, // u is not in the backup alphabet
		{"12 3456", ""},
		{"123-456", ""},
		{"7K2MQ-X9D4F", ""}, // a backup code's shape, upper case
	}
	res := f.password(t, "ann@example.com", "10.0.3.1", auth.StepSecondFactor)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			_, err := f.svc.SignInSecondFactor(ctx, res.PendingToken, tt.in, "10.0.3.1")
			var cf *auth.CodeFormatError
			if tt.want == "" {
				if errors.As(err, &cf) {
					t.Fatalf("%q refused as a format error: %v", tt.in, err)
				}
				return
			}
			if !errors.As(err, &cf) || !errors.Is(err, auth.ErrCodeFormat) || !strings.Contains(cf.Reason, tt.want) {
				t.Fatalf("%q: %v, want a format error saying %q", tt.in, err, tt.want)
			}
		})
	}
	// Three well-formed wrong codes were counted; the format errors were
	// not, or ten of them would have paused the account by now.
	for range 5 {
		_, _ = f.svc.SignInSecondFactor(ctx, res.PendingToken, "", "10.0.3.1")
	}
	code := authtest.TOTP(t, secret, f.clock())
	spaced := code[:2] + " " + code[2:]
	done, err := f.svc.SignInSecondFactor(ctx, res.PendingToken, spaced, "10.0.3.2")
	if err != nil || !done.Done() {
		t.Fatalf("the right code typed as %q: %v", spaced, err)
	}
}

// Each backup code works once; used again it says so; a new set voids the
// old one.
func TestBackupCodes_SingleUse(t *testing.T) {
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	secret, codes := f.enrol(t, ann)
	if len(codes) != auth.BackupCodeCount {
		t.Fatalf("%d backup codes, want %d", len(codes), auth.BackupCodeCount)
	}
	ctx := context.Background()
	second := func(ip, code string) error {
		t.Helper()
		res := f.password(t, "ann@example.com", ip, auth.StepSecondFactor)
		_, err := f.svc.SignInSecondFactor(ctx, res.PendingToken, code, ip)
		return err
	}
	if err := second("10.0.4.1", codes[0]); err != nil {
		t.Fatalf("a backup code: %v", err)
	}
	err := second("10.0.4.2", codes[0])
	var used *auth.UsedCodeError
	if !errors.As(err, &used) || !errors.Is(err, auth.ErrCodeUsed) || !used.At.Equal(f.clock()) {
		t.Fatalf("the same backup code again: %v, want ErrCodeUsed saying when", err)
	}
	// Upper case, spaces instead of the dash: the same code.
	if err := second("10.0.4.3", strings.ToUpper(strings.Replace(codes[1], "-", " ", 1))); err != nil {
		t.Fatalf("a backup code typed in capitals: %v", err)
	}
	st, err := f.svc.SecondFactorStatus(ctx, ann.ID)
	if err != nil || st.BackupCodesLeft != auth.BackupCodeCount-2 {
		t.Fatalf("status %+v, %v; want %d codes left", st, err, auth.BackupCodeCount-2)
	}
	// A new set, confirmed with a current TOTP code, voids the old one.
	fresh, err := f.svc.RegenerateBackupCodes(ctx, ann.ID, auth.Proof{Code: authtest.TOTP(t, secret, f.clock()), IP: "10.0.4.4"})
	if err != nil || len(fresh) != auth.BackupCodeCount {
		t.Fatalf("regenerate: %d codes, %v", len(fresh), err)
	}
	if err := second("10.0.4.5", codes[2]); !errors.Is(err, auth.ErrWrongCode) {
		t.Fatalf("an old, unused backup code after regenerating: %v, want ErrWrongCode", err)
	}
	if err := second("10.0.4.6", fresh[0]); err != nil {
		t.Fatalf("a new backup code: %v", err)
	}
	// Nothing the person was shown is stored as it is.
	_, vals := f.dump(t)
	for _, v := range vals {
		for _, c := range slices.Concat(codes, fresh, []string{secret}) {
			if bytes.Contains(v, []byte(strings.ReplaceAll(c, "-", ""))) || bytes.Contains(v, []byte(c)) {
				t.Fatalf("a stored value holds %q in clear: %s", c, v)
			}
		}
	}
}

// Wrong codes are limited like passwords, per account and atomically: of
// many attempts at once, no more than the free failures are checked.
func TestSecondFactor_AttemptsLimitedAtomically(t *testing.T) {
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	secret, _ := f.enrol(t, ann)
	ctx := context.Background()
	res := f.password(t, "ann@example.com", "10.0.5.1", auth.StepSecondFactor)
	wrong := authtest.TOTP(t, secret, f.clock().Add(-10*time.Minute))
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.SignInSecondFactor(ctx, res.PendingToken, wrong, fmt.Sprintf("10.0.6.%d", i))
			kind := "other: " + fmt.Sprint(err)
			switch {
			case errors.Is(err, auth.ErrRateLimited):
				kind = "limited"
			case errors.Is(err, auth.ErrWrongCode):
				kind = "wrong"
			}
			mu.Lock()
			counts[kind]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts["wrong"] != auth.AccountFreeFailures || counts["limited"] != 30-auth.AccountFreeFailures {
		t.Fatalf("30 wrong codes at once: %v; want %d checked and the rest limited", counts, auth.AccountFreeFailures)
	}
	// Even the right code waits now, and then goes through.
	_, err := f.svc.SignInSecondFactor(ctx, res.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.0.5.2")
	var rl *auth.RateLimitError
	if !errors.As(err, &rl) || rl.Scope != auth.ScopeSecondFactor || rl.RetryAfter != auth.AccountFirstDelay {
		t.Fatalf("the right code during the delay: %v", err)
	}
	f.advance(auth.AccountFirstDelay)
	res = f.password(t, "ann@example.com", "10.0.5.3", auth.StepSecondFactor)
	if _, err := f.svc.SignInSecondFactor(ctx, res.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.0.5.3"); err != nil {
		t.Fatalf("the right code after the delay: %v", err)
	}
}

// A user disabled (or whose password changes) between the password and
// the last step gets no session.
func TestSignIn_ChangedMidWayGetsNoSession(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(f *signInFixture, email string) error
	}{
		{"disabled", func(f *signInFixture, email string) error {
			_, err := f.svc.SetStatus(ctx, email, auth.StatusDisabled)
			return err
		}},
		{"password changed", func(f *signInFixture, email string) error {
			_, err := f.svc.SetPassword(ctx, email, "another horse")
			return err
		}},
		{"deleted", func(f *signInFixture, email string) error { return f.svc.DeleteUser(ctx, email) }},
	}
	for _, tt := range tests {
		for _, step := range []auth.SignInStep{auth.StepSecondFactor, auth.StepSetupTOTP} {
			t.Run(tt.name+" at "+string(step), func(t *testing.T) {
				f := newSignInFixture(t, 4)
				f.mfaUser(t, "admin@example.com") // the last admin cannot be disabled; ann is not one
				ann := f.mfaUser(t, "ann@example.com")
				var secret string
				if step == auth.StepSecondFactor {
					secret, _ = f.enrol(t, ann)
				} else if _, _, err := f.svc.SetRequireSecondFactor(ctx, ann.Email, true); err != nil {
					t.Fatal(err)
				}
				res := f.password(t, ann.Email, "10.0.7.1", step)
				if step == auth.StepSetupTOTP {
					var err error
					if secret, err = f.svc.SetupSecret(res.Pending); err != nil {
						t.Fatal(err)
					}
				}
				if err := tt.change(f, ann.Email); err != nil {
					t.Fatal(err)
				}
				finish := f.svc.SignInSecondFactor
				if step == auth.StepSetupTOTP {
					finish = func(ctx context.Context, token, code, ip string) (*auth.SignInResult, error) {
						return f.svc.SignInSetupTOTP(ctx, token, code, "", ip)
					}
				}
				done, err := finish(ctx, res.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.0.7.1")
				if !errors.Is(err, auth.ErrNoSignIn) {
					t.Fatalf("last step after the user was %s: %+v, %v; want ErrNoSignIn", tt.name, done, err)
				}
				if n := len(f.sessionsOf(t, ann.ID)); n != 0 {
					t.Fatalf("%d sessions for a user %s mid-way", n, tt.name)
				}
				if _, err := f.svc.PendingSignIn(ctx, res.PendingToken); !errors.Is(err, auth.ErrNoSignIn) {
					t.Errorf("the pending sign-in outlives the refusal: %v", err)
				}
			})
		}
	}
}

// The pending sign-in is found only by the cookie token its browser got:
// not by its id (what the store keys it by), not by another browser's
// token, not after SignInTTL.
func TestPendingSignIn_BoundToItsBrowser(t *testing.T) {
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	secret, _ := f.enrol(t, ann)
	ctx := context.Background()
	mine := f.password(t, "ann@example.com", "10.0.8.1", auth.StepSecondFactor)
	other := f.password(t, "ann@example.com", "10.0.8.2", auth.StepSecondFactor)
	tests := []struct {
		name, token string
	}{
		{"no cookie", ""},
		{"the store id as the cookie", mine.Pending.ID},
		{"a cookie with the prefix and the id", auth.PrefixSignInToken + mine.Pending.ID},
		{"a session token", "cs_" + mine.PendingToken[len(auth.PrefixSignInToken):]},
		{"the token, altered", mine.PendingToken + "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.PendingSignIn(ctx, tt.token); !errors.Is(err, auth.ErrNoSignIn) {
				t.Errorf("PendingSignIn = %v", err)
			}
			if _, err := f.svc.SignInSecondFactor(ctx, tt.token, authtest.TOTP(t, secret, f.clock()), "10.0.8.3"); !errors.Is(err, auth.ErrNoSignIn) {
				t.Errorf("SignInSecondFactor = %v", err)
			}
		})
	}
	if p, err := f.svc.PendingSignIn(ctx, other.PendingToken); err != nil || p.ID == mine.Pending.ID {
		t.Fatalf("the other browser's sign-in: %+v, %v", p, err)
	}
	f.advance(auth.SignInTTL + time.Second)
	if _, err := f.svc.SignInSecondFactor(ctx, mine.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.0.8.1"); !errors.Is(err, auth.ErrNoSignIn) {
		t.Fatalf("after %v: %v", auth.SignInTTL, err)
	}
}

// The set-up step saves the secret Clinch offered and nothing else: a
// code made from any other secret (one an attacker planted in their own
// app, say) is wrong, and afterwards only the offered secret signs in.
func TestSetupTOTP_OnlyTheOfferedSecret(t *testing.T) {
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	ctx := context.Background()
	if _, _, err := f.svc.SetRequireSecondFactor(ctx, ann.Email, true); err != nil {
		t.Fatal(err)
	}
	res := f.password(t, ann.Email, "10.0.9.1", auth.StepSetupTOTP)
	offered, err := f.svc.SetupSecret(res.Pending)
	if err != nil {
		t.Fatal(err)
	}
	const attacker = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	if _, err := f.svc.SignInSetupTOTP(ctx, res.PendingToken, authtest.TOTP(t, attacker, f.clock()), "", "10.0.9.1"); !errors.Is(err, auth.ErrWrongCode) {
		t.Fatalf("a code of another secret at set-up: %v, want ErrWrongCode", err)
	}
	if again, _ := f.svc.PendingSignIn(ctx, res.PendingToken); again == nil {
		t.Fatal("a wrong code ended the set-up")
	} else if s, _ := f.svc.SetupSecret(again); s != offered {
		t.Fatal("the offered secret changed after a wrong code")
	}
	done, err := f.svc.SignInSetupTOTP(ctx, res.PendingToken, authtest.TOTP(t, offered, f.clock()), "", "10.0.9.1")
	if err != nil || !done.Done() || len(done.BackupCodes) != auth.BackupCodeCount {
		t.Fatalf("set-up with the offered secret: %+v, %v", done, err)
	}
	if done.Session.ACR != "2" || !slices.Equal(done.Session.AMR, []string{"pwd", "otp"}) {
		t.Errorf("session after set-up: acr %q amr %v", done.Session.ACR, done.Session.AMR)
	}
	f.advance(time.Minute)
	for _, tt := range []struct {
		secret string
		want   error
	}{{attacker, auth.ErrWrongCode}, {offered, nil}} {
		next := f.password(t, ann.Email, "10.0.9.2", auth.StepSecondFactor)
		_, err := f.svc.SignInSecondFactor(ctx, next.PendingToken, authtest.TOTP(t, tt.secret, f.clock()), "10.0.9.2")
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Fatalf("signing in with a code of %s: %v, want %v", tt.secret, err, tt.want)
		}
	}
}

// Requiring a second factor of someone without one ends their sessions and
// sends their next sign-in to set-up; they cannot turn it off then.
func TestRequireSecondFactor(t *testing.T) {
	f := newSignInFixture(t, 4)
	ctx := context.Background()
	ann := f.mfaUser(t, "ann@example.com")
	bob := f.mfaUser(t, "bob@example.com")
	cat := f.mfaUser(t, "cat@example.com")
	secret, _ := f.enrol(t, cat)
	for _, u := range []*auth.User{ann, bob, cat} {
		if _, _, err := f.svc.StartSession(ctx, u, "10.1.0.1", "test", false, "1", []string{"pwd"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.CreateGroup(ctx, "staff", "", ""); err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{bob.Email, cat.Email} {
		if err := f.svc.AddToGroup(ctx, "staff", e); err != nil {
			t.Fatal(err)
		}
	}
	on := true
	upd, err := f.svc.UpdateGroup(ctx, "staff", auth.GroupUpdate{RequireSecondFactor: &on})
	if err != nil || !upd.Group.RequireSecondFactor || !slices.Equal(upd.SignedOut, []string{bob.Email}) {
		t.Fatalf("group update: %+v, %v; want bob signed out", upd, err)
	}
	if _, ended, err := f.svc.SetRequireSecondFactor(ctx, ann.Email, true); err != nil || len(ended) != 1 {
		t.Fatalf("require of ann: ended %v, %v", ended, err)
	}
	for _, tt := range []struct {
		u        *auth.User
		sessions int
		step     auth.SignInStep
		by       []string
	}{
		{ann, 0, auth.StepSetupTOTP, []string{"account"}},
		{bob, 0, auth.StepSetupTOTP, []string{"group staff"}},
		{cat, 1, auth.StepSecondFactor, []string{"group staff"}},
	} {
		if n := len(f.sessionsOf(t, tt.u.ID)); n != tt.sessions {
			t.Errorf("%s has %d sessions, want %d", tt.u.Email, n, tt.sessions)
		}
		f.password(t, tt.u.Email, "10.1.0.2", tt.step)
		st, err := f.svc.SecondFactorStatus(ctx, tt.u.ID)
		if err != nil || !slices.Equal(st.RequiredBy, tt.by) {
			t.Errorf("%s required by %v (%v), want %v", tt.u.Email, st.RequiredBy, err, tt.by)
		}
	}
	// Required: cat cannot turn it off, nor can an admin remove it;
	// a reset removes it and signs cat out.
	if err := f.svc.DisableTOTP(ctx, cat.ID, auth.Proof{Password: mfaPassword, IP: "10.1.0.3"}); !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Fatalf("cat turning TOTP off while required: %v", err)
	}
	if _, err := f.svc.RemoveTOTP(ctx, cat.Email); !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Fatalf("admin removing cat's TOTP while required: %v", err)
	}
	if _, n, err := f.svc.ResetSecondFactors(ctx, cat.Email); err != nil || n != 1 {
		t.Fatalf("reset: %d sessions ended, %v", n, err)
	}
	f.password(t, cat.Email, "10.1.0.4", auth.StepSetupTOTP)
	// Lifted, TOTP can go, with the password or a code, not without.
	off := false
	if _, err := f.svc.UpdateGroup(ctx, "staff", auth.GroupUpdate{RequireSecondFactor: &off}); err != nil {
		t.Fatal(err)
	}
	_ = secret
	dan := f.mfaUser(t, "dan@example.com")
	danSecret, _ := f.enrol(t, dan)
	for _, tt := range []struct {
		proof auth.Proof
		want  error
	}{
		{auth.Proof{}, auth.ErrCodeFormat},
		{auth.Proof{Password: "wrong horse"}, auth.ErrInvalidCredentials},
		{auth.Proof{Code: "000000"}, auth.ErrWrongCode},
		{auth.Proof{Code: authtest.TOTP(t, danSecret, f.clock())}, nil},
	} {
		tt.proof.IP = "10.1.0.5"
		if err := f.svc.DisableTOTP(ctx, dan.ID, tt.proof); tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Fatalf("DisableTOTP(%+v) = %v, want %v", tt.proof, err, tt.want)
		}
	}
	res, err := f.svc.Authenticate(ctx, auth.SignIn{Login: dan.Email, Password: mfaPassword, IP: "10.1.0.6"})
	if err != nil || !res.Done() || res.Session.ACR != "1" {
		t.Fatalf("dan without TOTP: %+v, %v; want a password-only session", res, err)
	}
}

// Step-up: a password session becomes a new acr "2" session that replaces
// it; if the old session ends first, so does the step-up.
func TestStepUp(t *testing.T) {
	f := newSignInFixture(t, 4)
	ctx := context.Background()
	ann := f.mfaUser(t, "ann@example.com")
	secret, _ := f.enrol(t, ann)
	_, token, err := f.svc.StartSession(ctx, ann, "10.2.0.1", "test", true, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := f.svc.BeginStepUp(ctx, token, auth.StepUp{IP: "10.2.0.1", RD: "https://app.example.com/x"})
	if err != nil || up.Done() || up.Pending.Step != auth.StepSecondFactor || !up.Pending.StepUp {
		t.Fatalf("BeginStepUp: %+v, %v", up, err)
	}
	done, err := f.svc.SignInSecondFactor(ctx, up.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.2.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if done.Session.ACR != "2" || !slices.Equal(done.Session.AMR, []string{"pwd", "otp"}) || !done.Session.Remember || done.RD != "https://app.example.com/x" {
		t.Errorf("stepped-up session %+v, rd %q", done.Session, done.RD)
	}
	if _, err := f.svc.SessionByToken(ctx, token); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("the old session outlives its step-up: %v", err)
	}
	if ss := f.sessionsOf(t, ann.ID); len(ss) != 1 || ss[0].ID != done.Session.ID {
		t.Errorf("sessions after step-up: %d", len(ss))
	}

	// The session ends mid-way: no new one.
	_, token, _ = f.svc.StartSession(ctx, ann, "10.2.0.2", "test", false, "1", []string{"pwd"})
	up, err = f.svc.BeginStepUp(ctx, token, auth.StepUp{IP: "10.2.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeSessions(ctx, ann.Email); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Minute)
	if _, err := f.svc.SignInSecondFactor(ctx, up.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.2.0.2"); !errors.Is(err, auth.ErrNoSignIn) {
		t.Fatalf("step-up of a revoked session: %v", err)
	}
	if n := len(f.sessionsOf(t, ann.ID)); n != 0 {
		t.Fatalf("%d sessions after a step-up of a revoked session", n)
	}
	// Not signed in: nothing to step up.
	if _, err := f.svc.BeginStepUp(ctx, token, auth.StepUp{}); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("step-up without a session: %v", err)
	}
	// Without a second factor, the step-up is a set-up.
	bob := f.mfaUser(t, "bob@example.com")
	_, token, _ = f.svc.StartSession(ctx, bob, "10.2.0.3", "test", false, "1", []string{"pwd"})
	if up, err := f.svc.BeginStepUp(ctx, token, auth.StepUp{}); err != nil || up.Pending.Step != auth.StepSetupTOTP {
		t.Fatalf("step-up of a user without a second factor: %+v, %v", up, err)
	}
}

// A step-up of a user without a second factor is a TOTP set-up that starts
// from a session, not a password: a stolen session cookie alone must not
// enrol the thief's authenticator (acr "2", and the owner locked out).
func TestStepUp_StolenSessionCannotEnrolTOTP(t *testing.T) {
	f := newSignInFixture(t, 4)
	ctx := context.Background()
	bob := f.mfaUser(t, "bob@example.com")
	_, token, err := f.svc.StartSession(ctx, bob, "10.2.0.4", "test", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	up, err := f.svc.BeginStepUp(ctx, token, auth.StepUp{IP: "10.2.0.4"})
	if err != nil || up.Pending.Step != auth.StepSetupTOTP {
		t.Fatalf("step-up: %+v, %v", up, err)
	}
	secret, err := f.svc.SetupSecret(up.Pending)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, password string
		want           error
	}{
		{"no password", "", auth.ErrPasswordRequired},
		{"wrong password", "not bob's password", auth.ErrInvalidCredentials},
	} {
		if _, err := f.svc.SignInSetupTOTP(ctx, up.PendingToken, authtest.TOTP(t, secret, f.clock()), tt.password, "10.2.0.4"); !errors.Is(err, tt.want) {
			t.Fatalf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if st, err := f.svc.SecondFactorStatus(ctx, bob.ID); err != nil || st.TOTP {
			t.Fatalf("%s: a TOTP was enrolled (%+v, %v)", tt.name, st, err)
		}
	}
	done, err := f.svc.SignInSetupTOTP(ctx, up.PendingToken, authtest.TOTP(t, secret, f.clock()), mfaPassword, "10.2.0.4")
	if err != nil || done.Session == nil || done.Session.ACR != auth.ACRSecondFactor {
		t.Fatalf("with the password: %+v, %v", done, err)
	}
}

// A browser that signs in again ends the session it had, once the new one
// exists, whoever's it was.
func TestSignIn_EndsThePreviousSession(t *testing.T) {
	f := newSignInFixture(t, 4)
	ctx := context.Background()
	ann := f.mfaUser(t, "ann@example.com")
	bob := f.mfaUser(t, "bob@example.com")
	secret, _ := f.enrol(t, bob)
	_, prev, err := f.svc.StartSession(ctx, ann, "10.3.0.1", "test", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	var ended []string
	f.svc.Subscribe(func(c auth.Change) { ended = append(ended, c.EndedSessions...) })
	res, err := f.svc.Authenticate(ctx, auth.SignIn{Login: bob.Email, Password: mfaPassword, IP: "10.3.0.1", Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SessionByToken(ctx, prev); err != nil {
		t.Fatalf("the previous session ended before the sign-in finished: %v", err)
	}
	done, err := f.svc.SignInSecondFactor(ctx, res.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.3.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SessionByToken(ctx, prev); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("the previous session lives on: %v", err)
	}
	if len(ended) != 1 || done.Session.ID == ended[0] {
		t.Fatalf("ended sessions announced: %v", ended)
	}
}

// The QR code carries what authenticator apps read: the secret, the
// issuer (without ':', which would split the label) and Clinch's
// parameters.
func TestTOTPKeyURI(t *testing.T) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	uri, err := auth.TOTPKeyURI("Clinch (auth.example.com:8443)", "ann@example.com", secret)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Clinch (auth.example.com 8443):ann@example.com" {
		t.Errorf("URI %s: label %q", uri, u.Path)
	}
	for k, v := range map[string]string{"secret": secret, "issuer": "Clinch (auth.example.com 8443)", "algorithm": "SHA1", "digits": "6", "period": "30"} {
		if q.Get(k) != v {
			t.Errorf("URI %s: %s=%q, want %q", uri, k, q.Get(k), v)
		}
	}
	if _, err := auth.TOTPKeyURI("Clinch", "ann@example.com", "not base32!"); err == nil {
		t.Error("a secret that is not base32 made a URI")
	}
}

// A password rehashed at the configured cost during the first step is not
// a password change: the sign-in finishes.
func TestSignIn_RehashIsNotAPasswordChange(t *testing.T) {
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	secret, _ := f.enrol(t, ann)
	f.svc = f.service(t, 5) // restarted with another CLINCH_BCRYPT_COST
	res := f.password(t, ann.Email, "10.4.0.1", auth.StepSecondFactor)
	u, err := f.svc.User(context.Background(), ann.ID)
	if err != nil || bytes.Equal(u.PasswordHash, ann.PasswordHash) {
		t.Fatalf("the password was not rehashed at the new cost (%v)", err)
	}
	if _, err := f.svc.SignInSecondFactor(context.Background(), res.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.4.0.1"); err != nil {
		t.Fatalf("second factor after a rehash: %v", err)
	}
}

// Joining a group that already requires a second factor (`clinch group
// add-user`) signs out a member who has none, whose next sign-in then
// sets one up, and keeps the sessions of one who has it.
func TestAddToGroup_StrictGroupSignsOutWithoutSecondFactor(t *testing.T) {
	f := newSignInFixture(t, 4)
	ctx := context.Background()
	ann := f.mfaUser(t, "ann@example.com")
	cat := f.mfaUser(t, "cat@example.com")
	f.enrol(t, cat)
	for _, u := range []*auth.User{ann, cat} {
		if _, _, err := f.svc.StartSession(ctx, u, "10.5.0.1", "test", false, "1", []string{"pwd"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.CreateGroup(ctx, "staff", "", ""); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := f.svc.UpdateGroup(ctx, "staff", auth.GroupUpdate{RequireSecondFactor: &on}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*auth.User{ann, cat} {
		if err := f.svc.AddToGroup(ctx, "staff", u.Email); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.sessionsOf(t, ann.ID)); n != 0 {
		t.Errorf("ann, without a second factor, has %d sessions after joining", n)
	}
	if n := len(f.sessionsOf(t, cat.ID)); n != 1 {
		t.Errorf("cat, with TOTP, has %d sessions after joining, want 1", n)
	}
	f.password(t, ann.Email, "10.5.0.2", auth.StepSetupTOTP)
}
