package ui

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/authtest"
)

// The passkeys page asks for the current password, and begin answers
// without a challenge until it is right: a stolen session cookie cannot add
// a passkey. Wrong passwords are counted like sign-ins.
func TestPasskeyAdd_StolenSessionCannotAddOne(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	e.user("mallory@example.com", "mallory", "mallory-password")
	c := e.client("10.50.0.1")
	want(t, c.signin("ann", "ann-password", nil), 303, "/")
	page := c.get("/account/passkeys")
	// The password goes in the begin request only, never in the form.
	if !strings.Contains(page.body, `<input id="passkey-password" type="password" autocomplete="current-password" required data-passkey-password>`) {
		t.Errorf("the passkeys page asks for no password (or names the field):\n%s", page.body)
	}
	for _, tc := range []struct {
		name, body string
		code       int
		says       string
	}{
		{"no body", "", http.StatusBadRequest, "could not read"},
		{"no password", "{}", http.StatusBadRequest, "Enter your current password"},
		{"a wrong password", passwordBody("ann-Password"), http.StatusUnauthorized, "That password is not right"},
		{"the attacker's own password", passwordBody("mallory-password"), http.StatusUnauthorized, "That password is not right"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ch := c.beginWith("/account/passkeys/begin", tc.body)
			if ch != nil || r.code != tc.code || !strings.Contains(r.body, tc.says) {
				t.Fatalf("begin: %d %s; want %d saying %q and no challenge", r.code, r.body, tc.code, tc.says)
			}
		})
	}
	// A finish with no checked begin behind it is refused as before.
	r := c.post("/account/passkeys", url.Values{"ceremony": {auth.PrefixCeremonyToken + "made-up"}, "credential": {"{}"}})
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, "expired") || len(passkeyIDs(r.body)) != 0 {
		t.Fatalf("finish without a begin: %d\n%s", r.code, r.body)
	}
	// The account's failures add up: after the free ones, even the right
	// password waits, with Retry-After.
	for range auth.AccountFreeFailures - 2 {
		if r, _ := c.beginWith("/account/passkeys/begin", passwordBody("guess")); r.code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d %s", r.code, r.body)
		}
	}
	r, ch := c.beginWith("/account/passkeys/begin", passwordBody("ann-password"))
	if ch != nil || r.code != http.StatusTooManyRequests || r.hdr.Get("Retry-After") == "" {
		t.Fatalf("right password after %d failures: %d %v %s", auth.AccountFreeFailures, r.code, r.hdr, r.body)
	}
	if page := c.get("/account/passkeys"); len(passkeyIDs(page.body)) != 0 {
		t.Fatalf("a passkey was added:\n%s", page.body)
	}
}

// The security page's set-up asks for the current password with the code;
// without it, or with a wrong one, nothing is set up.
func TestTOTPSetup_StolenSessionCannotEnrol(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	c := e.client("10.51.0.1")
	want(t, c.signin("ann", "ann-password", nil), 303, "/")
	page := c.get("/account/security/totp")
	secret := pageSecret(t, page)
	if !strings.Contains(page.body, `name="password" type="password" autocomplete="current-password"`) {
		t.Errorf("the set-up page asks for no password:\n%s", page.body)
	}
	for _, tc := range []struct {
		name, password string
		code           int
		says           string
	}{
		{"no password", "", http.StatusBadRequest, "Enter your current password"},
		{"a wrong password", "ann-Password", http.StatusUnauthorized, "That password is not right"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post("/account/security/totp", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}, "password": {tc.password}})
			if r.code != tc.code || !strings.Contains(r.body, tc.says) || pageSecret(t, r) != secret {
				t.Fatalf("confirm: %d; want %d saying %q on the same set-up\n%s", r.code, tc.code, tc.says, r.body)
			}
			if sec := c.get("/account/security"); !strings.Contains(sec.body, "Off:") {
				t.Fatalf("TOTP was set up:\n%s", sec.body)
			}
		})
	}
	for range auth.AccountFreeFailures - 1 {
		c.post("/account/security/totp", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}, "password": {"guess"}})
	}
	r := c.post("/account/security/totp", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}, "password": {"ann-password"}})
	if r.code != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many attempts") {
		t.Fatalf("right password after %d failures: %d\n%s", auth.AccountFreeFailures, r.code, r.body)
	}
	e.advance(auth.AccountFirstDelay)
	r = c.post("/account/security/totp", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}, "password": {"ann-password"}})
	if r.code != http.StatusOK || strings.Count(r.body, "<li><code>") != auth.BackupCodeCount {
		t.Fatalf("with the password after the delay: %d\n%s", r.code, r.body)
	}
}
