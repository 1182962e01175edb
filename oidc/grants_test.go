package oidc

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// The account page's "Connected apps": an app the user consented to, or
// that holds their tokens, is listed; revoking takes back the consent and
// every token at that app, and nothing at the others.
func TestGrants_UserAppsAndRevokeUserApp(t *testing.T) {
	f := newFixture(t)
	g := NewGrants(f.p.store)
	other, otherSecret := f.newApp(auth.AppInput{Name: "Other", SkipConsent: true})
	consented, secret := f.newApp(auth.AppInput{Name: "Needs consent"})

	if apps, err := g.UserApps(f.ctx, f.user.ID); err != nil || len(apps) != 0 {
		t.Fatalf("before any sign-in: %v %v", apps, err)
	}
	a := f.exchange(f.code(f.app, nil), testVerifier)
	b := f.exchange2(other, otherSecret)
	br := f.browser(true)
	w := br.get(PathAuthorize + "?" + f.authorizeQuery(consented, nil).Encode())
	u := location(t, br.consent(w.Body.String(), "allow"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	c := f.post(PathToken, form, consented.ClientID, secret)
	if c.status != 200 || c.str("refresh_token") == "" {
		t.Fatalf("exchange after consent: %v", c.body)
	}

	apps, err := g.UserApps(f.ctx, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ap := range apps {
		ids = append(ids, ap.AppID)
		if ap.AppID == consented.ID && (!slices.Contains(ap.Scopes, "offline_access") || ap.Grants != 1 || ap.Since.IsZero()) {
			t.Errorf("consented app listed as %+v", ap)
		}
	}
	want := []string{f.app.ID, other.ID, consented.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("apps %v, want %v", ids, want)
	}
	if apps, _ := g.UserApps(f.ctx, "somebody-else"); len(apps) != 0 {
		t.Fatalf("another user sees %v", apps)
	}

	n, err := g.RevokeUserApp(f.ctx, f.user.ID, consented.ID)
	if err != nil || n != 1 {
		t.Fatalf("RevokeUserApp = %d, %v", n, err)
	}
	if f.userinfo(c.str("access_token")) == http.StatusOK {
		t.Error("the revoked app's access token still works")
	}
	rf := f.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.str("refresh_token")}}, consented.ClientID, secret)
	wantOAuthError(t, rf, http.StatusBadRequest, "invalid_grant")
	if f.userinfo(a.str("access_token")) != http.StatusOK || f.userinfo(b.str("access_token")) != http.StatusOK {
		t.Error("revoking one app ended tokens at the others")
	}
	// The consent is gone: the app asks again.
	if w := br.get(PathAuthorize + "?" + f.authorizeQuery(consented, nil).Encode()); w.Code != 200 || !strings.Contains(w.Body.String(), `value="allow"`) {
		t.Fatalf("after revoking, the app is not asked for consent again: %d", w.Code)
	}
	apps, _ = g.UserApps(f.ctx, f.user.ID)
	if slices.ContainsFunc(apps, func(ap UserApp) bool { return ap.AppID == consented.ID }) {
		t.Errorf("revoked app still listed: %+v", apps)
	}
	// An app never let in: nothing to revoke, no error.
	if n, err := g.RevokeUserApp(f.ctx, f.user.ID, "no-such-app"); err != nil || n != 0 {
		t.Fatalf("unknown app: %d %v", n, err)
	}
}
