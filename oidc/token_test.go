package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clinchsso/clinch/auth"
)

func TestToken_CodeExchangeIssuesVerifiableIDToken(t *testing.T) {
	f := newFixture(t)
	res := f.exchange(f.code(f.app, nil), testVerifier)
	if res.status != 200 || res.str("token_type") != "Bearer" || res.str("refresh_token") == "" {
		t.Fatalf("exchange: %d %v", res.status, res.body)
	}
	at := res.str("access_token")
	if !strings.HasPrefix(at, auth.PrefixAccessToken) || !strings.HasPrefix(res.str("refresh_token"), auth.PrefixRefreshToken) {
		t.Errorf("token prefixes: %q %q", at, res.str("refresh_token"))
	}
	jws, err := jose.ParseSignedCompact(res.str("id_token"), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	b, _ := f.p.keys.JWKS()
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify(&set)
	if err != nil {
		t.Fatalf("id token does not verify with the JWKS: %v", err)
	}
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	for k, want := range map[string]any{
		"iss": "http://localhost:3000", "aud": f.app.ClientID, "azp": f.app.ClientID, "nonce": "n0",
		"email": "ada@example.com", "preferred_username": "ada", "name": "Ada", "acr": "1",
		"at_hash": halfHash(at), "email_verified": true,
	} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %v", k, c[k], want)
		}
	}
	if c["sub"] == f.user.ID || c["sub"] == "" {
		t.Errorf("sub %v must be pairwise, not the user id", c["sub"])
	}
	if f.userinfo(at) != 200 {
		t.Error("userinfo refused a fresh access token")
	}
}

func TestToken_CodeReuseRevokesIssuedTokens(t *testing.T) {
	f := newFixture(t)
	code := f.code(f.app, nil)
	first := f.exchange(code, testVerifier)
	if first.status != 200 {
		t.Fatalf("first exchange: %v", first.body)
	}
	f.changes = nil
	wantOAuthError(t, f.exchange(code, testVerifier), 400, ErrInvalidGrant)
	if f.userinfo(first.str("access_token")) != http.StatusUnauthorized {
		t.Error("access token from a replayed code still works")
	}
	wantOAuthError(t, f.refreshWith(first.str("refresh_token")), 400, ErrInvalidGrant)
	found := false
	for _, c := range f.changes {
		if c.Kind == auth.ChangeToken && c.TokenHash == f.p.secrets.Hash(first.str("access_token")) {
			found = true
		}
	}
	if !found {
		t.Error("revocation was not announced to caches")
	}
}

func TestToken_PKCEDowngrade(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name     string
		mod      func(url.Values)
		verifier string
	}{
		{"verifier omitted", nil, ""},
		{"wrong verifier", nil, strings.Repeat("x", 43)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantOAuthError(t, f.exchange(f.code(f.app, c.mod), c.verifier), 400, ErrInvalidGrant)
		})
	}
	// Only a client made with --require-pkce=false gets a code without a
	// challenge; a verifier sent for that code is refused all the same.
	t.Run("verifier for a code without challenge", func(t *testing.T) {
		off := false
		legacy, secret := f.newApp(auth.AppInput{Name: "Legacy", SkipConsent: true, RequirePKCE: &off})
		code := f.code(legacy, func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") })
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
		wantOAuthError(t, f.post(PathToken, form, legacy.ClientID, secret), 400, ErrInvalidGrant)
	})
	t.Run("plain method refused at authorize", func(t *testing.T) {
		for _, m := range []string{"plain", ""} {
			u := location(t, f.authorize(f.authorizeQuery(f.app, func(q url.Values) { q.Set("code_challenge_method", m) }), true))
			if u.Query().Get("error") != ErrInvalidRequest || u.Query().Get("code") != "" {
				t.Errorf("method %q: %s", m, u)
			}
		}
	})
	t.Run("public client without PKCE", func(t *testing.T) {
		u := location(t, f.authorize(f.authorizeQuery(f.pub, func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }), true))
		if u.Query().Get("error") != ErrInvalidRequest || u.Query().Get("code") != "" {
			t.Errorf("public client got %s", u)
		}
	})
}

