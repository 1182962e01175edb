package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
)

// signInFixture is a service over a store the test can read, with a clock
// that moves only when the test says so.
type signInFixture struct {
	store *kv.Store
	sec   *auth.Secrets
	svc   *auth.Service
	mu    sync.Mutex
	now   time.Time
}

func newSignInFixture(t *testing.T, cost int) *signInFixture {
	t.Helper()
	sec, err := auth.NewSecrets([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	f := &signInFixture{store: kvtest.Open(t), sec: sec, now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.svc = f.service(t, cost)
	return f
}

// service opens another Service over the fixture's store and clock, as a
// restart with another configuration would.
func (f *signInFixture) service(t *testing.T, cost int) *auth.Service {
	t.Helper()
	s, err := auth.New(auth.Config{Store: f.store, Secrets: f.sec, BcryptCost: cost, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *signInFixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *signInFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *signInFixture) signIn(login, pw, ip string) error {
	_, err := f.svc.Authenticate(context.Background(), auth.SignIn{Login: login, Password: pw, IP: ip})
	return err
}

// dump returns every key and value in the store.
func (f *signInFixture) dump(t *testing.T) (keys, vals [][]byte) {
	t.Helper()
	err := f.store.View(context.Background(), func(tx *kv.Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			keys = append(keys, bytes.Clone(k))
			vals = append(vals, bytes.Clone(v))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, vals
}

func rateLimited(err error, scope string) bool {
	var rl *auth.RateLimitError
	return errors.As(err, &rl) && rl.Scope == scope && rl.RetryAfter > 0
}

// 30 attempts at once against one account must not get more guesses than
// the account allows: the check and the count are one transaction, made
// before bcrypt.
func TestSignIn_ConcurrentAttemptsCannotExceedAccountLimit(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	const attempts = 30
	errs := make([]error, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			// One address each, so only the account limit applies.
			errs[i] = f.signIn("ann@example.com", fmt.Sprintf("guess %d", i), fmt.Sprintf("10.9.%d.%d", i/200, i%200))
		})
	}
	wg.Wait()
	guessed, limited := 0, 0
	for i, err := range errs {
		switch {
		case errors.Is(err, auth.ErrInvalidCredentials):
			guessed++
		case rateLimited(err, "account"):
			limited++
		default:
			t.Errorf("attempt %d = %v, want a wrong password or the account limit", i, err)
		}
	}
	if guessed != auth.AccountFreeFailures || limited != attempts-auth.AccountFreeFailures {
		t.Errorf("%d passwords checked, %d refused; want %d checked", guessed, limited, auth.AccountFreeFailures)
	}
	// The right password now waits too.
	if err := f.signIn("ann@example.com", "correct horse", "10.8.0.1"); !rateLimited(err, "account") {
		t.Fatalf("right password after the limit = %v, want the account limit", err)
	}
}

// The email and the username of one account are one counter, and an
// unknown login is limited like a known one.
func TestSignIn_EmailAndUsernameShareOneLimit(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	logins := []string{"ann@example.com", "ANN", " Ann@Example.com ", "ann"}
	for i := range auth.AccountFreeFailures {
		if err := f.signIn(logins[i%len(logins)], "wrong", fmt.Sprintf("10.1.0.%d", i)); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("failure %d = %v", i+1, err)
		}
	}
	for _, login := range logins {
		if err := f.signIn(login, "correct horse", "10.2.0.1"); !rateLimited(err, "account") {
			t.Errorf("%q after %d failures by the other names = %v, want the account limit", login, auth.AccountFreeFailures, err)
		}
	}
	for i := range auth.AccountFreeFailures {
		if err := f.signIn("ghost@example.com", "wrong", fmt.Sprintf("10.3.0.%d", i)); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("unknown login, failure %d = %v", i+1, err)
		}
	}
	if err := f.signIn("Ghost@example.com", "wrong", "10.4.0.1"); !rateLimited(err, "account") {
		t.Errorf("unknown login after %d failures = %v, want the account limit", auth.AccountFreeFailures, err)
	}
}

// After the free failures each further attempt waits longer than the one
// before, up to a cap; the wait is answered with when to come back, and a
// success forgets the failures. Nobody is locked out for longer than the
// cap.
func TestSignIn_ProgressiveDelay(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	ip := 0
	try := func(pw string) error {
		ip++
		return f.signIn("ann@example.com", pw, fmt.Sprintf("10.5.%d.%d", ip/200, ip%200))
	}
	for i := range auth.AccountFreeFailures {
		if err := try("wrong"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("free failure %d = %v", i+1, err)
		}
	}
	var prev time.Duration
	for n := range 8 {
		err := try("correct horse")
		var rl *auth.RateLimitError
		if !errors.As(err, &rl) || rl.Scope != "account" {
			t.Fatalf("delayed attempt %d = %v, want the account limit", n+1, err)
		}
		switch {
		case rl.RetryAfter > auth.AccountMaxDelay:
			t.Fatalf("wait %v is over the cap %v", rl.RetryAfter, auth.AccountMaxDelay)
		case rl.RetryAfter < prev:
			t.Fatalf("wait %v after %v: the delay shrank", rl.RetryAfter, prev)
		case n == 0 && rl.RetryAfter != auth.AccountFirstDelay:
			t.Fatalf("first wait %v, want %v", rl.RetryAfter, auth.AccountFirstDelay)
		}
		prev = rl.RetryAfter
		// Asking again before the time is up changes nothing.
		f.advance(rl.RetryAfter / 2)
		if err := try("wrong"); !errors.As(err, &rl) || rl.RetryAfter != prev-prev/2 {
			t.Fatalf("early retry = %v, want the rest of the wait", err)
		}
		f.advance(rl.RetryAfter)
		if err := try("wrong"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("attempt after waiting %v = %v, want it checked", prev, err)
		}
	}
	if prev != auth.AccountMaxDelay {
		t.Errorf("the delay stopped growing at %v, want the cap %v", prev, auth.AccountMaxDelay)
	}
	f.advance(prev)
	if err := try("correct horse"); err != nil {
		t.Fatalf("right password after waiting = %v", err)
	}
	// The success forgot the failures: the free attempts are back.
	for i := range auth.AccountFreeFailures {
		if err := try("wrong"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("after a success, failure %d = %v", i+1, err)
		}
	}
}

// Sign-ins of one account from several devices at once all succeed: none
// fails on a conflict between their transactions.
func TestSignIn_ConcurrentSignInsOfOneUserNeverFail(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	const rounds, parallel = 6, 8
	for r := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, parallel)
		for i := range parallel {
			wg.Go(func() { errs[i] = f.signIn("ann@example.com", "correct horse", "10.6.0.1") })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, sign-in %d = %v", r+1, i+1, err)
			}
		}
		f.advance(auth.IPWindow) // stay under the address limit
	}
	u, err := f.svc.UserByEmail(ctx, "ann@example.com")
	if err != nil || u.LastSignInAt.IsZero() {
		t.Fatalf("last sign-in not recorded: %+v, %v", u, err)
	}
}

