package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/clinchsso/clinch/kv"
)

// Passkeys as a second factor. A user with a passkey has a second factor:
// after the password (or for a step-up) the sign-in waits at
// StepSecondFactor, where a TOTP code, a backup code or one of the user's
// passkeys finishes it. User verification is preferred, not required: the
// password was the first factor.

// ErrNoPasskey: the user of a pending sign-in has no passkey to use.
var ErrNoPasskey = errors.New("no passkey is registered for this account")

// hasPasskey reports whether the user has a passkey.
func (s *Service) hasPasskey(t *kv.Txn, userID string) (bool, error) {
	found := false
	err := t.Scan(kv.PrefixPasskeyByUser.Key(userID+"/"), func(_, _ []byte) error {
		found = true
		return kv.ErrStop
	})
	return found, err
}

// BeginPasskeySecondFactor starts the passkey ceremony of the pending
// sign-in whose cookie token is token, waiting at StepSecondFactor: the
// browser is offered the user's passkeys. The ceremony is bound to that
// pending sign-in. ErrNoSignIn when there is none at that step,
// ErrNoPasskey when the user has no passkey.
func (s *Service) BeginPasskeySecondFactor(ctx context.Context, token, ip string) (*PasskeyChallenge, error) {
	if s.rp == nil {
		return nil, ErrPasskeysOff
	}
	if err := s.hitWindow(ctx, ScopeCeremony, ip, CeremonyAttempts, CeremonyWindow, s.now()); err != nil {
		return nil, err
	}
	id := s.signInIDOf(token)
	var u *User
	var ps []*Passkey
	err := s.store.View(ctx, func(t *kv.Txn) error {
		p, err := s.pendingIn(t, id)
		if err != nil {
			return err
		}
		if p.Step != StepSecondFactor {
			return ErrNoSignIn
		}
		if u, err = s.users.Get(t, p.UserID); err != nil {
			return mapKV(err, "user")
		}
		ps, err = s.userPasskeys(t, p.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, ErrNoPasskey
	}
	creds := make([]webauthn.Credential, len(ps))
	for i, p := range ps {
		creds[i] = p.credential()
	}
	assertion, data, err := s.rp.BeginLogin(waUser{u: u, creds: creds}, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin passkey second factor: %w", err)
	}
	return s.startCeremony(ctx, ceremonySecondFactor, id, u.ID, data, assertion.Response)
}

// PasskeySecondFactor is the browser's answer to BeginPasskeySecondFactor.
type PasskeySecondFactor struct {
	// Token is the pending sign-in's cookie token.
	Token    string
	Ceremony string
	Response []byte
	IP       string
	// UserAgent of this step's request, for the passkey's "last used".
	UserAgent string
}

// SignInSecondFactorPasskey is the second-factor step with a passkey: an
// assertion of one of the pending sign-in user's passkeys ends the
// sign-in with a new session, acr "2" and amr the first step's methods
// plus "hwk" (and "user" when the authenticator verified the user).
//
// The attempt counts against the address (IPAttempts) and, in the
// transaction that records the passkey's use and makes the session,
// against the user's second-factor failures, like a code
// (*RateLimitError when it must wait). A refused assertion (another
// user's or an unknown credential, a wrong signature or origin, no UP
// flag, a counter that did not advance) is ErrPasskeyRefused; an
// unknown, used or expired ceremony ErrPasskeyCeremony; ErrNoSignIn when
// the pending sign-in is gone or its user can no longer sign in.
func (s *Service) SignInSecondFactorPasskey(ctx context.Context, in PasskeySecondFactor) (*SignInResult, error) {
	res, err := s.signInSecondFactorPasskey(ctx, in)
	s.auditPasskeyRefusal(ctx, err, in.IP)
	return res, err
}

func (s *Service) signInSecondFactorPasskey(ctx context.Context, in PasskeySecondFactor) (*SignInResult, error) {
	if s.rp == nil {
		return nil, ErrPasskeysOff
	}
	now := s.now()
	if err := s.hitIP(ctx, in.IP, now); err != nil {
		return nil, err
	}
	id := s.signInIDOf(in.Token)
	if id == "" {
		return nil, ErrNoSignIn
	}
	c, err := s.takeCeremony(ctx, in.Ceremony, ceremonySecondFactor, id)
	if err != nil {
		return nil, err
	}
	// Verified before the transaction (it reads only what the ceremony
	// names); counted, recorded and finished inside it.
	var pk *Passkey
	var check error
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Response)
	if err != nil {
		check = refused("the answer could not be read", nil)
	} else {
		check = s.checkSecondFactorPasskey(ctx, c, parsed, &pk)
	}
	var res *SignInResult
	var ended *Session
	var verdict error
	var stored uint32
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		res, ended, verdict = nil, nil, nil
		p, err := s.pendingIn(t, id)
		if err != nil {
			return err
		}
		if p.Step != StepSecondFactor || p.UserID != c.UserID {
			return ErrNoSignIn
		}
		if _, _, err := s.mayFinish(t, p, now); err != nil {
			return err
		}
		k := s.limitKey(ScopeSecondFactor, "", "user:"+p.UserID)
		a, wait, err := attemptWait(t, k, now)
		if err != nil {
			return err
		}
		if wait > 0 {
			verdict = &RateLimitError{RetryAfter: wait, Scope: ScopeSecondFactor}
			return nil
		}
		verdict = check
		if verdict == nil {
			stored, err = s.recordUseIn(t, pk.ID, parsed, in.IP, in.UserAgent, now)
			switch {
			case errors.Is(err, errCounter):
				verdict = errCounter
			case errors.Is(err, kv.ErrNotFound):
				verdict = refused("unknown credential", nil)
			case err != nil:
				return err
			}
		}
		if verdict != nil {
			return countFailure(t, k, a, now)
		}
		if err := t.Delete(k); err != nil {
			return err
		}
		amr := addAMR(p.AMR, AMRHardwareKey)
		if parsed.Response.AuthenticatorData.Flags.HasUserVerified() {
			amr = addAMR(amr, AMRUserVerified)
		}
		res, ended, err = s.finishIn(t, p, ACRSecondFactor, amr, now)
		return err
	})
	if errors.Is(verdict, errCounter) {
		s.logCounterRegression(pk, stored, parsed.Response.AuthenticatorData.Counter)
		verdict = refused("signature counter did not advance", pk)
	}
	return s.finished(ctx, id, res, ended, verdict, err, now)
}

// checkSecondFactorPasskey verifies an assertion for the second-factor
// ceremony c: the credential must be one of the ceremony's user's
// passkeys. It sets *pk to that passkey.
func (s *Service) checkSecondFactorPasskey(ctx context.Context, c *ceremony, parsed *protocol.ParsedCredentialAssertionData, pk **Passkey) error {
	var u *User
	var all []*Passkey
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		if u, err = s.users.Get(t, c.UserID); err != nil {
			return err
		}
		all, err = s.userPasskeys(t, c.UserID)
		return err
	})
	if errors.Is(err, kv.ErrNotFound) {
		return refused("the account is gone", nil)
	}
	if err != nil {
		return fmt.Errorf("second factor: passkeys: %w", err)
	}
	for _, p := range all {
		if string(p.CredentialID) == string(parsed.RawID) {
			*pk = p
			return s.verifyAssertion(c, parsed, u, all, p, false)
		}
	}
	// Someone else's passkey, or nobody's: the same refusal.
	return refused("not one of the user's passkeys", nil)
}
