package auth

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinchsso/clinch/kv"
)

// Sign-in limits.
//
// Per client address: IPAttempts attempts per fixed IPWindow, success or
// not, so one address cannot spray passwords across many accounts.
//
// Per account: a progressive delay rather than a lockout, since anyone who
// knows a login could trigger a lockout. An account absorbs
// AccountFreeFailures failed attempts in a row; after that each further
// attempt must wait AccountFirstDelay, doubling each time up to
// AccountMaxDelay, and one that comes early is refused with the time left.
// A successful sign-in forgets the failures, and so does AccountWindow
// without an attempt. Every attempt is counted as a failure before bcrypt
// runs, in the transaction that checks the delay, so concurrent attempts
// cannot slip past the check; a success then clears the count.
//
// Second-factor codes (TOTP or backup) have a counter of their own per
// user (ScopeSecondFactor) with the same free failures and delays; there
// the check, the code and the count are one transaction (tryCode). Each
// code attempt also counts against the address.
//
// An account is its user id whichever login named it (email or username),
// or the normalised login itself for unknown users, so unknown logins are
// limited exactly like known ones. Every counter is stored under an HMAC
// of its subject: neither a login (perhaps a password typed into the wrong
// box) nor an address is ever written to the store.
const (
	IPAttempts = 20
	IPWindow   = 3 * time.Minute

	AccountFreeFailures = 10
	AccountFirstDelay   = 30 * time.Second
	AccountMaxDelay     = 15 * time.Minute
	AccountWindow       = time.Hour
)

// Rate-limit scopes, as RateLimitError.Scope reports them.
const (
	ScopeIP      = "ip"
	ScopeAccount = "account"
	// ScopeSecondFactor counts wrong second-factor codes of one user, apart
	// from their password failures and with the same delays.
	ScopeSecondFactor = "second_factor"
)

// busyRetry is how long a caller is asked to wait when a counter could not
// be updated for contention: the attempt is refused (fail closed), never
// let through uncounted.
const busyRetry = time.Second

// limitKey is where the counter of a subject lives: the scope, then a MAC
// of the subject under a key derived for rate limits. extra (a window
// start) goes between them.
func (s *Service) limitKey(scope, extra, subject string) []byte {
	mac := s.secrets.MAC("ratelimit/"+scope, []byte(subject))
	return kv.PrefixRateLimit.Key(scope + "/" + extra + base64.RawURLEncoding.EncodeToString(mac))
}

// hitIP counts one attempt from the address in the current fixed window and
// fails when the window's attempts are used up.
func (s *Service) hitIP(ctx context.Context, ip string, now time.Time) error {
	return s.hitWindow(ctx, ScopeIP, ip, IPAttempts, IPWindow, now)
}

// hitWindow counts one event of subject in the current fixed window of the
// scope and fails once more than limit have happened in it.
func (s *Service) hitWindow(ctx context.Context, scope, subject string, limit uint32, window time.Duration, now time.Time) error {
	start := now.Truncate(window)
	end := start.Add(window)
	k := s.limitKey(scope, start.UTC().Format("20060102T150405")+"/", subject)
	var n uint32
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		b, err := t.Get(k)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		n = 0
		if len(b) == 4 {
			n = binary.BigEndian.Uint32(b)
		}
		if n > limit {
			return nil // already over; no need to write again
		}
		n++
		return t.Set(k, binary.BigEndian.AppendUint32(nil, n), end.Sub(now))
	})
	if errors.Is(err, kv.ErrTxnConflict) {
		return &RateLimitError{RetryAfter: busyRetry, Scope: scope}
	}
	if err != nil {
		return fmt.Errorf("rate limit %s: %w", scope, err)
	}
	if n > limit {
		return &RateLimitError{RetryAfter: end.Sub(now), Scope: scope}
	}
	return nil
}

// attempts is an account's sign-in state: failures in a row (attempts in
// flight included) and the earliest time of the next attempt.
type attempts struct {
	failures  uint32
	notBefore time.Time
}

func (a attempts) encode() []byte {
	var ns int64
	if !a.notBefore.IsZero() {
		ns = a.notBefore.UnixNano()
	}
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 12), a.failures)
	return binary.BigEndian.AppendUint64(b, uint64(ns))
}

