package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/clinchsso/clinch/kv"
)

// PasskeyACR is the acr of a session made with a user-verified passkey.
const PasskeyACR = "2"

// PasskeyAMR is the amr of a session made with a user-verified passkey
// alone: a hardware-bound key, and the user verified by it.
func PasskeyAMR() []string { return []string{"hwk", "user"} }

// Begin limits: starting a ceremony writes a record, so a client address
// may start CeremonyAttempts of them per CeremonyWindow. Pages start one
// when they load (autofill) and one per click.
const (
	CeremonyAttempts = 60
	CeremonyWindow   = 3 * time.Minute
	// ScopeCeremony is RateLimitError.Scope for too many ceremonies.
	ScopeCeremony = "passkey-begin"
)

// BeginPasskeySignIn starts a sign-in with a discoverable passkey, for
// anybody: the browser offers the passkeys it holds for Clinch and the
// answer says whose it is. User verification is required. The ceremony is
// bound to binding, a value only this browser has (its CSRF cookie).
func (s *Service) BeginPasskeySignIn(ctx context.Context, binding, ip string) (*PasskeyChallenge, error) {
	if s.rp == nil {
		return nil, ErrPasskeysOff
	}
	if err := s.hitWindow(ctx, ScopeCeremony, ip, CeremonyAttempts, CeremonyWindow, s.now()); err != nil {
		return nil, err
	}
	assertion, data, err := s.rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return s.startCeremony(ctx, ceremonySignIn, binding, "", data, assertion.Response)
}

// PasskeySignIn is the browser's answer to BeginPasskeySignIn.
type PasskeySignIn struct {
	Ceremony string
	// Response is the PublicKeyCredential from navigator.credentials.get,
	// as JSON.
	Response  []byte
	Binding   string
	IP        string
	UserAgent string
	Remember  bool
}

// SignInWithPasskey checks a passwordless sign-in and, when it is right,
// starts a session with acr PasskeyACR and amr PasskeyAMR.
//
// An unknown credential, a wrong signature, another origin, a missing UP
// or UV flag, a signature counter that went backwards and a disabled
// account are one error (ErrPasskeyRefused; PasskeyError says which, for
// the log). Attempts count against the client address like password
// sign-ins, and against the account the credential belongs to (or the
// credential id itself when it is nobody's).
func (s *Service) SignInWithPasskey(ctx context.Context, in PasskeySignIn) (*User, *Session, string, error) {
	if s.rp == nil {
		return nil, nil, "", ErrPasskeysOff
	}
	now := s.now()
	if err := s.hitIP(ctx, in.IP, now); err != nil {
		return nil, nil, "", err
	}
	c, err := s.takeCeremony(ctx, in.Ceremony, ceremonySignIn, in.Binding)
	if err != nil {
		return nil, nil, "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Response)
	if err != nil {
		return nil, nil, "", refused("the answer could not be read", nil)
	}
	p, u, err := s.passkeyOwner(ctx, parsed.RawID)
	if err != nil {
		return nil, nil, "", err
	}
	subject := "passkey:" + credKey(parsed.RawID)
	if u != nil {
		subject = accountSubject(u, "")
	}
	if err := s.reserveAttempt(ctx, subject, now); err != nil {
		return nil, nil, "", err
	}
	if p == nil {
		return nil, nil, "", refused("unknown credential", nil)
	}
	if err := s.checkAssertion(ctx, c, parsed, p, u, true, in.IP, in.UserAgent); err != nil {
		return nil, nil, "", err
	}
	if u.Status != StatusActive {
		return nil, nil, "", refused("the account is not active", p)
	}
	if err := s.clearAttempts(ctx, subject); err != nil {
		s.log.Warn("auth: failed sign-ins not cleared after a success", "user_id", u.ID, "err", err)
	}
	sess, token, err := s.startSession(ctx, u, in.IP, in.UserAgent, in.Remember, PasskeyACR, PasskeyAMR(), nil)
	if err != nil {
		return nil, nil, "", err
	}
	return u, sess, token, nil
}

// passkeyOwner returns the passkey with the credential id and its user,
// or two nils when there is none.
func (s *Service) passkeyOwner(ctx context.Context, credID []byte) (*Passkey, *User, error) {
	var p *Passkey
	var u *User
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		if p, err = s.passkeyByCredential(t, credID); err != nil {
			return err
		}
		u, err = s.users.Get(t, p.UserID)
		return err
	})
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find passkey: %w", err)
	}
	return p, u, nil
}

// checkAssertion verifies an assertion of passkey p of user u against the
// ceremony c: challenge, origin (and no cross-origin frame), RP ID, the UP
// flag always and the UV flag when uv, the signature, the backup flags,
// and a signature counter that advances. It then records the use on the
// passkey, re-checking the counter in the same transaction so two answers
// cannot both pass with one value.
func (s *Service) checkAssertion(ctx context.Context, c *ceremony, parsed *protocol.ParsedCredentialAssertionData, p *Passkey, u *User, uv bool, ip, ua string) error {
	flags := parsed.Response.AuthenticatorData.Flags
	switch {
	case parsed.Response.CollectedClientData.CrossOrigin:
		return refused("made in a cross-origin frame", p)
	case !flags.HasUserPresent():
		return refused("no user presence (UP flag)", p)
	case uv && !flags.HasUserVerified():
		return refused("no user verification (UV flag)", p)
	}
	wu := waUser{u: u, creds: []webauthn.Credential{p.credential()}}
	var cred *webauthn.Credential
	var err error
	if len(c.Data.UserID) == 0 {
		_, cred, err = s.rp.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return wu, nil }, c.Data, parsed)
	} else {
		cred, err = s.rp.ValidateLogin(wu, c.Data, parsed)
	}
	if err != nil {
		return refused("assertion not verified: "+protocolDetails(err), p)
	}
	got := parsed.Response.AuthenticatorData.Counter
	if cred.Authenticator.CloneWarning || !counterAdvances(p.SignCount, got) {
		s.logCounterRegression(p, p.SignCount, got)
		return refused("signature counter did not advance", p)
	}
	now := s.now().UTC()
	var stored uint32
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		cur, err := s.passkeys.Get(t, p.ID)
		if err != nil {
			return err
		}
		if stored = cur.SignCount; !counterAdvances(stored, got) {
			return errCounter
		}
		cur.SignCount = got
		cur.BackupState = flags.HasBackupState()
		cur.LastUsedAt, cur.LastIP, cur.LastDevice = now, ip, DeviceName(ua)
		return s.passkeys.Put(t, cur, 0)
	})
	switch {
	case errors.Is(err, errCounter):
		s.logCounterRegression(p, stored, got)
		return refused("signature counter did not advance", p)
	case errors.Is(err, kv.ErrNotFound):
		// Deleted while the browser was asking.
		return refused("unknown credential", nil)
	case err != nil:
		return fmt.Errorf("record passkey use: %w", err)
	}
	return nil
}

// errCounter aborts the transaction that records a passkey's use when
// another answer moved its counter first.
var errCounter = errors.New("auth: passkey counter did not advance")

// logCounterRegression says, loudly, that a passkey's counter went
// backwards: its key may have been copied.
func (s *Service) logCounterRegression(p *Passkey, stored, got uint32) {
	s.log.Warn("passkey refused: its signature counter did not advance, so the key may have been cloned",
		"passkey_id", p.ID, "user_id", p.UserID, "stored_count", stored, "received_count", got)
}
