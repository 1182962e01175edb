package ui

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/authtest"
	"github.com/clinchsso/clinch/web"
)

var secretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

// pageSecret reads the TOTP secret a set-up page shows.
func pageSecret(t *testing.T, r resp) string {
	t.Helper()
	m := secretRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("the set-up page (%d) shows no secret:\n%s", r.code, r.body)
	}
	if !strings.Contains(r.body, `src="data:image/png;base64,`) {
		t.Fatalf("the set-up page has no QR code image:\n%s", r.body)
	}
	return m[1]
}

// enrol sets up TOTP for a signed-in client through the security page and
// returns the secret; the clock then moves on a minute.
func (e *env) enrol(c *client) string {
	e.t.Helper()
	r := c.get("/account/security/totp")
	want(e.t, r, 200, "")
	secret := pageSecret(e.t, r)
	r = c.post("/account/security/totp", url.Values{"code": {authtest.TOTP(e.t, secret, e.clock())}, "password": {c.password}})
	if r.code != 200 || strings.Count(r.body, "<li><code>") != auth.BackupCodeCount {
		e.t.Fatalf("confirming the set-up: %d\n%s", r.code, r.body)
	}
	e.advance(time.Minute)
	return secret
}

var qrRE = regexp.MustCompile(`src="data:image/png;base64,([^"]+)"`)

// pageQR checks that the set-up page's QR code is a PNG of the otpauth://
// URI an authenticator app needs: issuer "Clinch (HOST)", the account, and
// the very secret the page shows as text.
func pageQR(t *testing.T, r resp, host, account, secret string) {
	t.Helper()
	m := qrRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("the set-up page has no QR code image:\n%s", r.body)
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the QR code is not a PNG: %v", err)
	}
	uri, err := auth.TOTPKeyURI("Clinch ("+host+")", account, secret)
	if err != nil {
		t.Fatal(err)
	}
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	want, err := k.Image(240, 240)
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds() != want.Bounds() {
		t.Fatalf("QR code of %v, want %v", got.Bounds(), want.Bounds())
	}
	b := want.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.GrayModel.Convert(got.At(x, y)) != color.GrayModel.Convert(want.At(x, y)) {
				t.Fatalf("the QR code is not that of %s (first difference at %d,%d)", uri, x, y)
			}
		}
	}
}

func (c *client) cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.e.srv.URL + "/signin/x")
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func TestSecondFactor_SignIn(t *testing.T) {
	e := newEnv(t)
	bob := e.user("bob@example.com", "bob", "bob-password")
	setup := e.client("10.20.0.1")
	want(t, setup.signin("bob", "bob-password", nil), 303, "/")
	secret := e.enrol(setup)

	c := e.client("10.20.0.2")
	r := c.signin("bob", "bob-password", url.Values{"rd": {"https://" + appHost + "/p"}})
	want(t, r, 303, "/signin/second-factor")
	if c.sessionCookie() != "" {
		t.Fatal("a session cookie after the password alone")
	}
	sc := (&http.Response{Header: r.hdr}).Cookies()
	var pending *http.Cookie
	for _, ck := range sc {
		if ck.Name == web.SignInCookie {
			pending = ck
		}
	}
	if pending == nil || !pending.HttpOnly || pending.Path != "/signin" || pending.SameSite != http.SameSiteLaxMode || !strings.HasPrefix(pending.Value, auth.PrefixSignInToken) {
		t.Fatalf("pending sign-in cookie %+v", pending)
	}
	page := c.get("/signin/second-factor")
	want(t, page, 200, "")
	for _, s := range []string{"User bob", `name="code"`, `autocomplete="one-time-code"`, "backup code"} {
		if !strings.Contains(page.body, s) {
			t.Errorf("the second-factor page lacks %q", s)
		}
	}
	if csp := page.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://"+appHost+";") {
		t.Errorf("CSP %q blocks the redirect to the app after the code", csp)
	}
	for _, tt := range []struct {
		code, text string
		status     int
	}{
		{"", "Enter the 6-digit code", 400},
		{"12345", "that has 5", 400},
		{"abcdef", "not a code", 400},
		{authtest.TOTP(t, secret, e.clock().Add(-5*time.Minute)), "not right", 401},
	} {
		r := c.post("/signin/second-factor", url.Values{"code": {tt.code}})
		if r.code != tt.status || !strings.Contains(r.body, tt.text) || !strings.Contains(r.body, `role="alert"`) {
			t.Errorf("code %q: %d, want %d saying %q\n%s", tt.code, r.code, tt.status, tt.text, r.body)
		}
		if strings.Contains(r.body, `value="`+tt.code+`"`) && tt.code != "" {
			t.Errorf("code %q echoed back", tt.code)
		}
	}
	code := authtest.TOTP(t, secret, e.clock())
	r = c.post("/signin/second-factor", url.Values{"code": {code[:3] + " " + code[3:]}})
	want(t, r, 303, "https://"+appHost+"/p?fa_token=test")
	sess, err := e.auth.SessionByToken(context.Background(), c.sessionCookie())
	if err != nil || sess.ACR != "2" || sess.UserID != bob.ID {
		t.Fatalf("session after the code: %+v, %v", sess, err)
	}
	if c.cookie(web.SignInCookie) != nil {
		t.Error("the pending sign-in cookie outlives the sign-in")
	}
	// The same code again, in a new sign-in: refused as used.
	c2 := e.client("10.20.0.3")
	want(t, c2.signin("bob", "bob-password", nil), 303, "/signin/second-factor")
	r = c2.post("/signin/second-factor", url.Values{"code": {code}})
	if r.code != 401 || !strings.Contains(r.body, "already used") {
		t.Errorf("a replayed code: %d\n%s", r.code, r.body)
	}
	// Through a pending OIDC authorization: on to it.
	e.advance(30 * time.Second)
	want(t, c2.signin("bob", "bob-password", url.Values{"authz": {"pa1"}}), 303, "/signin/second-factor")
	r = c2.get("/signin/second-factor")
	if csp := r.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://grafana.example.com;") || !strings.Contains(r.body, "Grafana") {
		t.Errorf("second-factor page for an authorization: CSP %q\n%s", csp, r.body)
	}
	want(t, c2.post("/signin/second-factor", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}}), 303, "/oauth/authorize/resume?authz=pa1")
}

