package browser

import (
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// A person opens an app that Caddy (forward_auth) or nginx (auth_request)
// protects, in a browser that never signed in: Clinch's sign-in page
// comes up, they type and click "Sign in", and they are back at the page
// they asked for, which the app serves knowing who they are. The way back
// carries a one-time fa_token that the proxy's verify call trades for the
// session: for an app outside Clinch's cookie domain it is the only way
// the session gets there. The address the browser ends on must not let
// anyone else in: people copy it into chats.
func TestForwardAuthSignInReturnsToTheApp(t *testing.T) {
	st := newStack(t)
	st.user(t, "ann")
	st.caddyForwardAuth()
	wiki := st.nginxForwardAuth("wiki", st.caddy.Host("wiki"))
	away := st.nginxForwardAuth("away", "wiki."+elsewhere)
	st.serve()

	for _, app := range []struct {
		name, page string
		// handOff: outside the cookie domain the session cookie cannot
		// reach the app, so the way back carries a one-time fa_token;
		// inside it the cookie does the work and no token is minted.
		handOff bool
	}{
		{"caddy", st.url("app", "/page"), false},
		{"nginx", wiki + "/page", false},
		{"nginx outside the cookie domain", away + "/page", true},
	} {
		t.Run(app.name, func(t *testing.T) {
			shot := strings.ReplaceAll(app.name, " ", "-")
			tab := st.fresh(t)
			tab.Open(app.page + "?x=1")
			signinURL := tab.URL()
			if signinURL.Scheme+"://"+signinURL.Host != st.clinch.URL || signinURL.Path != "/signin" {
				t.Fatalf("opening the protected app did not show Clinch's sign-in page; the browser is at %s:\n%s", signinURL, tab.Text())
			}
			tab.See("sign in")
			tab.Shot(shot + "-signin")
			signIn(tab, "ann", app.page)
			landed := tab.URL()
			if landed.Query().Get("x") != "1" {
				t.Errorf("back at the app without the query it asked for: %s", landed)
			}
			if got := handedOff(tab.Visited(), app.page); got != app.handOff {
				t.Errorf("the way back to the app carried an fa_token: %v, want %v; the browser went through:\n%s", got, app.handOff, strings.Join(tab.Visited(), "\n"))
			}
			tab.See("Echo", "Path: /page", "Remote-User: ann", "Remote-Email: ann@example.com", "Remote-Name: Ann")
			tab.Shot(shot + "-app")

			// The session reaches the app again without a sign-in (by
			// cookie, or by a fresh hand-off outside the cookie domain).
			tab.Open(app.page)
			if u := tab.URL(); u.Scheme+"://"+u.Host+u.Path != app.page {
				t.Fatalf("reopening the app after signing in went to %s:\n%s", u, tab.Text())
			}
			tab.See("Remote-User: ann")

			// Another browser opening the address ann's browser showed
			// (within the token's minute) must be asked to sign in.
			t.Run("the address it lands on lets no other browser in", func(t *testing.T) {
				other := st.fresh(t)
				other.Open(landed.String())
				if strings.Contains(other.Text(), "Remote-User: ann") {
					other.Shot(shot + "-stranger")
					t.Fatalf("another browser that opened the app's address from ann's address bar (%s) is let in as ann: the fa_token in it was never used up", landed)
				}
				if p := other.Path(); p != "/signin" {
					t.Fatalf("another browser that opened %s is at %s, want Clinch's sign-in page:\n%s", landed, other.URL(), other.Text())
				}
			})
		})
	}
}

// handedOff reports whether one of the pages requested was page with a
// one-time fa_token ("cfa_…"): Clinch's hand-off of the session to the
// app's proxy.
func handedOff(pages []string, page string) bool {
	for _, p := range pages {
		u, err := url.Parse(p)
		if err == nil && u.Scheme+"://"+u.Host+u.Path == page && strings.HasPrefix(u.Query().Get("fa_token"), "cfa_") {
			return true
		}
	}
	return false
}

// nginxForwardAuth protects host with the ForwardAuth app slug, served
// over TLS (a self-signed certificate) by nginx with docs/proxy/nginx.conf,
// as a user would copy it, in front of the echo app; it returns the https
// origin. nginx has its own port: it shares the cookie domain (or not),
// not Caddy's listener.
func (st *stack) nginxForwardAuth(slug, host string) string {
	st.t.Helper()
	st.forwardAuthApp(slug, host)
	port := harness.FreePort(st.t)
	cert, key := harness.SelfSignedCert(st.t, host)
	b, err := os.ReadFile(harness.DocsFile(st.t, "proxy/nginx.conf"))
	if err != nil {
		st.t.Fatal(err)
	}
	listen := "listen 127.0.0.1:" + strconv.Itoa(port) + " ssl;\n    ssl_certificate " + cert + ";\n    ssl_certificate_key " + key + ";"
	echo := strings.TrimPrefix(st.echo.URL, "http://")
	// The catch-all default_server block listens on the same address, with
	// the same certificate (nginx needs one to answer TLS at all).
	catchAll := "listen 127.0.0.1:" + strconv.Itoa(port) + " ssl default_server;\n    ssl_certificate " + cert + ";\n    ssl_certificate_key " + key + ";"
	site := strings.NewReplacer(
		"listen 80 default_server;", catchAll,
		"listen 80;", listen,
		// The public origin, where the file spells it out: the test's
		// port is not the default one.
		"://app.example.com", "://"+host+":"+strconv.Itoa(port),
		"app.example.com", host,
		"127.0.0.1:3000", st.clinch.Addr,
		"127.0.0.1:8080", echo,
	).Replace(string(b))
	for _, want := range []string{listen, host, st.clinch.Addr, echo} {
		if !strings.Contains(site, want) {
			st.t.Fatalf("docs/proxy/nginx.conf no longer has the placeholder for %s", want)
		}
	}
	harness.StartNginx(st.t, site, port)
	return (&url.URL{Scheme: "https", Host: host + ":" + strconv.Itoa(port)}).String()
}
