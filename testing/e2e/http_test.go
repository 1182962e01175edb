package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/testing/harness"
)

// Sign-in attempts are limited per client address (20 per 3 minutes) and
// per account (10 failures in a row free, then a growing wait); the limits
// are kept in the store, so a restart does not reset them.
func TestSignInRateLimit(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		srv := harness.Start(t, harness.Options{})
		createUser(t, srv.CLI, "owner@example.com")
		c := harness.NewClient()
		// Different unknown accounts, so only the address limit applies.
		for i := 1; i <= 20; i++ {
			resp, body := harness.TrySignIn(t, c, srv, fmt.Sprintf("guess%d@example.com", i), "wrong password", "")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %s, want 401\n%s", i, resp.Status, harness.Text(body))
			}
		}
		resp, body := harness.TrySignIn(t, c, srv, "guess21@example.com", "wrong password", "")
		checkLimited(t, resp, body, 3*time.Minute)
		// Even the right password waits: the limit is on attempts.
		resp, body = harness.TrySignIn(t, c, srv, "owner@example.com", password, "")
		checkLimited(t, resp, body, 3*time.Minute)

		srv.Restart(t)
		resp, body = harness.TrySignIn(t, harness.NewClient(), srv, "owner@example.com", password, "")
		checkLimited(t, resp, body, 3*time.Minute)
	})
	t.Run("per account", func(t *testing.T) {
		srv := harness.Start(t, harness.Options{})
		createUser(t, srv.CLI, "target@example.com")
		createUser(t, srv.CLI, "other@example.com")
		c := harness.NewClient()
		for i := 1; i <= 10; i++ {
			resp, body := harness.TrySignIn(t, c, srv, "target@example.com", fmt.Sprintf("wrong password %d", i), "")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure %d: %s, want 401\n%s", i, resp.Status, harness.Text(body))
			}
		}
		resp, body := harness.TrySignIn(t, c, srv, "target@example.com", password, "")
		checkLimited(t, resp, body, time.Hour)
		// Another account from the same address is not locked out.
		harness.SignIn(t, c, srv, "other@example.com", password, "")
	})
}

func checkLimited(t *testing.T, resp *http.Response, body string, max time.Duration) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s, want 429\n%s", resp.Status, harness.Text(body))
	}
	ra := resp.Header.Get("Retry-After")
	secs, err := strconv.Atoi(ra)
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > max {
		t.Errorf("Retry-After %q, want whole seconds in [1, %v]", ra, max)
	}
	if _, ok := harness.CSRFToken(body); !ok {
		t.Errorf("the 429 page is not the sign-in form again:\n%s", harness.Text(body))
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "clinch_session" && ck.Value != "" {
			t.Errorf("a rate-limited sign-in set a session cookie")
		}
	}
}

// Every page carries the security headers; the session cookie is HttpOnly,
// SameSite=Lax, host-only on localhost and not Secure on plain-HTTP
// localhost; "remember me" makes it last 30 days.
func TestSecurityHeadersAndCookie(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	c, anon := harness.NewClient(), harness.NewClient()
	page := func(cl *http.Client, p string) {
		t.Helper()
		resp, _ := harness.Get(t, cl, srv.URL+p)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s, want 200", p, resp.Status)
			return
		}
		checkSecurityHeaders(t, p, resp.Header)
	}
	page(c, "/signup")
	harness.SignUp(t, c, srv, "admin@example.com", password)
	page(c, "/")
	page(anon, "/signin")

	tok := harness.Form(t, anon, srv.URL+"/signin")
	resp, body := harness.Post(t, anon, srv.URL+"/signin", url.Values{
		"csrf_token": {tok}, "login": {"admin@example.com"}, "password": {password},
	})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %s\n%s", resp.Status, harness.Text(body))
	}
	ck := sessionCookie(t, resp)
	if ck.MaxAge != 0 || !ck.Expires.IsZero() {
		t.Errorf("without remember me the session cookie should end with the browser; Max-Age=%d Expires=%v", ck.MaxAge, ck.Expires)
	}

	remembered := harness.NewClient()
	tok = harness.Form(t, remembered, srv.URL+"/signin")
	resp, body = harness.Post(t, remembered, srv.URL+"/signin", url.Values{
		"csrf_token": {tok}, "login": {"admin@example.com"}, "password": {password}, "remember": {"1"},
	})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in with remember me: %s\n%s", resp.Status, harness.Text(body))
	}
	ck = sessionCookie(t, resp)
	const month = 30 * 24 * time.Hour
	if d := time.Duration(ck.MaxAge) * time.Second; d < month-time.Hour || d > month+time.Hour {
		t.Errorf("remembered session cookie Max-Age = %v, want about 30 days", d)
	}
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if ck.Name != "clinch_session" {
			continue
		}
		if !ck.HttpOnly {
			t.Error("session cookie is not HttpOnly")
		}
		if ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("session cookie SameSite = %v, want Lax", ck.SameSite)
		}
		if ck.Secure {
			t.Error("session cookie is Secure on plain-HTTP localhost; the browser would drop it")
		}
		if ck.Domain != "" {
			t.Errorf("session cookie Domain = %q, want host-only on localhost", ck.Domain)
		}
		if ck.Path != "/" {
			t.Errorf("session cookie Path = %q, want /", ck.Path)
		}
		return ck
	}
	t.Fatalf("no clinch_session cookie in %v", resp.Header.Values("Set-Cookie"))
	return nil
}

