// Package forward runs Clinch's ForwardAuth behind real Caddy
// (forward_auth) and real nginx (auth_request), each configured with the
// very files in docs/proxy, in front of a small upstream that echoes the
// identity headers it received.
//
// Names: Clinch is auth.clinch.localhost, the protected app is
// app.clinch.localhost, both on loopback; the session cookie's Domain is
// clinch.localhost so it reaches the app as it would in production. The
// public suffix list has no "localhost" entry, so its default rule makes
// clinch.localhost a registrable domain and the cookie jar accepts it (and
// *.localhost cookies are not Secure: Clinch treats it as local). Go's
// resolver does not map *.localhost to loopback, so the test clients dial
// 127.0.0.1 for every name.
package forward

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinchsso/clinch/testing/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

const (
	password = "correct horse battery staple"
	authHost = "auth.clinch.localhost"
	appHost  = "app.clinch.localhost"
)

// loopback is a transport that dials 127.0.0.1 (keeping the port) for any
// host name, so *.clinch.localhost URLs reach the local servers.
func loopback() *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		},
		DisableKeepAlives: true,
	}
}

// browser is a harness client (cookie jar, no redirects) on loopback.
func browser() *http.Client {
	c := harness.NewClient()
	c.Transport = loopback()
	return c
}

// echoed is what the protected app answers: the identity headers, the
// Host, the Cookie header and the URI it received.
type echoed struct {
	Upstream bool              `json:"upstream"`
	URI      string            `json:"uri"`
	Host     string            `json:"host"`
	Cookie   string            `json:"cookie"`
	Headers  map[string]string `json:"headers"`
}

// upstream is the protected app. It counts the requests that reached it, so
// a test can tell "refused by the proxy" from "answered by the app".
type upstream struct {
	*httptest.Server
	hits atomic.Int64
}

func startUpstream(t *testing.T) *upstream {
	up := &upstream{}
	up.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.hits.Add(1)
		e := echoed{Upstream: true, URI: r.RequestURI, Host: r.Host, Cookie: strings.Join(r.Header.Values("Cookie"), "; "), Headers: map[string]string{}}
		for _, h := range []string{"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups", "Remote-Admin"} {
			e.Headers[h] = r.Header.Get(h)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(e)
	}))
	t.Cleanup(up.Close)
	return up
}

// clinch starts the server with ann (admin, group staff) and bob (no
// group), and a forward_auth app for app.clinch.localhost allowed to staff.
func clinch(t *testing.T) *harness.Server {
	t.Helper()
	s := harness.StartHost(t, harness.Options{Env: map[string]string{"CLINCH_COOKIE_DOMAIN": "clinch.localhost"}}, authHost)
	c := browser()
	harness.SignUp(t, c, s, "ann@example.com", password)
	s.MustCLI(t, "", "group", "create", "--name", "staff")
	s.MustCLI(t, "", "group", "add-user", "--group", "staff", "--email", "ann@example.com")
	s.MustCLI(t, password, "user", "create", "--email", "bob@example.com", "--password-stdin")
	s.MustCLI(t, "", "app", "create", "--type", "forward_auth", "--name", "App", "--slug", "app", "--domain", appHost, "--group", "staff")
	return s
}

func docsFile(t *testing.T, name string) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "docs", "proxy", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// startProcess runs a peer until the test ends and waits for its port.
func startProcess(t *testing.T, port int, logPath string, cmd *exec.Cmd) {
	t.Helper()
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done); lf.Close() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", filepath.Base(cmd.Path), b)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited early:\n%s", cmd.Path, b)
		default:
		}
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not listen on %d", cmd.Path, port)
}

