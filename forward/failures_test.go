package forward

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// Every refused bearer credential is a 401 with a Bearer challenge and a
// JSON body naming the reason: never a 403 page or a redirect, whatever
// the client's Accept says.
func TestVerify_BearerRefusalsSayWhy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ann, _ := f.svc.UserByEmail(ctx, "ann@example.com")
	bob, _ := f.svc.UserByEmail(ctx, "bob@example.com")
	annKey, _, err := f.svc.CreateAPIKey(ctx, "wiki", "ann@example.com", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	bobKey, _, err := f.svc.CreateAPIKey(ctx, "wiki", "bob@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	mediaKey, _, err := f.svc.CreateAPIKey(ctx, "media", "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	grafana, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Grafana", Type: auth.AppOIDC, RedirectURIs: []string{"https://g.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	staffOnly, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Loki", Type: auth.AppOIDC, RedirectURIs: []string{"https://l.example.com/cb"}, AllowedGroups: []string{"staff"}})
	if err != nil {
		t.Fatal(err)
	}
	immich, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Immich", Type: auth.AppOIDC, RedirectURIs: []string{"https://i.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error {
		a.AcceptTokensFrom = []string{grafana.ID, staffOnly.ID}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateApp(ctx, "media", func(a *auth.App) error {
		a.AcceptTokensFrom = []string{grafana.ID}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	inactive := *grafana
	inactive.Active = false
	exp := f.clock().Add(time.Hour)
	f.tokens.set(map[string]*auth.AccessToken{
		"cat_immich":   {UserID: ann.ID, Client: immich, ExpiresAt: exp},
		"cat_inactive": {UserID: ann.ID, Client: &inactive, ExpiresAt: exp},
		"cat_bob_loki": {UserID: bob.ID, Client: staffOnly, ExpiresAt: exp},
		"cat_bob":      {UserID: bob.ID, Client: grafana, ExpiresAt: exp},
	})
	// Media has a deny rule on /admin for everyone.
	if _, _, err := f.svc.AddAppRule(ctx, "media", auth.RuleInput{Path: "/admin", Policy: auth.PolicyDeny}, 0); err != nil {
		t.Fatal(err)
	}
	media := func(p string) http.Header { return caddyHeaders("https", "x.media.example.com", p) }

	for _, tc := range []struct {
		name   string
		h      http.Header
		bearer string
		want   string
	}{
		{"unknown token", wiki("/"), "cak_nothing", reasonInvalid},
		{"another app's API key", wiki("/"), mediaKey, reasonOtherApp},
		{"a token of a client the app does not accept", wiki("/"), "cat_immich", reasonOtherApp},
		{"a token of an inactive client", wiki("/"), "cat_inactive", reasonAppInactive},
		{"a token of a client the user may not use", wiki("/"), "cat_bob_loki", reasonGroups},
		{"an API key of a user outside the app's groups", wiki("/"), bobKey, reasonGroups},
		{"a token of a user outside the app's groups", wiki("/"), "cat_bob", reasonGroups},
		{"an inactive app", caddyHeaders("https", "old.example.com", "/"), annKey, reasonAppInactive},
		{"no app for the host", caddyHeaders("https", "nowhere.example.com", "/"), annKey, reasonOtherApp},
		{"a deny rule", media("/admin/x"), mediaKey, reasonRule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(req{h: tc.h, bearer: tc.bearer, accept: browserAccept})
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401; body %q", w.Code, w.Body)
			}
			if got := w.Header().Get("Www-Authenticate"); got == "" || got[:6] != "Bearer" {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var body struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if body.Error != tc.want {
				t.Errorf("reason %q, want %q", body.Error, tc.want)
			}
		})
	}
	// The same keys where they are valid still pass.
	if w := f.do(req{h: wiki("/"), bearer: annKey}); w.Code != 200 {
		t.Errorf("ann's key at wiki: %d", w.Code)
	}
	if w := f.do(req{h: media("/ok"), bearer: mediaKey}); w.Code != 200 {
		t.Errorf("media key at media: %d", w.Code)
	}
}

// Guessing bearer tokens or Basic passwords from one address: after 50
// failures in a minute the address gets 429 with Retry-After, even with a
// valid credential, until the minute is over; another address and a
// browser session from the same address are not affected.
func TestVerify_FailedCredentialsLimitedPerAddress(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	key, _, err := f.svc.CreateAPIKey(ctx, "wiki", "ann@example.com", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	ann, _ := f.signIn("ann@example.com")
	from := func(remote, bearer, cookie string) *httptest.ResponseRecorder {
		hr := httptest.NewRequest("GET", Path, nil)
		hr.RemoteAddr = remote
		for k, vs := range wiki("/") {
			hr.Header[k] = vs
		}
		if bearer != "" {
			hr.Header.Set("Authorization", "Bearer "+bearer)
		}
		if cookie != "" {
			hr.Header.Set("Cookie", "clinch_session="+cookie)
		}
		w := httptest.NewRecorder()
		f.v.ServeHTTP(w, hr)
		return w
	}
	const attacker, other = "192.0.2.7:5000", "192.0.2.8:5000"
	for i := range failLimit {
		if w := from(attacker, "cak_guess"+strconv.Itoa(i), ""); w.Code != 401 {
			t.Fatalf("guess %d: %d, want 401", i, w.Code)
		}
	}
	w := from(attacker, key, "")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("after %d failures, a valid key from the same address: %d, want 429", failLimit, w.Code)
	}
	if ra, err := strconv.Atoi(w.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q, want 1..60 seconds", w.Header().Get("Retry-After"))
	}
	if w := from(other, key, ""); w.Code != 200 {
		t.Errorf("a valid key from another address: %d", w.Code)
	}
	if w := from(attacker, "", ann); w.Code != 200 {
		t.Errorf("a session from the limited address: %d (only credentials in Authorization are limited)", w.Code)
	}
	f.advance(failWindow)
	if w := from(attacker, key, ""); w.Code != 200 {
		t.Errorf("a valid key after the window: %d", w.Code)
	}
}

// Anonymous requests, and requests whose credentials are fine, leave
// nothing in the failure table; failures from a flood of addresses keep
// it bounded.
func TestFailures_Bounded(t *testing.T) {
	f := newFixture(t)
	for i := range 200 {
		hr := httptest.NewRequest("GET", Path, nil)
		hr.RemoteAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1000).String()
		for k, vs := range wiki("/") {
			hr.Header[k] = vs
		}
		f.v.ServeHTTP(httptest.NewRecorder(), hr)
	}
	if n := f.v.failures.len(); n != 0 {
		t.Errorf("%d addresses recorded after anonymous requests, want 0", n)
	}

	fs := newFailures()
	now := time.Now()
	for i := range failMaxAddrs + 500 {
		fs.fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now)
	}
	if n := fs.len(); n > failMaxAddrs {
		t.Errorf("%d addresses kept, want at most %d", n, failMaxAddrs)
	}
	// One IPv6 host rotating through its /64 is one address.
	for i := range failLimit {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
		hr := httptest.NewRequest("GET", Path, nil)
		hr.RemoteAddr = netip.AddrPortFrom(a, 1).String()
		fs.fail(failKey(hr, nil), now)
	}
	hr := httptest.NewRequest("GET", Path, nil)
	hr.RemoteAddr = "[2001:db8::ffff]:1"
	if fs.blocked(failKey(hr, nil), now) == 0 {
		t.Error("a /64 rotating its addresses is not limited")
	}
}

// A valid key that the app's groups refuse, or that asks at an app the
// admin deactivated, is not guessing: a client that keeps asking is
// refused each time, and its address is not blocked for its other, valid
// credentials.
func TestVerify_RefusedValidKeyIsNotCountedAsAFailure(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	bobKey, _, err := f.svc.CreateAPIKey(ctx, "wiki", "bob@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	annKey, _, err := f.svc.CreateAPIKey(ctx, "wiki", "ann@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range failLimit + 5 {
		if w := f.do(req{h: wiki("/"), bearer: bobKey}); w.Code != 401 {
			t.Fatalf("bob's key, request %d: %d", i, w.Code)
		}
		// An app the admin deactivated is not the client's guess either.
		if w := f.do(req{h: caddyHeaders("https", "old.example.com", "/"), bearer: annKey}); w.Code != 401 {
			t.Fatalf("ann's key at the inactive app, request %d: %d", i, w.Code)
		}
	}
	if w := f.do(req{h: wiki("/"), bearer: annKey}); w.Code != 200 {
		t.Errorf("ann's key from the same address after bob's refusals: %d, want 200", w.Code)
	}
}