func TestToken_CrossClientCodeRedemption(t *testing.T) {
	f := newFixture(t)
	other, otherSecret := f.newApp(auth.AppInput{Name: "Other", SkipConsent: true})
	code := f.code(f.app, nil)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	wantOAuthError(t, f.post(PathToken, form, other.ClientID, otherSecret), 400, ErrInvalidGrant)
	// The rightful client can still redeem it.
	if res := f.exchange(code, testVerifier); res.status != 200 {
		t.Fatalf("rightful client: %v", res.body)
	}
}

func TestToken_RedirectURIMismatchAtExchange(t *testing.T) {
	f := newFixture(t)
	app, secret := f.newApp(auth.AppInput{Name: "Two", SkipConsent: true, RedirectURIs: []string{testRedirect, "https://app.example.com/other"}})
	code := f.code(app, nil)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example.com/other"}, "code_verifier": {testVerifier}}
	wantOAuthError(t, f.post(PathToken, form, app.ClientID, secret), 400, ErrInvalidGrant)
}

func TestToken_ExpiredCode(t *testing.T) {
	f := newFixture(t)
	code := f.code(f.app, nil)
	f.now = f.now.Add(codeTTL + time.Second)
	wantOAuthError(t, f.exchange(code, testVerifier), 400, ErrInvalidGrant)
}

func TestToken_RefreshReplayRevokesFamily(t *testing.T) {
	f := newFixture(t)
	first := f.exchange(f.code(f.app, nil), testVerifier)
	second := f.refreshWith(first.str("refresh_token"))
	if second.status != 200 || second.str("refresh_token") == first.str("refresh_token") || second.str("id_token") == "" {
		t.Fatalf("rotation: %d %v", second.status, second.body)
	}
	// The old refresh token is replayed (by a thief or a confused client):
	// everything in the family goes, the newest tokens included.
	wantOAuthError(t, f.refreshWith(first.str("refresh_token")), 400, ErrInvalidGrant)
	wantOAuthError(t, f.refreshWith(second.str("refresh_token")), 400, ErrInvalidGrant)
	if f.userinfo(second.str("access_token")) != http.StatusUnauthorized {
		t.Error("access token of a revoked family still works")
	}
}

func TestToken_RefreshCannotWidenScope(t *testing.T) {
	f := newFixture(t)
	first := f.exchange(f.code(f.app, func(q url.Values) { q.Set("scope", "openid offline_access") }), testVerifier)
	res := f.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}, "scope": {"openid email"}}, f.app.ClientID, f.secret)
	wantOAuthError(t, res, 400, ErrInvalidScope)
}

func TestToken_CrossClientRefresh(t *testing.T) {
	f := newFixture(t)
	other, otherSecret := f.newApp(auth.AppInput{Name: "Other", SkipConsent: true})
	first := f.exchange(f.code(f.app, nil), testVerifier)
	res := f.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}, other.ClientID, otherSecret)
	wantOAuthError(t, res, 400, ErrInvalidGrant)
}

