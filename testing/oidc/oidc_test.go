// Package oidc runs the real clinch binary as an OpenID Provider for two
// independent relying-party implementations: github.com/coreos/go-oidc/v3
// with golang.org/x/oauth2, and node's openid-client 6. The person in the
// middle is the harness's cookie-jar client, which signs in over HTTP and
// answers the consent form like a browser.
package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/clinchsso/clinch/testing/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

const (
	email       = "ada@example.com"
	password    = "correct horse battery staple"
	redirectURI = "http://rp.localhost/callback"
	logoutURI   = "http://rp.localhost/bye"
)

// client is an OIDC app registered through the CLI.
type client struct {
	ID, Secret, Slug string
}

// setup starts clinch, creates the first user (signed in on the returned
// browser) and registers a confidential client.
func setup(t *testing.T) (*harness.Server, *http.Client, client) {
	t.Helper()
	s := harness.Start(t, harness.Options{})
	browser := harness.NewClient()
	harness.SignUp(t, browser, s, email, password)
	s.MustCLI(t, "", "group", "create", "--name", "staff")
	out := s.MustCLI(t, "", "app", "create", "--type", "oidc", "--name", "Grafana", "--json",
		"--redirect-uri", redirectURI, "--post-logout-redirect-uri", logoutURI, "--group", "staff",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token", "--grant-type", "client_credentials")
	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Slug         string `json:"slug"`
	}
	if err := json.Unmarshal([]byte(out), &app); err != nil || app.ClientID == "" || app.ClientSecret == "" {
		t.Fatalf("app create printed %q (%v)", out, err)
	}
	return s, browser, client{ID: app.ClientID, Secret: app.ClientSecret, Slug: app.Slug}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// approve follows an authorization URL the way a person in a browser does:
// through the consent page when one is shown, and returns the URL Clinch
// sends the browser back to (the client's redirect URI with code or error).
func approve(t *testing.T, s *harness.Server, browser *http.Client, authURL string) *url.URL {
	t.Helper()
	resp, body := harness.Get(t, browser, authURL)
	if resp.StatusCode == http.StatusOK && strings.Contains(body, `value="allow"`) {
		form := url.Values{}
		for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
			form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
		form.Set("decision", "allow")
		resp, body = harness.Post(t, browser, s.URL+"/oauth/consent", form)
	}
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("authorize answered %d:\n%s", resp.StatusCode, harness.Text(body))
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestGoOIDC_AllFlows(t *testing.T) {
	s, browser, cl := setup(t)
	ctx := ctxTimeout(t)

	// A user outside the allowed group is stopped before any consent.
	resp, body := harness.Get(t, browser, s.URL+"/oauth/authorize?"+url.Values{
		"client_id": {cl.ID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}.Encode())
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "do not have permission") {
		t.Fatalf("user outside the group: %d %s", resp.StatusCode, harness.Text(body))
	}
	s.MustCLI(t, "", "group", "add-user", "--group", "staff", "--email", email)

	provider, err := gooidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{
		ClientID: cl.ID, ClientSecret: cl.Secret, Endpoint: provider.Endpoint(), RedirectURL: redirectURI,
		Scopes: []string{gooidc.ScopeOpenID, "profile", "email", "groups", gooidc.ScopeOfflineAccess},
	}
	verifier := provider.Verifier(&gooidc.Config{ClientID: cl.ID})

	// Code + PKCE through a real sign-in: sign out first so the flow
	// passes the sign-in page and comes back.
	harness.SignOut(t, browser, s)
	pkce := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(pkce), gooidc.Nonce("nonce-1"))
	resp, _ = harness.Get(t, browser, authURL)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/signin" {
		t.Fatalf("signed out: %d to %s", resp.StatusCode, loc)
	}
	resp = harness.SignInPending(t, browser, s, email, password, loc.String())
	cb := approve(t, s, browser, resp.Header.Get("Location"))
	if cb.Query().Get("state") != "st-1" || cb.Query().Get("iss") != s.URL || cb.Query().Get("code") == "" {
		t.Fatalf("callback %s", cb)
	}
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("ID token does not verify through the JWKS: %v", err)
	}
	if idt.Nonce != "nonce-1" {
		t.Errorf("nonce %q", idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		Email    string   `json:"email"`
		Verified bool     `json:"email_verified"`
		Groups   []string `json:"groups"`
		Name     string   `json:"name"`
		AuthTime int64    `json:"auth_time"`
		ACR      string   `json:"acr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != email || !claims.Verified || len(claims.Groups) != 1 || claims.Groups[0] != "staff" || claims.AuthTime == 0 || claims.ACR != "1" {
		t.Errorf("claims %+v", claims)
	}

	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != idt.Subject || ui.Email != email {
		t.Errorf("userinfo sub %q email %q; id token sub %q", ui.Subject, ui.Email, idt.Subject)
	}

	// Refresh rotation: a new refresh token each time; the old one, used
	// again, revokes the family.
	refreshed, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh token was not rotated")
	}
	if rid, _ := refreshed.Extra("id_token").(string); rid == "" {
		t.Error("no ID token on refresh")
	} else if idt2, err := verifier.Verify(ctx, rid); err != nil || idt2.Subject != idt.Subject {
		t.Errorf("refreshed ID token: %v", err)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("replayed refresh token: %v", err)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshed.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("family survived a replay: %v", err)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(refreshed)); err == nil {
		t.Fatal("access token of a revoked family still works at userinfo")
	}

	// Revocation (RFC 7009): consent is remembered, so the second
	// authorization comes straight back with a code.
	pkce = oauth2.GenerateVerifier()
	cb = approve(t, s, browser, conf.AuthCodeURL("st-2", oauth2.S256ChallengeOption(pkce)))
	tok2, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("second exchange: %v", err)
	}
	revoke(t, s, cl, tok2.RefreshToken)
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok2.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("revoked refresh token: %v", err)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok2)); err == nil {
		t.Fatal("access token survives revocation of its refresh token")
	}

	// client_credentials: the app itself, no ID token.
	cc := clientcredentials.Config{ClientID: cl.ID, ClientSecret: cl.Secret, TokenURL: provider.Endpoint().TokenURL}
	ctok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if ctok.Extra("id_token") != nil || ctok.RefreshToken != "" {
		t.Error("client_credentials returned an ID or refresh token")
	}
	if got := introspect(t, s, cl, ctok.AccessToken); got["active"] != true || got["client_id"] != cl.ID {
		t.Errorf("introspect: %v", got)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(ctok)); err == nil {
		t.Error("userinfo answered for a client_credentials token")
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

func backchannel(t *testing.T, s *harness.Server, cl client, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("POST", s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(cl.ID), url.QueryEscape(cl.Secret))
	return harness.Do(t, &http.Client{Timeout: 10 * time.Second}, req)
}

func revoke(t *testing.T, s *harness.Server, cl client, token string) {
	t.Helper()
	if resp, body := backchannel(t, s, cl, "/oauth/revoke", url.Values{"token": {token}}); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
}

func introspect(t *testing.T, s *harness.Server, cl client, token string) map[string]any {
	t.Helper()
	resp, body := backchannel(t, s, cl, "/oauth/introspect", url.Values{"token": {token}})
	var out map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	return out
}

func TestKeyRotation(t *testing.T) {
	s, browser, cl := setup(t)
	ctx := ctxTimeout(t)
	s.MustCLI(t, "", "group", "add-user", "--group", "staff", "--email", email)
	provider, err := gooidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: cl.ID, ClientSecret: cl.Secret, Endpoint: provider.Endpoint(), RedirectURL: redirectURI,
		Scopes: []string{gooidc.ScopeOpenID, gooidc.ScopeOfflineAccess}}
	pkce := oauth2.GenerateVerifier()
	cb := approve(t, s, browser, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(pkce)))
	before, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatal(err)
	}
	oldID := before.Extra("id_token").(string)

	out := s.MustCLI(t, "", "keys", "rotate", "--json")
	var rot struct{ Kid string }
	if err := json.Unmarshal([]byte(out), &rot); err != nil || rot.Kid == "" {
		t.Fatalf("keys rotate printed %q", out)
	}
	after, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: before.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	newID := after.Extra("id_token").(string)
	if kidOf(t, newID) != rot.Kid || kidOf(t, oldID) == rot.Kid {
		t.Fatalf("kids: old %s new %s rotated-to %s", kidOf(t, oldID), kidOf(t, newID), rot.Kid)
	}
	// A relying party that fetches the JWKS fresh after the rotation
	// verifies both: the old key stays published.
	fresh, err := gooidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	v := fresh.Verifier(&gooidc.Config{ClientID: cl.ID})
	if _, err := v.Verify(ctx, oldID); err != nil {
		t.Errorf("token signed before rotation: %v", err)
	}
	if _, err := v.Verify(ctx, newID); err != nil {
		t.Errorf("token signed after rotation: %v", err)
	}
	// And after a restart, the keys are the same.
	s.Restart(t)
	again, err := gooidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Verifier(&gooidc.Config{ClientID: cl.ID}).Verify(ctx, oldID); err != nil {
		t.Errorf("after restart, old token: %v", err)
	}
}

func kidOf(t *testing.T, tok string) string {
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}
