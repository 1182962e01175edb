package keys

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv/kvtest"
)

func testSecrets(t *testing.T) *auth.Secrets {
	s, err := auth.NewSecrets([]byte(strings.Repeat("s", 64)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func kids(t *testing.T, s *Set) []string {
	var set jose.JSONWebKeySet
	b, err := s.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if k.IsPublic() != true {
			t.Fatal("JWKS contains a private key")
		}
		out = append(out, k.KeyID)
	}
	return out
}

func TestKeys_GeneratedOnceAndKeptAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	store := kvtest.Open(t)
	sec := testSecrets(t)
	a, err := Open(ctx, Config{Store: store, Secrets: sec})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, Config{Store: store, Secrets: sec})
	if err != nil {
		t.Fatal(err)
	}
	if a.ActiveKID() == "" || a.ActiveKID() != b.ActiveKID() {
		t.Fatalf("kid changed across opens: %q %q", a.ActiveKID(), b.ActiveKID())
	}
	// Another SECRET_KEY_BASE cannot read the sealed key.
	other, _ := auth.NewSecrets([]byte(strings.Repeat("o", 64)))
	if _, err := Open(ctx, Config{Store: store, Secrets: other}); err == nil {
		t.Fatal("key opened under a different secret")
	}
}

func TestKeys_RotationKeepsOldKeyUntilTokensExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	s, err := Open(ctx, Config{Store: kvtest.Open(t), Secrets: testSecrets(t), Now: func() time.Time { return now }, MaxTokenTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	old := s.ActiveKID()
	tok, err := s.Sign([]byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	kid, err := s.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kid == old || s.ActiveKID() != kid {
		t.Fatal("rotation did not switch the active key")
	}
	newTok, _ := s.Sign([]byte(`{"a":2}`))
	jws, _ := jose.ParseSignedCompact(newTok, []jose.SignatureAlgorithm{jose.RS256})
	if jws.Signatures[0].Header.KeyID != kid {
		t.Error("new token not signed with the new key")
	}
	if _, err := s.Verify(tok); err != nil {
		t.Error("token signed before rotation no longer verifies")
	}
	if got := kids(t, s); len(got) != 2 || got[0] != kid || got[1] != old {
		t.Errorf("JWKS kids %v", got)
	}
	now = now.Add(time.Hour + time.Second)
	if got := kids(t, s); len(got) != 1 || got[0] != kid {
		t.Errorf("after the longest token lifetime, JWKS kids %v", got)
	}
	if _, err := s.Verify(tok); err == nil {
		t.Error("retired key still verifies")
	}
}

func TestKeys_ConfiguredPEM(t *testing.T) {
	ctx := context.Background()
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	p := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	store := kvtest.Open(t)
	s, err := Open(ctx, Config{Store: store, Secrets: testSecrets(t), PEM: p})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := KeyID(&priv.PublicKey)
	if s.ActiveKID() != want {
		t.Fatalf("active %q, want the configured key %q", s.ActiveKID(), want)
	}
	// A rotation survives a restart with the same PEM.
	kid, _ := s.Rotate(ctx)
	s2, err := Open(ctx, Config{Store: store, Secrets: testSecrets(t), PEM: p})
	if err != nil || s2.ActiveKID() != kid {
		t.Fatalf("restart undid the rotation: %q %v", s2.ActiveKID(), err)
	}
	for _, bad := range []string{"", "not pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}))} {
		if _, err := ParsePEM([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := ParsePEM(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)})); err == nil {
		t.Error("accepted a 1024-bit key")
	}
}
