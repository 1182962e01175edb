// Package keys keeps the OIDC signing keys: RSA keys that sign ID tokens,
// stored encrypted in the store, rotated on demand, and published as a JWKS
// for as long as any token they signed can still be valid.
package keys

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

// Bits is the size of generated keys.
const Bits = 2048

// Errors.
var (
	ErrBadKey      = errors.New("keys: OIDC_PRIVATE_KEY is not a usable RSA private key")
	ErrNoActiveKey = errors.New("keys: no active signing key")
	ErrBadToken    = errors.New("keys: token signature is not valid")
)

// record is a key as stored: the private key sealed under the store key.
type record struct {
	KID       string    `json:"kid"`
	Sealed    []byte    `json:"sealed"` // auth.Secrets.Seal(PKCS#8 DER, "oidc key "+kid)
	Source    string    `json:"source"` // "generated" or "config"
	CreatedAt time.Time `json:"created_at"`
	// RetireAt is set when a newer key takes over: rotation time plus the
	// longest ID token lifetime. After it the public key leaves the JWKS.
	RetireAt time.Time `json:"retire_at,omitzero"`
}

// tombstone remembers, forever, that a key was retired. The retired
// record itself (with the private key) expires a little after it leaves
// the JWKS; without the tombstone, a restart with the old PEM still in
// OIDC_PRIVATE_KEY would then import it as a new key and sign with it again.
type tombstone struct {
	KID       string    `json:"kid"`
	RetiredAt time.Time `json:"retired_at"`
}

type key struct {
	record
	priv   *rsa.PrivateKey
	signer jose.Signer
}

// Config wires a Set.
type Config struct {
	Store   *kv.Store
	Secrets *auth.Secrets
	Logger  *slog.Logger
	Now     func() time.Time
	// PEM is OIDC_PRIVATE_KEY, or nil to generate and keep a key.
	PEM []byte
	// MaxTokenTTL is the longest any signed token lives; a retired key is
	// published this long after rotation.
	MaxTokenTTL time.Duration
}

// Set is the signing keys. It is safe for concurrent use.
type Set struct {
	cfg    Config
	collec *kv.Collection[record]
	tombs  *kv.Collection[tombstone]
	// retiredPEM is the kid of a configured PEM left unused because it
	// had been rotated away; set once by Open.
	retiredPEM string

	mu   sync.RWMutex
	keys []*key // oldest first; the last one without RetireAt is active
}

