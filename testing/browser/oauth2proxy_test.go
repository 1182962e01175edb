package browser

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// rp is an oauth2-proxy (a real OIDC relying party) at NAME.clinch.test in
// front of the echo app, registered at Clinch as an OIDC app.
type rp struct {
	name   string
	origin string // https://NAME.clinch.test:PORT
	port   int
	client client
}

// oauth2Proxy registers the OIDC app for an oauth2-proxy at name and adds
// its Caddy site; start runs it once Caddy serves (oauth2-proxy reads
// Clinch's discovery document when it starts).
func (st *stack) oauth2Proxy(name string, flags ...string) *rp {
	st.t.Helper()
	origin := st.caddy.URL(name)
	cl := st.oidcApp(strings.ToUpper(name), append([]string{"--redirect-uri", origin + "/oauth2/callback"}, flags...)...)
	r := &rp{name: name, origin: origin, port: harness.FreePort(st.t), client: cl}
	st.sites = append(st.sites, harness.CaddySite{Name: name, Body: harness.ReverseProxy(net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)))})
	return r
}

// start runs oauth2-proxy with the flags the README gives for Clinch,
// and extra ones.
func (st *stack) start(r *rp, extra ...string) {
	st.t.Helper()
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		st.t.Fatal(err)
	}
	issuer := st.clinch.URL
	args := []string{
		"--provider=oidc",
		"--provider-display-name=Clinch",
		"--oidc-issuer-url=" + issuer,
		"--client-id=" + r.client.ID,
		"--client-secret=" + r.client.Secret,
		"--redirect-url=" + r.origin + "/oauth2/callback",
		"--code-challenge-method=S256",
		"--scope=openid email profile offline_access groups",
		"--skip-provider-button",
		"--email-domain=*",
		"--cookie-secure=true",
		"--cookie-secret=" + hex.EncodeToString(secret),
		"--reverse-proxy",
		"--upstream=" + st.echo.URL + "/",
		"--backend-logout-url=" + issuer + "/oauth/end_session?id_token_hint={id_token}",
		"--oidc-groups-claim=groups",
		"--cookie-refresh=1m",
	}
	harness.StartOAuth2Proxy(st.t, r.port, st.caddy.RootCA, []string{st.caddy.Host("auth")}, append(args, extra...)...)
}

