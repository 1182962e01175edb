package ui

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// adminEnv is a store with an admin (ada) and a person who is not one
// (bob), each signed in in their own browser.
type adminEnv struct {
	*env
	admin, person *client
	ada, bob      *auth.User
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	e := newEnv(t)
	ctx := context.Background()
	ada, err := e.auth.CreateUser(ctx, auth.NewUser{Email: "ada@example.com", Username: "ada", DisplayName: "Ada Admin", Password: "ada-password", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	bob := e.user("bob@example.com", "bob", "bob-password")
	a := &adminEnv{env: e, ada: ada, bob: bob, admin: e.client("10.0.0.1"), person: e.client("10.0.0.2")}
	want(t, a.admin.signin("ada", "ada-password", nil), 303, "/")
	want(t, a.person.signin("bob", "bob-password", nil), 303, "/")
	return a
}

// adminGETs are the admin pages reached by a link; {id} is bob's id.
var adminGETs = []string{"/admin", "/admin/", "/admin/sign-out-everyone",
	"/admin/users", "/admin/users?q=bob", "/admin/users/new", "/admin/users/{id}",
	"/admin/users/{id}/disable", "/admin/users/{id}/delete", "/admin/users/{id}/reset-second-factors",
}

// adminPOSTs are the admin forms; {id} is bob's id.
var adminPOSTs = []string{"/admin/sign-out-everyone",
	"/admin/users/new", "/admin/users/invite", "/admin/users/{id}", "/admin/users/{id}/disable",
	"/admin/users/{id}/enable", "/admin/users/{id}/delete", "/admin/users/{id}/second-factor",
	"/admin/users/{id}/reset-second-factors", "/admin/users/{id}/sessions/x/end", "/admin/users/{id}/sessions/end",
	"/admin/users/{id}/grants/revoke", "/admin/users/{id}/app-claims", "/admin/users/{id}/invite",
}

func TestAdmin_OnlyAdmins(t *testing.T) {
	a := newAdminEnv(t)
	anon := a.client("10.0.0.3")
	for _, p := range adminGETs {
		p = strings.ReplaceAll(p, "{id}", a.bob.ID)
		want(t, anon.get(p), 303, "/signin?"+url.Values{"rd": {p}}.Encode())
		r := a.person.get(p)
		if r.code != 403 || !strings.Contains(r.body, "Admins only") {
			t.Errorf("non-admin GET %s: %d\n%s", p, r.code, r.body)
		}
		if r := a.admin.get(p); r.code != 200 {
			t.Errorf("admin GET %s: %d\n%s", p, r.code, r.body)
		}
	}
	for _, p := range adminPOSTs {
		p = strings.ReplaceAll(p, "{id}", a.bob.ID)
		want(t, anon.post(p, url.Values{}), 303, "/signin?"+url.Values{"rd": {"/admin"}}.Encode())
		if r := a.person.post(p, url.Values{}); r.code != 403 || !strings.Contains(r.body, "Admins only") {
			t.Errorf("non-admin POST %s: %d\n%s", p, r.code, r.body)
		}
	}
	// Nothing a refused form could have done was done.
	if u, err := a.auth.User(context.Background(), a.bob.ID); err != nil || u.Status != auth.StatusActive {
		t.Errorf("bob after the refused forms: %+v, %v", u, err)
	}
}

func TestAdmin_HeaderLinkOnlyForAdmins(t *testing.T) {
	a := newAdminEnv(t)
	if r := a.admin.get("/"); !strings.Contains(r.body, `href="/admin"`) {
		t.Errorf("admin's home page has no Admin link:\n%s", r.body)
	}
	if r := a.person.get("/"); strings.Contains(r.body, `href="/admin"`) {
		t.Errorf("non-admin's home page links the admin pages:\n%s", r.body)
	}
}

func TestAdmin_DashboardWarnings(t *testing.T) {
	a := newAdminEnv(t)
	r := a.admin.get("/admin")
	for _, s := range []string{"plain http", "No mail is configured", "ada@example.com has no second factor", `id="count-users">2<`} {
		if !strings.Contains(r.body, s) {
			t.Errorf("dashboard lacks %q:\n%s", s, r.body)
		}
	}
}

func TestAdmin_SignOutEveryone(t *testing.T) {
	a := newAdminEnv(t)
	r := a.admin.get("/admin/sign-out-everyone")
	if r.code != 200 || !strings.Contains(r.body, `action="/admin/sign-out-everyone"`) || !strings.Contains(r.body, "2 active sessions") {
		t.Fatalf("confirmation page: %d\n%s", r.code, r.body)
	}
	// Without the CSRF token nothing happens.
	if r := a.admin.post("/admin/sign-out-everyone", url.Values{"csrf_token": {"x"}}); r.code != 403 {
		t.Fatalf("POST without the token: %d", r.code)
	}
	if n, _ := a.auth.CountActiveSessions(context.Background()); n != 2 {
		t.Fatalf("a refused form ended sessions: %d left", n)
	}
	want(t, a.admin.post("/admin/sign-out-everyone", url.Values{}), 303, "/signin?rd=%2Fadmin")
	if n, _ := a.auth.CountActiveSessions(context.Background()); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	want(t, a.person.get("/"), 303, "/signin")
}