// Open loads the keys, importing the configured PEM key or generating a key
// when there is no active one.
func Open(ctx context.Context, cfg Config) (*Set, error) {
	if cfg.Store == nil || cfg.Secrets == nil {
		return nil, errors.New("keys: Store and Secrets are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxTokenTTL <= 0 {
		cfg.MaxTokenTTL = 24 * time.Hour
	}
	s := &Set{
		cfg:    cfg,
		collec: kv.NewCollection(kv.PrefixSigningKey, func(r *record) string { return r.KID }),
		tombs:  kv.NewCollection(kv.PrefixRetiredKey, func(r *tombstone) string { return r.KID }),
	}
	var pemKey *rsa.PrivateKey
	var pemKID string
	if len(cfg.PEM) > 0 {
		priv, err := ParsePEM(cfg.PEM)
		if err != nil {
			return nil, err
		}
		kid, err := KeyID(&priv.PublicKey)
		if err != nil {
			return nil, err
		}
		pemKey, pemKID = priv, kid
	}
	err := cfg.Store.Update(ctx, func(t *kv.Txn) error {
		s.retiredPEM = "" // Update may run this again
		if err := s.backfillTombstones(t); err != nil {
			return err
		}
		if pemKey == nil {
			return nil
		}
		// A configured key that was ever retired stays retired: the
		// operator rotated it away, and a stale environment must not undo
		// that. It is ignored with a warning rather than refused, so a
		// leftover variable does not take sign-in down; the key that the
		// store says is active keeps signing.
		if _, err := s.tombs.Get(t, pemKID); err == nil {
			s.retiredPEM = pemKID
			return nil
		} else if !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		// A configured key that the store has never seen is a rotation by
		// the operator; one it has seen keeps whatever state it has.
		if _, err := s.collec.Get(t, pemKID); err == nil {
			return nil
		} else if !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		return s.add(t, pemKey, pemKID, "config")
	})
	if err != nil {
		return nil, fmt.Errorf("keys: import configured key: %w", err)
	}
	if s.retiredPEM != "" {
		s.cfg.Logger.Warn("OIDC_PRIVATE_KEY is a signing key that was rotated away; it is not used. Remove it from the environment or set the new key", "kid", s.retiredPEM)
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	if s.active() == nil {
		if _, err := s.Rotate(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ParsePEM reads an RSA private key in PKCS#1 or PKCS#8 PEM.
func ParsePEM(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	var priv *rsa.PrivateKey
	switch blk.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		priv = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: not an RSA key (only RS256 is supported)", ErrBadKey)
		}
		priv = rk
	default:
		return nil, fmt.Errorf("%w: PEM block %q", ErrBadKey, blk.Type)
	}
	if priv.N.BitLen() < 2048 {
		return nil, fmt.Errorf("%w: %d bits; at least 2048 are needed", ErrBadKey, priv.N.BitLen())
	}
	return priv, nil
}

// KeyID is the RFC 7638 thumbprint of the public key, base64url.
func KeyID(pub *rsa.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

func sealLabel(kid string) string { return "oidc signing key " + kid }

// add stores priv as the new active key and retires the current ones.
func (s *Set) add(t *kv.Txn, priv *rsa.PrivateKey, kid, source string) error {
	now := s.cfg.Now().UTC()
	if err := s.retireAll(t, now); err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	r := &record{KID: kid, Sealed: s.cfg.Secrets.Seal(der, sealLabel(kid)), Source: source, CreatedAt: now}
	return s.collec.Put(t, r, 0)
}

// retireAll sets RetireAt on every active key and tombstones it. Retired
// records expire from the store on their own shortly after they leave the
// JWKS; their tombstones stay.
func (s *Set) retireAll(t *kv.Txn, now time.Time) error {
	all, err := s.collec.All(t)
	if err != nil {
		return err
	}
	for _, r := range all {
		if !r.RetireAt.IsZero() {
			continue
		}
		r.RetireAt = now.Add(s.cfg.MaxTokenTTL)
		if err := s.collec.Put(t, r, s.cfg.MaxTokenTTL+time.Hour); err != nil {
			return err
		}
		if err := s.tombs.Put(t, &tombstone{KID: r.KID, RetiredAt: now}, 0); err != nil {
			return err
		}
	}
	return nil
}

// backfillTombstones tombstones retired records that have none: keys
// retired before tombstones existed, while their records are still there.
func (s *Set) backfillTombstones(t *kv.Txn) error {
	all, err := s.collec.All(t)
	if err != nil {
		return err
	}
	for _, r := range all {
		if r.RetireAt.IsZero() {
			continue
		}
		if _, err := s.tombs.Get(t, r.KID); err == nil {
			continue
		} else if !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		at := r.RetireAt.Add(-s.cfg.MaxTokenTTL)
		if err := s.tombs.Put(t, &tombstone{KID: r.KID, RetiredAt: at}, 0); err != nil {
			return err
		}
	}
	return nil
}

// RetiredPEM is the kid of the configured OIDC_PRIVATE_KEY when Open left
// it unused because it had been rotated away, or "". Callers without a
// Logger in Config report it themselves.
func (s *Set) RetiredPEM() string { return s.retiredPEM }

// Rotate generates a new key, makes it the active one, and returns its kid.
// The previous key stays published until every token it signed expired.
func (s *Set) Rotate(ctx context.Context) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, Bits)
	if err != nil {
		return "", fmt.Errorf("keys: generate: %w", err)
	}
	kid, err := KeyID(&priv.PublicKey)
	if err != nil {
		return "", err
	}
	if err := s.cfg.Store.Update(ctx, func(t *kv.Txn) error { return s.add(t, priv, kid, "generated") }); err != nil {
		return "", fmt.Errorf("keys: store new key: %w", err)
	}
	if err := s.load(ctx); err != nil {
		return "", err
	}
	s.cfg.Logger.Info("oidc signing key rotated", "kid", kid)
	return kid, nil
}

// Reload reads the keys from the store again (after another process
// rotated them).
func (s *Set) Reload(ctx context.Context) error { return s.load(ctx) }

func (s *Set) load(ctx context.Context) error {
	var recs []*record
	err := s.cfg.Store.View(ctx, func(t *kv.Txn) error {
		var err error
		recs, err = s.collec.All(t)
		return err
	})
	if err != nil {
		return fmt.Errorf("keys: load: %w", err)
	}
	// Oldest first, the active (not retired) key last; within one clock
	// tick, a retired key is older than the one that replaced it.
	slices.SortFunc(recs, func(a, b *record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.RetireAt.Unix(), a.RetireAt.Unix())
	})
	var ks []*key
	for _, r := range recs {
		der, err := s.cfg.Secrets.Open(r.Sealed, sealLabel(r.KID))
		if err != nil {
			return fmt.Errorf("keys: key %s cannot be decrypted (was SECRET_KEY_BASE changed?): %w", r.KID, err)
		}
		pk, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("keys: key %s: %w", r.KID, err)
		}
		priv, ok := pk.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("keys: key %s is not RSA", r.KID)
		}
		signer, err := jose.NewSigner(
			jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: r.KID, Algorithm: string(jose.RS256), Use: "sig"}},
			(&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			return fmt.Errorf("keys: signer %s: %w", r.KID, err)
		}
		ks = append(ks, &key{record: *r, priv: priv, signer: signer})
	}
	s.mu.Lock()
	s.keys = ks
	s.mu.Unlock()
	return nil
}