func TestToken_ClientAuthentication(t *testing.T) {
	f := newFixture(t)
	cc := url.Values{"grant_type": {"client_credentials"}}
	t.Run("wrong secret", func(t *testing.T) {
		res := f.post(PathToken, cc, f.app.ClientID, "wrong")
		wantOAuthError(t, res, 401, ErrInvalidClient)
		if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Basic") {
			t.Error("401 without WWW-Authenticate: Basic")
		}
	})
	t.Run("confidential client without secret", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.app.ClientID}}
		wantOAuthError(t, f.post(PathToken, form, "", ""), 401, ErrInvalidClient)
	})
	t.Run("client_secret_post", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.app.ClientID}, "client_secret": {f.secret}}
		if res := f.post(PathToken, form, "", ""); res.status != 200 || res.str("id_token") != "" || res.str("refresh_token") != "" {
			t.Fatalf("%d %v", res.status, res.body)
		}
	})
	t.Run("two methods at once", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_secret": {f.secret}}
		wantOAuthError(t, f.post(PathToken, form, f.app.ClientID, f.secret), 400, ErrInvalidRequest)
	})
	t.Run("public client cannot use client_credentials", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {f.pub.ClientID}}
		wantOAuthError(t, f.post(PathToken, form, "", ""), 400, ErrUnauthorizedClient)
	})
	t.Run("public client sending a secret", func(t *testing.T) {
		wantOAuthError(t, f.post(PathToken, cc, f.pub.ClientID, "anything"), 401, ErrInvalidClient)
	})
	t.Run("grant type not allowed", func(t *testing.T) {
		app, secret := f.newApp(auth.AppInput{Name: "NoCC"})
		wantOAuthError(t, f.post(PathToken, cc, app.ClientID, secret), 400, ErrUnauthorizedClient)
	})
	t.Run("unknown grant type", func(t *testing.T) {
		wantOAuthError(t, f.post(PathToken, url.Values{"grant_type": {"password"}}, f.app.ClientID, f.secret), 400, ErrUnsupportedGrantType)
	})
	t.Run("repeated parameter", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials", "client_credentials"}}
		wantOAuthError(t, f.post(PathToken, form, f.app.ClientID, f.secret), 400, ErrInvalidRequest)
	})
}

func TestToken_PublicClientWithPKCE(t *testing.T) {
	f := newFixture(t)
	code := f.code(f.pub, nil)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect},
		"code_verifier": {testVerifier}, "client_id": {f.pub.ClientID}}
	if res := f.post(PathToken, form, "", ""); res.status != 200 || res.str("id_token") == "" {
		t.Fatalf("%d %v", res.status, res.body)
	}
}

