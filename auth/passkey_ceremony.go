package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/clinchsso/clinch/kv"
)

// PrefixCeremonyToken marks the token that names a WebAuthn ceremony
// between its start and the browser's answer.
const PrefixCeremonyToken = "cwc_"

// A ceremony is one registration or sign-in with a passkey between the
// options Clinch hands the browser and the browser's answer. Its state,
// the challenge above all, stays on the server under the HMAC of a token
// that only the page that asked for it holds; the answer names the token,
// and nothing else the client sends is believed. A ceremony is bound to
// what started it (the browser, the signed-in session, or the pending
// sign-in) and is used up by the first answer, right or wrong.
type ceremonyKind string

const (
	ceremonyRegister     ceremonyKind = "register"
	ceremonySignIn       ceremonyKind = "signin"
	ceremonySecondFactor ceremonyKind = "second-factor"
)

type ceremony struct {
	Kind ceremonyKind `json:"kind"`
	// Binding is the MAC of what the ceremony is bound to.
	Binding string `json:"binding"`
	// UserID: the user a registration or second factor is for.
	UserID    string               `json:"uid,omitempty"`
	Data      webauthn.SessionData `json:"data"`
	ExpiresAt time.Time            `json:"exp"`
}

// PasskeyChallenge is what a page needs to run a ceremony: the options
// for navigator.credentials (create or get) and the token that names the
// ceremony when the answer comes back.
type PasskeyChallenge struct {
	Ceremony string          `json:"ceremony"`
	Options  json.RawMessage `json:"publicKey"`
}

func (s *Service) bindingMAC(kind ceremonyKind, binding string) string {
	return base64.RawURLEncoding.EncodeToString(s.secrets.MAC("passkey-ceremony/"+string(kind), []byte(binding)))
}

// startCeremony keeps the state of a new ceremony for PasskeyCeremonyTTL
// and returns what the browser needs.
func (s *Service) startCeremony(ctx context.Context, kind ceremonyKind, binding, userID string, data *webauthn.SessionData, options any) (*PasskeyChallenge, error) {
	if binding == "" {
		return nil, errors.New("auth: a passkey ceremony must be bound to something")
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("passkey options: %w", err)
	}
	rec, err := json.Marshal(ceremony{
		Kind: kind, Binding: s.bindingMAC(kind, binding), UserID: userID,
		Data: *data, ExpiresAt: s.now().Add(PasskeyCeremonyTTL),
	})
	if err != nil {
		return nil, fmt.Errorf("passkey ceremony: %w", err)
	}
	tok, hash := s.secrets.NewToken(PrefixCeremonyToken)
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		return t.Set(kv.PrefixPasskeyCeremony.Key(hash), rec, PasskeyCeremonyTTL)
	})
	if err != nil {
		return nil, fmt.Errorf("passkey ceremony: %w", err)
	}
	return &PasskeyChallenge{Ceremony: tok, Options: opts}, nil
}

// takeCeremony uses up the ceremony the token names and returns it when it
// is of the kind, bound to binding, and not expired; otherwise
// ErrPasskeyCeremony. It is deleted either way: a challenge is answered
// once.
func (s *Service) takeCeremony(ctx context.Context, token string, kind ceremonyKind, binding string) (*ceremony, error) {
	if !HasPrefix(token, PrefixCeremonyToken) || binding == "" {
		return nil, ErrPasskeyCeremony
	}
	key := kv.PrefixPasskeyCeremony.Key(s.secrets.Hash(token))
	var b []byte
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		if b, err = t.Get(key); err != nil {
			return err
		}
		return t.Delete(key)
	})
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrPasskeyCeremony
	}
	if err != nil {
		return nil, fmt.Errorf("passkey ceremony: %w", err)
	}
	var c ceremony
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, ErrPasskeyCeremony
	}
	want := s.bindingMAC(kind, binding)
	if c.Kind != kind || subtle.ConstantTimeCompare([]byte(c.Binding), []byte(want)) != 1 || !s.now().Before(c.ExpiresAt) {
		return nil, ErrPasskeyCeremony
	}
	return &c, nil
}
