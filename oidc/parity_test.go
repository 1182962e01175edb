package oidc

import (
	"net/url"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// OIDC Core §5.5's claims parameter is refused, since discovery says
// claims_parameter_supported false: a client learns its request is not
// honoured instead of getting less than it asked for in silence.
func TestAuthorize_ClaimsParameterRefused(t *testing.T) {
	f := newFixture(t)
	for _, v := range []string{`{"id_token":{"email":{"essential":true}}}`, ""} {
		u := location(t, f.authorize(f.authorizeQuery(f.app, func(q url.Values) { q.Set("claims", v) }), true))
		q := u.Query()
		if q.Get("error") != ErrInvalidRequest || q.Get("code") != "" || !strings.Contains(q.Get("error_description"), "claims") || q.Get("state") != "st" {
			t.Errorf("claims=%q: %s", v, u)
		}
	}
}

// New confidential clients require PKCE (OAuth 2.1); the refusal tells the
// admin the command that turns it off, and a client made with it off gets
// a code without a challenge.
func TestAuthorize_PKCERequiredByDefault(t *testing.T) {
	f := newFixture(t)
	noPKCE := func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }
	if !f.app.RequirePKCE {
		t.Fatal("a new confidential client does not require PKCE")
	}
	u := location(t, f.authorize(f.authorizeQuery(f.app, noPKCE), true))
	q := u.Query()
	if q.Get("error") != ErrInvalidRequest || q.Get("code") != "" {
		t.Fatalf("without PKCE: %s", u)
	}
	if want := "clinch app update --slug " + f.app.Slug + " --require-pkce=false"; !strings.Contains(q.Get("error_description"), want) {
		t.Errorf("error_description %q does not say %q", q.Get("error_description"), want)
	}

	off := false
	legacy, secret := f.newApp(auth.AppInput{Name: "Legacy", SkipConsent: true, RequirePKCE: &off})
	if legacy.RequirePKCE {
		t.Fatal("RequirePKCE: &false ignored")
	}
	code := f.code(legacy, noPKCE)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
	if res := f.post(PathToken, form, legacy.ClientID, secret); res.status != 200 || res.str("access_token") == "" {
		t.Errorf("exchange without PKCE at a client that allows it: %d %v", res.status, res.body)
	}

	// A public client requires PKCE whatever it was made with, and its
	// error does not offer to turn it off.
	pub, _ := f.newApp(auth.AppInput{Name: "Phone", Public: true, SkipConsent: true, RequirePKCE: &off})
	if !pub.RequirePKCE {
		t.Error("public client made without PKCE")
	}
	u = location(t, f.authorize(f.authorizeQuery(pub, noPKCE), true))
	if d := u.Query().Get("error_description"); u.Query().Get("error") != ErrInvalidRequest || strings.Contains(d, "--require-pkce") {
		t.Errorf("public client without PKCE: %s", u)
	}
}

// updated_at (OIDC Core §5.1, seconds since the epoch) comes with the
// profile scope, in the ID token and from userinfo, and not without it.
func TestClaims_UpdatedAtInProfileScope(t *testing.T) {
	f := newFixture(t)
	want := float64(f.user.UpdatedAt.Unix())
	if f.user.UpdatedAt.IsZero() {
		t.Fatal("fixture user has no updated_at")
	}
	for _, tt := range []struct {
		scope string
		has   bool
	}{
		{"openid profile", true},
		{"openid email", false},
	} {
		code := f.code(f.app, func(q url.Values) { q.Set("scope", tt.scope) })
		res := f.exchange(code, testVerifier)
		if res.status != 200 {
			t.Fatalf("%s: exchange %v", tt.scope, res.body)
		}
		got, ok := claimsOf(t, res.str("id_token"))["updated_at"]
		if ok != tt.has || ok && got != want {
			t.Errorf("scope %q: id token updated_at = %v (present %v), want %v (present %v)", tt.scope, got, ok, want, tt.has)
		}
		ui := f.userinfoClaims(res.str("access_token"))
		if got, ok := ui["updated_at"]; ok != tt.has || ok && got != want {
			t.Errorf("scope %q: userinfo updated_at = %v (present %v)", tt.scope, got, ok)
		}
	}
}

// A client with always_issue_refresh gets a refresh token without asking
// for offline_access; others do not.
func TestToken_AlwaysIssueRefresh(t *testing.T) {
	f := newFixture(t)
	always, secret := f.newApp(auth.AppInput{Name: "Always", SkipConsent: true, AlwaysIssueRefresh: true})
	for _, tt := range []struct {
		app    *auth.App
		secret string
		want   bool
	}{
		{f.app, f.secret, false},
		{always, secret, true},
	} {
		code := f.code(tt.app, func(q url.Values) { q.Set("scope", "openid profile") })
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
		res := f.post(PathToken, form, tt.app.ClientID, tt.secret)
		if res.status != 200 {
			t.Fatalf("%s: %v", tt.app.Slug, res.body)
		}
		if got := res.str("refresh_token") != ""; got != tt.want {
			t.Errorf("%s without offline_access: refresh token %v, want %v", tt.app.Slug, got, tt.want)
		}
	}
}
