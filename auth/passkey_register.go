package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// BeginPasskeyRegistration starts adding a passkey for the signed-in user
// u in session sess. The passkey is discoverable (so it can sign in
// without a password), user verification is preferred, no attestation is
// asked for, and the user's passkeys are excluded so one authenticator is
// not registered twice. The ceremony is bound to the session.
//
// The session alone is not enough: password must be the user's current
// password, checked and counted like a sign-in from the address ip
// (ErrPasswordRequired, ErrInvalidCredentials, *RateLimitError), before
// any challenge exists. FinishPasskeyRegistration takes only a ceremony
// begun here, so no passkey is added without that check.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, u *User, sess *Session, password, ip string) (*PasskeyChallenge, error) {
	if s.rp == nil {
		return nil, ErrPasskeysOff
	}
	if u == nil || sess == nil || sess.UserID != u.ID {
		return nil, errors.New("auth: passkey registration needs the user's own session")
	}
	if err := s.confirmPassword(ctx, u.ID, password, ip); err != nil {
		return nil, err
	}
	existing, err := s.UserPasskeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	creation, data, err := s.rp.BeginRegistration(waUser{u: u},
		webauthn.WithExclusions(descriptors(existing)),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationPreferred,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
	)
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return s.startCeremony(ctx, ceremonyRegister, sess.ID, u.ID, data, creation.Response)
}

// PasskeyRegistration is the browser's answer to BeginPasskeyRegistration.
type PasskeyRegistration struct {
	User    *User
	Session *Session
	// Ceremony is the token BeginPasskeyRegistration returned.
	Ceremony string
	// Response is the PublicKeyCredential from navigator.credentials.create,
	// as JSON.
	Response []byte
	// Name is what the user calls the passkey; empty: the device's name.
	Name      string
	UserAgent string
}

// FinishPasskeyRegistration checks the browser's answer against the
// ceremony of the same session (challenge, origin, RP ID, user presence)
// and keeps the new passkey. A credential already registered, to anyone,
// is ErrConflict.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, in PasskeyRegistration) (*Passkey, error) {
	if s.rp == nil {
		return nil, ErrPasskeysOff
	}
	name, err := NormalizePasskeyName(in.Name)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = DeviceName(in.UserAgent)
	}
	if in.User == nil || in.Session == nil || in.Session.UserID != in.User.ID {
		return nil, ErrPasskeyCeremony
	}
	c, err := s.takeCeremony(ctx, in.Ceremony, ceremonyRegister, in.Session.ID)
	if err != nil {
		return nil, err
	}
	if c.UserID != in.User.ID || !bytes.Equal(c.Data.UserID, []byte(in.User.ID)) {
		return nil, ErrPasskeyCeremony
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Response)
	if err != nil {
		return nil, refused("the answer could not be read", nil)
	}
	switch {
	case parsed.Response.CollectedClientData.CrossOrigin:
		return nil, refused("made in a cross-origin frame", nil)
	case !parsed.Response.AttestationObject.AuthData.Flags.HasUserPresent():
		return nil, refused("no user presence (UP flag)", nil)
	}
	cred, err := s.rp.CreateCredential(waUser{u: in.User}, c.Data, parsed)
	if err != nil {
		return nil, refused("registration not verified: "+protocolDetails(err), nil)
	}
	transports := make([]string, len(cred.Transport))
	for i, t := range cred.Transport {
		transports[i] = string(t)
	}
	p := &Passkey{
		ID: NewID(), UserID: in.User.ID, Name: name,
		CredentialID: cred.ID, PublicKey: cred.PublicKey, AttestationType: cred.AttestationType,
		AAGUID: cred.Authenticator.AAGUID, Transports: transports, SignCount: cred.Authenticator.SignCount,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		UserVerified: cred.Flags.UserVerified, CreatedAt: s.now().UTC(),
	}
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		// The user may have been deleted while the browser was asking.
		if _, err := s.users.Get(t, in.User.ID); err != nil {
			return mapKV(err, "user")
		}
		if err := s.passkeys.Put(t, p, 0); err != nil {
			return mapKV(err, "passkey")
		}
		return t.Set(kv.PrefixPasskeyByUser.Key(p.UserID+"/"+p.ID), nil, 0)
	})
	if err != nil {
		return nil, err
	}
	e := userEvent(audit.PasskeyAdded, in.User)
	e.Actor, e.Detail = in.User.ID, map[string]string{"passkey": p.ID, "name": p.Name}
	s.Audit(ctx, e)
	return p, nil
}

// protocolDetails is go-webauthn's short description of what failed,
// without the debugging information that quotes the challenge.
func protocolDetails(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Details
	}
	return "invalid"
}