func checkSecurityHeaders(t *testing.T, page string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	if csp == "" {
		t.Errorf("%s: no Content-Security-Policy", page)
	}
	if !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: CSP %q lacks frame-ancestors 'none'", page, csp)
	}
	if strings.Contains(csp, "'unsafe-inline'") || strings.Contains(csp, "'unsafe-eval'") {
		t.Errorf("%s: CSP %q allows inline code", page, csp)
	}
	if !strings.Contains(csp, "default-src") && !strings.Contains(csp, "script-src") {
		t.Errorf("%s: CSP %q does not restrict scripts", page, csp)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options = %q, want nosniff", page, got)
	}
	if h.Get("Referrer-Policy") == "" {
		t.Errorf("%s: no Referrer-Policy", page)
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("%s: Content-Type = %q", page, h.Get("Content-Type"))
	}
}

// Forms refuse a POST without the CSRF token, with a token that does not
// match the cookie, or from another origin.
func TestCSRF(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	createUser(t, srv.CLI, "user@example.com")
	c := harness.NewClient()
	tok := harness.Form(t, c, srv.URL+"/signin")
	good := url.Values{"csrf_token": {tok}, "login": {"user@example.com"}, "password": {password}}
	without := url.Values{"login": {"user@example.com"}, "password": {password}}
	wrong := url.Values{"csrf_token": {tok + "x"}, "login": {"user@example.com"}, "password": {password}}

	for _, tc := range []struct {
		name   string
		vals   url.Values
		origin string
	}{
		{"no token", without, srv.URL},
		{"wrong token", wrong, srv.URL},
		{"cross-origin", good, "http://evil.example"},
	} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/signin", strings.NewReader(tc.vals.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", tc.origin)
		resp, _ := harness.Do(t, c, req)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: POST /signin answered %s, want 403", tc.name, resp.Status)
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == "clinch_session" && ck.Value != "" {
				t.Errorf("%s: a session cookie was set", tc.name)
			}
		}
	}
	// The same client with the right token and origin gets in.
	if resp, body := harness.Post(t, c, srv.URL+"/signin", good); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the genuine form post: %s, want 303\n%s", resp.Status, harness.Text(body))
	}
}

// /healthz, /readyz and /metrics answer as a monitoring system expects.
func TestObservability(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	c := harness.NewClient()
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, _ := harness.Get(t, c, srv.URL+p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s, want 200", p, resp.Status)
		}
	}
	harness.Get(t, c, srv.URL+"/signin")
	resp, body := harness.Get(t, c, srv.URL+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	for _, want := range []string{"clinch_", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if strings.Contains(body, srv.Options().Env["SECRET_KEY_BASE"]) {
		t.Error("/metrics shows the secret key")
	}
}

// Multipart bodies were parsed (up to 32 MiB each) before the CSRF check
// decided anything. Through the real binary, big bodies are refused with a
// 4xx at once and the server keeps answering.
func TestUnboundedBodiesAreRefused(t *testing.T) {
	s := harness.Start(t, harness.Options{})
	c := harness.NewClient()
	tok := harness.Form(t, c, s.URL+"/signup")
	big := strings.Repeat("x", 8<<20)
	answered := 0
	for _, ctype := range []string{"multipart/form-data; boundary=zz", "application/x-www-form-urlencoded"} {
		for _, path := range []string{"/signin", "/nowhere", "/oauth/token"} {
			req, err := http.NewRequest("POST", s.URL+path, strings.NewReader("csrf_token="+tok+"&pad="+big))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", ctype)
			req.Header.Set("Origin", s.URL)
			resp, err := c.Do(req)
			if err != nil {
				// The server may close the connection once it stops reading.
				continue
			}
			resp.Body.Close()
			answered++
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("%s %s: %d, want a 4xx", ctype, path, resp.StatusCode)
			}
		}
	}
	if answered == 0 {
		t.Fatal("no request was answered at all")
	}
	if resp, _ := harness.Get(t, c, s.URL+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz after big bodies: %d", resp.StatusCode)
	}
}
