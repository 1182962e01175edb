package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// AdminToken authorizes the JSON admin API. Every token is an admin's: it
// is made only by `clinch admin token create`, which needs the data
// directory (its control socket or its store), so whoever holds one could
// run the admin commands anyway. It is not tied to a user, and nothing a
// signed-in person or an app can do makes one.
type AdminToken struct {
	ID         string    `json:"id"` // HMAC of the token
	Name       string    `json:"name"`
	Prefix     string    `json:"prefix"` // first characters of ID, shown in lists
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// ErrAdminToken: the bearer is not a live admin token (unknown, revoked,
// expired or not a token at all).
var ErrAdminToken = errors.New("not a valid admin API token")

var adminTokenNameRE = usernameRE

// CreateAdminToken makes an admin API token named name (default
// "token-<prefix>"), valid for ttl (0: until revoked). The token is
// returned this once; only its HMAC is kept.
func (s *Service) CreateAdminToken(ctx context.Context, name string, ttl time.Duration) (string, *AdminToken, error) {
	if ttl < 0 {
		return "", nil, invalid("expires", "must not be negative")
	}
	token, hash := s.secrets.NewToken(PrefixAdminToken)
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		name = "token-" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(hash[:8]))
	}
	if !adminTokenNameRE.MatchString(name) {
		return "", nil, invalid("name", "may contain only letters, digits, '.', '-' and '_' (up to 64, starting with a letter or digit)")
	}
	now := s.now().UTC()
	k := &AdminToken{ID: hash, Name: name, Prefix: hash[:apiKeyPrefixLen], CreatedAt: now}
	if ttl > 0 {
		k.ExpiresAt = now.Add(ttl)
	}
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		if err := s.adminTokens.Put(t, k, ttl); err != nil {
			return mapKV(err, "admin token named "+name)
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	s.Audit(ctx, adminTokenEvent(audit.AdminTokenCreated, k))
	return token, k, nil
}

// adminTokenEvent names the token by name and prefix, never the secret.
func adminTokenEvent(kind audit.Kind, k *AdminToken) audit.Event {
	d := map[string]string{"name": k.Name, "prefix": k.Prefix}
	if !k.ExpiresAt.IsZero() {
		d["expires_at"] = k.ExpiresAt.Format(time.RFC3339)
	}
	return audit.Event{Kind: kind, Detail: d}
}

// AdminTokens lists the live admin tokens, oldest first.
func (s *Service) AdminTokens(ctx context.Context) ([]*AdminToken, error) {
	var out []*AdminToken
	now := s.now()
	err := s.store.View(ctx, func(t *kv.Txn) error {
		return s.adminTokens.Each(t, func(k *AdminToken) error {
			if k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt) {
				out = append(out, k)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b *AdminToken) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// RevokeAdminToken deletes the admin token with the name, or with the id or
// listed prefix; give one of them. The next request with it gets 401.
func (s *Service) RevokeAdminToken(ctx context.Context, name, idOrPrefix string) (*AdminToken, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	idOrPrefix = strings.TrimSpace(idOrPrefix)
	if (name == "") == (idOrPrefix == "") {
		return nil, invalid("name", "or id is required (one of them)")
	}
	var gone *AdminToken
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		if name != "" {
			k, err := s.adminTokens.GetBy(t, kv.PrefixAdminTokenByName, name)
			if err != nil {
				return mapKV(err, "admin token named "+name)
			}
			gone = k
			return s.adminTokens.Delete(t, k.ID)
		}
		var matches []*AdminToken
		err := s.adminTokens.Each(t, func(k *AdminToken) error {
			if k.ID == idOrPrefix || k.Prefix == idOrPrefix {
				matches = append(matches, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		switch len(matches) {
		case 0:
			return fmt.Errorf("admin token %s: %w", idOrPrefix, ErrNotFound)
		case 1:
			gone = matches[0]
			return s.adminTokens.Delete(t, gone.ID)
		default:
			return invalid("id", "matches more than one token; give the full id")
		}
	})
	if err != nil {
		return nil, err
	}
	s.Audit(ctx, adminTokenEvent(audit.AdminTokenRevoked, gone))
	return gone, nil
}

// AdminTokenByToken returns the live admin token for a bearer secret, or an
// error matching ErrAdminToken. The lookup is by HMAC, and the stored hash
// is compared again in constant time, so the secret itself is never
// compared byte by byte.
func (s *Service) AdminTokenByToken(ctx context.Context, token string) (*AdminToken, error) {
	if !HasPrefix(token, PrefixAdminToken) || len(token) > 128 {
		return nil, ErrAdminToken
	}
	h := s.secrets.Hash(token)
	var k *AdminToken
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		k, err = s.adminTokens.Get(t, h)
		return err
	})
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrAdminToken
	}
	if err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(h), []byte(k.ID)) != 1 {
		return nil, ErrAdminToken
	}
	if !k.ExpiresAt.IsZero() && !s.now().Before(k.ExpiresAt) {
		return nil, ErrAdminToken
	}
	return k, nil
}

// TouchAdminToken records that the token was used, at most once a minute
// per token so a busy script does not write on every request.
func (s *Service) TouchAdminToken(ctx context.Context, k *AdminToken) error {
	now := s.now().UTC()
	if now.Sub(k.LastUsedAt) < time.Minute {
		return nil
	}
	return s.store.Update(ctx, func(t *kv.Txn) error {
		cur, err := s.adminTokens.Get(t, k.ID)
		if err != nil {
			return mapKV(err, "admin token")
		}
		cur.LastUsedAt = now
		var ttl time.Duration
		if !cur.ExpiresAt.IsZero() {
			if ttl = cur.ExpiresAt.Sub(now); ttl <= 0 {
				return nil
			}
		}
		return s.adminTokens.Put(t, cur, ttl)
	})
}
