package auth

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/clinchsso/clinch/kv"
)

// FATokenTTL is how long an fa_token may wait for its first request.
const FATokenTTL = 60 * time.Second

// An fa_token lets the first request after sign-in through at one
// forward_auth host, before the browser sends the session cookie there. It
// is a credential like the others: only its HMAC is stored, it is used up
// on first use and lives a minute.
type faRecord struct {
	SessionID string    `json:"sid"`
	UserID    string    `json:"uid"`
	Host      string    `json:"host"`
	ExpiresAt time.Time `json:"exp"`
}

// errHostMismatch aborts the consuming transaction, so a token presented
// at the wrong host stays usable at the right one.
var errHostMismatch = errors.New("auth: fa_token for another host")

// NewFAToken mints an fa_token for sess, valid once at host (lower case,
// no port) for FATokenTTL.
func (s *Service) NewFAToken(ctx context.Context, sess *Session, host string) (string, error) {
	tok, hash := s.secrets.NewToken(PrefixFAToken)
	b, err := json.Marshal(faRecord{SessionID: sess.ID, UserID: sess.UserID, Host: host, ExpiresAt: s.now().Add(FATokenTTL)})
	if err != nil {
		return "", err
	}
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		return t.Set(kv.PrefixFAToken.Key(hash), b, FATokenTTL)
	})
	if err != nil {
		return "", err
	}
	return tok, nil
}

// ConsumeFAToken uses up an fa_token presented at host and returns its
// session id, or "" when it is unknown, used, expired or for another host
// (which leaves it in place for its own host).
func (s *Service) ConsumeFAToken(ctx context.Context, tok, host string) (string, error) {
	return s.ConsumeFATokenOf(ctx, tok, host, "")
}

// errOtherSession aborts the consuming transaction for a token of another
// session than the one asked for.
var errOtherSession = errors.New("auth: fa_token of another session")

// ConsumeFATokenOf is ConsumeFAToken that, when sessionID is set, uses up
// only a token of that session and leaves others in place.
func (s *Service) ConsumeFATokenOf(ctx context.Context, tok, host, sessionID string) (string, error) {
	if !HasPrefix(tok, PrefixFAToken) {
		return "", nil
	}
	key := kv.PrefixFAToken.Key(s.secrets.Hash(tok))
	var rec faRecord
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		b, err := t.Get(key)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return t.Delete(key)
		}
		if rec.Host != host {
			return errHostMismatch
		}
		if sessionID != "" && rec.SessionID != sessionID {
			return errOtherSession
		}
		return t.Delete(key)
	})
	switch {
	case errors.Is(err, kv.ErrNotFound), errors.Is(err, errHostMismatch), errors.Is(err, errOtherSession):
		return "", nil
	case err != nil:
		return "", err
	case rec.Host != host || !s.now().Before(rec.ExpiresAt):
		return "", nil
	}
	return rec.SessionID, nil
}
