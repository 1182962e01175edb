package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// MaxLoginLen is the longest login (email or username) a sign-in accepts,
// in bytes: the longest email address there can be. Nobody's login is
// longer, so a longer one is refused before anything is looked up.
const MaxLoginLen = 254

// SignIn is the input to Authenticate.
type SignIn struct {
	Login     string // email or username
	Password  string
	IP        string
	UserAgent string
	Remember  bool
	// RD and Authz are where the sign-in goes when it is done: a return
	// URL, or the id of a pending OIDC authorization. They are kept in the
	// pending sign-in for the pages; auth does not interpret them.
	RD, Authz string
	// Previous is the session cookie the browser already had, if any: that
	// session ends when the new one starts, so a browser that signs in
	// again leaves no orphaned session behind.
	Previous string
	// Pending is the browser's pending sign-in cookie, if any: a new
	// sign-in replaces it.
	Pending string
}

// Authenticate is the first step of a sign-in: the password. When it is
// right and the user has no second factor and needs none, the sign-in is
// done at once (a session with acr "1", amr ["pwd"]). Otherwise the result
// is a PendingSignIn at its next step (StepSecondFactor, or StepSetupTOTP
// for a user who must have a second factor and has none), and no session
// exists until that step succeeds (see SignInSecondFactor,
// SignInSetupTOTP).
//
// Unknown logins, disabled accounts and wrong passwords are one error
// (ErrInvalidCredentials), and each costs at least one bcrypt comparison at
// the configured cost. A login longer than MaxLoginLen fails with an error
// that matches both ErrInvalidCredentials and ErrLoginTooLong, so a page can
// say what is wrong. Attempts are limited per address and per account (see
// IPAttempts and AccountFreeFailures); a refused attempt is a
// *RateLimitError. Neither the login nor the password ever appears in a
// store key, a stored value, a log line or a returned error.
func (s *Service) Authenticate(ctx context.Context, in SignIn) (*SignInResult, error) {
	now := s.now()
	// Every attempt counts against the client address, success or not.
	if err := s.hitIP(ctx, in.IP, now); err != nil {
		return nil, err
	}
	login, err := normalizeLogin(in.Login)
	if err != nil {
		s.signInFailed(ctx, nil, in.IP, "login too long")
		return nil, err
	}
	var u *User
	err = s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		u, err = s.userByLogin(t, login)
		return err
	})
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return nil, fmt.Errorf("sign-in: find user: %w", err)
	}
	subject := accountSubject(u, login)
	if err := s.reserveAttempt(ctx, subject, now); err != nil {
		if errors.Is(err, ErrRateLimited) {
			s.signInFailed(ctx, u, in.IP, "rate limited: too many failures for this account")
		}
		return nil, err
	}
	hash := s.dummyHash()
	if u != nil && len(u.PasswordHash) > 0 {
		hash = u.PasswordHash
	}
	pwErr := comparePassword(hash, in.Password)
	if u == nil || pwErr != nil || u.Status != StatusActive || len(in.Password) > MaxPasswordLen {
		if pad := s.equaliser(hash); pad != nil {
			_ = bcrypt.CompareHashAndPassword(pad, []byte(in.Password))
		}
		s.signInFailed(ctx, u, in.IP, failureReason(u, pwErr, len(in.Password) > MaxPasswordLen))
		return nil, ErrInvalidCredentials
	}
	if err := s.clearAttempts(ctx, subject); err != nil {
		s.log.Warn("auth: failed sign-ins not cleared after a success", "user_id", u.ID, "err", err)
	}
	if rh := s.rehashFor(u, in.Password); rh != nil {
		if err := s.recordSignIn(ctx, u.ID, time.Time{}, rh); err != nil {
			s.log.Warn("auth: password not rehashed at the configured cost", "user_id", u.ID, "err", err)
		}
	}
	p := &PendingSignIn{
		UserID: u.ID, AMR: []string{AMRPassword}, Remember: in.Remember, RD: in.RD, Authz: in.Authz,
		IP: in.IP, UserAgent: in.UserAgent, Replaces: s.sessionIDOf(in.Previous),
		PasswordVersion: u.PasswordVersion, CreatedAt: now,
	}
	res, err := s.continueSignIn(ctx, p, in.Pending)
	if errors.Is(err, ErrNoSignIn) {
		// Disabled, or the password changed, between the check and the
		// session: the password step's own answer.
		s.signInFailed(ctx, u, in.IP, "account changed during the sign-in")
		return nil, ErrInvalidCredentials
	}
	return res, err
}