// The pending sign-in lives in one browser: another browser posting a
// right code gets the sign-in form back, and no session.
func TestSecondFactor_OtherBrowserGetsNothing(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	setup := e.client("10.21.0.1")
	want(t, setup.signin("bob", "bob-password", nil), 303, "/")
	secret := e.enrol(setup)
	victim := e.client("10.21.0.2")
	want(t, victim.signin("bob", "bob-password", nil), 303, "/signin/second-factor")
	other := e.client("10.21.0.3")
	r := other.post("/signin/second-factor", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}})
	if r.code != 400 || !strings.Contains(r.body, "expired") || other.sessionCookie() != "" {
		t.Fatalf("another browser: %d, session %q\n%s", r.code, other.sessionCookie(), r.body)
	}
	want(t, other.get("/signin/second-factor"), 200, "")
	want(t, victim.post("/signin/second-factor", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}}), 303, "/")
}

// A user who must have a second factor and has none goes from the
// password to TOTP set-up, and only the secret Clinch showed is saved:
// a secret posted with the form is ignored.
func TestSetupTOTP_PostedSecretIgnored(t *testing.T) {
	e := newEnv(t)
	bob := e.user("bob@example.com", "bob", "bob-password")
	if _, _, err := e.auth.SetRequireSecondFactor(context.Background(), bob.Email, true); err != nil {
		t.Fatal(err)
	}
	c := e.client("10.22.0.1")
	want(t, c.signin("bob", "bob-password", nil), 303, "/signin/setup-totp")
	want(t, c.get("/signin/second-factor"), 303, "/signin/setup-totp")
	want(t, c.get("/"), 303, "/signin")
	page := c.get("/signin/setup-totp")
	want(t, page, 200, "")
	shown := pageSecret(t, page)
	pageQR(t, page, "127.0.0.1", "bob@example.com", shown)
	if !strings.Contains(page.body, "requires two-step verification") {
		t.Errorf("the set-up page does not say why:\n%s", page.body)
	}
	// The password was just given: the forced set-up does not ask again.
	if strings.Contains(page.body, `name="password"`) {
		t.Errorf("the set-up at sign-in asks for the password again:\n%s", page.body)
	}
	const attacker = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	for _, field := range []string{"secret", "totp_secret", "key"} {
		r := c.post("/signin/setup-totp", url.Values{field: {attacker}, "code": {authtest.TOTP(t, attacker, e.clock())}})
		if r.code != 401 || c.sessionCookie() != "" {
			t.Fatalf("a code of a posted %s: %d, session %q", field, r.code, c.sessionCookie())
		}
		if pageSecret(t, r) != shown {
			t.Fatal("the page offers another secret after a posted one")
		}
	}
	r := c.post("/signin/setup-totp", url.Values{"secret": {attacker}, "code": {authtest.TOTP(t, shown, e.clock())}})
	if r.code != 200 || strings.Count(r.body, "<li><code>") != auth.BackupCodeCount || !strings.Contains(r.body, `href="/"`) {
		t.Fatalf("set-up with the shown secret: %d\n%s", r.code, r.body)
	}
	if c.sessionCookie() == "" {
		t.Fatal("no session after set-up")
	}
	// Later sign-ins take codes of the shown secret, not the posted one.
	e.advance(time.Minute)
	c2 := e.client("10.22.0.2")
	want(t, c2.signin("bob", "bob-password", nil), 303, "/signin/second-factor")
	want(t, c2.post("/signin/second-factor", url.Values{"code": {authtest.TOTP(t, attacker, e.clock())}}), 401, "")
	want(t, c2.post("/signin/second-factor", url.Values{"code": {authtest.TOTP(t, shown, e.clock())}}), 303, "/")
}

