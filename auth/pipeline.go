package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// The sign-in pipeline. A sign-in is a short sequence of steps:
//
//  1. identify and first factor: Authenticate (the password), or
//     BeginStepUp for the user of a session that already exists;
//  2. a second factor when the user has one: SignInSecondFactor (a TOTP
//     or backup code);
//  3. TOTP set-up when the user must have a second factor and has none:
//     SignInSetupTOTP;
//  4. the session.
//
// Between steps the sign-in is a PendingSignIn on the server, stored for
// SignInTTL under the HMAC of a random cookie token (PrefixSignInToken)
// that only the browser holds, so it is bound to that browser and a page
// or form can claim nothing about it: forms carry the CSRF token and what
// the person typed, nothing else. No session exists until the last step
// succeeds; that step checks, in the transaction that makes the session,
// that the user is still active, still has the password that was proven
// and (for a step-up) still has the session it started from.
//
// Another second factor (a passkey) joins as another method at
// StepSecondFactor: its step reads the pending sign-in with pendingIn,
// checks its credential in the same transaction (mayFinish first, as
// SignInSecondFactor does) and ends with finishIn and its own amr.

// SignInTTL bounds a sign-in under way, from its first step to its last.
const SignInTTL = 10 * time.Minute

// PrefixSignInToken marks the cookie token of a pending sign-in.
const PrefixSignInToken = "csi_"

// SignInStep names the step a pending sign-in waits at.
type SignInStep string

const (
	// StepSecondFactor: a TOTP or backup code (SignInSecondFactor).
	StepSecondFactor SignInStep = "second_factor"
	// StepSetupTOTP: the user must have a second factor and has none;
	// they set up TOTP before anything else (SignInSetupTOTP).
	StepSetupTOTP SignInStep = "setup_totp"
)

