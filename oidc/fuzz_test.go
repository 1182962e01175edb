package oidc

import (
	"encoding/base64"
	"net/url"
	"slices"
	"testing"
)

// FuzzParseAuthorize: whatever the query, the parser must not panic, and a
// request it accepts must be one the rest of the code can trust.
func FuzzParseAuthorize(f *testing.F) {
	f.Add("client_id=c&redirect_uri=https%3A%2F%2Fa%2Fcb&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256")
	f.Add("client_id=c&client_id=d&redirect_uri=x")
	f.Add("client_id=c&redirect_uri=x&response_type=code&prompt=none+login&max_age=-5")
	f.Add("client_id=c&redirect_uri=x&response_type=code&code_challenge=abc&code_challenge_method=plain")
	f.Add("%zz&;=;")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		a, e := parseAuthorize(q)
		if a == nil {
			t.Fatal("nil request")
		}
		if e != nil {
			return
		}
		for k, v := range q {
			if len(v) != 1 {
				t.Fatalf("accepted repeated %s", k)
			}
		}
		if a.ClientID == "" || a.RedirectURI == "" || q.Get("response_type") != "code" {
			t.Fatalf("accepted without client, redirect or code: %v", q)
		}
		if a.Challenge != "" {
			if q.Get("code_challenge_method") != "S256" {
				t.Fatal("accepted a non-S256 challenge")
			}
			if b, err := base64.RawURLEncoding.DecodeString(a.Challenge); err != nil || len(b) != 32 {
				t.Fatal("accepted a malformed challenge")
			}
		} else if q.Get("code_challenge") != "" {
			t.Fatal("dropped a challenge")
		}
		if a.prompt("none") && len(a.Prompt) != 1 {
			t.Fatal("accepted prompt=none with others")
		}
		for _, s := range a.Scopes {
			if !slices.Contains(supportedScopes, s) {
				t.Fatalf("unknown scope %q kept", s)
			}
		}
	})
}

// FuzzParseTokenRequest: no panic; an accepted request names a client and a
// supported grant with what that grant needs.
func FuzzParseTokenRequest(f *testing.F) {
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("c:s")), "grant_type=authorization_code&code=cac_x&redirect_uri=https%3A%2F%2Fa")
	f.Add("", "grant_type=refresh_token&refresh_token=crt_x&client_id=c")
	f.Add("Basic !!", "grant_type=client_credentials")
	f.Add("Basic "+base64.StdEncoding.EncodeToString([]byte("c%zz:s")), "grant_type=client_credentials&client_secret=x")
	f.Add("", "grant_type=authorization_code&code=a&redirect_uri=b&code_verifier=short&client_id=c")
	f.Fuzz(func(t *testing.T, authz, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		tr, e := parseTokenRequest(authz, form)
		if tr == nil {
			t.Fatal("nil request")
		}
		if e != nil {
			if e.Code == "" || e.Status < 400 {
				t.Fatalf("bad error %+v", e)
			}
			return
		}
		if tr.ID == "" {
			t.Fatal("accepted without a client id")
		}
		if authz != "" && form.Has("client_secret") {
			t.Fatal("accepted two authentication methods")
		}
		switch tr.GrantType {
		case "authorization_code":
			if tr.Code == "" || tr.RedirectURI == "" {
				t.Fatal("code grant without code or redirect_uri")
			}
			if tr.Verifier != "" && !verifierRE.MatchString(tr.Verifier) {
				t.Fatal("malformed verifier accepted")
			}
		case "refresh_token":
			if tr.RefreshToken == "" {
				t.Fatal("refresh grant without token")
			}
		case "client_credentials":
		default:
			t.Fatalf("grant %q accepted", tr.GrantType)
		}
	})
}