// A 70,000-byte login is refused as too long: a sign-in failure the page
// can name, not a store error, and it touches no store key.
func TestSignIn_HugeLoginIsRefusedNot500(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		login string
		long  bool
	}{
		{"70,000 bytes", strings.Repeat("hugelogin", 70000/9), true},
		{"255 bytes", strings.Repeat("a", 243) + "@example.com", true},
		{"254 bytes", strings.Repeat("a", 242) + "@example.com", false},
		{"254 bytes and spaces", "  " + strings.Repeat("a", 242) + "@example.com  ", false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.signIn(tt.login, "wrong password", fmt.Sprintf("10.7.0.%d", i))
			if !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("Authenticate = %.200v, want ErrInvalidCredentials", err)
			}
			if got := errors.Is(err, auth.ErrLoginTooLong); got != tt.long {
				t.Fatalf("errors.Is(err, ErrLoginTooLong) = %v, want %v (err %.200v)", got, tt.long, err)
			}
			if strings.Contains(err.Error(), "aaaa") || strings.Contains(err.Error(), "hugelogin") {
				t.Fatalf("the error repeats the login: %.100s", err)
			}
		})
	}
	keys, _ := f.dump(t)
	for _, k := range keys {
		if len(k) > 200 {
			t.Errorf("a %d-byte key is in the store: %.60q", len(k), k)
		}
	}
}

