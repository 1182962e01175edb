// Package browser runs every flow a person meets in a browser through the
// real pieces over HTTPS, as issue 7 asks: Debian's Chromium (driven by
// chromedp, every form submitted by clicking), Caddy with its own local CA
// in front of Clinch and the apps, nginx with TLS, oauth2-proxy v7.8.1 as a
// relying party, and relying parties whose callbacks the test controls
// (go-oidc + x/oauth2). Go and Node HTTP clients send no Origin and obey no
// CSP, so a flow that passes with them can still be broken for people;
// these tests are where that shows.
//
// Names: every site is a name under clinch.test on 127.0.0.1 — Clinch is
// auth.clinch.test, ForwardAuth apps app.clinch.test (Caddy) and
// wiki.clinch.test (nginx), oauth2-proxy rp.clinch.test; one ForwardAuth
// app, wiki.elsewhere.test, lies outside the cookie domain. Chromium maps
// both parents to 127.0.0.1 and resolves no other name; oauth2-proxy
// resolves them through a private /etc/hosts. Clinch's CLINCH_HOST is
// https://auth.clinch.test:PORT, so its cookies are Secure and their
// Domain is clinch.test.
//
// Each test keeps a screenshot of every flow in its temp dir (-v logs the
// paths; CLINCH_KEEP_SCREENSHOTS=1 copies them to testdata/).
package browser

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/testing/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

const (
	domain = "clinch.test"
	// elsewhere is a parent domain outside Clinch's cookie domain, for
	// apps that only the fa_token hand-off can sign in.
	elsewhere = "elsewhere.test"
	password  = "correct horse battery staple"
	// browserLimit bounds one Chromium's whole life in a test.
	browserLimit = 4 * time.Minute
)

// stack is Clinch behind Caddy over TLS, with the echo app that every
// proxy protects and one Chromium. Tests add their apps and sites, then
// call serve.
type stack struct {
	t      *testing.T
	caddy  *harness.Caddy
	clinch *harness.Server
	echo   *httptest.Server
	sites  []harness.CaddySite
	env    map[string]string // values for imported Caddyfiles
	chrome context.Context   // the browser; tabs come from fresh()
}

// newStack starts Clinch at https://auth.clinch.test:PORT (Caddy's port,
// reserved; Caddy itself starts in serve, with docs/proxy/clinch.Caddyfile
// for Clinch's site) and the echo app.
func newStack(t *testing.T) *stack {
	t.Helper()
	return newStackEnv(t, nil)
}

// newStackEnv is newStack with more settings for Clinch (SMTP_*, say).
func newStackEnv(t *testing.T, extra map[string]string) *stack {
	t.Helper()
	c := harness.NewCaddy(t, domain)
	env := map[string]string{
		"CLINCH_TRUSTED_PROXIES": "127.0.0.1/32,::1/128",
		"CLINCH_COOKIE_DOMAIN":   domain,
	}
	for k, v := range extra {
		env[k] = v
	}
	s := harness.StartBehind(t, harness.Options{Env: env}, c.URL("auth"))
	// Clinch's own site is docs/proxy/clinch.Caddyfile, as the README
	// tells people to put Clinch behind Caddy.
	st := &stack{t: t, caddy: c, clinch: s, echo: harness.Echo(t), env: map[string]string{
		"CLINCH_SITE":     c.Host("auth"),
		"CLINCH_UPSTREAM": s.Addr,
	}}
	st.sites = append(st.sites, harness.CaddySite{Name: "auth", Import: harness.DocsFile(t, "proxy/clinch.Caddyfile")})
	return st
}

// user creates an active user with a password, in groups, for test t
// (the stack's or a subtest); the display name is the login capitalised.
// It returns the email.
func (st *stack) user(t *testing.T, login string, groups ...string) string {
	t.Helper()
	email := login + "@example.com"
	args := []string{"user", "create", "--email", email, "--username", login,
		"--name", strings.ToUpper(login[:1]) + login[1:], "--password-stdin"}
	for _, g := range groups {
		args = append(args, "--group", g)
	}
	st.clinch.MustCLI(t, password, args...)
	return email
}

