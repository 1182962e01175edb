// Package passkeytest is a software WebAuthn authenticator for tests: it
// answers the options Clinch hands the browser the way
// navigator.credentials.create and get would (ES256 keys, "none"
// attestation), and can be told to misbehave: another origin, no UP or UV
// flag, a chosen signature counter, someone else's credential id.
package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Authenticator data flags.
const (
	flagUP byte = 0x01
	flagUV byte = 0x04
	flagAT byte = 0x40
)

// Authenticator holds discoverable credentials, like a platform
// authenticator. The zero value is ready; Origin is the page's origin.
type Authenticator struct {
	Origin string
	keys   []*Key
}

// Key is one credential the authenticator holds.
type Key struct {
	ID         []byte
	UserHandle []byte
	RPID       string
	// Counter is the signature counter; Get adds one before signing
	// unless Answer.Counter says otherwise.
	Counter uint32
	priv    *ecdsa.PrivateKey
}

// Answer changes how the authenticator answers, to play an attacker or a
// broken authenticator. The zero value answers correctly, with UP and UV.
type Answer struct {
	Origin      string  // clientData origin; "" is the authenticator's Origin
	CrossOrigin bool    // clientData crossOrigin
	NoUP        bool    // leave the user-presence flag out
	NoUV        bool    // leave the user-verification flag out
	Counter     *uint32 // sign with this counter (and keep it)
	Challenge   []byte  // sign this challenge instead of the one asked
	// CredentialID: Create makes a credential with this id; Get names it
	// in the answer instead of the key's own (the signature stays the
	// key's).
	CredentialID []byte
	// UserHandle is sent instead of the key's.
	UserHandle []byte
	// RPID is hashed into the authenticator data instead of the options'.
	RPID string
}

// Keys returns the credentials the authenticator holds.
func (a *Authenticator) Keys() []*Key { return a.keys }

// NewKey makes a credential for rpID that no server has seen.
func (a *Authenticator) NewKey(rpID string) (*Key, error) {
	challenge := make([]byte, 32)
	rand.Read(challenge)
	opts, err := json.Marshal(map[string]any{
		"rp": map[string]string{"id": rpID}, "user": map[string]string{"id": base64.RawURLEncoding.EncodeToString([]byte("nobody"))},
		"challenge": base64.RawURLEncoding.EncodeToString(challenge),
	})
	if err != nil {
		return nil, err
	}
	if _, err := a.Create(opts, Answer{}); err != nil {
		return nil, err
	}
	return a.keys[len(a.keys)-1], nil
}

type creationOptions struct {
	RP struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Challenge string `json:"challenge"`
}

// Create answers navigator.credentials.create's options (the publicKey
// member, as JSON) with a new credential, as the JSON a page posts.
func (a *Authenticator) Create(options []byte, ans Answer) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: creation options: %w", err)
	}
	challenge, err := base64.RawURLEncoding.DecodeString(o.Challenge)
	if err != nil {
		return nil, fmt.Errorf("passkeytest: challenge: %w", err)
	}
	handle, err := base64.RawURLEncoding.DecodeString(o.User.ID)
	if err != nil {
		return nil, fmt.Errorf("passkeytest: user id: %w", err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	k := &Key{ID: make([]byte, 16), UserHandle: handle, RPID: o.RP.ID, priv: priv}
	rand.Read(k.ID)
	if ans.CredentialID != nil {
		k.ID = ans.CredentialID
	}
	cose, err := coseKey(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 16, 16+2+len(k.ID)+len(cose)) // AAGUID: zero
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.ID)))
	attested = append(attested, k.ID...)
	attested = append(attested, cose...)
	authData := a.authData(k, o.RP.ID, ans, flagAT, 0, attested)
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	cdj := a.clientData("webauthn.create", challenge, ans)
	a.keys = append(a.keys, k)
	return json.Marshal(map[string]any{
		"id": base64.RawURLEncoding.EncodeToString(k.ID), "rawId": base64.RawURLEncoding.EncodeToString(k.ID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    base64.RawURLEncoding.EncodeToString(cdj),
			"attestationObject": base64.RawURLEncoding.EncodeToString(obj),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
}

type requestOptions struct {
	Challenge        string `json:"challenge"`
	RPID             string `json:"rpId"`
	AllowCredentials []struct {
		ID string `json:"id"`
	} `json:"allowCredentials"`
}

// Get answers navigator.credentials.get's options (the publicKey member,
// as JSON) with an assertion of the first credential that fits (one of
// allowCredentials, or any for the RP ID), as the JSON a page posts.
func (a *Authenticator) Get(options []byte, ans Answer) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: request options: %w", err)
	}
	challenge, err := base64.RawURLEncoding.DecodeString(o.Challenge)
	if err != nil {
		return nil, fmt.Errorf("passkeytest: challenge: %w", err)
	}
	k := a.pick(o)
	if k == nil {
		return nil, fmt.Errorf("passkeytest: no credential for %q", o.RPID)
	}
	return a.Sign(k, o.RPID, challenge, ans)
}