func TestToken_DisabledUserGetsNothing(t *testing.T) {
	f := newFixture(t)
	code := f.code(f.app, nil)
	if _, err := f.svc.CreateUser(f.ctx, auth.NewUser{Email: "root@example.com", Password: "correct horse battery", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetStatus(f.ctx, f.user.Email, auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, f.exchange(code, testVerifier), 400, ErrInvalidGrant)
}

func TestRevoke_RefreshRevokesFamily(t *testing.T) {
	f := newFixture(t)
	first := f.exchange(f.code(f.app, nil), testVerifier)
	res := f.post(PathRevoke, url.Values{"token": {first.str("refresh_token")}}, f.app.ClientID, f.secret)
	if res.status != 200 {
		t.Fatalf("revoke: %d %v", res.status, res.body)
	}
	if f.userinfo(first.str("access_token")) != http.StatusUnauthorized {
		t.Error("access token survives revocation of its refresh token")
	}
	wantOAuthError(t, f.refreshWith(first.str("refresh_token")), 400, ErrInvalidGrant)
}

func TestRevoke_OtherClientsTokenIsUntouched(t *testing.T) {
	f := newFixture(t)
	other, otherSecret := f.newApp(auth.AppInput{Name: "Other", SkipConsent: true})
	first := f.exchange(f.code(f.app, nil), testVerifier)
	if res := f.post(PathRevoke, url.Values{"token": {first.str("access_token")}}, other.ClientID, otherSecret); res.status != 200 {
		t.Fatalf("revoke answered %d", res.status)
	}
	if f.userinfo(first.str("access_token")) != 200 {
		t.Error("another client revoked this client's token")
	}
	if res := f.post(PathRevoke, url.Values{"token": {first.str("access_token")}}, f.app.ClientID, f.secret); res.status != 200 {
		t.Fatalf("revoke: %d", res.status)
	}
	if f.userinfo(first.str("access_token")) != http.StatusUnauthorized {
		t.Error("revoked access token still works")
	}
}

func TestIntrospect(t *testing.T) {
	f := newFixture(t)
	first := f.exchange(f.code(f.app, nil), testVerifier)
	res := f.post(PathIntrospect, url.Values{"token": {first.str("access_token")}}, f.app.ClientID, f.secret)
	if res.status != 200 || res.body["active"] != true || res.str("client_id") != f.app.ClientID || res.str("username") != "ada" {
		t.Fatalf("introspect: %d %v", res.status, res.body)
	}
	if res := f.post(PathIntrospect, url.Values{"token": {"cat_nope"}}, f.app.ClientID, f.secret); res.body["active"] != false {
		t.Errorf("unknown token: %v", res.body)
	}
	// Without client authentication: refused, nothing revealed.
	form := url.Values{"token": {first.str("access_token")}, "client_id": {f.pub.ClientID}}
	wantOAuthError(t, f.post(PathIntrospect, form, "", ""), 401, ErrInvalidClient)
}

func TestUserinfo_ClientCredentialsTokenHasNoUser(t *testing.T) {
	f := newFixture(t)
	res := f.post(PathToken, url.Values{"grant_type": {"client_credentials"}}, f.app.ClientID, f.secret)
	if f.userinfo(res.str("access_token")) != http.StatusUnauthorized {
		t.Error("userinfo answered for a client_credentials token")
	}
	p, err := f.p.ResolveAccessToken(f.ctx, res.str("access_token"))
	if err != nil || p.UserID != "" || p.Client == nil || p.Client.ID != f.app.ID {
		t.Fatalf("resolve: %+v %v", p, err)
	}
}

func TestResolveAccessToken(t *testing.T) {
	f := newFixture(t)
	at := f.exchange(f.code(f.app, nil), testVerifier).str("access_token")
	p, err := f.p.ResolveAccessToken(f.ctx, at)
	if err != nil || p.UserID != f.user.ID || p.Client.ID != f.app.ID || p.ExpiresAt.IsZero() {
		t.Fatalf("resolve: %+v %v", p, err)
	}
	if _, err := f.p.ResolveAccessToken(f.ctx, "cat_unknown"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("unknown token: %v", err)
	}
}

// tokenStands reports what each way of using a user's tokens says: the
// access token at userinfo, at introspection (by its own client) and as
// resolved for /api/verify, and whether the refresh token still refreshes.
type tokenState struct{ userinfo, introspect, resolve, refresh bool }

func (f *fixture) tokenState(app *auth.App, secret string, res tokenResult) tokenState {
	f.t.Helper()
	at, rt := res.str("access_token"), res.str("refresh_token")
	var st tokenState
	st.userinfo = f.userinfo(at) == http.StatusOK
	if in := f.post(PathIntrospect, url.Values{"token": {at}}, app.ClientID, secret); in.body["active"] == true {
		st.introspect = true
	}
	_, err := f.p.ResolveAccessToken(f.ctx, at)
	st.resolve = err == nil
	// Introspecting the refresh token does not use it up.
	if in := f.post(PathIntrospect, url.Values{"token": {rt}}, app.ClientID, secret); in.body["active"] == true {
		st.refresh = true
	}
	return st
}

// Tokens outlived their client and their user: deactivating or deleting
// the client, signing the user out everywhere, changing the password,
// disabling (and enabling again) and leaving the client's groups must all
// end them, for every way a token is used.
func TestTokens_OutliveNeitherClientNorUser(t *testing.T) {
	dead := tokenState{}
	tests := []struct {
		name   string
		change func(f *fixture, app *auth.App)
	}{
		{"client deactivated", func(f *fixture, app *auth.App) {
			if _, err := f.svc.UpdateApp(f.ctx, app.Slug, func(a *auth.App) error { a.Active = false; return nil }); err != nil {
				f.t.Fatal(err)
			}
		}},
		{"sessions revoked", func(f *fixture, _ *auth.App) {
			if _, err := f.svc.RevokeSessions(f.ctx, f.user.Email); err != nil {
				f.t.Fatal(err)
			}
		}},
		{"password changed", func(f *fixture, _ *auth.App) {
			if _, err := f.svc.SetPassword(f.ctx, f.user.Email, "another good password"); err != nil {
				f.t.Fatal(err)
			}
		}},
		{"disabled and enabled", func(f *fixture, _ *auth.App) {
			for _, st := range []auth.Status{auth.StatusDisabled, auth.StatusActive} {
				if _, err := f.svc.SetStatus(f.ctx, f.user.Email, st); err != nil {
					f.t.Fatal(err)
				}
			}
		}},
		{"removed from the client's groups", func(f *fixture, app *auth.App) {
			g, err := f.svc.CreateGroup(f.ctx, "wiki-users", "", "")
			if err != nil {
				f.t.Fatal(err)
			}
			if _, err := f.svc.UpdateApp(f.ctx, app.Slug, func(a *auth.App) error { a.AllowedGroupIDs = []string{g.ID}; return nil }); err != nil {
				f.t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			app, secret := f.newApp(auth.AppInput{Name: "Client", SkipConsent: true})
			res := f.exchange2(app, secret)
			if st := f.tokenState(app, secret, res); st != (tokenState{true, true, true, true}) {
				t.Fatalf("fresh tokens: %+v", st)
			}
			tt.change(f, app)
			if tt.name == "client deactivated" {
				// Introspection by a deactivated client is refused outright.
				if _, err := f.p.ResolveAccessToken(f.ctx, res.str("access_token")); err == nil {
					t.Error("resolve: the token still stands")
				}
				if f.userinfo(res.str("access_token")) == http.StatusOK {
					t.Error("userinfo: the token still stands")
				}
				// Deactivating revoked the tokens, not only hid them:
				// activating the client again does not bring them back.
				if _, err := f.svc.UpdateApp(f.ctx, app.Slug, func(a *auth.App) error { a.Active = true; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if st := f.tokenState(app, secret, res); st != dead {
				t.Errorf("after %s: %+v, want every use refused", tt.name, st)
			}
			if r := f.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {res.str("refresh_token")}}, app.ClientID, secret); r.status == 200 {
				t.Errorf("after %s the refresh token still refreshes", tt.name)
			}
		})
	}
}

func TestTokens_DeletedClientLosesThem(t *testing.T) {
	f := newFixture(t)
	app, secret := f.newApp(auth.AppInput{Name: "Client", SkipConsent: true})
	res := f.exchange2(app, secret)
	if err := f.svc.DeleteApp(f.ctx, app.Slug); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.ResolveAccessToken(f.ctx, res.str("access_token")); err == nil {
		t.Error("a deleted client's token resolves")
	}
	if f.userinfo(res.str("access_token")) == http.StatusOK {
		t.Error("a deleted client's token works at userinfo")
	}
	in := f.post(PathIntrospect, url.Values{"token": {res.str("access_token")}}, f.app.ClientID, f.secret)
	if in.body["active"] != false {
		t.Errorf("introspection says a deleted client's token is %v", in.body)
	}
}

// Any confidential client learned active, username and sub for any other
// client's tokens.
func TestIntrospect_OtherClientsTokensLookInactive(t *testing.T) {
	f := newFixture(t)
	other, otherSecret := f.newApp(auth.AppInput{Name: "Other", SkipConsent: true})
	res := f.exchange(f.code(f.app, nil), testVerifier)
	for _, tok := range []string{res.str("access_token"), res.str("refresh_token")} {
		in := f.post(PathIntrospect, url.Values{"token": {tok}}, other.ClientID, otherSecret)
		if in.status != 200 || len(in.body) != 1 || in.body["active"] != false {
			t.Errorf("another client introspecting: %d %v", in.status, in.body)
		}
	}
	if in := f.post(PathIntrospect, url.Values{"token": {res.str("access_token")}}, f.app.ClientID, f.secret); in.body["active"] != true {
		t.Errorf("own client introspecting: %v", in.body)
	}
}

func TestUserTokensRevoke(t *testing.T) {
	f := newFixture(t)
	other, otherSecret := f.newApp(auth.AppInput{Name: "Other", SkipConsent: true})
	a := f.exchange(f.code(f.app, nil), testVerifier)
	b := f.exchange2(other, otherSecret)
	n, err := NewGrants(f.p.store).RevokeUser(f.ctx, f.user.ID, other.ID)
	if err != nil || n != 1 {
		t.Fatalf("revoke at one app: %d %v", n, err)
	}
	if f.userinfo(b.str("access_token")) == http.StatusOK || f.userinfo(a.str("access_token")) != http.StatusOK {
		t.Fatal("--app revoked the wrong tokens")
	}
	if n, err := NewGrants(f.p.store).RevokeUser(f.ctx, f.user.ID, ""); err != nil || n != 1 {
		t.Fatalf("revoke all: %d %v", n, err)
	}
	if f.userinfo(a.str("access_token")) == http.StatusOK {
		t.Fatal("tokens survive revoking all")
	}
}

// The admin page lists a user's grants by app, and "sign out everyone"
// ends every grant with the sessions, in one transaction.
func TestGrants_ListAndSignOutEveryone(t *testing.T) {
	f := newFixture(t)
	other, otherSecret := f.newApp(auth.AppInput{Name: "Other", SkipConsent: true})
	a := f.exchange(f.code(f.app, nil), testVerifier)
	b := f.exchange2(other, otherSecret)
	gs, err := NewGrants(f.p.store).UserGrants(f.ctx, f.user.ID)
	if err != nil || len(gs) != 2 {
		t.Fatalf("UserGrants = %v, %v; want 2", gs, err)
	}
	apps := []string{gs[0].AppID, gs[1].AppID}
	if !slices.Contains(apps, f.app.ID) || !slices.Contains(apps, other.ID) || len(gs[0].Scopes) == 0 {
		t.Fatalf("grants %+v", gs)
	}
	if none, err := NewGrants(f.p.store).UserGrants(f.ctx, "nobody"); err != nil || len(none) != 0 {
		t.Fatalf("another user's grants: %v, %v", none, err)
	}
	if _, err := f.p.auth.SignOutEveryone(f.ctx); err != nil {
		t.Fatal(err)
	}
	if f.userinfo(a.str("access_token")) == http.StatusOK || f.userinfo(b.str("access_token")) == http.StatusOK {
		t.Fatal("tokens survive sign out everyone")
	}
	if gs, _ := NewGrants(f.p.store).UserGrants(f.ctx, f.user.ID); len(gs) != 0 {
		t.Fatalf("%d grants left", len(gs))
	}
}

// An app that comes to require a second factor after a grant was made
// with a password alone refuses that grant's refresh token and ends the
// grant with its access token; the RP must send the person through
// authorize, where the step-up is. A grant made with a second factor
// refreshes on, with acr "2".
func TestRefresh_AppNowRequiringSecondFactor(t *testing.T) {
	f := newFixture(t)
	weak := f.exchange2(f.app, f.secret) // f.cookie was made with a password alone
	_, tok, err := f.svc.StartSession(f.ctx, f.user, "127.0.0.1", "test", false, auth.ACRSecondFactor, []string{"pwd", "otp"})
	if err != nil {
		t.Fatal(err)
	}
	f.cookie = tok
	strong := f.exchange2(f.app, f.secret)
	if f.userinfo(weak.str("access_token")) != 200 {
		t.Fatal("the password-only grant's access token did not work before the change")
	}
	if _, err := f.svc.UpdateApp(f.ctx, f.app.Slug, func(a *auth.App) error { a.RequireSecondFactor = true; return nil }); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, f.refreshWith(weak.str("refresh_token")), 400, ErrInvalidGrant)
	if code := f.userinfo(weak.str("access_token")); code != 401 {
		t.Errorf("the refused grant's access token at userinfo: %d, want 401", code)
	}
	res := f.refreshWith(strong.str("refresh_token"))
	if res.status != 200 {
		t.Fatalf("refresh of the second-factor grant: %d %v", res.status, res.body)
	}
	if c := claimsOf(t, res.str("id_token")); c["acr"] != "2" {
		t.Errorf("refreshed ID token acr %v, want 2", c["acr"])
	}
}