// startCaddy runs docs/proxy/Caddyfile, imported under a global block that
// keeps Caddy off its admin port and away from certificates.
func startCaddy(t *testing.T, s *harness.Server, upstream string) string {
	bin := harness.NeedTool(t, "caddy")
	dir := t.TempDir()
	port := harness.FreePort(t)
	site := "http://" + appHost + ":" + strconv.Itoa(port)
	cfg := filepath.Join(dir, "Caddyfile")
	wrapper := "{\n\tadmin off\n\tauto_https off\n}\n\nimport " + docsFile(t, "Caddyfile") + "\n"
	if err := os.WriteFile(cfg, []byte(wrapper), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(),
		"APP_SITE="+site,
		"CLINCH_UPSTREAM="+s.Addr,
		"APP_UPSTREAM="+strings.TrimPrefix(upstream, "http://"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HOME="+dir,
	)
	startProcess(t, port, filepath.Join(dir, "caddy.log"), cmd)
	return site
}

// startNginx runs docs/proxy/nginx.conf with its addresses replaced,
// inside a minimal main configuration with paths under the test's temp dir.
func startNginx(t *testing.T, s *harness.Server, upstream string) string {
	return startNginxEdited(t, s, upstream, nil)
}

// startNginxEdited is startNginx with edit applied to the site
// configuration after the addresses are replaced (nil: as documented).
func startNginxEdited(t *testing.T, s *harness.Server, upstream string, edit func(*testing.T, string) string) string {
	port := harness.FreePort(t)
	b, err := os.ReadFile(docsFile(t, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	hostPort := appHost + ":" + strconv.Itoa(port)
	site := strings.NewReplacer(
		"listen 80", "listen 127.0.0.1:"+strconv.Itoa(port),
		// The public origin, where the file spells it out: the test's
		// port is not the default one.
		"://app.example.com", "://"+hostPort,
		"app.example.com", appHost,
		"127.0.0.1:3000", s.Addr,
		"127.0.0.1:8080", strings.TrimPrefix(upstream, "http://"),
	).Replace(string(b))
	for _, want := range []string{s.Addr, appHost, strconv.Itoa(port)} {
		if !strings.Contains(site, want) {
			t.Fatalf("docs/proxy/nginx.conf no longer has the placeholder for %s", want)
		}
	}
	if edit != nil {
		site = edit(t, site)
	}
	harness.StartNginx(t, site, port)
	return "http://" + hostPort
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return harness.Do(t, c, req)
}

// upstreamSaw checks that a response came from the upstream and returns
// what it saw: upstreamSaw(t)(get(...)).
func upstreamSaw(t *testing.T) func(*http.Response, string) echoed {
	return func(resp *http.Response, body string) echoed {
		t.Helper()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %s, want 200 from the upstream\n%s", resp.Status, body)
		}
		var e echoed
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("not the upstream's answer: %v\n%s", err, body)
		}
		return e
	}
}

func TestForwardAuth(t *testing.T) {
	s := clinch(t)
	up := startUpstream(t)
	for _, proxy := range []struct {
		name  string
		start func(*testing.T, *harness.Server, string) string
	}{{"caddy", startCaddy}, {"nginx", startNginx}} {
		t.Run(proxy.name, func(t *testing.T) {
			site := proxy.start(t, s, up.URL)
			scenario(t, s, site, proxy.name)
		})
	}
}

func scenario(t *testing.T, s *harness.Server, site, proxy string) {
	page := site + "/page?x=1"
	c := browser()

	// 1. Not signed in: the browser is sent to the sign-in page with the
	// original URL as rd.
	resp, body := get(t, c, page)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("unauthenticated: %s, want 302\n%s", resp.Status, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != s.URL[len("http://"):] || loc.Path != "/signin" || loc.Query().Get("rd") != page {
		t.Fatalf("redirect to %q, want %s/signin?rd=%s", resp.Header.Get("Location"), s.URL, page)
	}
	if resp, body := get(t, c, loc.String()); resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-in page: %s\n%s", resp.Status, body)
	}

	// 2. Signing in sends the browser back to the page. The app is under
	// the cookie domain, so the cookie gets there by itself and no
	// fa_token is minted (testing/browser covers the hand-off outside it).
	resp = harness.SignIn(t, c, s, "ann@example.com", password, page)
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.String() != page {
		t.Fatalf("after sign-in: Location %q, want %s", resp.Header.Get("Location"), page)
	}

	// 3. So the address the browser lands on lets nobody else in: a
	// client with no cookie at all is sent to sign in.
	bare := &http.Client{Transport: loopback(), Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, _ := get(t, bare, back.String()); resp.StatusCode == http.StatusOK {
		t.Errorf("the landing address let a client without a cookie in")
	}

	// 4. The browser's cookie (Domain=clinch.localhost) gets through with
	// ann's headers.
	e := upstreamSaw(t)(get(t, c, page))
	want := map[string]string{"Remote-User": "ann@example.com", "Remote-Email": "ann@example.com", "Remote-Name": "ann", "Remote-Groups": "staff", "Remote-Admin": "true"} // ann signed up first: the admin
	for k, v := range want {
		if e.Headers[k] != v {
			t.Errorf("upstream got %s = %q, want %q", k, e.Headers[k], v)
		}
	}

	// Identity headers the client made up are replaced.
	e = upstreamSaw(t)(get(t, c, page, "Remote-User", "admin", "Remote-Groups", "admins", "Remote-Admin", "false"))
	if e.Headers["Remote-User"] != "ann@example.com" || e.Headers["Remote-Groups"] != "staff" || e.Headers["Remote-Admin"] != "true" {
		t.Errorf("with cookie and spoofed headers, upstream got %v", e.Headers)
	}

	// 5. A user outside the allowed groups: 403.
	cb := browser()
	harness.SignIn(t, cb, s, "bob@example.com", password, "")
	resp, body = get(t, cb, page)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob: %s, want 403\n%s", resp.Status, body)
	}
	// Caddy passes Clinch's page on; auth_request keeps only the status.
	if proxy == "caddy" && !strings.Contains(body, "You do not have permission for App.") {
		t.Errorf("bob's 403 page does not say why:\n%s", body)
	}

	// 6. Bearer API key (the app's own identity): 200; revoked: refused.
	var key struct{ Key, Prefix string }
	if err := json.Unmarshal([]byte(s.MustCLI(t, "", "app", "apikey", "create", "--slug", "app", "--name", "ci", "--json")), &key); err != nil {
		t.Fatal(err)
	}
	e = upstreamSaw(t)(get(t, bare, page, "Authorization", "Bearer "+key.Key, "Accept", "application/json", "Remote-Email", "spoof@example.com"))
	if e.Headers["Remote-User"] != "app" || e.Headers["Remote-Email"] != "" {
		t.Errorf("API key: upstream got %v", e.Headers)
	}
	s.MustCLI(t, "", "app", "apikey", "revoke", "--slug", "app", "--id", key.Prefix)
	resp, body = get(t, bare, page, "Authorization", "Bearer "+key.Key, "Accept", "application/json")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("revoked API key: %s (WWW-Authenticate %q), want 401 Bearer\n%s", resp.Status, resp.Header.Get("WWW-Authenticate"), body)
	}
	// Caddy hands the reason on to the API client; nginx keeps only the status.
	if proxy == "caddy" && strings.TrimSpace(body) != `{"error":"invalid or expired"}` {
		t.Errorf("revoked API key: body %q, want the reason as JSON", body)
	}

	// 7. Sign-out: the very next proxied request is refused.
	harness.SignOut(t, c, s)
	if resp, body := get(t, c, page); resp.StatusCode != http.StatusFound {
		t.Errorf("after sign-out: %s, want 302 to sign-in\n%s", resp.Status, body)
	}
}
