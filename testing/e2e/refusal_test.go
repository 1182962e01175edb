package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// A refused form names the real cause and the fix, and the log says why in
// one line with the path and the Origin, never the token.
func TestRefusedFormExplainsItself(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	createUser(t, srv.CLI, "user@example.com")

	// Opened at 127.0.0.1 while CLINCH_HOST is http://localhost:PORT.
	other := "http://" + srv.Addr
	c := harness.NewClient()
	tok := harness.Form(t, c, other+"/signin")
	resp, body := harness.Post(t, c, other+"/signin", url.Values{"csrf_token": {tok}, "login": {"user@example.com"}, "password": {password}})
	want := "This page was opened at " + other + ", but Clinch's address is " + srv.URL + " (CLINCH_HOST)"
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(harness.Text(body), want) {
		t.Errorf("form from %s: %s, want 403 saying %q\n%s", other, resp.Status, want, harness.Text(body))
	}
	logLine(t, srv, "reason=origin_mismatch", "path=/signin", "origin="+other)

	// No clinch_csrf cookie: cookies are needed.
	fresh := harness.NewClient()
	resp, body = harness.Post(t, fresh, srv.URL+"/signin", url.Values{"csrf_token": {tok}, "login": {"user@example.com"}, "password": {password}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(harness.Text(body), "security cookie did not come back") ||
		!strings.Contains(harness.Text(body), "accept cookies") {
		t.Errorf("form without the cookie: %s\n%s", resp.Status, harness.Text(body))
	}
	logLine(t, srv, "reason=cookie_missing", "path=/signin", "origin="+srv.URL)

	if strings.Contains(srv.Log(t), tok) {
		t.Error("the log carries a CSRF token")
	}
	// The checks are as strict as before: the right form still works.
	good := harness.NewClient()
	harness.SignIn(t, good, srv, "user@example.com", password, "")
}

// logLine fails unless one "form refused" line of the server's log holds
// every part.
func logLine(t *testing.T, srv *harness.Server, parts ...string) {
	t.Helper()
	for _, line := range strings.Split(srv.Log(t), "\n") {
		if !strings.Contains(line, "form refused") || !strings.Contains(line, "level=INFO") {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("no info line \"form refused\" with %q in the log:\n%s", parts, srv.Log(t))
}

// A return URL that sign-in drops leaves the person on Clinch's home page
// and an info line saying why, with the host but not the URL's query.
func TestDroppedReturnURLIsLogged(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	createUser(t, srv.CLI, "user@example.com")
	c := harness.NewClient()
	resp := harness.SignIn(t, c, srv, "user@example.com", password, "http://unknown.example.net/x?token=s3cr3t")
	if got := location(t, resp); got != "/" {
		t.Errorf("sign-in sent the browser to %s, want /", got)
	}
	log := srv.Log(t)
	found := false
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "return URL dropped") && strings.Contains(line, "level=INFO") &&
			strings.Contains(line, "no forward_auth app covers this host") && strings.Contains(line, "host=unknown.example.net") {
			found = true
		}
	}
	if !found {
		t.Errorf("no info line saying why the return URL was dropped:\n%s", log)
	}
	if strings.Contains(log, "s3cr3t") {
		t.Error("the log carries the return URL's query")
	}
}
