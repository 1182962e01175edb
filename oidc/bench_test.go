package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// BenchmarkToken measures the token endpoint in-process (no network) next
// to a raw RS256 signature, the floor for any response carrying an ID
// token. Run: go test ./oidc -run '^$' -bench . -benchtime 2s
func BenchmarkToken(b *testing.B) {
	b.Run("RS256Sign", func(b *testing.B) {
		priv, _ := rsa.GenerateKey(rand.Reader, 2048)
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: priv}, nil)
		if err != nil {
			b.Fatal(err)
		}
		payload := []byte(`{"iss":"http://localhost:3000","sub":"x","aud":"y","exp":1,"iat":1}`)
		b.ResetTimer()
		for b.Loop() {
			jws, err := s.Sign(payload)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := jws.CompactSerialize(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("ClientCredentials", func(b *testing.B) {
		f := newFixture(b)
		body := url.Values{"grant_type": {"client_credentials"}}.Encode()
		b.ResetTimer()
		for b.Loop() {
			r := httptest.NewRequest("POST", PathToken, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(f.app.ClientID, f.secret)
			w := httptest.NewRecorder()
			f.mux.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
	b.Run("CodeExchange", func(b *testing.B) {
		f := newFixture(b)
		// Codes are made outside the timer; each exchange signs an ID
		// token and stores an access and a refresh token.
		for b.Loop() {
			b.StopTimer()
			code := f.code(f.app, nil)
			body := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}.Encode()
			r := httptest.NewRequest("POST", PathToken, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth(f.app.ClientID, f.secret)
			w := httptest.NewRecorder()
			b.StartTimer()
			f.mux.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}