func TestSecurityPage(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	want(t, e.client("").get("/account/security"), 303, "/signin?rd=%2Faccount%2Fsecurity")
	c := e.client("10.23.0.1")
	want(t, c.signin("bob", "bob-password", nil), 303, "/")
	if home := c.get("/"); !strings.Contains(home.body, `href="/account/security"`) {
		t.Error("the home page does not link the security page")
	}
	if r := c.get("/account/security"); !strings.Contains(r.body, "Off:") {
		t.Errorf("security page before set-up:\n%s", r.body)
	}
	first := c.get("/account/security/totp")
	secret := pageSecret(t, first)
	pageQR(t, first, "127.0.0.1", "bob@example.com", secret)
	if again := pageSecret(t, c.get("/account/security/totp")); again != secret {
		t.Error("reloading the set-up page offers another secret")
	}
	r := c.post("/account/security/totp", url.Values{"code": {"123"}})
	want(t, r, 400, "")
	// A secret posted with a code of it is not what gets saved.
	const attacker = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	r = c.post("/account/security/totp", url.Values{"secret": {attacker}, "code": {authtest.TOTP(t, attacker, e.clock())}, "password": {"bob-password"}})
	want(t, r, 401, "")
	r = c.post("/account/security/totp", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}, "password": {"bob-password"}})
	want(t, r, 200, "")
	codes := regexp.MustCompile(`<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>`).FindAllStringSubmatch(r.body, -1)
	if len(codes) != auth.BackupCodeCount {
		t.Fatalf("%d backup codes shown:\n%s", len(codes), r.body)
	}
	sec := c.get("/account/security")
	if !strings.Contains(sec.body, "On:") || !strings.Contains(sec.body, "10 of 10 left") || strings.Contains(sec.body, secret) {
		t.Errorf("security page after set-up (the secret must not show again):\n%s", sec.body)
	}
	want(t, c.get("/account/security/totp"), 303, "/account/security")
	// New backup codes need the password or a code.
	r = c.post("/account/security/backup-codes", url.Values{})
	want(t, r, 400, "")
	r = c.post("/account/security/backup-codes", url.Values{"password": {"wrong-password"}})
	want(t, r, 401, "")
	r = c.post("/account/security/backup-codes", url.Values{"code": {codes[0][1]}})
	if r.code != 200 || !strings.Contains(r.body, "no longer work") {
		t.Fatalf("new backup codes with a backup code: %d\n%s", r.code, r.body)
	}
	// Turning it off with the password.
	r = c.post("/account/security/totp/disable", url.Values{"password": {"bob-password"}})
	if r.code != 200 || !strings.Contains(r.body, "Two-step verification is off") {
		t.Fatalf("turning off: %d\n%s", r.code, r.body)
	}
	c2 := e.client("10.23.0.2")
	want(t, c2.signin("bob", "bob-password", nil), 303, "/")
}

// GET /signin/step-up sends a signed-in browser through the second factor
// to a new acr "2" session that replaces its own, then on to rd.
func TestStepUpPage(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	c := e.client("10.24.0.1")
	want(t, c.signin("bob", "bob-password", nil), 303, "/")
	secret := e.enrol(c)
	old := c.sessionCookie()
	rd := e.srv.URL + "/x"
	want(t, c.get("/signin/step-up?rd="+url.QueryEscape(rd)), 303, "/signin/second-factor")
	r := c.get("/signin/second-factor")
	if !strings.Contains(r.body, "asks for a second factor") || !strings.Contains(r.body, "Cancel") {
		t.Errorf("step-up page:\n%s", r.body)
	}
	want(t, c.post("/signin/second-factor", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}}), 303, rd)
	ctx := context.Background()
	if _, err := e.auth.SessionByToken(ctx, old); err == nil {
		t.Error("the old session outlives the step-up")
	}
	sess, err := e.auth.SessionByToken(ctx, c.sessionCookie())
	if err != nil || sess.ACR != "2" {
		t.Fatalf("session after step-up: %+v, %v", sess, err)
	}
	// For a ForwardAuth app (where /api/verify sends a password-only
	// session): back to the app with the fa_token hand-off of the new
	// session.
	e.advance(30 * time.Second)
	app := "https://" + appHost + "/p"
	want(t, c.get("/signin/step-up?rd="+url.QueryEscape(app)), 303, "/signin/second-factor")
	want(t, c.post("/signin/second-factor", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}}), 303, app+"?fa_token=test")
	// For a pending OIDC authorization: on to it afterwards.
	e.advance(30 * time.Second)
	want(t, c.get("/signin/step-up?authz=pa1"), 303, "/signin/second-factor")
	if r := c.get("/signin/second-factor"); !strings.Contains(r.body, "Grafana asks for a second factor") {
		t.Errorf("step-up page for an authorization:\n%s", r.body)
	}
	want(t, c.post("/signin/second-factor", url.Values{"code": {authtest.TOTP(t, secret, e.clock())}}), 303, "/oauth/authorize/resume?authz=pa1")
	// Not signed in: the sign-in form, going to the same place.
	want(t, e.client("10.24.0.2").get("/signin/step-up?rd="+url.QueryEscape(rd)), 303, "/signin?rd="+url.QueryEscape(rd))
}
