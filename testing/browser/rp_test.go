package browser

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/clinchsso/clinch/testing/harness"
)

// goRP is a relying party whose pages the test controls, made of go-oidc
// and x/oauth2, at https://NAME.clinch.test:PORT behind Caddy: /cb is its
// redirect URI and /bye its post-logout redirect URI. Both only show what
// they were given; the test reads the browser's URL and trades the code
// itself, as the RP's server would.
type goRP struct {
	origin   string
	client   client
	conf     oauth2.Config
	verifier *gooidc.IDTokenVerifier
	ctx      context.Context // carries the HTTP client that reaches Caddy
}

// goRP registers an OIDC app with /cb and /bye of name.clinch.test and
// the extra app create flags, and adds the RP's Caddy site. discover
// completes it once Caddy serves.
func (st *stack) goRP(name string, flags ...string) *goRP {
	st.t.Helper()
	origin := st.rpSite(name)
	cl := st.oidcApp(strings.ToUpper(name[:1])+name[1:], append([]string{
		"--redirect-uri", origin + "/cb", "--post-logout-redirect-uri", origin + "/bye"}, flags...)...)
	return &goRP{origin: origin, client: cl}
}

// rpSite adds the RP's pages at https://NAME.clinch.test:PORT to Caddy
// and returns that origin; the OIDC app is registered separately.
func (st *stack) rpSite(name string) string {
	st.t.Helper()
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch r.URL.Path {
		case "/cb":
			if e := r.URL.Query().Get("error"); e != "" {
				w.Write([]byte("Relying party: the provider answered " + e))
				return
			}
			w.Write([]byte("Relying party: signed in (code received)"))
		case "/bye":
			w.Write([]byte("Relying party: signed out"))
		default:
			http.NotFound(w, r)
		}
	}))
	st.t.Cleanup(pages.Close)
	st.sites = append(st.sites, harness.CaddySite{Name: name, Body: harness.ReverseProxy(strings.TrimPrefix(pages.URL, "http://"))})
	return st.caddy.URL(name)
}

// discover reads Clinch's discovery document through Caddy, as the RP's
// server would.
func (r *goRP) discover(st *stack) {
	st.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	st.t.Cleanup(cancel)
	r.ctx = gooidc.ClientContext(ctx, st.caddy.Client(st.t))
	provider, err := gooidc.NewProvider(r.ctx, st.clinch.URL)
	if err != nil {
		st.t.Fatalf("the RP cannot read Clinch's discovery document: %v", err)
	}
	r.conf = oauth2.Config{
		ClientID: r.client.ID, ClientSecret: r.client.Secret, Endpoint: provider.Endpoint(),
		RedirectURL: r.origin + "/cb", Scopes: []string{gooidc.ScopeOpenID, "email", "profile"},
	}
	r.verifier = provider.Verifier(&gooidc.Config{ClientID: r.client.ID})
}

// authRequest is one authorization the browser is sent on.
type authRequest struct {
	state, nonce, pkce string
	url                string
}

// authorize builds an authorization URL (code flow, PKCE S256, state and
// nonce) with extra parameters such as prompt=login.
func (r *goRP) authorize(extra url.Values) authRequest {
	a := authRequest{state: "st-" + oauth2.GenerateVerifier()[:12], nonce: "n-" + oauth2.GenerateVerifier()[:12], pkce: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.pkce), gooidc.Nonce(a.nonce)}
	for k, vs := range extra {
		for _, v := range vs {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	a.url = r.conf.AuthCodeURL(a.state, opts...)
	return a
}

// idToken is what the RP learns from a verified ID token.
type idToken struct {
	raw      string
	sub, sid string
	authTime int64
	email    string
	acr      string
	amr      []string
}

// finish checks the callback the browser landed on (tab at /cb) and trades
// the code for tokens, verifying the ID token (signature, iss, aud, exp,
// nonce) as an RP must.
func (r *goRP) finish(tab harness.Tab, a authRequest) idToken {
	tab.T.Helper()
	t := tab.T
	q := tab.URL().Query()
	if q.Get("error") != "" {
		t.Fatalf("the RP's callback got error=%s (%s)", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != a.state || q.Get("code") == "" {
		t.Fatalf("the RP's callback got %s, want a code and state=%s", tab.URL(), a.state)
	}
	tok, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(a.pkce))
	if err != nil {
		t.Fatalf("the RP cannot trade the code: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		t.Fatalf("the ID token does not verify: %v", err)
	}
	if idt.Nonce != a.nonce {
		t.Errorf("ID token nonce %q, want %q", idt.Nonce, a.nonce)
	}
	var c struct {
		Sid      string   `json:"sid"`
		AuthTime int64    `json:"auth_time"`
		Email    string   `json:"email"`
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return idToken{raw: raw, sub: idt.Subject, sid: c.Sid, authTime: c.AuthTime, email: c.Email, acr: c.ACR, amr: c.AMR}
}

// signInAt opens the authorization a in tab (a browser without a session),
// signs in as login on Clinch's page and returns the RP's verified ID
// token.
func (r *goRP) signInAt(tab harness.Tab, a authRequest, login string) idToken {
	tab.T.Helper()
	tab.Open(a.url)
	signIn(tab, login, r.origin+"/cb")
	tab.See("Relying party: signed in")
	return r.finish(tab, a)
}
