package auth_test

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// Hash reuses pooled HMAC states; whatever came before, from any
// goroutine, it is HMAC-SHA256 under the derived token key, base64url.
func TestSecrets_HashIsTheHMAC(t *testing.T) {
	base := []byte(strings.Repeat("h", 32))
	sec, err := auth.NewSecrets(base)
	if err != nil {
		t.Fatal(err)
	}
	key, err := hkdf.Key(sha256.New, base, nil, "clinch token hmac v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	want := func(tok string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(tok))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	toks := []string{"", "cs_a", strings.Repeat("x", 5000), "cs_" + strings.Repeat("b", 43), "cak_z"}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				tok := toks[(i+g)%len(toks)]
				if got := sec.Hash(tok); got != want(tok) {
					t.Errorf("Hash(%.10q) = %s, want %s", tok, got, want(tok))
					return
				}
			}
		}()
	}
	wg.Wait()
}