func decodeAttempts(b []byte) attempts {
	if len(b) != 12 {
		return attempts{}
	}
	a := attempts{failures: binary.BigEndian.Uint32(b)}
	if ns := int64(binary.BigEndian.Uint64(b[4:])); ns != 0 {
		a.notBefore = time.Unix(0, ns)
	}
	return a
}

// accountDelay is how long the attempt after the n-th failure in a row must
// wait: nothing within the free failures, then AccountFirstDelay doubling
// up to AccountMaxDelay.
func accountDelay(n uint32) time.Duration {
	if n < AccountFreeFailures {
		return 0
	}
	d := AccountFirstDelay
	for i := uint32(AccountFreeFailures); i < n && d < AccountMaxDelay; i++ {
		d *= 2
	}
	return min(d, AccountMaxDelay)
}

// accountSubject is what an account's counter is keyed by: the user id, or
// the normalised login when no user has it.
func accountSubject(u *User, login string) string {
	if u != nil {
		return "user:" + u.ID
	}
	return "login:" + login
}

// reserveAttempt checks the account's delay and, when the attempt may go
// ahead, counts it as a failure, in one transaction. Call it before
// comparing the password; a success calls clearAttempts.
func (s *Service) reserveAttempt(ctx context.Context, subject string, now time.Time) error {
	k := s.limitKey(ScopeAccount, "", subject)
	var wait time.Duration
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		a, w, err := attemptWait(t, k, now)
		if wait = w; err != nil || wait > 0 {
			return err
		}
		return countFailure(t, k, a, now)
	})
	if errors.Is(err, kv.ErrTxnConflict) {
		return &RateLimitError{RetryAfter: busyRetry, Scope: ScopeAccount}
	}
	if err != nil {
		return fmt.Errorf("sign-in account limit: %w", err)
	}
	if wait > 0 {
		return &RateLimitError{RetryAfter: wait, Scope: ScopeAccount}
	}
	return nil
}

// attemptWait reads the counter at k inside a transaction and returns it
// with how long the next attempt must still wait (0: it may go ahead).
// Reading it in the transaction that checks a code makes the check and the
// count one atomic step: a concurrent attempt conflicts and runs again.
func attemptWait(t *kv.Txn, k []byte, now time.Time) (attempts, time.Duration, error) {
	b, err := t.Get(k)
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return attempts{}, 0, err
	}
	a := decodeAttempts(b)
	return a, max(a.notBefore.Sub(now), 0), nil
}

// countFailure adds one failure to a (read by attemptWait) and writes it
// back at k, with the delay the next attempt must wait.
func countFailure(t *kv.Txn, k []byte, a attempts, now time.Time) error {
	a.failures++
	// Within the free failures there is no time to keep: a concurrent
	// attempt whose clock read a little earlier must not see one.
	a.notBefore = time.Time{}
	if d := accountDelay(a.failures); d > 0 {
		a.notBefore = now.Add(d)
	}
	return t.Set(k, a.encode(), AccountWindow)
}

// clearAttempts forgets an account's failures after a successful sign-in.
// The delete reads nothing, so it never conflicts.
func (s *Service) clearAttempts(ctx context.Context, subject string) error {
	return s.store.Update(ctx, func(t *kv.Txn) error {
		return t.Delete(s.limitKey(ScopeAccount, "", subject))
	})
}

// mailedLinkLimits are the limits of one kind of link asked for by
// address (password reset, sign-in link).
type mailedLinkLimits struct {
	ipScope, addressScope string
	perIP, perAddress     uint32
	window                time.Duration
}

// limitMailedLink counts one request for a link mailed to email from ip,
// against the IP's limit and then the address's, whether or not an
// account has the address (an unparsable one is counted as typed).
func (s *Service) limitMailedLink(ctx context.Context, email, ip string, l mailedLinkLimits) error {
	now := s.now()
	if err := s.hitWindow(ctx, l.ipScope, ip, l.perIP, l.window, now); err != nil {
		return err
	}
	subject, err := NormalizeEmail(email)
	if err != nil {
		subject = strings.ToLower(strings.TrimSpace(email))
	}
	return s.hitWindow(ctx, l.addressScope, subject, l.perAddress, l.window, now)
}
