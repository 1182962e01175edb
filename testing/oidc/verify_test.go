package oidc

import (
	"net/http"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/clinchsso/clinch/testing/harness"
)

// verifyBearer asks /api/verify, as Caddy's forward_auth does, whether a
// request to host with the bearer token may pass, and returns the status
// and Remote-User.
func verifyBearer(t *testing.T, s *harness.Server, host, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+"/api/verify", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", host)
	req.Header.Set("X-Forwarded-Uri", "/api/things")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, _ := harness.Do(t, &http.Client{Timeout: 10 * time.Second}, req)
	return resp.StatusCode, resp.Header.Get("Remote-User")
}

// The README told admins to opt tokens in on the forward_auth app while
// the code read the OIDC client: following the README, every token got
// 401. Now the forward_auth app names the clients it accepts, and
// `clinch user tokens revoke` and deactivating the client end the tokens
// at /api/verify on the next request.
func TestAccessTokenAtVerify_AcceptTokensFrom(t *testing.T) {
	s, browser, cl := setup(t)
	ctx := ctxTimeout(t)
	s.MustCLI(t, "", "group", "add-user", "--group", "staff", "--email", email)
	s.MustCLI(t, "", "app", "create", "--type", "forward_auth", "--name", "API", "--domain", "api.example.com")
	provider, err := gooidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: cl.ID, ClientSecret: cl.Secret, Endpoint: provider.Endpoint(), RedirectURL: redirectURI,
		Scopes: []string{gooidc.ScopeOpenID, "profile"}}
	token := func() string {
		pkce := oauth2.GenerateVerifier()
		cb := approve(t, s, browser, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(pkce)))
		tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		return tok.AccessToken
	}
	at := token()
	if code, _ := verifyBearer(t, s, "api.example.com", at); code != http.StatusUnauthorized {
		t.Fatalf("before opting in: %d, want 401", code)
	}
	s.MustCLI(t, "", "app", "update", "--slug", "api", "--accept-tokens-from", cl.Slug)
	if code, user := verifyBearer(t, s, "api.example.com", at); code != http.StatusOK || user != "ada@example.com" {
		t.Fatalf("after --accept-tokens-from %s: %d as %q, want 200 as ada@example.com", cl.Slug, code, user)
	}
	// Revoking the user's tokens ends it at once (it is cached by now).
	s.MustCLI(t, "", "user", "tokens", "revoke", "--email", email, "--app", cl.Slug)
	if code, _ := verifyBearer(t, s, "api.example.com", at); code != http.StatusUnauthorized {
		t.Fatalf("after user tokens revoke: %d, want 401", code)
	}
	// A deactivated client's tokens stop too.
	at = token()
	if code, _ := verifyBearer(t, s, "api.example.com", at); code != http.StatusOK {
		t.Fatalf("new token: %d", code)
	}
	s.MustCLI(t, "", "app", "update", "--slug", cl.Slug, "--active=false")
	if code, _ := verifyBearer(t, s, "api.example.com", at); code != http.StatusUnauthorized {
		t.Fatalf("after deactivating the client: %d, want 401", code)
	}
}
