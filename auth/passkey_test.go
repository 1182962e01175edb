package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/passkeytest"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
)

const (
	pkRPID   = "auth.example.com"
	pkOrigin = "https://auth.example.com"
	// pkBrowser is the browser binding (its CSRF cookie) of the passkey
	// tests' browser.
	pkBrowser = "browser-one"
	// pkPassword is the password of the passkey tests' users.
	pkPassword = "correct horse"
)

// passkeyFixture is a service with passkeys on, a clock the test moves, a
// log it reads, and ann, signed in, with a software authenticator.
type passkeyFixture struct {
	store *kv.Store
	svc   *auth.Service
	log   *syncBuffer
	mu    sync.Mutex
	now   time.Time

	ann     *auth.User
	annSess *auth.Session
	key     *passkeytest.Authenticator
	// audit is the trail the service records into.
	audit *audit.Log
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newPasskeyFixture(t *testing.T) *passkeyFixture {
	t.Helper()
	return newPasskeyFixtureAt(t, pkRPID)
}

// newPasskeyFixtureAt is newPasskeyFixture with another RP ID (the origin
// stays pkOrigin), as CLINCH_WEBAUTHN_RP_ID sets it.
func newPasskeyFixtureAt(t *testing.T, rpID string) *passkeyFixture {
	t.Helper()
	ctx := context.Background()
	sec, err := auth.NewSecrets([]byte(strings.Repeat("p", 32)))
	if err != nil {
		t.Fatal(err)
	}
	f := &passkeyFixture{store: kvtest.Open(t), log: &syncBuffer{}, now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	if f.audit, err = audit.New(audit.Config{Store: f.store, Now: f.clock}); err != nil {
		t.Fatal(err)
	}
	f.svc, err = auth.New(auth.Config{
		Store: f.store, Secrets: sec, BcryptCost: 4, Now: f.clock, Audit: f.audit,
		Logger:   slog.New(slog.NewTextHandler(f.log, nil)),
		Passkeys: auth.PasskeyConfig{RPID: rpID, Origin: pkOrigin},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.ann, err = f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: pkPassword}); err != nil {
		t.Fatal(err)
	}
	if f.annSess, _, err = f.svc.StartSession(ctx, f.ann, "10.0.0.1", "test", false, "1", []string{"pwd"}); err != nil {
		t.Fatal(err)
	}
	f.key = &passkeytest.Authenticator{Origin: pkOrigin}
	return f
}

func (f *passkeyFixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *passkeyFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// register adds a passkey for u in session sess from authenticator a.
func (f *passkeyFixture) register(t *testing.T, u *auth.User, sess *auth.Session, a *passkeytest.Authenticator, ans passkeytest.Answer) (*auth.Passkey, error) {
	t.Helper()
	ctx := context.Background()
	ch, err := f.svc.BeginPasskeyRegistration(ctx, u, sess, pkPassword, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Create(ch.Options, ans)
	if err != nil {
		t.Fatal(err)
	}
	return f.svc.FinishPasskeyRegistration(ctx, auth.PasskeyRegistration{
		User: u, Session: sess, Ceremony: ch.Ceremony, Response: resp, UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0",
	})
}

// mustRegister gives ann a passkey on f.key.
func (f *passkeyFixture) mustRegister(t *testing.T) *auth.Passkey {
	t.Helper()
	p, err := f.register(t, f.ann, f.annSess, f.key, passkeytest.Answer{})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return p
}

// begin starts a passwordless sign-in in the test's browser.
func (f *passkeyFixture) begin(t *testing.T) *auth.PasskeyChallenge {
	t.Helper()
	ch, err := f.svc.BeginPasskeySignIn(context.Background(), pkBrowser, "10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// answer is the assertion a (told how by ans) gives for ch.
func answer(t *testing.T, a *passkeytest.Authenticator, ch *auth.PasskeyChallenge, ans passkeytest.Answer) []byte {
	t.Helper()
	resp, err := a.Get(ch.Options, ans)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func (f *passkeyFixture) signIn(ch *auth.PasskeyChallenge, resp []byte, ip string) (*auth.Session, error) {
	res, err := f.svc.SignInWithPasskey(context.Background(), auth.PasskeySignIn{
		Ceremony: ch.Ceremony, Response: resp, Binding: pkBrowser, IP: ip, UserAgent: "Mozilla/5.0 (Macintosh; Mac OS X 14_0) Firefox/130.0",
	})
	if err != nil {
		return nil, err
	}
	return res.Session, nil
}

func refusedBecause(err error, reason string) bool {
	var pe *auth.PasskeyError
	return errors.Is(err, auth.ErrPasskeyRefused) && errors.As(err, &pe) && strings.Contains(pe.Reason, reason)
}

func TestPasskey_RegisterThenSignInWithoutPassword(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	p := f.mustRegister(t)
	if p.Name != "Chrome on Linux" || p.UserID != f.ann.ID || !p.UserVerified || p.CreatedAt.IsZero() || !p.LastUsedAt.IsZero() {
		t.Fatalf("registered passkey = %+v", p)
	}
	res, err := f.svc.SignInWithPasskey(ctx, auth.PasskeySignIn{
		Ceremony: "", Response: nil, Binding: pkBrowser, IP: "10.0.0.2",
	})
	if !errors.Is(err, auth.ErrPasskeyCeremony) || res != nil {
		t.Fatalf("sign-in without a ceremony = %v, %v", err, res)
	}
	ch := f.begin(t)
	res, err = f.svc.SignInWithPasskey(ctx, auth.PasskeySignIn{
		Ceremony: ch.Ceremony, Response: answer(t, f.key, ch, passkeytest.Answer{}), Binding: pkBrowser,
		IP: "10.0.0.2", UserAgent: "Mozilla/5.0 (Macintosh; Mac OS X 14_0) Firefox/130.0", Remember: true,
	})
	if err != nil {
		t.Fatalf("passwordless sign-in: %v", err)
	}
	u, sess, token := res.User, res.Session, res.SessionToken
	if u.ID != f.ann.ID || sess.UserID != f.ann.ID || sess.ACR != "2" || !slices.Equal(sess.AMR, []string{"hwk", "user"}) || !sess.Remember {
		t.Fatalf("session = %+v, want ann's with acr 2, amr [hwk user], remembered", sess)
	}
	if got, err := f.svc.SessionByToken(ctx, token); err != nil || got.ID != sess.ID {
		t.Fatalf("the cookie token does not find the session: %v", err)
	}
	ps, err := f.svc.UserPasskeys(ctx, f.ann.ID)
	if err != nil || len(ps) != 1 {
		t.Fatalf("passkeys = %v, %v", ps, err)
	}
	if got := ps[0]; !got.LastUsedAt.Equal(f.clock()) || got.LastIP != "10.0.0.2" || got.LastDevice != "Firefox on macOS" || got.SignCount != 1 {
		t.Fatalf("use not recorded: %+v", got)
	}
}

// A counter that does not go past a non-zero stored value means the key
// may have been copied: refused, logged, and the stored counter stays.
func TestPasskey_CounterRegressionRefused(t *testing.T) {
	for _, tt := range []struct {
		name        string
		stored, got uint32
		ok          bool
	}{
		{"advances", 5, 6, true},
		{"jumps ahead", 5, 500, true},
		{"no counter at all (zero after zero)", 0, 0, true},
		{"starts counting", 0, 1, true},
		{"repeats", 5, 5, false},
		{"goes back", 5, 4, false},
		{"drops to zero", 5, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newPasskeyFixture(t)
			f.mustRegister(t)
			// Bring the stored counter to tt.stored through a sign-in.
			if tt.stored > 0 {
				ch := f.begin(t)
				if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{Counter: &tt.stored}), "10.0.0.3"); err != nil {
					t.Fatalf("sign-in at counter %d: %v", tt.stored, err)
				}
			}
			ch := f.begin(t)
			_, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{Counter: &tt.got}), "10.0.0.4")
			ps, _ := f.svc.UserPasskeys(context.Background(), f.ann.ID)
			logged := strings.Contains(f.log.String(), "signature counter did not advance")
			if tt.ok {
				if err != nil || ps[0].SignCount != tt.got || logged {
					t.Fatalf("counter %d after %d = %v (stored now %d, logged %v), want accepted", tt.got, tt.stored, err, ps[0].SignCount, logged)
				}
				return
			}
			if !refusedBecause(err, "counter") {
				t.Fatalf("counter %d after %d = %v, want refused for the counter", tt.got, tt.stored, err)
			}
			if ps[0].SignCount != tt.stored {
				t.Errorf("stored counter moved to %d after a refused assertion", ps[0].SignCount)
			}
			if !logged || !strings.Contains(f.log.String(), "passkey_id="+ps[0].ID) || !strings.Contains(f.log.String(), "level=WARN") {
				t.Errorf("the refusal was not logged as a warning naming the passkey:\n%s", f.log.String())
			}
		})
	}
}

// Two answers with one counter value at once: only one gets through.
func TestPasskey_ConcurrentAnswersWithOneCounter(t *testing.T) {
	f := newPasskeyFixture(t)
	f.mustRegister(t)
	var chs []*auth.PasskeyChallenge
	var resps [][]byte
	seven := uint32(7)
	for range 4 {
		ch := f.begin(t)
		chs = append(chs, ch)
		resps = append(resps, answer(t, f.key, ch, passkeytest.Answer{Counter: &seven}))
	}
	errs := make([]error, len(chs))
	var wg sync.WaitGroup
	for i := range chs {
		wg.Go(func() { _, errs[i] = f.signIn(chs[i], resps[i], fmt.Sprintf("10.1.0.%d", i)) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !refusedBecause(err, "counter"):
			t.Errorf("answer %d = %v", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d answers with counter 7 got through, want 1", ok)
	}
}

// Assertions made for another origin, or for another RP ID, are refused.
func TestPasskey_WrongOriginRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		ans  passkeytest.Answer
	}{
		{"another site", passkeytest.Answer{Origin: "https://evil.example.net"}},
		{"a sibling subdomain", passkeytest.Answer{Origin: "https://app.example.com"}},
		{"a subdomain of Clinch's host", passkeytest.Answer{Origin: "https://x.auth.example.com"}},
		{"plain http", passkeytest.Answer{Origin: "http://auth.example.com"}},
		{"another port", passkeytest.Answer{Origin: "https://auth.example.com:8443"}},
		{"an opaque origin", passkeytest.Answer{Origin: "null"}},
		{"inside a cross-origin frame", passkeytest.Answer{CrossOrigin: true}},
		{"for another RP ID", passkeytest.Answer{RPID: "example.net"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newPasskeyFixture(t)
			f.mustRegister(t)
			ch := f.begin(t)
			if _, err := f.signIn(ch, answer(t, f.key, ch, tt.ans), "10.0.0.5"); !errors.Is(err, auth.ErrPasskeyRefused) {
				t.Fatalf("sign-in = %v, want refused", err)
			}
			// Registration is held to the same origin.
			other := &passkeytest.Authenticator{Origin: pkOrigin}
			if _, err := f.register(t, f.ann, f.annSess, other, tt.ans); !errors.Is(err, auth.ErrPasskeyRefused) {
				t.Fatalf("registration = %v, want refused", err)
			}
			// The right answer still works: nothing else was wrong.
			ch = f.begin(t)
			if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{}), "10.0.0.6"); err != nil {
				t.Fatalf("the right answer afterwards: %v", err)
			}
		})
	}
}

// Without the user-presence flag nothing is accepted; passwordless
// sign-in also needs the user-verification flag.
func TestPasskey_FlagsRequired(t *testing.T) {
	for _, tt := range []struct {
		name   string
		ans    passkeytest.Answer
		reason string
	}{
		{"no UP", passkeytest.Answer{NoUP: true}, "UP flag"},
		{"no UP, no UV", passkeytest.Answer{NoUP: true, NoUV: true}, "UP flag"},
		{"no UV", passkeytest.Answer{NoUV: true}, "UV flag"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newPasskeyFixture(t)
			f.mustRegister(t)
			ch := f.begin(t)
			if _, err := f.signIn(ch, answer(t, f.key, ch, tt.ans), "10.0.0.5"); !refusedBecause(err, tt.reason) {
				t.Fatalf("sign-in = %v, want refused for the %s", err, tt.reason)
			}
		})
	}
	t.Run("registration without UP", func(t *testing.T) {
		f := newPasskeyFixture(t)
		if _, err := f.register(t, f.ann, f.annSess, f.key, passkeytest.Answer{NoUP: true}); !refusedBecause(err, "UP flag") {
			t.Fatalf("registration = %v, want refused for the UP flag", err)
		}
		if ps, _ := f.svc.UserPasskeys(context.Background(), f.ann.ID); len(ps) != 0 {
			t.Fatalf("a passkey was kept: %+v", ps)
		}
	})
	t.Run("registration without UV is fine", func(t *testing.T) {
		f := newPasskeyFixture(t)
		p, err := f.register(t, f.ann, f.annSess, f.key, passkeytest.Answer{NoUV: true})
		if err != nil || p.UserVerified {
			t.Fatalf("registration without UV = %+v, %v; want kept, not user-verified", p, err)
		}
	})
}

