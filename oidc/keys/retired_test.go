package keys

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
)

func testPEM(t *testing.T) ([]byte, string) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := KeyID(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), kid
}

// expire removes the retired key record as Badger's TTL would once it has
// run out: Badger's expiry follows the wall clock, not the test's. It first
// checks that the record is set to expire, so this is what would happen.
func expire(t *testing.T, store *kv.Store, kid string) {
	t.Helper()
	err := store.Update(context.Background(), func(tx *kv.Txn) error {
		at, err := tx.ExpiresAt(kv.PrefixSigningKey.Key(kid))
		if err != nil {
			return err
		}
		if at.IsZero() {
			t.Fatalf("the retired key %s never expires", kid)
		}
		return tx.Delete(kv.PrefixSigningKey.Key(kid))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func signedKID(t *testing.T, s *Set) string {
	t.Helper()
	tok, err := s.Sign([]byte(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}

// The operator rotates the configured OIDC_PRIVATE_KEY away (it leaked, or
// it is simply old) but the environment still carries it. Once the
// retired record has expired, a restart must not make it the signing key
// again: the store keeps a permanent tombstone of every retired kid.
func TestKeys_RetiredPEMDoesNotReturnAfterExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	store := kvtest.Open(t)
	p, old := testPEM(t)
	cfg := Config{Store: store, Secrets: testSecrets(t), PEM: p, Now: func() time.Time { return now }, MaxTokenTTL: 24 * time.Hour}

	s, err := Open(ctx, cfg)
	if err != nil || s.ActiveKID() != old {
		t.Fatalf("first start: active %q, err %v; want the configured key", s.ActiveKID(), err)
	}
	rotated, err := s.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Within the day the old key stays published, a restart keeps the
	// rotation, and says that OIDC_PRIVATE_KEY was not used.
	now = now.Add(time.Hour)
	s, err = Open(ctx, cfg)
	if err != nil || s.ActiveKID() != rotated || s.RetiredPEM() != old {
		t.Fatalf("restart within the day: active %q (want %q), RetiredPEM %q (want %q), err %v", s.ActiveKID(), rotated, s.RetiredPEM(), old, err)
	}

	// A day and more later the retired record has left the JWKS and
	// expired from the store.
	now = now.Add(25 * time.Hour)
	expire(t, store, old)
	s, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.ActiveKID() != rotated || signedKID(t, s) != rotated {
		t.Fatalf("after the retired record expired, the rotated-away key signs again: active %q, want %q", s.ActiveKID(), rotated)
	}
	if slices.Contains(kids(t, s), old) {
		t.Error("the rotated-away key is back in the JWKS")
	}
	if s.RetiredPEM() != old {
		t.Errorf("RetiredPEM = %q, want %q (the operator must be told)", s.RetiredPEM(), old)
	}
	// Another rotation and restarts do not bring it back either.
	if _, err := s.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, cfg)
	if err != nil || s.ActiveKID() == old {
		t.Fatalf("after a second rotation: active %q, err %v", s.ActiveKID(), err)
	}

	// A new PEM is still a rotation by the operator.
	p2, fresh := testPEM(t)
	cfg.PEM = p2
	s, err = Open(ctx, cfg)
	if err != nil || s.ActiveKID() != fresh || s.RetiredPEM() != "" {
		t.Fatalf("a new OIDC_PRIVATE_KEY: active %q (want %q), RetiredPEM %q, err %v", s.ActiveKID(), fresh, s.RetiredPEM(), err)
	}
}

// A key retired by a version without tombstones gets one when the store is
// next opened, while its record still exists.
func TestKeys_RetiredBeforeTombstonesIsStillRefused(t *testing.T) {
	ctx := context.Background()
	store := kvtest.Open(t)
	p, old := testPEM(t)
	cfg := Config{Store: store, Secrets: testSecrets(t), PEM: p}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := s.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// What an older version left behind: the retired record, no tombstone.
	if err := store.Update(ctx, func(tx *kv.Txn) error { return tx.Delete(kv.PrefixRetiredKey.Key(old)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, Config{Store: store, Secrets: cfg.Secrets}); err != nil { // the upgrade's first start
		t.Fatal(err)
	}
	expire(t, store, old)
	s, err = Open(ctx, cfg)
	if err != nil || s.ActiveKID() != rotated {
		t.Fatalf("active %q, want %q (err %v)", s.ActiveKID(), rotated, err)
	}
}