// OIDC sign-in through oauth2-proxy, as a person meets it: every flow
// starts by opening the app in a browser with no session.
func TestOAuth2Proxy(t *testing.T) {
	st := newStack(t)
	st.caddyForwardAuth()
	withConsent := st.oauth2Proxy("rp")
	skipConsent := st.oauth2Proxy("rp2", "--skip-consent")
	st.clinch.MustCLI(t, "", "group", "create", "--name", "staff")
	st.serve()
	st.start(withConsent, "--allowed-group=staff")
	st.start(skipConsent)
	home := withConsent.origin + "/"

	t.Run("consent Allow lands on the app, which knows the user", func(t *testing.T) {
		st.user(t, "ann", "staff")
		tab := st.fresh(t)
		tab.Open(home)
		tab.Shot("allow-signin")
		signIn(tab, "ann", "")
		consentPage(tab, "after signing in")
		tab.Shot("allow-consent")
		tab.ClickAndWait(harness.Button("Allow"), home)
		tab.See("Echo", "X-Forwarded-Email: ann@example.com", "X-Forwarded-Groups: staff")
		tab.Shot("allow-app")
	})

	t.Run("a user outside --allowed-group is kept out by oauth2-proxy", func(t *testing.T) {
		st.user(t, "fay")
		tab := st.fresh(t)
		tab.Open(home)
		signIn(tab, "fay", "")
		consentPage(tab, "after signing in")
		tab.ClickAndWait(harness.Button("Allow"), withConsent.origin+"/oauth2/callback")
		tab.See("403", "Forbidden")
		if strings.Contains(tab.Text(), "Echo") {
			t.Fatalf("a user outside the allowed group reached the app:\n%s", tab.Text())
		}
		tab.Shot("allowed-group-refused")
	})

	t.Run("consent Deny ends at the app's access_denied and is not remembered", func(t *testing.T) {
		st.user(t, "bob", "staff")
		tab := st.fresh(t)
		tab.Open(home)
		signIn(tab, "bob", "")
		consentPage(tab, "after signing in")
		tab.ClickAndWait(harness.Button("Deny"), withConsent.origin+"/oauth2/callback")
		// oauth2-proxy's error page: 403, with the provider's error under
		// "More Info".
		if e := tab.URL().Query().Get("error"); e != "access_denied" {
			t.Errorf("after Deny the app's callback got error=%q, want access_denied", e)
		}
		tab.See("403", "Forbidden")
		if all := tab.AllText(); !strings.Contains(all, "returned an error: access_denied") {
			t.Errorf("oauth2-proxy's error page does not name access_denied:\n%s", all)
		}
		tab.Shot("deny-rp-error")
		if strings.Contains(tab.Text(), "bob@example.com") {
			t.Errorf("after Deny the app shows the user:\n%s", tab.Text())
		}
		// Clinch still has bob's session; the next visit must ask again.
		tab.Open(home)
		consentPage(tab, "opening the app again after Deny")
		tab.Shot("deny-asks-again")
	})

	t.Run("skip-consent app signs in with one click from a fresh browser", func(t *testing.T) {
		st.user(t, "cat")
		tab := st.fresh(t)
		tab.Open(skipConsent.origin + "/")
		signIn(tab, "cat", skipConsent.origin+"/")
		tab.See("Echo", "X-Forwarded-Email: cat@example.com")
		tab.Shot("skip-consent-app")
	})

	t.Run("remembered consent after the session ended needs only the password", func(t *testing.T) {
		email := st.user(t, "dan", "staff")
		tab := st.fresh(t)
		tab.Open(home)
		signIn(tab, "dan", "")
		consentPage(tab, "after signing in")
		tab.ClickAndWait(harness.Button("Allow"), home)
		tab.See("X-Forwarded-Email: dan@example.com")

		// Clinch's session ends (as when it expires); the app's own
		// cookie is gone too, so the app sends the browser back to Clinch.
		st.clinch.MustCLI(t, "", "user", "sessions", "revoke", "--email", email)
		tab.ForgetCookies(home)
		tab.Open(home)
		if p := tab.Path(); p != "/signin" {
			t.Fatalf("after the session was revoked, opening the app went to %s, want Clinch's sign-in page:\n%s", tab.URL(), tab.Text())
		}
		tab.Shot("remembered-signin")
		signIn(tab, "dan", home)
		tab.See("Echo", "X-Forwarded-Email: dan@example.com")
		tab.Shot("remembered-app")
	})

	t.Run("oauth2-proxy sign-out ends the Clinch session, so the ForwardAuth app asks for sign-in", func(t *testing.T) {
		st.user(t, "eve", "staff")
		tab := st.fresh(t)
		tab.Open(home)
		signIn(tab, "eve", "")
		consentPage(tab, "after signing in")
		tab.ClickAndWait(harness.Button("Allow"), home)
		tab.See("X-Forwarded-Email: eve@example.com")
		// The same Clinch session opens the ForwardAuth app without a
		// sign-in (its cookie's Domain is clinch.test).
		app := st.url("app", "/")
		tab.Open(app)
		if u := tab.URL(); u.Scheme+"://"+u.Host+u.Path != app {
			t.Fatalf("signed in, the ForwardAuth app went to %s:\n%s", u, tab.Text())
		}
		tab.See("Remote-User: eve")

		tab.Open(withConsent.origin + "/oauth2/sign_out")
		tab.Shot("signout-after")
		tab.Open(app)
		if p := tab.Path(); p != "/signin" || tab.URL().Host != st.caddy.Host("auth")+":"+strconv.Itoa(st.caddy.Port) {
			t.Fatalf("after oauth2-proxy's sign-out, the ForwardAuth app opens at %s instead of asking to sign in: Clinch's session did not end:\n%s", tab.URL(), tab.Text())
		}
		tab.Shot("signout-app-asks")
	})
}

// consentPage fails unless tab shows Clinch's consent page (its Allow and
// Deny buttons).
func consentPage(tab harness.Tab, when string) {
	tab.T.Helper()
	u := tab.URL()
	text := tab.Text()
	if !strings.Contains(u.Host, "auth.") || !strings.Contains(text, "Allow") || !strings.Contains(text, "Deny") {
		tab.T.Fatalf("%s the browser is at %s, not Clinch's consent page:\n%s", when, u, text)
	}
}