// A ceremony is answered once, within its time, by the browser (or
// session) that started it, for the purpose it was started for.
func TestPasskey_ChallengeReplayAndExpiry(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	f.mustRegister(t)

	t.Run("the same answer twice", func(t *testing.T) {
		ch := f.begin(t)
		resp := answer(t, f.key, ch, passkeytest.Answer{})
		if _, err := f.signIn(ch, resp, "10.2.0.1"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.signIn(ch, resp, "10.2.0.1"); !errors.Is(err, auth.ErrPasskeyCeremony) {
			t.Fatalf("replay = %v, want the ceremony refused", err)
		}
	})
	t.Run("an old answer for a new ceremony", func(t *testing.T) {
		old := f.begin(t)
		resp := answer(t, f.key, old, passkeytest.Answer{})
		if _, err := f.signIn(old, resp, "10.2.0.2"); err != nil {
			t.Fatal(err)
		}
		fresh := f.begin(t)
		if _, err := f.signIn(fresh, resp, "10.2.0.2"); !refusedBecause(err, "challenge") {
			t.Fatalf("old answer to a new challenge = %v, want refused for the challenge", err)
		}
	})
	t.Run("a wrong answer uses the ceremony up", func(t *testing.T) {
		ch := f.begin(t)
		if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{Origin: "https://evil.example.net"}), "10.2.0.3"); !errors.Is(err, auth.ErrPasskeyRefused) {
			t.Fatal(err)
		}
		if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{}), "10.2.0.3"); !errors.Is(err, auth.ErrPasskeyCeremony) {
			t.Fatalf("second answer = %v, want the ceremony refused", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		ch := f.begin(t)
		resp := answer(t, f.key, ch, passkeytest.Answer{})
		f.advance(auth.PasskeyCeremonyTTL)
		if _, err := f.signIn(ch, resp, "10.2.0.4"); !errors.Is(err, auth.ErrPasskeyCeremony) {
			t.Fatalf("answer after %v = %v, want the ceremony refused", auth.PasskeyCeremonyTTL, err)
		}
	})
	t.Run("just in time", func(t *testing.T) {
		ch := f.begin(t)
		resp := answer(t, f.key, ch, passkeytest.Answer{})
		f.advance(auth.PasskeyCeremonyTTL - time.Second)
		if _, err := f.signIn(ch, resp, "10.2.0.5"); err != nil {
			t.Fatalf("answer within the time = %v", err)
		}
	})
	t.Run("another browser", func(t *testing.T) {
		ch := f.begin(t)
		_, err := f.svc.SignInWithPasskey(ctx, auth.PasskeySignIn{
			Ceremony: ch.Ceremony, Response: answer(t, f.key, ch, passkeytest.Answer{}), Binding: "browser-two", IP: "10.2.0.6",
		})
		if !errors.Is(err, auth.ErrPasskeyCeremony) {
			t.Fatalf("answer from another browser = %v, want the ceremony refused", err)
		}
	})
	t.Run("a registration ceremony used to sign in", func(t *testing.T) {
		reg, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, pkPassword, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.SignInWithPasskey(ctx, auth.PasskeySignIn{
			Ceremony: reg.Ceremony, Response: answer(t, f.key, f.begin(t), passkeytest.Answer{}), Binding: f.annSess.ID, IP: "10.2.0.7",
		})
		if !errors.Is(err, auth.ErrPasskeyCeremony) {
			t.Fatalf("= %v, want the ceremony refused", err)
		}
	})
	t.Run("a registration finished in another session", func(t *testing.T) {
		other, _, err := f.svc.StartSession(ctx, f.ann, "10.0.0.9", "test", false, "1", []string{"pwd"})
		if err != nil {
			t.Fatal(err)
		}
		ch, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, pkPassword, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&passkeytest.Authenticator{Origin: pkOrigin}).Create(ch.Options, passkeytest.Answer{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.FinishPasskeyRegistration(ctx, auth.PasskeyRegistration{User: f.ann, Session: other, Ceremony: ch.Ceremony, Response: resp})
		if !errors.Is(err, auth.ErrPasskeyCeremony) {
			t.Fatalf("= %v, want the ceremony refused", err)
		}
	})
}

