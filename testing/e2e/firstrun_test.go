package e2e

import (
	"bytes"
	"context"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// setupCodeRE finds the setup code on Clinch's start-up line.
var setupCodeRE = regexp.MustCompile(`setup_code=([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})`)

// setupCodes returns every setup code the server has printed, in order.
func setupCodes(t *testing.T, srv *harness.Server) []string {
	t.Helper()
	var out []string
	for _, m := range setupCodeRE.FindAllStringSubmatch(srv.Log(t), -1) {
		out = append(out, m[1])
	}
	return out
}

// headerTransport adds a header to every request, as a proxy in front of
// Clinch would.
type headerTransport struct{ name, value string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

// proxiedClient is a browser on another machine (ip) reaching Clinch
// through a proxy on Clinch's machine that sends X-Forwarded-For.
func proxiedClient(ip string) *http.Client {
	c := harness.NewClient()
	c.Transport = headerTransport{name: "X-Forwarded-For", value: ip}
	return c
}

// dialingClient is a browser for which every host name resolves to
// 127.0.0.1, so a server whose CLINCH_HOST is a LAN address is reached at
// that very address (Host header, Origin, cookies).
func dialingClient(port int) *http.Client {
	c := harness.NewClient()
	var d net.Dialer
	c.Transport = &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}}
	return c
}

// wizard posts the first-run form with the given setup code ("" for none).
func wizard(t *testing.T, c *http.Client, base, email, code string) (*http.Response, string) {
	t.Helper()
	tok := harness.Form(t, c, base+"/signup")
	vals := url.Values{"csrf_token": {tok}, "email": {email}, "name": {"Ada"},
		"password": {password}, "password_confirm": {password}}
	if code != "" {
		vals.Set("setup_code", code)
	}
	return harness.Post(t, c, base+"/signup", vals)
}

// A server reachable from the network cannot be claimed by whoever finds
// it first: from another machine the wizard wants the setup code Clinch
// printed in its log, which changes at each start and is not kept on disk.
func TestSetupCodeFromAnotherMachine(t *testing.T) {
	srv := harness.Start(t, harness.Options{Env: map[string]string{"CLINCH_TRUSTED_PROXIES": "127.0.0.1/32"}})
	codes := setupCodes(t, srv)
	if len(codes) != 1 {
		t.Fatalf("the log shows %d setup codes, want 1:\n%s", len(codes), srv.Log(t))
	}
	first := codes[0]
	if n := strings.Count(srv.Log(t), first); n != 1 {
		t.Errorf("the setup code appears %d times in the log, want only on its start-up line", n)
	}
	notOnDisk(t, srv.DataDir, first)

	// On Clinch's own machine the wizard asks for nothing more.
	local := harness.NewClient()
	if _, body := harness.Get(t, local, srv.URL+"/signup"); strings.Contains(body, `name="setup_code"`) {
		t.Error("the wizard asks a browser on Clinch's machine for a setup code")
	}

	remote := proxiedClient("192.0.2.5")
	_, body := harness.Get(t, remote, srv.URL+"/signup")
	if !strings.Contains(body, `name="setup_code"`) || !strings.Contains(harness.Text(body), "setup_code=") {
		t.Fatalf("the wizard opened from 192.0.2.5 does not ask for the setup code:\n%s", harness.Text(body))
	}
	for _, tc := range []struct{ name, code, says string }{
		{"no code", "", "Enter the setup code"},
		{"wrong code", "AAAA-BBBB-CCCC-DDDD", "setup code is not right"},
	} {
		resp, body := wizard(t, remote, srv.URL, "intruder@example.com", tc.code)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(harness.Text(body), tc.says) {
			t.Errorf("%s: %s, want 403 saying %q\n%s", tc.name, resp.Status, tc.says, harness.Text(body))
		}
	}
	if us := listUsers(t, srv.CLI); len(us) != 0 {
		t.Fatalf("refused wizard posts created %+v", us)
	}

	// A restart prints a new code; the old one is worthless.
	srv.Restart(t)
	codes = setupCodes(t, srv)
	if len(codes) != 2 || codes[1] == first {
		t.Fatalf("after a restart the log shows codes %q, want a second, different one", codes)
	}
	if resp, body := wizard(t, remote, srv.URL, "intruder@example.com", first); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the previous run's code: %s, want 403\n%s", resp.Status, harness.Text(body))
	}
	// Typed in lower case with spaces, as people copy codes.
	loose := strings.ToLower(strings.ReplaceAll(codes[1], "-", " "))
	resp, body := wizard(t, remote, srv.URL, "admin@example.com", loose)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the right code: %s, want 303\n%s", resp.Status, harness.Text(body))
	}
	home(t, remote, srv, "admin@example.com")
	if us := listUsers(t, srv.CLI); len(us) != 1 || !us[0].Admin {
		t.Errorf("users after the wizard: %+v, want one admin", us)
	}

	// With an account, a start prints no code.
	srv.Restart(t)
	if codes := setupCodes(t, srv); len(codes) != 2 {
		t.Errorf("a start with an account printed a setup code (%d codes in the log)", len(codes))
	}
}

