package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// Passkey is a WebAuthn credential a user registered: what is needed to
// check its assertions (credential id, public key, signature counter,
// backup flags) and what the user sees on the passkeys page. Nothing in it
// is a secret; it is keyed by a random id of Clinch's own, which is what
// pages and URLs name, never the credential id.
type Passkey struct {
	ID           string `json:"id"`
	UserID       string `json:"user_id"`
	Name         string `json:"name"`
	CredentialID []byte `json:"credential_id"`
	// PublicKey is the COSE-encoded credential public key.
	PublicKey       []byte   `json:"public_key"`
	AttestationType string   `json:"attestation_type,omitempty"`
	AAGUID          []byte   `json:"aaguid,omitempty"`
	Transports      []string `json:"transports,omitempty"`
	// SignCount is the highest signature counter seen; an assertion must
	// go past it unless both are zero (authenticators that keep no counter).
	SignCount      uint32 `json:"sign_count"`
	BackupEligible bool   `json:"backup_eligible"`
	BackupState    bool   `json:"backup_state"`
	// UserVerified: the authenticator verified the user (PIN, biometrics)
	// when the passkey was registered.
	UserVerified bool      `json:"user_verified"`
	CreatedAt    time.Time `json:"created_at"`
	LastUsedAt   time.Time `json:"last_used_at,omitzero"`
	LastIP       string    `json:"last_ip,omitempty"`
	LastDevice   string    `json:"last_device,omitempty"`
}

// MaxPasskeyName is the longest passkey name, in characters.
const MaxPasskeyName = 64

// credKey is how a credential id is indexed.
func credKey(id []byte) string { return base64.RawURLEncoding.EncodeToString(id) }

// NormalizePasskeyName trims a passkey's name and checks it: at most
// MaxPasskeyName characters of printable text. An empty name is returned
// as it is; callers pick a default.
func NormalizePasskeyName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", invalid("name", "is not valid text")
	}
	if utf8.RuneCountInString(s) > MaxPasskeyName {
		return "", invalid("name", fmt.Sprintf("is longer than %d characters", MaxPasskeyName))
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", invalid("name", "may not contain control characters")
	}
	return s, nil
}

// UserPasskeys lists a user's passkeys, oldest first.
func (s *Service) UserPasskeys(ctx context.Context, userID string) ([]*Passkey, error) {
	var out []*Passkey
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		out, err = s.userPasskeys(t, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return out, nil
}

func (s *Service) userPasskeys(t *kv.Txn, userID string) ([]*Passkey, error) {
	var out []*Passkey
	prefix := kv.PrefixPasskeyByUser.Key(userID + "/")
	err := t.Scan(prefix, func(k, _ []byte) error {
		p, err := s.passkeys.Get(t, string(k[len(prefix):]))
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	slices.SortFunc(out, func(a, b *Passkey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}

// RenamePasskey renames one of the user's passkeys. Another user's passkey
// is ErrNotFound, exactly like a missing one.
func (s *Service) RenamePasskey(ctx context.Context, userID, id, name string) error {
	n, err := NormalizePasskeyName(name)
	if err != nil {
		return err
	}
	if n == "" {
		return invalid("name", "is required")
	}
	return s.store.Update(ctx, func(t *kv.Txn) error {
		p, err := s.ownPasskey(t, userID, id)
		if err != nil {
			return err
		}
		p.Name = n
		return s.passkeys.Put(t, p, 0)
	})
}

// DeletePasskey deletes one of the user's passkeys: from then on it signs
// nobody in. Another user's passkey is ErrNotFound, exactly like a missing
// one, so nobody learns that an id exists. The last second factor of a
// user who must have one is not deleted (ErrSecondFactorRequired).
func (s *Service) DeletePasskey(ctx context.Context, userID, id string) error {
	var name, email string
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		p, err := s.ownPasskey(t, userID, id)
		if err != nil {
			return err
		}
		if err := s.keepsSecondFactor(t, userID, id); err != nil {
			return err
		}
		if u, err := s.users.Get(t, userID); err == nil {
			email = u.Email
		}
		name = p.Name
		return s.deletePasskey(t, p)
	})
	if err == nil {
		s.announce(ctx, EventPasskeyRemoved, userID, nil, name)
		s.Audit(ctx, audit.Event{Kind: audit.PasskeyRemoved, Subject: userID, Email: email, Detail: map[string]string{"passkey": id, "name": name}})
	}
	return err
}

// keepsSecondFactor fails with ErrSecondFactorRequired when the user must
// have a second factor and the passkey with the id is their last one.
func (s *Service) keepsSecondFactor(t *kv.Txn, userID, id string) error {
	u, err := s.users.Get(t, userID)
	if err != nil {
		return mapKV(err, "user")
	}
	by, err := s.requirement(t, u)
	if err != nil || len(by) == 0 {
		return err
	}
	f, err := s.factorsIn(t, userID)
	if err != nil || f.has() {
		return err
	}
	ps, err := s.userPasskeys(t, userID)
	if err != nil {
		return err
	}
	if len(ps) == 1 && ps[0].ID == id {
		return ErrSecondFactorRequired
	}
	return nil
}

// ownPasskey returns the passkey with the id when userID owns it, and
// ErrNotFound otherwise.
func (s *Service) ownPasskey(t *kv.Txn, userID, id string) (*Passkey, error) {
	p, err := s.passkeys.Get(t, id)
	if errors.Is(err, kv.ErrNotFound) || err == nil && p.UserID != userID {
		return nil, fmt.Errorf("passkey: %w", ErrNotFound)
	}
	return p, err
}

func (s *Service) deletePasskey(t *kv.Txn, p *Passkey) error {
	if err := t.Delete(kv.PrefixPasskeyByUser.Key(p.UserID + "/" + p.ID)); err != nil {
		return err
	}
	return s.passkeys.Delete(t, p.ID)
}

// deleteUserPasskeys removes every passkey of the user, inside a
// transaction that deletes the user or resets their second factors.
func (s *Service) deleteUserPasskeys(t *kv.Txn, userID string) error {
	ps, err := s.userPasskeys(t, userID)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if err := s.deletePasskey(t, p); err != nil {
			return err
		}
	}
	return nil
}

// passkeyByCredential returns the passkey with the credential id, or
// kv.ErrNotFound.
func (s *Service) passkeyByCredential(t *kv.Txn, credID []byte) (*Passkey, error) {
	if len(credID) == 0 {
		return nil, kv.ErrNotFound
	}
	return s.passkeys.GetBy(t, kv.PrefixPasskeyByCred, credKey(credID))
}