// Nobody can rename or delete a passkey that is not theirs, and the
// answer is the one a missing passkey gets.
func TestPasskey_SomeoneElsesIDOnDeleteIsNotFound(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	p := f.mustRegister(t)
	bob, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "bob@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	missing := f.svc.DeletePasskey(ctx, bob.ID, "no-such-passkey")
	others := f.svc.DeletePasskey(ctx, bob.ID, p.ID)
	if !errors.Is(missing, auth.ErrNotFound) || !errors.Is(others, auth.ErrNotFound) || missing.Error() != others.Error() {
		t.Fatalf("delete: missing = %v, ann's = %v; want the same not-found", missing, others)
	}
	missing = f.svc.RenamePasskey(ctx, bob.ID, "no-such-passkey", "mine")
	others = f.svc.RenamePasskey(ctx, bob.ID, p.ID, "mine")
	if !errors.Is(missing, auth.ErrNotFound) || !errors.Is(others, auth.ErrNotFound) || missing.Error() != others.Error() {
		t.Fatalf("rename: missing = %v, ann's = %v; want the same not-found", missing, others)
	}
	ps, err := f.svc.UserPasskeys(ctx, f.ann.ID)
	if err != nil || len(ps) != 1 || ps[0].Name != p.Name {
		t.Fatalf("ann's passkey after bob's tries: %+v, %v", ps, err)
	}
	ch := f.begin(t)
	if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{}), "10.3.0.1"); err != nil {
		t.Fatalf("ann's passkey stopped working: %v", err)
	}
}

