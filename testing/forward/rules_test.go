package forward

import (
	"net/http"
	"testing"
	"time"

	"github.com/clinchsso/clinch/testing/harness"
)

// TestForwardAuth_AccessRules runs an app's access rules through real
// Caddy: a bypass path opens without sign-in and with the identity headers
// blanked, a deny path refuses a signed-in member, and spellings of the
// denied path do not get past it.
func TestForwardAuth_AccessRules(t *testing.T) {
	s := clinch(t)
	up := startUpstream(t)
	site := startCaddy(t, s, up.URL)
	s.MustCLI(t, "", "app", "rule", "add", "--slug", "app", "--path", "/api/", "--policy", "bypass")
	s.MustCLI(t, "", "app", "rule", "add", "--slug", "app", "--path", "/private", "--policy", "deny")

	bare := &http.Client{Transport: loopback(), Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// Bypass: no sign-in, and identity headers the client made up are
	// not passed on.
	e := upstreamSaw(t)(get(t, bare, site+"/api/v1/items", "Remote-User", "admin", "Remote-Groups", "admins"))
	for _, h := range []string{"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups"} {
		if e.Headers[h] != "" {
			t.Errorf("bypass: upstream got %s = %q, want it empty", h, e.Headers[h])
		}
	}
	// Outside the bypass, nobody gets in without signing in.
	if resp, body := get(t, bare, site+"/page"); resp.StatusCode != http.StatusFound {
		t.Errorf("no rule, not signed in: %s, want 302\n%s", resp.Status, body)
	}

	// Deny: ann is in the app's group and still refused.
	c := browser()
	harness.SignIn(t, c, s, "ann@example.com", password, "")
	if e := upstreamSaw(t)(get(t, c, site+"/page")); e.Headers["Remote-User"] != "ann@example.com" {
		t.Errorf("no rule, signed in: upstream got %v", e.Headers)
	}
	before := up.hits.Load()
	for _, p := range []string{"/private", "/private/report", "/PRIVATE", "/private;x=1", "//private", "/api/..%2Fprivate", "/api/%2e%2e/private"} {
		resp, body := get(t, c, site+p)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("deny %s: %s, want 403\n%s", p, resp.Status, body)
		}
	}
	if n := up.hits.Load() - before; n != 0 {
		t.Errorf("%d denied requests reached the app", n)
	}
}

// TestForwardAuth_NetworkRules: Caddy's X-Forwarded-For names the client
// (here 127.0.0.1) once Caddy's address is in CLINCH_TRUSTED_PROXIES, so a
// bypass for the client's network opens and one for another network does
// not; without the trust, a network rule refuses rather than take Caddy's
// address for the client's.
func TestForwardAuth_NetworkRules(t *testing.T) {
	up := startUpstream(t)
	bare := &http.Client{Transport: loopback(), Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, trusted := range []bool{true, false} {
		env := map[string]string{"CLINCH_COOKIE_DOMAIN": "clinch.localhost"}
		if trusted {
			env["CLINCH_TRUSTED_PROXIES"] = "127.0.0.1"
		}
		s := harness.StartHost(t, harness.Options{Env: env}, authHost)
		harness.SignUp(t, browser(), s, "ann@example.com", password)
		s.MustCLI(t, "", "app", "create", "--type", "forward_auth", "--name", "App", "--slug", "app", "--domain", appHost)
		s.MustCLI(t, "", "app", "rule", "add", "--slug", "app", "--path", "/lan", "--network", "127.0.0.0/8", "--policy", "bypass")
		s.MustCLI(t, "", "app", "rule", "add", "--slug", "app", "--path", "/office", "--network", "10.0.0.0/8", "--policy", "bypass")
		site := startCaddy(t, s, up.URL)

		lan, body := get(t, bare, site+"/lan/x", "X-Forwarded-For", "10.1.2.3")
		office, _ := get(t, bare, site+"/office/x", "X-Forwarded-For", "10.1.2.3")
		if trusted {
			if lan.StatusCode != http.StatusOK {
				t.Errorf("trusted, client's network: %s, want 200\n%s", lan.Status, body)
			}
			// The X-Forwarded-For the client sent is Caddy's to replace.
			if office.StatusCode != http.StatusFound {
				t.Errorf("trusted, other network (client claims it): %s, want 302 to sign in", office.Status)
			}
		} else {
			if lan.StatusCode != http.StatusForbidden || office.StatusCode != http.StatusForbidden {
				t.Errorf("untrusted proxy: %s and %s, want 403 for both", lan.Status, office.Status)
			}
		}
	}
}