func (a *Authenticator) pick(o requestOptions) *Key {
	for _, k := range a.keys {
		if k.RPID != o.RPID {
			continue
		}
		if len(o.AllowCredentials) == 0 {
			return k
		}
		for _, c := range o.AllowCredentials {
			if id, err := base64.RawURLEncoding.DecodeString(c.ID); err == nil && bytes.Equal(id, k.ID) {
				return k
			}
		}
	}
	return nil
}

// Sign makes an assertion with key k over challenge for rpID.
func (a *Authenticator) Sign(k *Key, rpID string, challenge []byte, ans Answer) ([]byte, error) {
	if ans.Counter != nil {
		k.Counter = *ans.Counter
	} else {
		k.Counter++
	}
	authData := a.authData(k, rpID, ans, 0, k.Counter, nil)
	cdj := a.clientData("webauthn.get", challenge, ans)
	h := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte(nil), authData...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		return nil, err
	}
	id, handle := k.ID, k.UserHandle
	if ans.CredentialID != nil {
		id = ans.CredentialID
	}
	if ans.UserHandle != nil {
		handle = ans.UserHandle
	}
	return json.Marshal(map[string]any{
		"id": base64.RawURLEncoding.EncodeToString(id), "rawId": base64.RawURLEncoding.EncodeToString(id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    base64.RawURLEncoding.EncodeToString(cdj),
			"authenticatorData": base64.RawURLEncoding.EncodeToString(authData),
			"signature":         base64.RawURLEncoding.EncodeToString(sig),
			"userHandle":        base64.RawURLEncoding.EncodeToString(handle),
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
}

func (a *Authenticator) authData(k *Key, rpID string, ans Answer, extra byte, counter uint32, attested []byte) []byte {
	if ans.RPID != "" {
		rpID = ans.RPID
	}
	h := sha256.Sum256([]byte(rpID))
	flags := extra
	if !ans.NoUP {
		flags |= flagUP
	}
	if !ans.NoUV {
		flags |= flagUV
	}
	b := append(h[:], flags)
	b = binary.BigEndian.AppendUint32(b, counter)
	return append(b, attested...)
}

func (a *Authenticator) clientData(typ string, challenge []byte, ans Answer) []byte {
	origin := a.Origin
	if ans.Origin != "" {
		origin = ans.Origin
	}
	if ans.Challenge != nil {
		challenge = ans.Challenge
	}
	b, _ := json.Marshal(map[string]any{
		"type": typ, "challenge": base64.RawURLEncoding.EncodeToString(challenge), "origin": origin, "crossOrigin": ans.CrossOrigin,
	})
	return b
}

func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	return webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         int64(webauthncose.P256),
		XCoord:        raw[1:33],
		YCoord:        raw[33:],
	})
}