func TestPasskey_RenameAndDelete(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	p := f.mustRegister(t)
	for _, tt := range []struct {
		name string
		want error
	}{
		{"", auth.ErrInvalid},
		{"   ", auth.ErrInvalid},
		{strings.Repeat("é", auth.MaxPasskeyName+1), auth.ErrInvalid},
		{"tab\there", auth.ErrInvalid},
		{"\xff", auth.ErrInvalid},
		{"  Work laptop  ", nil},
		{strings.Repeat("é", auth.MaxPasskeyName), nil},
	} {
		err := f.svc.RenamePasskey(ctx, f.ann.ID, p.ID, tt.name)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("rename to %q = %v, want %v", tt.name, err, tt.want)
		}
	}
	if err := f.svc.RenamePasskey(ctx, f.ann.ID, p.ID, "  Work laptop  "); err != nil {
		t.Fatal(err)
	}
	ps, _ := f.svc.UserPasskeys(ctx, f.ann.ID)
	if ps[0].Name != "Work laptop" {
		t.Fatalf("name = %q", ps[0].Name)
	}
	if err := f.svc.DeletePasskey(ctx, f.ann.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeletePasskey(ctx, f.ann.ID, p.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
	// A deleted passkey signs nobody in, and answers like one never known.
	ch := f.begin(t)
	if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{}), "10.4.0.1"); !refusedBecause(err, "unknown credential") {
		t.Fatalf("deleted passkey = %v, want refused as unknown", err)
	}
}