func (s *Set) active() *key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.keys) - 1; i >= 0; i-- {
		if s.keys[i].RetireAt.IsZero() {
			return s.keys[i]
		}
	}
	return nil
}

// ActiveKID is the kid of the key that signs new tokens.
func (s *Set) ActiveKID() string {
	if k := s.active(); k != nil {
		return k.KID
	}
	return ""
}

// Sign signs claims (a JSON object) with the active key and returns the
// compact JWS.
func (s *Set) Sign(claims []byte) (string, error) {
	k := s.active()
	if k == nil {
		return "", ErrNoActiveKey
	}
	jws, err := k.signer.Sign(claims)
	if err != nil {
		return "", fmt.Errorf("keys: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// published returns the keys whose public half belongs in the JWKS now.
func (s *Set) published(now time.Time) []*key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*key
	for _, k := range s.keys {
		if k.RetireAt.IsZero() || now.Before(k.RetireAt) {
			out = append(out, k)
		}
	}
	return out
}

// JWKS is the public key set as JSON, newest key first.
func (s *Set) JWKS() ([]byte, error) {
	ks := s.published(s.cfg.Now())
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ks))}
	for i := len(ks) - 1; i >= 0; i-- {
		k := ks[i]
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.KID, Algorithm: string(jose.RS256), Use: "sig"})
	}
	return json.Marshal(set)
}

// Verify checks a compact JWS signed by one of the published keys and
// returns its payload. It does not look at the claims (expiry included).
func (s *Set) Verify(token string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, ErrBadToken
	}
	kid := jws.Signatures[0].Header.KeyID
	for _, k := range s.published(s.cfg.Now()) {
		if k.KID == kid {
			p, err := jws.Verify(&k.priv.PublicKey)
			if err != nil {
				return nil, ErrBadToken
			}
			return p, nil
		}
	}
	return nil, ErrBadToken
}

// Info describes a key for admin listings.
type Info struct {
	KID       string    `json:"kid"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	RetireAt  time.Time `json:"retire_at,omitzero"`
	Active    bool      `json:"active"`
}

// List describes the published keys, oldest first.
func (s *Set) List() []Info {
	act := s.ActiveKID()
	var out []Info
	for _, k := range s.published(s.cfg.Now()) {
		out = append(out, Info{KID: k.KID, Source: k.Source, CreatedAt: k.CreatedAt, RetireAt: k.RetireAt, Active: k.KID == act})
	}
	return out
}

// ErrWrongSecret is CheckSecret's answer for a store written under another
// SECRET_KEY_BASE.
var ErrWrongSecret = errors.New("keys: the stored signing keys cannot be decrypted with this SECRET_KEY_BASE")

// CheckSecret decrypts every stored signing key with secrets, changing
// nothing, and returns how many there are. Every store Clinch has opened
// holds at least one, so this tells whether a store (a backup loaded with
// kv.Inspect, say) belongs with a secret.
func CheckSecret(ctx context.Context, store *kv.Store, secrets *auth.Secrets) (int, error) {
	collec := kv.NewCollection(kv.PrefixSigningKey, func(r *record) string { return r.KID })
	var recs []*record
	err := store.View(ctx, func(t *kv.Txn) error {
		var err error
		recs, err = collec.All(t)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("keys: check secret: %w", err)
	}
	for _, r := range recs {
		if _, err := secrets.Open(r.Sealed, sealLabel(r.KID)); err != nil {
			return len(recs), fmt.Errorf("%w (key %s)", ErrWrongSecret, r.KID)
		}
	}
	return len(recs), nil
}