// PendingSignIn is a sign-in under way.
type PendingSignIn struct {
	ID     string     `json:"id"` // HMAC of the cookie token
	UserID string     `json:"user_id"`
	Step   SignInStep `json:"step"`
	// AMR are the methods proven so far ("pwd").
	AMR      []string `json:"amr"`
	Remember bool     `json:"remember"`
	// RD or Authz: where the browser goes when the sign-in is done (the
	// pages' business; auth only keeps them).
	RD    string `json:"rd,omitempty"`
	Authz string `json:"authz,omitempty"`
	// IP and UserAgent of the first step, for the session.
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// StepUp: started by BeginStepUp from the session Replaces.
	StepUp bool `json:"step_up,omitempty"`
	// Replaces is the id of the session the browser had: it ends when
	// the new one starts (for a step-up it must still be live then).
	Replaces string `json:"replaces,omitempty"`
	// PasswordVersion is the user's when the first step proved the
	// password (or the step-up began): a password set meanwhile ends the
	// sign-in.
	PasswordVersion uint64 `json:"password_version,omitempty"`
	// TOTPSecret is the secret offered at StepSetupTOTP, sealed under
	// signInLabel(ID). Clinch made it; nothing a client sends replaces it.
	TOTPSecret []byte    `json:"totp_secret,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// SignInResult is where a sign-in step left the sign-in: done, with a
// session, or pending at its next step.
type SignInResult struct {
	User *User
	// Session and SessionToken (the cookie value) when done.
	Session      *Session
	SessionToken string
	// Pending and PendingToken (a new cookie value, set when not empty)
	// when another step follows.
	Pending      *PendingSignIn
	PendingToken string
	// BackupCodes were made by this step (TOTP set-up): show them once.
	BackupCodes []string
	// RD and Authz are the sign-in's destination, as its first step
	// gave them (SignIn, StepUp).
	RD, Authz string
}

// Done reports whether the sign-in is over, with a session.
func (r *SignInResult) Done() bool { return r.Session != nil }

func signInLabel(id string) string { return string(kv.PrefixSignIn) + "totp/" + id }

// sessionIDOf is the id of a session cookie token, or "" for none.
func (s *Service) sessionIDOf(token string) string {
	if !HasPrefix(token, PrefixSessionToken) {
		return ""
	}
	return s.secrets.Hash(token)
}

// signInIDOf is the id of a pending sign-in cookie token, or "".
func (s *Service) signInIDOf(token string) string {
	if !HasPrefix(token, PrefixSignInToken) || len(token) > 64 {
		return ""
	}
	return s.secrets.Hash(token)
}

// continueSignIn takes p, whose first factor is proven, to its next step:
// the session at once when the user has no second factor and needs none,
// otherwise a stored pending sign-in at StepSecondFactor or StepSetupTOTP
// under a new cookie token. The browser's earlier pending sign-in (its
// cookie oldToken) is dropped.
func (s *Service) continueSignIn(ctx context.Context, p *PendingSignIn, oldToken string) (*SignInResult, error) {
	var has bool
	var by []string
	err := s.store.View(ctx, func(t *kv.Txn) error {
		u, err := s.users.Get(t, p.UserID)
		if err != nil {
			return mapKV(err, "user")
		}
		f, err := s.factorsIn(t, u.ID)
		if err != nil {
			return err
		}
		// A passkey is a second factor too.
		if has = f.has(); !has {
			if has, err = s.hasPasskey(t, u.ID); err != nil {
				return err
			}
		}
		by, err = s.requirement(t, u)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sign-in: second factors: %w", err)
	}
	if old := s.signInIDOf(oldToken); old != "" {
		s.dropSignIn(ctx, old)
	}
	switch {
	case has:
		p.Step = StepSecondFactor
	case len(by) > 0 || p.StepUp:
		// A step-up proves a second factor; a user without one sets one
		// up, which proves it too.
		p.Step = StepSetupTOTP
	default:
		// Nothing more to prove: the password is the whole sign-in.
		return s.finish(ctx, p, ACRPassword, p.AMR)
	}
	token, id := s.secrets.NewToken(PrefixSignInToken)
	p.ID = id
	if p.Step == StepSetupTOTP {
		p.TOTPSecret = s.secrets.Seal([]byte(newTOTPSecret()), signInLabel(id))
	}
	err = s.store.Update(ctx, func(t *kv.Txn) error { return s.pendingSignIns.Put(t, p, SignInTTL) })
	if err != nil {
		return nil, fmt.Errorf("sign-in: store pending sign-in: %w", err)
	}
	u, err := s.User(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	return &SignInResult{User: u, Pending: p, PendingToken: token, RD: p.RD, Authz: p.Authz}, nil
}

// PendingSignIn returns the browser's pending sign-in from its cookie
// token, or ErrNoSignIn.
func (s *Service) PendingSignIn(ctx context.Context, token string) (*PendingSignIn, error) {
	id := s.signInIDOf(token)
	var p *PendingSignIn
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		p, err = s.pendingIn(t, id)
		return err
	})
	return p, err
}

// pendingIn reads a live pending sign-in inside a transaction.
func (s *Service) pendingIn(t *kv.Txn, id string) (*PendingSignIn, error) {
	if id == "" {
		return nil, ErrNoSignIn
	}
	p, err := s.pendingSignIns.Get(t, id)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrNoSignIn
	}
	if err != nil {
		return nil, err
	}
	if s.now().Sub(p.CreatedAt) > SignInTTL {
		return nil, ErrNoSignIn
	}
	return p, nil
}

// SetupSecret is the TOTP secret (base32) a pending sign-in at
// StepSetupTOTP offers: the one Clinch made for it, for the set-up page
// to show as a QR code and as text.
func (s *Service) SetupSecret(p *PendingSignIn) (string, error) {
	if p.Step != StepSetupTOTP || len(p.TOTPSecret) == 0 {
		return "", ErrNoSignIn
	}
	b, err := s.secrets.Open(p.TOTPSecret, signInLabel(p.ID))
	if err != nil {
		return "", fmt.Errorf("sign-in: totp secret: %w", err)
	}
	return string(b), nil
}

// CancelSignIn forgets the browser's pending sign-in, if any.
func (s *Service) CancelSignIn(ctx context.Context, token string) {
	if id := s.signInIDOf(token); id != "" {
		s.dropSignIn(ctx, id)
	}
}

func (s *Service) dropSignIn(ctx context.Context, id string) {
	err := s.store.Update(ctx, func(t *kv.Txn) error { return s.pendingSignIns.Delete(t, id) })
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		s.log.Warn("auth: drop pending sign-in", "err", err)
	}
}

// SignInSecondFactor is the second-factor step: a TOTP code or a backup
// code for the pending sign-in of the cookie token. A right code ends the
// sign-in with a new session, acr "2" and amr ["pwd","otp"] (or the
// step-up's methods and "otp").
//
// Input that cannot be a code is a *CodeFormatError and counts nowhere.
// Otherwise the attempt counts against the address (IPAttempts) and, in
// one transaction with the check, against the user's second-factor
// failures, which wait like password failures (AccountFreeFailures, then
// AccountFirstDelay doubling): a *RateLimitError when it must wait. A
// wrong code is ErrWrongCode; a TOTP code already accepted (or older than
// one accepted) and a used backup code are ErrCodeUsed (a backup code's
// as a *UsedCodeError). The code is consumed and the session made in that
// same transaction, so two browsers racing with one code get one session.
// ErrNoSignIn when the pending sign-in is gone, or its user can no longer
// sign in.
func (s *Service) SignInSecondFactor(ctx context.Context, token, code, ip string) (*SignInResult, error) {
	kind, norm, err := ParseCode(code, true)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.hitIP(ctx, ip, now); err != nil {
		return nil, err
	}
	id := s.signInIDOf(token)
	var res *SignInResult
	var ended *Session
	var verdict error
	var uid string
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		res, ended, verdict = nil, nil, nil
		p, err := s.pendingIn(t, id)
		if err != nil {
			return err
		}
		if p.Step != StepSecondFactor {
			return ErrNoSignIn
		}
		uid = p.UserID
		// A user who can no longer sign in is told so before any code
		// is checked or counted.
		if _, _, err := s.mayFinish(t, p, now); err != nil {
			return err
		}
		if verdict, err = s.tryCode(t, p.UserID, kind, norm, now); err != nil || verdict != nil {
			return err
		}
		res, ended, err = s.finishIn(t, p, ACRSecondFactor, addAMR(p.AMR, AMROTP), now)
		return err
	})
	switch {
	case err == nil && verdict == nil && kind == CodeBackup:
		s.Audit(ctx, audit.Event{Kind: audit.BackupCodeUsed, Actor: uid, Subject: uid, Email: res.User.Email, IP: ip})
	case err == nil && verdict != nil && !errors.Is(verdict, ErrRateLimited):
		reason := "wrong second-factor code"
		if errors.Is(verdict, ErrCodeUsed) {
			reason = "second-factor code already used"
		}
		s.Audit(ctx, audit.Event{Kind: audit.SignInFailed, Subject: uid, IP: ip, Reason: reason})
	}
	return s.finished(ctx, id, res, ended, verdict, err, now)
}

// SignInSetupTOTP is the set-up step: the user must have a second factor
// and has none, and enters the current code of the secret the pending
// sign-in offered (SetupSecret). A right code saves that secret (sealed),
// makes BackupCodeCount backup codes (in the result, to show once) and ends
// the sign-in with a new session, acr "2", amr ["pwd","otp"]: the person
// just proved they hold the secret. Only the secret Clinch made is ever
// saved. Input that cannot be a code is a *CodeFormatError; a wrong code
// ErrWrongCode (nothing saved); ErrNoSignIn when the pending sign-in is
// gone, or the user set up TOTP meanwhile elsewhere.
func (s *Service) SignInSetupTOTP(ctx context.Context, token, code, password, ip string) (*SignInResult, error) {
	_, norm, err := ParseCode(code, false)
	if err != nil {
		return nil, err
	}
	id := s.signInIDOf(token)
	// A step-up starts from a session, not from a password: whoever holds
	// a stolen session cookie of a user without a second factor must not
	// be able to enrol their own authenticator this way (and so get acr
	// "2" and lock the owner out). The password is asked, as on the
	// security page.
	if p, err := s.PendingSignIn(ctx, token); err == nil && p.StepUp {
		if err := s.confirmPassword(ctx, p.UserID, password, ip); err != nil {
			return nil, err
		}
	}
	now := s.now()
	if err := s.hitIP(ctx, ip, now); err != nil {
		return nil, err
	}
	var res *SignInResult
	var ended *Session
	var codes []string
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		res, ended, codes = nil, nil, nil
		p, err := s.pendingIn(t, id)
		if err != nil {
			return err
		}
		secret, err := s.SetupSecret(p)
		if err != nil {
			return err
		}
		if _, _, err := s.mayFinish(t, p, now); err != nil {
			return err
		}
		step, err := matchTOTP(secret, norm, now, 0)
		if err != nil {
			return err
		}
		codes, err = s.saveTOTP(t, p.UserID, secret, step, now)
		if errors.Is(err, ErrTOTPExists) {
			return ErrNoSignIn
		}
		if err != nil {
			return err
		}
		res, ended, err = s.finishIn(t, p, ACRSecondFactor, addAMR(p.AMR, AMROTP), now)
		return err
	})
	if errors.Is(err, ErrWrongCode) || errors.Is(err, ErrCodeUsed) {
		return nil, ErrWrongCode
	}
	if err == nil {
		e := userEvent(audit.SecondFactorAdded, res.User)
		e.Actor, e.IP, e.Detail = res.User.ID, ip, map[string]string{"factor": "totp", "at": "sign-in"}
		s.Audit(ctx, e)
	}
	res, err = s.finished(ctx, id, res, ended, nil, err, now)
	if err != nil {
		return nil, err
	}
	res.BackupCodes = codes
	return res, nil
}

// StepUp is the input to BeginStepUp.
type StepUp struct {
	IP, UserAgent string
	// RD or Authz: where to go afterwards, as for SignIn.
	RD, Authz string
	// Pending is the browser's pending sign-in cookie, if any: replaced.
	Pending string
}

// BeginStepUp starts a sign-in at the second-factor step for the user of
// the live session whose cookie token is sessionToken: for an application
// that requires a second factor (acr "2") when the session was made with a
// password alone. The result is pending at StepSecondFactor (or at
// StepSetupTOTP when the user has no second factor yet: setting one up
// proves it as well). The step that ends it makes a NEW session with acr
// "2", amr the old session's methods plus "otp" (["pwd","otp"]), the old
// session's remember-me, and auth_time (CreatedAt) now; the old session
// ends in the same transaction. If the old session ends first (sign-out,
// revocation, disable), the step-up ends with it (ErrNoSignIn).
//
// ErrNotFound when sessionToken names no live session of an active user.
func (s *Service) BeginStepUp(ctx context.Context, sessionToken string, in StepUp) (*SignInResult, error) {
	sess, err := s.SessionByToken(ctx, sessionToken)
	if err != nil {
		return nil, err
	}
	u, err := s.User(ctx, sess.UserID)
	if err != nil {
		return nil, err
	}
	if u.Status != StatusActive {
		return nil, fmt.Errorf("user: %w", ErrNotFound)
	}
	p := &PendingSignIn{
		UserID: u.ID, AMR: slices.Clone(sess.AMR), Remember: sess.Remember, RD: in.RD, Authz: in.Authz,
		IP: in.IP, UserAgent: in.UserAgent, StepUp: true, Replaces: sess.ID,
		PasswordVersion: u.PasswordVersion, CreatedAt: s.now(),
	}
	if len(p.AMR) == 0 {
		p.AMR = []string{AMRPassword}
	}
	return s.continueSignIn(ctx, p, in.Pending)
}

// finish ends p (not stored: the password was the whole sign-in) with a
// session.
func (s *Service) finish(ctx context.Context, p *PendingSignIn, acr string, amr []string) (*SignInResult, error) {
	now := s.now()
	var res *SignInResult
	var ended *Session
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		res, ended, err = s.finishIn(t, p, acr, amr, now)
		return err
	})
	return s.finished(ctx, p.ID, res, ended, nil, err, now)
}

// finishIn makes the session that ends p, inside the transaction of the
// last step, after checking that the user may still sign in (mayFinish).
// It deletes p and the session p replaces, which it returns (nil when
// there was none).
func (s *Service) finishIn(t *kv.Txn, p *PendingSignIn, acr string, amr []string, now time.Time) (*SignInResult, *Session, error) {
	u, old, err := s.mayFinish(t, p, now)
	if err != nil {
		return nil, nil, err
	}
	if p.ID != "" {
		if err := s.pendingSignIns.Delete(t, p.ID); err != nil {
			return nil, nil, err
		}
	}
	sess, token, err := s.putSession(t, u, p.IP, p.UserAgent, p.Remember, acr, amr, now)
	if err != nil {
		return nil, nil, err
	}
	if old != nil {
		if err := s.deleteSession(t, old); err != nil {
			return nil, nil, err
		}
	}
	return &SignInResult{User: u, Session: sess, SessionToken: token, RD: p.RD, Authz: p.Authz}, old, nil
}

// mayFinish checks, inside a transaction, that p's user may still sign
// in: they exist, are active and have the password the first step proved,
// and for a step-up the session it started from is still live. It
// returns the user and the live session p replaces (or nil); ErrNoSignIn
// when the sign-in cannot finish.
func (s *Service) mayFinish(t *kv.Txn, p *PendingSignIn, now time.Time) (*User, *Session, error) {
	u, err := s.users.Get(t, p.UserID)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, ErrNoSignIn
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Status != StatusActive || u.PasswordVersion != p.PasswordVersion {
		return nil, nil, ErrNoSignIn
	}
	if p.Replaces == "" {
		return u, nil, nil
	}
	old, err := s.sessions.Get(t, p.Replaces)
	switch {
	case errors.Is(err, kv.ErrNotFound):
		old = nil
	case err != nil:
		return nil, nil, err
	case !now.Before(old.ExpiresAt):
		old = nil
	}
	if p.StepUp && (old == nil || old.UserID != u.ID) {
		return nil, nil, ErrNoSignIn
	}
	return u, old, nil
}

// finished completes a last step after its transaction: a refused attempt
// (verdict) is returned as it is; a sign-in that can no longer finish
// drops its pending record; a done one records the sign-in on the user
// and tells caches that the replaced session ended.
func (s *Service) finished(ctx context.Context, id string, res *SignInResult, ended *Session, verdict, err error, now time.Time) (*SignInResult, error) {
	switch {
	case errors.Is(err, kv.ErrTxnConflict):
		return nil, &RateLimitError{RetryAfter: busyRetry, Scope: ScopeSecondFactor}
	case errors.Is(err, ErrNoSignIn):
		if id != "" {
			s.dropSignIn(ctx, id)
		}
		return nil, err
	case err != nil:
		return nil, err
	case verdict != nil:
		return nil, verdict
	}
	if ended != nil {
		s.Notify(Change{Kind: ChangeSession, SessionID: ended.ID, UserID: ended.UserID, EndedSessions: []string{ended.ID}})
	}
	if err := s.recordSignIn(ctx, res.User.ID, now.UTC(), nil); err != nil {
		s.log.Warn("auth: sign-in not recorded on the user", "user_id", res.User.ID, "err", err)
	}
	s.auditSignIn(ctx, res.User, res.Session, ended != nil)
	return res, nil
}

// auditSignIn records a finished sign-in: how it was made (acr, amr) and
// whether it replaced a session (a step-up, or signing in again).
func (s *Service) auditSignIn(ctx context.Context, u *User, sess *Session, replaced bool) {
	e := userEvent(audit.SignIn, u)
	e.Actor, e.IP = u.ID, sess.IP
	e.Detail = map[string]string{"acr": sess.ACR, "amr": strings.Join(sess.AMR, " ")}
	if replaced {
		e.Detail["replaced_session"] = "true"
	}
	s.Audit(ctx, e)
}

// addAMR returns amr with m added once.
func addAMR(amr []string, m string) []string {
	out := slices.Clone(amr)
	if !slices.Contains(out, m) {
		out = append(out, m)
	}
	return out
}