// Whatever is wrong (no such credential, a wrong signature, a disabled
// account), the error is one and the same to the caller.
func TestPasskey_SameAnswerWithOrWithoutAccount(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	f.mustRegister(t)
	stranger := &passkeytest.Authenticator{Origin: pkOrigin}
	if _, err := stranger.NewKey(pkRPID); err != nil {
		t.Fatal(err)
	}
	unknown := func() error {
		ch := f.begin(t)
		_, err := f.signIn(ch, answer(t, stranger, ch, passkeytest.Answer{}), "10.5.0.1")
		return err
	}
	badSignature := func() error {
		ch := f.begin(t)
		// ann's credential id, signed by another key.
		_, err := f.signIn(ch, answer(t, stranger, ch, passkeytest.Answer{CredentialID: f.key.Keys()[0].ID, UserHandle: []byte(f.ann.ID)}), "10.5.0.2")
		return err
	}
	disabled := func() error {
		if _, err := f.svc.SetStatus(ctx, "ann@example.com", auth.StatusDisabled); err != nil {
			t.Fatal(err)
		}
		ch := f.begin(t)
		_, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{}), "10.5.0.3")
		return err
	}
	for _, tt := range []struct {
		name string
		try  func() error
	}{{"unknown credential", unknown}, {"wrong signature", badSignature}, {"disabled account", disabled}} {
		err := tt.try()
		if !errors.Is(err, auth.ErrPasskeyRefused) || errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrPasskeyCeremony) {
			t.Errorf("%s = %v, want only ErrPasskeyRefused", tt.name, err)
		}
	}
}