// client is an OIDC app registered with `clinch app create --json`.
type client struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
	Slug   string `json:"slug"`
}

// oidcApp registers an OIDC app named name with the extra flags of `clinch
// app create`.
func (st *stack) oidcApp(name string, flags ...string) client {
	st.t.Helper()
	out := st.clinch.MustCLI(st.t, "", append([]string{"app", "create", "--type", "oidc", "--name", name, "--json"}, flags...)...)
	var c client
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.ID == "" || c.Secret == "" {
		st.t.Fatalf("clinch app create printed %q (%v)", out, err)
	}
	return c
}

// forwardAuthApp protects the site host with ForwardAuth, as the app
// slug.
func (st *stack) forwardAuthApp(slug, host string) {
	st.t.Helper()
	st.clinch.MustCLI(st.t, "", "app", "create", "--type", "forward_auth", "--name", strings.ToUpper(slug[:1])+slug[1:],
		"--slug", slug, "--domain", host)
}

// caddyForwardAuth serves app.clinch.test with docs/proxy/Caddyfile, as a
// user would copy it, in front of the echo app.
func (st *stack) caddyForwardAuth() {
	st.forwardAuthApp("app", st.caddy.Host("app"))
	st.sites = append(st.sites, harness.CaddySite{Name: "app", Import: harness.DocsFile(st.t, "proxy/Caddyfile")})
	st.env["APP_SITE"] = st.caddy.Host("app") // CLINCH_UPSTREAM is set for Clinch's site
	st.env["APP_UPSTREAM"] = strings.TrimPrefix(st.echo.URL, "http://")
}

// serve starts Caddy with every site added so far, then Chromium.
func (st *stack) serve() {
	st.t.Helper()
	st.caddy.Start(st.t, st.env, st.sites...)
	st.chrome = harness.BrowserWith(st.t, browserLimit, harness.BrowserOptions{
		Loopback:         []string{"*." + domain, "*." + elsewhere},
		IgnoreCertErrors: true,
	})
}

// fresh is a tab in a new browser profile (no cookies) of the stack's
// Chromium, for test t (the stack's test or a subtest); it closes when t
// ends.
func (st *stack) fresh(t *testing.T) harness.Tab {
	t.Helper()
	return harness.Tab{T: t, Ctx: harness.FreshBrowser(t, st.chrome), Base: st.clinch.URL}
}

// url is https://NAME.clinch.test:PORT followed by path.
func (st *stack) url(name, path string) string { return st.caddy.URL(name) + path }

// signIn fills Clinch's sign-in form shown in tab (the login only when
// the form asks for it) and clicks "Sign in"; the browser must then load
// a page at want (see harness.Tab.ClickAndWait).
func signIn(tab harness.Tab, login, want string) {
	tab.T.Helper()
	if p := tab.Path(); p != "/signin" {
		tab.T.Fatalf("expected Clinch's sign-in page, the browser is at %s:\n%s", tab.URL(), tab.Text())
	}
	if tab.Has(`input[name="login"]`) && tab.Value(`input[name="login"]`) == "" {
		tab.Type(`input[name="login"]`, login)
	}
	tab.Type(`input[name="password"]`, password)
	tab.ClickAndWait(harness.SubmitOf(`input[name="password"]`), want)
}

// signedOut fails unless Clinch's home page, opened in tab, asks to sign
// in: the session of that browser has ended.
func signedOut(tab harness.Tab, why string) {
	tab.T.Helper()
	tab.Open("/")
	if p := tab.Path(); p != "/signin" {
		tab.T.Fatalf("%s: Clinch's home page still opens (at %s), the session did not end:\n%s", why, tab.URL(), tab.Text())
	}
}
