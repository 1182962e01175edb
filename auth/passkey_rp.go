package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// PasskeyConfig says where passkeys work.
type PasskeyConfig struct {
	// RPID is the WebAuthn relying party id: CLINCH_HOST's host or a parent
	// domain of it (CLINCH_WEBAUTHN_RP_ID). Empty turns passkeys off (an
	// IP address cannot be one).
	RPID string
	// Origin is CLINCH_HOST's origin, the only one a ceremony may come
	// from.
	Origin string
	// RPName is what authenticators show; "Clinch" when empty.
	RPName string
}

// PasskeyCeremonyTTL is how long a started registration or sign-in with a
// passkey waits for the browser's answer. The browser is told the same.
const PasskeyCeremonyTTL = 5 * time.Minute

// Passkey errors; match with errors.Is.
var (
	// ErrPasskeysOff: no relying party id is configured.
	ErrPasskeysOff = errors.New("passkeys are not available on this server (CLINCH_HOST is an IP address and CLINCH_WEBAUTHN_RP_ID is not set)")
	// ErrPasskeyCeremony: the ceremony the browser answers is unknown,
	// used, expired, or was started by another browser, session or user.
	ErrPasskeyCeremony = errors.New("the passkey request has expired or was started elsewhere")
	// ErrPasskeyRefused: the browser's answer did not prove a passkey of
	// an active user. One error for every cause, so nobody learns whether
	// an account or a credential exists; PasskeyError says why, for logs.
	ErrPasskeyRefused = errors.New("the passkey was not accepted")
)

// PasskeyError is why a passkey was refused, for the log. It matches
// ErrPasskeyRefused. Reason is Clinch's own short text: no challenge,
// credential or key material.
type PasskeyError struct {
	Reason    string
	PasskeyID string // "" when no registered passkey was named
	UserID    string
}

func (e *PasskeyError) Error() string     { return "passkey refused: " + e.Reason }
func (e *PasskeyError) Is(err error) bool { return err == ErrPasskeyRefused }

func refused(reason string, p *Passkey) error {
	e := &PasskeyError{Reason: reason}
	if p != nil {
		e.PasskeyID, e.UserID = p.ID, p.UserID
	}
	return e
}

// newRelyingParty builds the WebAuthn relying party, or nil when passkeys
// are off.
func newRelyingParty(c PasskeyConfig) (*webauthn.WebAuthn, error) {
	if c.RPID == "" {
		return nil, nil
	}
	if c.Origin == "" {
		return nil, errors.New("auth: passkeys need the origin (CLINCH_HOST)")
	}
	name := c.RPName
	if name == "" {
		name = "Clinch"
	}
	rp, err := webauthn.New(&webauthn.Config{
		RPID:          c.RPID,
		RPDisplayName: name,
		RPOrigins:     []string{c.Origin},
		// Clinch's pages cannot be framed (frame-ancestors 'none') and a
		// cross-origin answer is refused outright (see crossOrigin), so a
		// top origin, if ever sent, must be Clinch's own.
		RPTopOriginVerificationMode: protocol.TopOriginImplicitVerificationMode,
		AttestationPreference:       protocol.PreferNoAttestation,
		Timeouts: webauthn.TimeoutsConfig{
			// Told to the browser; Clinch enforces its own expiry on its
			// own clock (the ceremony record).
			Login:        webauthn.TimeoutConfig{Timeout: PasskeyCeremonyTTL, TimeoutUVD: PasskeyCeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: PasskeyCeremonyTTL, TimeoutUVD: PasskeyCeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: passkeys: %w", err)
	}
	return rp, nil
}

// PasskeysEnabled reports whether passkeys can be registered and used.
func (s *Service) PasskeysEnabled() bool { return s.rp != nil }

// waUser is a user as go-webauthn sees one. The user handle is the user's
// id: random, and nothing personal.
type waUser struct {
	u     *User
	creds []webauthn.Credential
}

func (w waUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w waUser) WebAuthnName() string                       { return w.u.Login() }
func (w waUser) WebAuthnDisplayName() string                { return w.u.Name() }
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// credential is the passkey as go-webauthn checks it.
func (p *Passkey) credential() webauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, len(p.Transports))
	for i, t := range p.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:              p.CredentialID,
		PublicKey:       p.PublicKey,
		AttestationType: p.AttestationType,
		Transport:       ts,
		Flags: webauthn.CredentialFlags{
			UserPresent:    true,
			UserVerified:   p.UserVerified,
			BackupEligible: p.BackupEligible,
			BackupState:    p.BackupState,
		},
		Authenticator: webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
}

// descriptors lists passkeys as the browser is told about them (allowed
// for a sign-in, excluded from a registration).
func descriptors(ps []*Passkey) []protocol.CredentialDescriptor {
	out := make([]protocol.CredentialDescriptor, len(ps))
	for i, p := range ps {
		out[i] = p.credential().Descriptor()
	}
	return out
}

// counterAdvances reports whether an assertion's signature counter is
// acceptable after the stored one: it must go past a non-zero stored
// value; zero after zero is an authenticator that keeps no counter.
func counterAdvances(stored, got uint32) bool {
	return got > stored || stored == 0 && got == 0
}