// Passkey attempts are limited like password sign-ins: per address, and
// per account once a credential names one (or per credential id when it
// names nobody).
func TestPasskey_RateLimited(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	f.mustRegister(t)
	t.Run("per address", func(t *testing.T) {
		for i := range auth.IPAttempts {
			// A credential nobody registered, a new one each time, so
			// only the address limit applies.
			stranger := &passkeytest.Authenticator{Origin: pkOrigin}
			if _, err := stranger.NewKey(pkRPID); err != nil {
				t.Fatal(err)
			}
			ch := f.begin(t)
			if _, err := f.signIn(ch, answer(t, stranger, ch, passkeytest.Answer{}), "10.6.0.1"); !refusedBecause(err, "unknown credential") {
				t.Fatalf("attempt %d = %v", i+1, err)
			}
		}
		ch := f.begin(t)
		if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{}), "10.6.0.1"); !rateLimited(err, auth.ScopeIP) {
			t.Fatalf("attempt %d from one address = %v, want the address limit", auth.IPAttempts+1, err)
		}
	})
	t.Run("per account", func(t *testing.T) {
		for i := range auth.AccountFreeFailures {
			ch := f.begin(t)
			if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{NoUV: true}), fmt.Sprintf("10.7.0.%d", i)); !errors.Is(err, auth.ErrPasskeyRefused) {
				t.Fatalf("attempt %d = %v", i+1, err)
			}
		}
		ch := f.begin(t)
		if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{}), "10.7.1.1"); !rateLimited(err, auth.ScopeAccount) {
			t.Fatalf("right answer after %d failures = %v, want the account limit", auth.AccountFreeFailures, err)
		}
		// The password waits too: it is one account.
		if _, err := f.svc.Authenticate(ctx, auth.SignIn{Login: "ann", Password: "correct horse", IP: "10.7.1.2"}); !rateLimited(err, auth.ScopeAccount) {
			t.Fatalf("password after passkey failures = %v, want the account limit", err)
		}
	})
	t.Run("per unknown credential", func(t *testing.T) {
		stranger := &passkeytest.Authenticator{Origin: pkOrigin}
		if _, err := stranger.NewKey(pkRPID); err != nil {
			t.Fatal(err)
		}
		for i := range auth.AccountFreeFailures {
			ch := f.begin(t)
			if _, err := f.signIn(ch, answer(t, stranger, ch, passkeytest.Answer{}), fmt.Sprintf("10.9.0.%d", i)); !refusedBecause(err, "unknown credential") {
				t.Fatalf("attempt %d = %v", i+1, err)
			}
		}
		ch := f.begin(t)
		if _, err := f.signIn(ch, answer(t, stranger, ch, passkeytest.Answer{}), "10.9.1.1"); !rateLimited(err, auth.ScopeAccount) {
			t.Fatalf("unknown credential after %d failures = %v, want the account limit, as for a known one", auth.AccountFreeFailures, err)
		}
	})
	t.Run("starting ceremonies", func(t *testing.T) {
		for i := range auth.CeremonyAttempts {
			if _, err := f.svc.BeginPasskeySignIn(ctx, pkBrowser, "10.8.0.1"); err != nil {
				t.Fatalf("start %d = %v", i+1, err)
			}
		}
		if _, err := f.svc.BeginPasskeySignIn(ctx, pkBrowser, "10.8.0.1"); !rateLimited(err, auth.ScopeCeremony) {
			t.Fatalf("start %d from one address = %v, want the ceremony limit", auth.CeremonyAttempts+1, err)
		}
	})
}

