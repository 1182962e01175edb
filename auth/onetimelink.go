package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinchsso/clinch/kv"
)

// linkRecord is what every one-time link (invitation, password reset,
// sign-in link) keeps under the HMAC of its token.
type linkRecord interface {
	owner() string
	expiry() time.Time
}

func (r *inviteRecord) owner() string     { return r.UserID }
func (r *inviteRecord) expiry() time.Time { return r.ExpiresAt }
func (r *resetRecord) owner() string      { return r.UserID }
func (r *resetRecord) expiry() time.Time  { return r.ExpiresAt }
func (r *magicRecord) owner() string      { return r.UserID }
func (r *magicRecord) expiry() time.Time  { return r.ExpiresAt }

// readLink reads, inside t, the live record of a one-time link token with
// the token prefix tokenPrefix stored under key, and the user it is for.
// An unknown, malformed or expired token, or a user who is gone, is
// ErrNotFound naming what; the caller then checks what its kind of link
// needs of the user (status, version).
func readLink[R any, P interface {
	*R
	linkRecord
}](s *Service, t *kv.Txn, token, tokenPrefix string, key kv.Prefix, what string) (*User, P, error) {
	notFound := fmt.Errorf("%s: %w", what, ErrNotFound)
	if !HasPrefix(token, tokenPrefix) {
		return nil, nil, notFound
	}
	b, err := t.Get(key.Key(s.secrets.Hash(token)))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	rec := P(new(R))
	if err := json.Unmarshal(b, rec); err != nil || !s.now().Before(rec.expiry()) {
		return nil, nil, notFound
	}
	u, err := s.users.Get(t, rec.owner())
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	return u, rec, nil
}