// Whatever is typed as the login (a password, by mistake) never lands in
// the store, not even as a rate-limit key; neither does the client address.
func TestSignIn_PasswordTypedAsLoginIsNotStored(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	typed := []string{"Tr0ub4dor&3-typed-as-login", "ann", "ann@example.com"}
	for _, login := range typed {
		if err := f.signIn(login, "Tr0ub4dor&3-typed-as-login", "203.0.113.77"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("sign-in as %q = %v", login, err)
		}
	}
	keys, vals := f.dump(t)
	for i, k := range keys {
		for _, secret := range []string{"tr0ub4dor", "Tr0ub4dor", "203.0.113.77"} {
			if bytes.Contains(k, []byte(secret)) || bytes.Contains(vals[i], []byte(secret)) {
				t.Errorf("%q is stored at key %q", secret, k)
			}
		}
		if bytes.HasPrefix(k, []byte(kv.PrefixRateLimit)) && (bytes.Contains(k, []byte("ann")) || bytes.Contains(k, []byte("example.com"))) {
			t.Errorf("a rate-limit key names the account: %q", k)
		}
	}
}

// A user whose hash was made at another bcrypt cost (created at cost 4,
// server now at cost 6) gets the configured cost on the next successful
// sign-in, so their sign-ins cost what an unknown user's do. A failed
// sign-in does not rehash.
func TestSignIn_TimingAfterCostChange(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: email, Password: "correct horse"}); err != nil {
			t.Fatal(err)
		}
	}
	cost := func(email string) int {
		t.Helper()
		u, err := f.svc.UserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		c, err := bcrypt.Cost(u.PasswordHash)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name   string
		cost   int
		email  string
		pw     string
		ok     bool
		wantAt int // the stored cost afterwards
	}{
		{"wrong password keeps the old hash", 6, "ann@example.com", "wrong horse", false, 4},
		{"success raises the cost", 6, "ann@example.com", "correct horse", true, 6},
		{"same cost, no change", 6, "ann@example.com", "correct horse", true, 6},
		{"success lowers the cost", 5, "ann@example.com", "correct horse", true, 5},
		{"other users keep theirs until they sign in", 6, "bob@example.com", "wrong horse", false, 4},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.svc = f.service(t, tt.cost)
			err := f.signIn(tt.email, tt.pw, fmt.Sprintf("10.10.0.%d", i))
			if tt.ok != (err == nil) {
				t.Fatalf("Authenticate = %v", err)
			}
			if got := cost(tt.email); got != tt.wantAt {
				t.Fatalf("stored cost %d, want %d", got, tt.wantAt)
			}
		})
	}
	// The rehashed password still works, and nothing else changed.
	f.svc = f.service(t, 5)
	if err := f.signIn("ann@example.com", "correct horse", "10.11.0.1"); err != nil {
		t.Fatalf("sign-in with the rehashed password = %v", err)
	}
}

// Attempts within the free failures never wait, even when their clocks
// were read out of order (concurrent requests).
func TestSignIn_FreeAttemptsIgnoreClockOrder(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	for i := range auth.AccountFreeFailures {
		if err := f.signIn("ann@example.com", "wrong", fmt.Sprintf("10.12.0.%d", i)); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("failure %d = %v", i+1, err)
		}
		// The next request read the clock a moment before this one.
		f.advance(-time.Millisecond)
	}
}