func TestPasskey_RegistrationRules(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	p := f.mustRegister(t)
	t.Run("excludes the user's passkeys", func(t *testing.T) {
		ch, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, pkPassword, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(ch.Options, []byte(`"excludeCredentials"`)) || !bytes.Contains(ch.Options, []byte(`"residentKey":"required"`)) {
			t.Fatalf("options = %s", ch.Options)
		}
	})
	t.Run("a credential registered twice", func(t *testing.T) {
		ch, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, pkPassword, "10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		other := &passkeytest.Authenticator{Origin: pkOrigin}
		resp, err := other.Create(ch.Options, passkeytest.Answer{CredentialID: p.CredentialID})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.FinishPasskeyRegistration(ctx, auth.PasskeyRegistration{User: f.ann, Session: f.annSess, Ceremony: ch.Ceremony, Response: resp})
		if !errors.Is(err, auth.ErrConflict) {
			t.Fatalf("a registration of an existing credential id = %v, want ErrConflict", err)
		}
	})
	t.Run("deleting the user deletes the passkeys", func(t *testing.T) {
		if err := f.svc.DeleteUser(ctx, "ann@example.com"); err != nil {
			t.Fatal(err)
		}
		err := f.store.View(ctx, func(tx *kv.Txn) error {
			for _, pre := range []kv.Prefix{kv.PrefixPasskey, kv.PrefixPasskeyByCred, kv.PrefixPasskeyByUser} {
				if err := tx.Scan([]byte(pre), func(k, _ []byte) error { return fmt.Errorf("left behind: %s", k) }); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// With no RP ID (an IP address for CLINCH_HOST), passkeys say so rather
// than half-work.
func TestPasskey_Off(t *testing.T) {
	s := newService(t)
	if s.PasskeysEnabled() {
		t.Fatal("passkeys on without an RP ID")
	}
	if _, err := s.BeginPasskeySignIn(context.Background(), "b", "10.0.0.1"); !errors.Is(err, auth.ErrPasskeysOff) {
		t.Fatalf("= %v", err)
	}
}

// With CLINCH_WEBAUTHN_RP_ID set to a parent domain, passkeys are made for
// that domain and sign in from CLINCH_HOST's origin; an answer made for
// CLINCH_HOST's own host as RP ID, or from a sibling origin under the
// parent domain, is refused.
func TestPasskey_ParentDomainRPID(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixtureAt(t, "example.com")
	ch, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, pkPassword, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ch.Options, []byte(`"id":"example.com"`)) {
		t.Fatalf("registration options = %s; want rp.id example.com", ch.Options)
	}
	p := f.mustRegister(t)
	if k := f.key.Keys(); len(k) != 1 || k[0].RPID != "example.com" {
		t.Fatalf("the authenticator holds %+v; want one key for example.com", k)
	}
	for _, tt := range []struct {
		name string
		ans  passkeytest.Answer
	}{
		{"for the host as RP ID", passkeytest.Answer{RPID: pkRPID}},
		{"from a sibling origin", passkeytest.Answer{Origin: "https://app.example.com"}},
	} {
		ch := f.begin(t)
		if _, err := f.signIn(ch, answer(t, f.key, ch, tt.ans), "10.40.0.1"); !errors.Is(err, auth.ErrPasskeyRefused) {
			t.Errorf("%s: %v, want refused", tt.name, err)
		}
	}
	ch = f.begin(t)
	sess, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{}), "10.40.0.2")
	if err != nil || sess.UserID != f.ann.ID || sess.ACR != "2" {
		t.Fatalf("passwordless sign-in with the parent-domain passkey %s: %+v, %v", p.ID, sess, err)
	}
}