// notOnDisk fails when any file of dir holds s.
func notOnDisk(t *testing.T, dir, s string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSocket != 0 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) || bytes.Contains(b, []byte(strings.ReplaceAll(s, "-", ""))) {
			t.Errorf("%s holds the setup code", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Changing only the port works: CLINCH_HOST follows CLINCH_LISTEN.
func TestHostDefaultsToListenPort(t *testing.T) {
	// An empty CLINCH_HOST is an unset one.
	srv := harness.Start(t, harness.Options{Env: map[string]string{"CLINCH_HOST": ""}})
	if want := "url=" + srv.URL; !strings.Contains(srv.Log(t), want) {
		t.Fatalf("the start-up line does not say %s:\n%s", want, srv.Log(t))
	}
	c := harness.NewClient()
	// The wizard's form passes the Origin check only if CLINCH_HOST is
	// the address the browser used.
	harness.SignUp(t, c, srv, "admin@example.com", password)
	home(t, c, srv, "admin@example.com")
}

// A first try on a LAN address over plain http works, with one warning in
// the log that passwords travel in clear, and cookies a browser keeps on
// http (not Secure). The warning and the setup code show at
// CLINCH_LOG_LEVEL=warn too.
func TestPlainHTTPOnLANAddress(t *testing.T) {
	srv := harness.StartHost(t, harness.Options{Env: map[string]string{"CLINCH_LOG_LEVEL": "warn"}}, "192.0.2.2")
	if n := strings.Count(srv.Log(t), "passwords and session cookies travel in clear"); n != 1 {
		t.Errorf("the log warns %d times about plain http, want once:\n%s", n, srv.Log(t))
	}
	c := dialingClient(srv.Port)
	codes := setupCodes(t, srv)
	if len(codes) != 1 {
		t.Fatalf("no setup code in the log:\n%s", srv.Log(t))
	}
	// The browser is on another machine as far as Clinch can tell.
	resp, body := wizard(t, c, srv.URL, "admin@example.com", "")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the wizard at %s without a code: %s, want 403\n%s", srv.URL, resp.Status, harness.Text(body))
	}
	resp, body = wizard(t, c, srv.URL, "admin@example.com", codes[0])
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the wizard at %s: %s, want 303\n%s", srv.URL, resp.Status, harness.Text(body))
	}
	for _, ck := range resp.Cookies() {
		if ck.Secure {
			t.Errorf("cookie %s is Secure on a plain-http CLINCH_HOST; the browser would drop it", ck.Name)
		}
	}
	home(t, c, srv, "admin@example.com")
	harness.SignOut(t, c, srv)
	harness.SignIn(t, c, srv, "admin@example.com", password, "")
	home(t, c, srv, "admin@example.com")
}

// FORCE_SSL (TLS ends at a proxy in front) marks cookies Secure and sends
// HSTS. Reached over plain http at a network address anyway, Clinch warns
// at start, and a refused form says the Secure cookie is why.
func TestForceSSL(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		secure bool
	}{
		{"default", nil, false},
		{"FORCE_SSL", map[string]string{"FORCE_SSL": "true"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := harness.StartHost(t, harness.Options{Env: tc.env}, "192.0.2.2")
			createUser(t, srv.CLI, "user@example.com")
			if got := strings.Contains(srv.Log(t), "nobody can sign in there"); got != tc.secure {
				t.Errorf("warning about FORCE_SSL on a plain-http CLINCH_HOST: %v, want %v", got, tc.secure)
			}
			c := dialingClient(srv.Port)
			resp, body := harness.Get(t, c, srv.URL+"/signin")
			hsts := resp.Header.Get("Strict-Transport-Security")
			if tc.secure && hsts != "max-age=31536000; includeSubDomains" || !tc.secure && hsts != "" {
				t.Errorf("Strict-Transport-Security %q (secure: %v)", hsts, tc.secure)
			}
			cks := resp.Cookies()
			if len(cks) != 1 || cks[0].Name != "clinch_csrf" || cks[0].Secure != tc.secure {
				t.Fatalf("cookies %v, want clinch_csrf with Secure=%v", cks, tc.secure)
			}
			tok, _ := harness.CSRFToken(body)
			resp, body = harness.Post(t, c, srv.URL+"/signin", url.Values{"csrf_token": {tok}, "login": {"user@example.com"}, "password": {password}})
			if !tc.secure {
				if resp.StatusCode != http.StatusSeeOther {
					t.Errorf("sign-in: %s, want 303", resp.Status)
				}
				return
			}
			// Like a browser, the jar keeps no Secure cookie for plain http.
			if text := harness.Text(body); resp.StatusCode != http.StatusForbidden ||
				!strings.Contains(text, "Clinch marks its cookies Secure") || !strings.Contains(text, "plain-http address") {
				t.Errorf("sign-in over http with FORCE_SSL: %s\n%s", resp.Status, text)
			}
		})
	}
}