// failureReason says, for the audit trail only, why a password step
// failed; the person signing in is told one thing for all of them.
func failureReason(u *User, pwErr error, tooLong bool) string {
	switch {
	case u == nil:
		return "unknown user"
	case tooLong:
		return "password too long"
	case len(u.PasswordHash) == 0:
		return "no password set"
	case pwErr != nil:
		return "wrong password"
	case u.Status != StatusActive:
		return "account " + string(u.Status)
	}
	return "refused"
}

// signInFailed records a failed sign-in step. An unknown login is not
// recorded as typed: people paste passwords into the login field. Refusals
// of the per-address limit are not recorded at all (they are counted in
// metrics): they cost an attacker nothing, and each would be a write.
func (s *Service) signInFailed(ctx context.Context, u *User, ip, reason string) {
	e := userEvent(audit.SignInFailed, u)
	e.IP, e.Reason = ip, reason
	s.Audit(ctx, e)
}

// normalizeLogin trims and lower-cases a login and refuses one longer than
// MaxLoginLen before anything is done with it.
func normalizeLogin(login string) (string, error) {
	login = strings.TrimSpace(login)
	if len(login) > MaxLoginLen {
		return "", errLoginTooLong
	}
	login = strings.ToLower(login)
	if len(login) > MaxLoginLen { // lower case can be longer in UTF-8
		return "", errLoginTooLong
	}
	return login, nil
}

// errLoginTooLong is the error of a too-long login: a failed sign-in that
// says why.
var errLoginTooLong = fmt.Errorf("%w: %w", ErrInvalidCredentials, ErrLoginTooLong)

// equaliser returns the hash to compare a failed attempt against once more
// when the stored hash is cheaper than the configured cost (a user created
// before the cost was raised), so that a wrong password for that user takes
// as long as one for an unknown user. nil when no padding is needed.
func (s *Service) equaliser(hash []byte) []byte {
	if c, err := bcrypt.Cost(hash); err == nil && c >= s.cost {
		return nil
	}
	return s.dummyHash()
}

// rehash replaces a verified password hash made at another cost, or of
// another kind (an imported argon2 hash).
type rehash struct {
	old, new []byte
}

// rehashFor returns the new hash for a user who just proved their password
// when their stored hash is not bcrypt at the configured cost (bcrypt at
// another cost, or an argon2 hash taken over by ImportUser), or nil.
func (s *Service) rehashFor(u *User, password string) *rehash {
	if c, err := bcrypt.Cost(u.PasswordHash); err == nil && c == s.cost {
		return nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		s.log.Warn("auth: password not rehashed at the configured cost", "user_id", u.ID, "err", err)
		return nil
	}
	return &rehash{old: u.PasswordHash, new: h}
}

// recordSignIn sets the user's last sign-in time (unless at is zero) and,
// with rh, replaces the password hash that was verified, unless it changed
// meanwhile (a password change wins).
func (s *Service) recordSignIn(ctx context.Context, userID string, at time.Time, rh *rehash) error {
	return s.store.Update(ctx, func(t *kv.Txn) error {
		u, err := s.users.Get(t, userID)
		if err != nil {
			return mapKV(err, "user")
		}
		changed := false
		if rh != nil && bytes.Equal(u.PasswordHash, rh.old) {
			u.PasswordHash, changed = rh.new, true
		}
		if at.After(u.LastSignInAt) {
			u.LastSignInAt, changed = at, true
		}
		if !changed {
			return nil
		}
		return s.users.Put(t, u, 0)
	})
}
