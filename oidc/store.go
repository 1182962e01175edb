package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

// codeRecord is an authorization code, stored under its HMAC. It is kept
// (marked used) after redemption until it expires, so a second use is
// recognised and revokes what the first one issued.
type codeRecord struct {
	ID          string    `json:"id"`
	GrantID     string    `json:"grant_id"`
	AppID       string    `json:"app_id"`
	ClientID    string    `json:"client_id"`
	UserID      string    `json:"user_id"`
	SessionID   string    `json:"session_id"`
	RedirectURI string    `json:"redirect_uri"`
	Challenge   string    `json:"challenge,omitempty"` // S256 only
	Scopes      []string  `json:"scopes"`
	Nonce       string    `json:"nonce,omitempty"`
	AuthTime    time.Time `json:"auth_time"`
	ACR         string    `json:"acr"`
	AMR         []string  `json:"amr,omitempty"`
	ExpiresAt   time.Time `json:"expires_at"`
	Used        bool      `json:"used,omitempty"`
}

// grantRecord ties together every token issued from one code: the family
// that a code replay or a refresh replay revokes as a whole.
type grantRecord struct {
	ID        string    `json:"id"`
	AppID     string    `json:"app_id"`
	UserID    string    `json:"user_id"`
	SessionID string    `json:"session_id,omitempty"`
	Scopes    []string  `json:"scopes"`
	AuthTime  time.Time `json:"auth_time"`
	ACR       string    `json:"acr"`
	AMR       []string  `json:"amr,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type accessRecord struct {
	ID        string    `json:"id"`
	GrantID   string    `json:"grant_id,omitempty"` // "" for client_credentials
	AppID     string    `json:"app_id"`
	ClientID  string    `json:"client_id"`
	UserID    string    `json:"user_id,omitempty"` // "" for client_credentials
	Subject   string    `json:"sub"`
	Scopes    []string  `json:"scopes"`
	IssuedAt  time.Time `json:"iat"`
	ExpiresAt time.Time `json:"exp"`
}

type refreshRecord struct {
	ID        string    `json:"id"`
	GrantID   string    `json:"grant_id"`
	AppID     string    `json:"app_id"`
	ClientID  string    `json:"client_id"`
	UserID    string    `json:"user_id"`
	Subject   string    `json:"sub"`
	Scopes    []string  `json:"scopes"`
	IssuedAt  time.Time `json:"iat"`
	ExpiresAt time.Time `json:"exp"`
	Used      bool      `json:"used,omitempty"`
}

type consentRecord struct {
	UserID    string    `json:"user_id"`
	AppID     string    `json:"app_id"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"granted_at"`
}

func grantTokenKey(grantID, kind, hash string) []byte {
	return kv.PrefixOAuthGrantToken.Key(grantID + "/" + kind + hash)
}

// revokeGrant deletes the grant and every token issued under it, and
// returns the hashes of the deleted tokens for cache eviction.
func (p *Provider) revokeGrant(t *kv.Txn, grantID string) ([]string, error) {
	return revokeGrant(t, grantID)
}

func revokeGrant(t *kv.Txn, grantID string) ([]string, error) {
	if grantID == "" {
		return nil, nil
	}
	prefix := kv.PrefixOAuthGrantToken.Key(grantID + "/")
	var keys [][]byte
	err := t.Scan(prefix, func(k, _ []byte) error {
		keys = append(keys, append([]byte(nil), k...))
		return nil
	})
	if err != nil {
		return nil, err
	}
	var hashes []string
	for _, k := range keys {
		rest := string(k[len(prefix):])
		if len(rest) < 2 {
			continue
		}
		kind, h := rest[:1], rest[1:]
		var dk []byte
		switch kind {
		case "a":
			dk = kv.PrefixOAuthAccess.Key(h)
			hashes = append(hashes, h)
		case "r":
			dk = kv.PrefixOAuthRefresh.Key(h)
		}
		if dk != nil {
			if err := t.Delete(dk); err != nil {
				return nil, err
			}
		}
		if err := t.Delete(k); err != nil {
			return nil, err
		}
	}
	if err := t.Delete(kv.PrefixOAuthGrant.Key(grantID)); err != nil {
		return nil, err
	}
	return hashes, nil
}

// notifyRevoked tells caches (the forward verifier's) the tokens are gone.
func (p *Provider) notifyRevoked(hashes []string) {
	for _, h := range hashes {
		p.auth.Notify(auth.Change{Kind: auth.ChangeToken, TokenHash: h})
	}
}

// subject returns the pairwise sub of the user at the app, creating a
// random one the first time. Two apps never see the same sub for a user.
func (p *Provider) subject(t *kv.Txn, userID, appID string) (string, error) {
	k := kv.PrefixOAuthSubject.Key(userID + "/" + appID)
	b, err := t.Get(k)
	if err == nil {
		return string(b), nil
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return "", err
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	sub := base64.RawURLEncoding.EncodeToString(r[:])
	if err := t.Set(k, []byte(sub), 0); err != nil {
		return "", err
	}
	return sub, t.Set(kv.PrefixOAuthSubjectRev.Key(appID+"/"+sub), []byte(userID), 0)
}

// lookupSubject returns the user id behind a pairwise sub.
func (p *Provider) lookupSubject(t *kv.Txn, appID, sub string) (string, error) {
	b, err := t.Get(kv.PrefixOAuthSubjectRev.Key(appID + "/" + sub))
	return string(b), err
}

// deleteUserRecords runs inside the transaction that deletes a user: their
// consents, pairwise subjects and app claims go with them. Their tokens
// stop working because every lookup checks the user.
func (p *Provider) deleteUserRecords(t *kv.Txn, userID string) error {
	var del [][]byte
	collect := func(k, _ []byte) error { del = append(del, append([]byte(nil), k...)); return nil }
	for _, pre := range []kv.Prefix{kv.PrefixOAuthConsent, kv.PrefixUserAppClaims} {
		if err := t.Scan(pre.Key(userID+"/"), collect); err != nil {
			return err
		}
	}
	subPrefix := kv.PrefixOAuthSubject.Key(userID + "/")
	err := t.Scan(subPrefix, func(k, v []byte) error {
		appID := string(k[len(subPrefix):])
		del = append(del, append([]byte(nil), k...), kv.PrefixOAuthSubjectRev.Key(appID+"/"+string(v)))
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range del {
		if err := t.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// hasConsent reports whether the user already allowed every scope at the app.
func (p *Provider) hasConsent(ctx context.Context, userID, appID string, scopes []string) bool {
	ok := false
	_ = p.store.View(ctx, func(t *kv.Txn) error {
		c, err := p.consents.Get(t, userID+"/"+appID)
		if err != nil {
			return err
		}
		ok = true
		for _, s := range scopes {
			if !slices.Contains(c.Scopes, s) {
				ok = false
			}
		}
		return nil
	})
	return ok
}

func (p *Provider) saveConsent(ctx context.Context, userID, appID string, scopes []string) error {
	return p.store.Update(ctx, func(t *kv.Txn) error {
		c, err := p.consents.Get(t, userID+"/"+appID)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		all := slices.Clone(scopes)
		if c != nil {
			all = append(all, c.Scopes...)
		}
		slices.Sort(all)
		return p.consents.Put(t, &consentRecord{UserID: userID, AppID: appID, Scopes: slices.Compact(all), GrantedAt: p.now().UTC()}, 0)
	})
}
