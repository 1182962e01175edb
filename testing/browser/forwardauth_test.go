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
// session, so the app's domain needs no cookie of its own first.
func TestForwardAuthSignInReturnsToTheApp(t *testing.T) {
	st := newStack(t)
	st.user(t, "ann")
	st.caddyForwardAuth()
	wiki := st.nginxForwardAuth("wiki")
	st.serve()

	for _, proxy := range []struct{ name, page string }{
		{"caddy", st.url("app", "/page")},
		{"nginx", wiki + "/page"},
	} {
		t.Run(proxy.name, func(t *testing.T) {
			tab := st.fresh(t)
			tab.Open(proxy.page + "?x=1")
			signinURL := tab.URL()
			if signinURL.Scheme+"://"+signinURL.Host != st.clinch.URL || signinURL.Path != "/signin" {
				t.Fatalf("opening the protected app did not show Clinch's sign-in page; the browser is at %s:\n%s", signinURL, tab.Text())
			}
			tab.See("sign in")
			tab.Shot(proxy.name + "-signin")
			signIn(tab, "ann", proxy.page)
			got := tab.URL()
			if got.Query().Get("x") != "1" {
				t.Errorf("back at the app without the query it asked for: %s", got)
			}
			if !handedOff(tab.Visited(), proxy.page) {
				t.Errorf("the way back to the app carried no fa_token; the browser went through:\n%s", strings.Join(tab.Visited(), "\n"))
			}
			tab.See("Echo", "Path: /page", "Remote-User: ann", "Remote-Email: ann@example.com", "Remote-Name: Ann")
			tab.Shot(proxy.name + "-app")

			// The session now reaches the app by cookie: reopening needs
			// no sign-in.
			tab.Open(proxy.page)
			if u := tab.URL(); u.Scheme+"://"+u.Host+u.Path != proxy.page {
				t.Fatalf("reopening the app after signing in went to %s:\n%s", u, tab.Text())
			}
			tab.See("Remote-User: ann")
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

// nginxForwardAuth serves name.clinch.test over TLS (a self-signed
// certificate) with docs/proxy/nginx.conf, as a user would copy it, in
// front of the echo app, and returns its https origin. nginx has its own
// port: it shares the cookie domain, not Caddy's listener.
func (st *stack) nginxForwardAuth(name string) string {
	st.t.Helper()
	st.forwardAuthApp(name)
	host := st.caddy.Host(name)
	port := harness.FreePort(st.t)
	cert, key := harness.SelfSignedCert(st.t, host)
	b, err := os.ReadFile(harness.DocsFile(st.t, "proxy/nginx.conf"))
	if err != nil {
		st.t.Fatal(err)
	}
	listen := "listen 127.0.0.1:" + strconv.Itoa(port) + " ssl;\n    ssl_certificate " + cert + ";\n    ssl_certificate_key " + key + ";"
	echo := strings.TrimPrefix(st.echo.URL, "http://")
	site := strings.NewReplacer(
		"listen 80;", listen,
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
