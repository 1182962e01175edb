package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// How sessions made with a passkey are recorded (RFC 8176 names).
const (
	// AMRHardwareKey: a proof of possession of a hardware-bound key.
	AMRHardwareKey = "hwk"
	// AMRUserVerified: the authenticator verified the user (PIN,
	// biometrics), as the UV flag says.
	AMRUserVerified = "user"
	// PasskeyACR is the acr of a session made with a user-verified
	// passkey alone.
	PasskeyACR = ACRSecondFactor
)

// PasskeyAMR is the amr of a session made with a user-verified passkey
// alone: a hardware-bound key, and the user verified by it.
func PasskeyAMR() []string { return []string{AMRHardwareKey, AMRUserVerified} }

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
	// RD, Authz, Previous and Pending as for SignIn: where the sign-in
	// goes, the session it replaces, the pending sign-in it replaces.
	RD, Authz         string
	Previous, Pending string
}

// SignInWithPasskey checks a passwordless sign-in and, when it is right,
// ends it with a session with acr PasskeyACR and amr PasskeyAMR: a
// user-verified passkey is a second factor in itself, so no other step
// follows.
//
// An unknown credential, a wrong signature, another origin, a missing UP
// or UV flag, a signature counter that went backwards and a disabled
// account are one error (ErrPasskeyRefused; PasskeyError says which, for
// the log). Attempts count against the client address like password
// sign-ins, and against the account the credential belongs to (or the
// credential id itself when it is nobody's).
func (s *Service) SignInWithPasskey(ctx context.Context, in PasskeySignIn) (*SignInResult, error) {
	res, err := s.signInWithPasskey(ctx, in)
	s.auditPasskeyRefusal(ctx, err, in.IP)
	return res, err
}

// auditPasskeyRefusal records a refused passkey as a failed sign-in, naming
// the passkey's owner when the credential is registered.
func (s *Service) auditPasskeyRefusal(ctx context.Context, err error, ip string) {
	var pe *PasskeyError
	if errors.As(err, &pe) {
		s.Audit(ctx, audit.Event{Kind: audit.SignInFailed, Subject: pe.UserID, IP: ip, Reason: "passkey: " + pe.Reason})
	}
}

func (s *Service) signInWithPasskey(ctx context.Context, in PasskeySignIn) (*SignInResult, error) {
	if s.rp == nil {
		return nil, ErrPasskeysOff
	}
	now := s.now()
	if err := s.hitIP(ctx, in.IP, now); err != nil {
		return nil, err
	}
	c, err := s.takeCeremony(ctx, in.Ceremony, ceremonySignIn, in.Binding)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(in.Response)
	if err != nil {
		return nil, refused("the answer could not be read", nil)
	}
	pk, u, err := s.passkeyOwner(ctx, parsed.RawID)
	if err != nil {
		return nil, err
	}
	subject := "passkey:" + credKey(parsed.RawID)
	if u != nil {
		subject = accountSubject(u, "")
	}
	if err := s.reserveAttempt(ctx, subject, now); err != nil {
		return nil, err
	}
	if pk == nil {
		return nil, refused("unknown credential", nil)
	}
	if err := s.verifyAssertion(c, parsed, u, []*Passkey{pk}, pk, true); err != nil {
		return nil, err
	}
	p := &PendingSignIn{
		UserID: u.ID, AMR: PasskeyAMR(), Remember: in.Remember, RD: in.RD, Authz: in.Authz,
		IP: in.IP, UserAgent: in.UserAgent, Replaces: s.sessionIDOf(in.Previous), CreatedAt: now,
		// Unchanged until the session is made (a password change meanwhile
		// ends every sign-in under way, this one too).
		PasswordVersion: u.PasswordVersion,
	}
	var res *SignInResult
	var ended *Session
	var stored uint32
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		res, ended = nil, nil
		var err error
		if stored, err = s.recordUseIn(t, pk.ID, parsed, in.IP, in.UserAgent, now); err != nil {
			return err
		}
		res, ended, err = s.finishIn(t, p, PasskeyACR, p.AMR, now)
		return err
	})
	switch {
	case errors.Is(err, errCounter):
		s.logCounterRegression(pk, stored, parsed.Response.AuthenticatorData.Counter)
		return nil, refused("signature counter did not advance", pk)
	case errors.Is(err, kv.ErrNotFound):
		return nil, refused("unknown credential", nil) // deleted while the browser was asking
	case errors.Is(err, ErrNoSignIn):
		return nil, refused("the account cannot sign in now (disabled, or changed meanwhile)", pk)
	}
	if res, err = s.finished(ctx, "", res, ended, nil, err, now); err != nil {
		return nil, err
	}
	if err := s.clearAttempts(ctx, subject); err != nil {
		s.log.Warn("auth: failed sign-ins not cleared after a success", "user_id", u.ID, "err", err)
	}
	s.CancelSignIn(ctx, in.Pending)
	return res, nil
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

// verifyAssertion verifies an assertion of passkey pk of user u (whose
// passkeys are all) against the ceremony c: no cross-origin frame, the UP
// flag always and the UV flag when uv, then challenge, origin, RP ID,
// signature and backup flags (go-webauthn), and a signature counter that
// advances past the stored one. It writes nothing: recordUseIn does,
// checking the counter again.
func (s *Service) verifyAssertion(c *ceremony, parsed *protocol.ParsedCredentialAssertionData, u *User, all []*Passkey, pk *Passkey, uv bool) error {
	flags := parsed.Response.AuthenticatorData.Flags
	switch {
	case parsed.Response.CollectedClientData.CrossOrigin:
		return refused("made in a cross-origin frame", pk)
	case !flags.HasUserPresent():
		return refused("no user presence (UP flag)", pk)
	case uv && !flags.HasUserVerified():
		return refused("no user verification (UV flag)", pk)
	}
	creds := make([]webauthn.Credential, len(all))
	for i, p := range all {
		creds[i] = p.credential()
	}
	wu := waUser{u: u, creds: creds}
	var cred *webauthn.Credential
	var err error
	if len(c.Data.UserID) == 0 {
		_, cred, err = s.rp.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return wu, nil }, c.Data, parsed)
	} else {
		cred, err = s.rp.ValidateLogin(wu, c.Data, parsed)
	}
	if err != nil {
		return refused("assertion not verified: "+protocolDetails(err), pk)
	}
	if got := parsed.Response.AuthenticatorData.Counter; cred.Authenticator.CloneWarning || !counterAdvances(pk.SignCount, got) {
		s.logCounterRegression(pk, pk.SignCount, got)
		return refused("signature counter did not advance", pk)
	}
	return nil
}

// recordUseIn records, inside a transaction, a verified use of the passkey
// with the id: its new signature counter and backup state, when, from
// where and which device. It fails with errCounter, writing nothing, when
// another answer moved the counter first (it returns the stored value
// then), and kv.ErrNotFound when the passkey is gone.
func (s *Service) recordUseIn(t *kv.Txn, id string, parsed *protocol.ParsedCredentialAssertionData, ip, ua string, now time.Time) (uint32, error) {
	cur, err := s.passkeys.Get(t, id)
	if err != nil {
		return 0, err
	}
	got := parsed.Response.AuthenticatorData.Counter
	if !counterAdvances(cur.SignCount, got) {
		return cur.SignCount, errCounter
	}
	cur.SignCount = got
	cur.BackupState = parsed.Response.AuthenticatorData.Flags.HasBackupState()
	cur.LastUsedAt, cur.LastIP, cur.LastDevice = now.UTC(), ip, DeviceName(ua)
	return got, s.passkeys.Put(t, cur, 0)
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
