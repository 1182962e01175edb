package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// The first run as a person lives it: the wizard creates the admin, who
// signs out, signs back in, and after a restart finds everything still
// there; the wizard is gone once a user exists.
func TestFirstRunWizard(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	const email = "Admin@Example.com" // stored in lower case
	const stored = "admin@example.com"

	c := harness.NewClient()
	resp, body := harness.Get(t, c, srv.URL+"/signup")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /signup on a fresh install: %s, want 200", resp.Status)
	}
	for _, field := range []string{`name="email"`, `name="password"`, `name="password_confirm"`, `name="csrf_token"`} {
		if !strings.Contains(body, field) {
			t.Errorf("the wizard has no %s field", field)
		}
	}

	// A mismatched confirmation is refused with a plain message, and no
	// account is made.
	tok := harness.Form(t, c, srv.URL+"/signup")
	resp, body = harness.Post(t, c, srv.URL+"/signup", map[string][]string{
		"csrf_token": {tok}, "email": {email}, "name": {"Admin"},
		"password": {password}, "password_confirm": {password + "x"},
	})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("POST /signup with mismatched passwords: %s, want 400\n%s", resp.Status, harness.Text(body))
	}

	resp = harness.SignUp(t, c, srv, email, password)
	if got := location(t, resp); got != "/" {
		t.Errorf("after the wizard: redirected to %q, want /", got)
	}
	home(t, c, srv, stored)

	us := listUsers(t, srv.CLI)
	if len(us) != 1 || us[0].Email != stored || !us[0].Admin {
		t.Fatalf("after the wizard, users = %+v, want one admin %s", us, stored)
	}

	harness.SignOut(t, c, srv)
	resp, _ = harness.Get(t, c, srv.URL+"/")
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("GET / after sign-out: %s, want a redirect to /signin", resp.Status)
	}
	if got := location(t, resp); !strings.HasPrefix(got, "/signin") {
		t.Errorf("GET / after sign-out redirects to %q, want /signin", got)
	}

	resp, body = harness.TrySignIn(t, c, srv, stored, "wrong password", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong password: %s, want 401\n%s", resp.Status, harness.Text(body))
	}
	resp = harness.SignIn(t, c, srv, email, password, "")
	if got := location(t, resp); got != "/" {
		t.Errorf("after sign-in: redirected to %q, want /", got)
	}
	home(t, c, srv, stored)

	for _, cl := range []*http.Client{c, harness.NewClient()} {
		resp, _ = harness.Get(t, cl, srv.URL+"/signup")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /signup once a user exists: %s, want 404", resp.Status)
		}
	}

	srv.Restart(t)
	// The session kept in the store outlives the process.
	home(t, c, srv, stored)
	fresh := harness.NewClient()
	harness.SignIn(t, fresh, srv, stored, password, "")
	home(t, fresh, srv, stored)
	resp, _ = harness.Get(t, fresh, srv.URL+"/signup")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /signup after restart: %s, want 404", resp.Status)
	}
}

// A second POST to the wizard, racing the first or replayed later, must not
// make a second admin.
func TestWizardClosesAfterFirstUser(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	a, b := harness.NewClient(), harness.NewClient()
	tokA := harness.Form(t, a, srv.URL+"/signup")
	tokB := harness.Form(t, b, srv.URL+"/signup")
	post := func(c *http.Client, tok, email string) *http.Response {
		resp, _ := harness.Post(t, c, srv.URL+"/signup", map[string][]string{
			"csrf_token": {tok}, "email": {email}, "name": {"x"},
			"password": {password}, "password_confirm": {password},
		})
		return resp
	}
	if resp := post(a, tokA, "first@example.com"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first wizard POST: %s, want 303", resp.Status)
	}
	if resp := post(b, tokB, "second@example.com"); resp.StatusCode == http.StatusSeeOther {
		t.Fatalf("a second wizard POST succeeded (%s)", resp.Status)
	}
	us := listUsers(t, srv.CLI)
	if len(us) != 1 || us[0].Email != "first@example.com" {
		t.Fatalf("users = %+v, want only first@example.com", us)
	}
}
