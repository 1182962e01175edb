package forward

// The host Clinch decides on must be the host that chose the upstream.
// If the proxy builds the verify target from the client's Host header
// while it routes by something else (its default server, the request
// line's absolute URI), a user denied at one app names an app he may use
// in Host, Clinch says 200 for that one, and the proxy forwards him to the
// denied app's upstream with his identity.

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/testing/harness"
)

// openHost is a second forward_auth app that every user may use; it has no
// site of its own in the proxy under test.
const openHost = "open.clinch.localhost"

// foreignHostSetup starts Clinch with the usual app (bob denied) and the
// open app (bob allowed), signs bob in, and proves the premise: Clinch
// itself admits bob at the open app.
func foreignHostSetup(t *testing.T) (*harness.Server, *upstream, *http.Cookie) {
	t.Helper()
	s := clinch(t)
	s.MustCLI(t, "", "app", "create", "--type", "forward_auth", "--name", "Open", "--slug", "open", "--domain", openHost)
	c := browser()
	harness.SignIn(t, c, s, "bob@example.com", password, "")
	ck := harness.Cookie(c, "http://"+appHost+"/", "clinch_session")
	if ck == nil {
		t.Fatal("bob has no session cookie for the app's domain")
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr+"/api/verify", nil)
	req.Header.Set("X-Original-URL", "http://"+openHost+"/page")
	req.AddCookie(ck)
	if resp, body := harness.Do(t, browser(), req); resp.StatusCode != http.StatusOK {
		t.Fatalf("premise: Clinch should admit bob at %s, got %s\n%s", openHost, resp.Status, body)
	}
	return s, startUpstream(t), ck
}

// rawGet sends one GET with exactly this request target and Host over a
// new connection to site's port: a Go client cannot send an absolute-form
// target with a different Host. A connection closed without an answer
// (nginx's 444) is returned as a nil response.
func rawGet(t *testing.T, site, target, host string, ck *http.Cookie) (*http.Response, string) {
	t.Helper()
	u, err := url.Parse(site)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+u.Port(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: text/html\r\nCookie: " + ck.String() + "\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, ""
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

// attack is one way to name the open app while the proxy routes to the
// denied one.
type attack struct {
	name         string
	target, host string
}

func attacks(site string) []attack {
	hp := strings.TrimPrefix(site, "http://")
	port := hp[strings.LastIndex(hp, ":"):]
	return []attack{
		{"Host names the open app", "/page", openHost + port},
		{"absolute URI names the app, Host the open app", "http://" + hp + "/page", openHost + port},
		{"absolute URI names the open app, Host the app", "http://" + openHost + port + "/page", hp},
	}
}

// mustNotReachUpstream runs every attack as bob and fails if one of them
// reached the upstream.
func mustNotReachUpstream(t *testing.T, site string, up *upstream, ck *http.Cookie) {
	t.Helper()
	for _, a := range attacks(site) {
		before := up.hits.Load()
		resp, body := rawGet(t, site, a.target, a.host, ck)
		var e echoed
		json.Unmarshal([]byte(body), &e)
		if up.hits.Load() != before || e.Upstream {
			t.Errorf("%s (GET %s, Host %s): bob reached the denied app's upstream, which saw %v", a.name, a.target, a.host, e.Headers)
			continue
		}
		status := "connection closed"
		if resp != nil {
			status = resp.Status
		}
		t.Logf("%s: %s", a.name, status)
	}
}

// allowedStillWorks checks that the proxy under test forwards ann, so the
// attacks above failed for the right reason.
func allowedStillWorks(t *testing.T, s *harness.Server, site string, up *upstream) {
	t.Helper()
	c := browser()
	harness.SignIn(t, c, s, "ann@example.com", password, "")
	before := up.hits.Load()
	e := upstreamSaw(t)(get(t, c, site+"/page"))
	if e.Headers["Remote-User"] != "ann@example.com" || up.hits.Load() != before+1 {
		t.Errorf("ann through the proxy: upstream saw %v", e.Headers)
	}
}

func TestNginx_ForeignHostCannotReachDeniedApp(t *testing.T) {
	s, up, ck := foreignHostSetup(t)
	t.Run("as documented", func(t *testing.T) {
		site := startNginx(t, s, up.URL)
		mustNotReachUpstream(t, site, up, ck)
		allowedStillWorks(t, s, site, up)
	})
	// An operator who kept only the app's server block makes it nginx's
	// default server for the port: the target must still be the app's own
	// origin, never the client's Host.
	t.Run("app block as the default server", func(t *testing.T) {
		site := startNginxEdited(t, s, up.URL, withoutCatchAll)
		mustNotReachUpstream(t, site, up, ck)
		// The foreign Host is checked as the app (bob: 403).
		hp := strings.TrimPrefix(site, "http://")
		resp, body := rawGet(t, site, "/page", openHost+hp[strings.LastIndex(hp, ":"):], ck)
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("foreign Host at the default app block: %v, want 403\n%s", resp, body)
		}
		allowedStillWorks(t, s, site, up)
	})
}

// catchAll is the documented default_server block.
var catchAll = regexp.MustCompile(`(?s)\nserver \{\n[^}]*?default_server;.*?\n\}\n`)

func withoutCatchAll(t *testing.T, site string) string {
	t.Helper()
	if n := len(catchAll.FindAllString(site, -1)); n != 1 {
		t.Fatalf("docs/proxy/nginx.conf has %d default_server catch-all blocks, want 1", n)
	}
	return catchAll.ReplaceAllString(site, "\n")
}

// Caddy routes by the request's host (from the absolute URI when there is
// one, as Go's server does) and sends that same host to Clinch, so a
// foreign Host finds no site and never reaches the app.
func TestCaddy_ForeignHostCannotReachDeniedApp(t *testing.T) {
	s, up, ck := foreignHostSetup(t)
	site := startCaddy(t, s, up.URL)
	mustNotReachUpstream(t, site, up, ck)
	allowedStillWorks(t, s, site, up)
}
