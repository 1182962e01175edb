package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/mail/outbox"
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
	return newAdminEnvWith(t, nil)
}

// newAdminEnvWith is newAdminEnv with the Config changed first.
func newAdminEnvWith(t *testing.T, change func(*Config)) *adminEnv {
	t.Helper()
	e := newEnvWith(t, change)
	ctx := context.Background()
	ada, err := e.auth.CreateUser(ctx, auth.NewUser{Email: "ada@example.com", Username: "ada", DisplayName: "Ada Admin", Password: "ada-password", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	bob := e.user("bob@example.com", "bob", "bob-password")
	if _, err := e.auth.CreateGroup(ctx, "staff", "Everyone who works here", ""); err != nil {
		t.Fatal(err)
	}
	a := &adminEnv{env: e, ada: ada, bob: bob, admin: e.client("10.0.0.1"), person: e.client("10.0.0.2")}
	want(t, a.admin.signin("ada", "ada-password", nil), 303, "/")
	want(t, a.person.signin("bob", "bob-password", nil), 303, "/")
	return a
}

// adminGETs are the admin pages reached by a link; {id} is bob's id.
var adminGETs = []string{"/admin", "/admin/", "/admin/sign-out-everyone",
	"/admin/users", "/admin/users?q=bob", "/admin/users/new", "/admin/users/{id}",
	"/admin/users/{id}/disable", "/admin/users/{id}/delete", "/admin/users/{id}/reset-second-factors",
	"/admin/groups", "/admin/groups/staff", "/admin/groups/staff/delete",
	"/admin/audit", "/admin/audit?kind=signin", "/admin/audit/export",
}

// adminPOSTs are the admin forms; {id} is bob's id.
var adminPOSTs = []string{"/admin/sign-out-everyone",
	"/admin/users/new", "/admin/users/invite", "/admin/users/{id}", "/admin/users/{id}/disable",
	"/admin/users/{id}/enable", "/admin/users/{id}/delete", "/admin/users/{id}/second-factor",
	"/admin/users/{id}/reset-second-factors", "/admin/users/{id}/sessions/x/end", "/admin/users/{id}/sessions/end",
	"/admin/users/{id}/grants/revoke", "/admin/users/{id}/app-claims", "/admin/users/{id}/invite",
	"/admin/groups", "/admin/groups/staff", "/admin/groups/staff/members", "/admin/groups/staff/members/remove",
	"/admin/groups/staff/delete",
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
	if _, err := a.auth.Group(context.Background(), "staff"); err != nil {
		t.Errorf("staff after the refused forms: %v", err)
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

// Mail that was given up, or that waits behind a failing server, is on
// the dashboard with the server's reason; a healthy queue says nothing.
func TestAdmin_DashboardShowsFailedMail(t *testing.T) {
	failed := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		st   outbox.Status
		want string // "" when no warning is expected
	}{
		{"healthy", outbox.Status{Sent: 4}, ""},
		{"given up", outbox.Status{Sent: 1, Failed: 2, LastFailure: failed, LastError: "550 relay denied"},
			"2 mail(s) could not be delivered and were given up since Clinch started. The last attempt failed at 23 Nov 2026, 09:30 UTC: 550 relay denied."},
		{"retrying", outbox.Status{Queued: 3, LastFailure: failed, LastError: "dial tcp: connection refused"},
			"3 mail(s) are waiting to be sent. The last attempt failed at 23 Nov 2026, 09:30 UTC: dial tcp: connection refused. Clinch keeps retrying."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAdminEnvWith(t, func(c *Config) {
				c.MailStatus = func(context.Context) (outbox.Status, error) { return tc.st, nil }
			})
			body := html.UnescapeString(a.admin.get("/admin").body)
			if tc.want == "" {
				if strings.Contains(body, "mail(s)") {
					t.Errorf("a healthy queue warns:\n%s", body)
				}
				return
			}
			if !strings.Contains(body, tc.want) {
				t.Errorf("dashboard lacks %q:\n%s", tc.want, body)
			}
		})
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

// Every admin form needs the CSRF token: without it (or with another
// one) nothing changes.
func TestAdmin_FormsNeedCSRF(t *testing.T) {
	a := newAdminEnv(t)
	for _, p := range adminPOSTs {
		p = strings.ReplaceAll(p, "{id}", a.bob.ID)
		for _, tok := range []string{"", strings.Repeat("A", 43)} {
			r := a.admin.post(p, url.Values{"csrf_token": {tok}, "name": {"x"}, "email": {"x@example.com"}})
			if r.code != 403 || !strings.Contains(r.body, "Request refused") {
				t.Errorf("POST %s with token %q: %d", p, tok, r.code)
			}
		}
	}
	ctx := context.Background()
	if u, err := a.auth.User(ctx, a.bob.ID); err != nil || u.Status != auth.StatusActive || u.DisplayName != "User bob" {
		t.Errorf("bob after refused forms: %+v, %v", u, err)
	}
	if n, _ := a.auth.CountActiveSessions(ctx); n != 2 {
		t.Errorf("%d sessions after refused forms, want 2", n)
	}
	if _, err := a.auth.UserByEmail(ctx, "x@example.com"); err == nil {
		t.Error("a refused form created a user")
	}
}

func TestAdmin_EditUser(t *testing.T) {
	a := newAdminEnv(t)
	ctx := context.Background()
	path := "/admin/users/" + a.bob.ID
	form := url.Values{"email": {"bob@example.com"}, "name": {"Bobby"}, "username": {"bob"}, "group": {"staff"},
		"claims": {"{\n  \"team\": \"blue\",\n}"}}
	r := a.admin.post(path, form)
	if r.code != 400 || !strings.Contains(r.body, "Custom claims are not valid JSON") || !strings.Contains(r.body, "line 3, column 1") {
		t.Fatalf("invalid claims: %d\n%s", r.code, r.body)
	}
	// The form shows what was typed, and nothing was saved.
	if !strings.Contains(r.body, `value="Bobby"`) || !strings.Contains(r.body, "&#34;team&#34;: &#34;blue&#34;,") {
		t.Errorf("the form lost what was typed:\n%s", r.body)
	}
	u, _ := a.auth.User(ctx, a.bob.ID)
	if u.DisplayName != "User bob" || len(u.Claims) != 0 {
		t.Fatalf("a refused edit saved: %+v", u)
	}
	if gs, _ := a.auth.UserGroups(ctx, u.ID); len(gs) != 0 {
		t.Fatal("a refused edit joined a group")
	}
	form.Set("claims", `{"team": "blue"}`)
	want(t, a.admin.post(path, form), 303, path+"?done=saved")
	u, _ = a.auth.User(ctx, a.bob.ID)
	if u.DisplayName != "Bobby" || string(u.Claims) != `{"team":"blue"}` {
		t.Fatalf("saved %+v", u)
	}
	if gs, _ := a.auth.UserGroups(ctx, u.ID); len(gs) != 1 {
		t.Fatal("not in staff")
	}
	page := a.admin.get(path + "?done=saved")
	if !strings.Contains(page.body, "Saved.") || !strings.Contains(page.body, `value="staff" checked`) {
		t.Errorf("user page after saving:\n%s", page.body)
	}
	// Taking admin from the only admin is refused with the reason.
	r = a.admin.post("/admin/users/"+a.ada.ID, url.Values{"email": {"ada@example.com"}, "name": {"Ada"}})
	if r.code != 400 || !strings.Contains(r.body, "last active admin") {
		t.Errorf("last admin: %d\n%s", r.code, r.body)
	}
}

func TestAdmin_CreateInviteDisableDelete(t *testing.T) {
	a := newAdminEnv(t)
	ctx := context.Background()
	r := a.admin.post("/admin/users/new", url.Values{"email": {"cy@example.com"}, "name": {"Cy"}, "password": {"short"}})
	if r.code != 400 || !strings.Contains(r.body, "at least 8 characters") || !strings.Contains(r.body, `value="cy@example.com"`) {
		t.Fatalf("short password: %d\n%s", r.code, r.body)
	}
	r = a.admin.post("/admin/users/new", url.Values{"email": {"cy@example.com"}, "name": {"Cy"}, "password": {"cy-password"}, "group": {"staff"}})
	cy, err := a.auth.UserByEmail(ctx, "cy@example.com")
	if err != nil {
		t.Fatalf("not created: %d\n%s", r.code, r.body)
	}
	want(t, r, 303, "/admin/users/"+cy.ID+"?done=created")
	want(t, a.client("10.0.0.9").signin("cy@example.com", "cy-password", nil), 303, "/")

	// Without mail, an invitation shows its link once, and it works.
	r = a.admin.post("/admin/users/invite", url.Values{"email": {"dee@example.com"}, "name": {"Dee"}})
	m := regexp.MustCompile(`id="invite-link">([^<]+)<`).FindStringSubmatch(r.body)
	if r.code != 200 || m == nil {
		t.Fatalf("invite: %d\n%s", r.code, r.body)
	}
	link, _ := url.Parse(html.UnescapeString(m[1]))
	if u, err := a.auth.InvitationUser(ctx, link.Query().Get("token")); err != nil || u.Email != "dee@example.com" {
		t.Fatalf("the link shown is not an invitation for dee: %v", err)
	}
	r = a.admin.post("/admin/users/invite", url.Values{"email": {"bob@example.com"}})
	if r.code != 409 || !strings.Contains(r.body, "already has an account") {
		t.Errorf("inviting an active user: %d", r.code)
	}

	// Disabling asks first; then signs bob out.
	path := "/admin/users/" + a.bob.ID
	c := a.admin.get(path + "/disable")
	if !strings.Contains(c.body, `action="`+path+`/disable"`) || !strings.Contains(c.body, "signed out") {
		t.Fatalf("disable confirmation:\n%s", c.body)
	}
	want(t, a.admin.post(path+"/disable", url.Values{}), 303, path+"?done=disabled")
	want(t, a.person.get("/"), 303, "/signin")
	want(t, a.admin.post(path+"/enable", url.Values{}), 303, path+"?done=enabled")
	if u, _ := a.auth.User(ctx, a.bob.ID); u.Status != auth.StatusActive {
		t.Fatalf("enabled bob is %s", u.Status)
	}
	want(t, a.admin.post(path+"/delete", url.Values{}), 303, "/admin/users?done=deleted")
	if _, err := a.auth.User(ctx, a.bob.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("bob after delete: %v", err)
	}
	if r := a.admin.get(path); r.code != 404 {
		t.Errorf("deleted user's page: %d", r.code)
	}
}

// The users list pages by cursor: following "Next page" from the first
// page shows every user once, in email order.
func TestAdmin_UsersPages(t *testing.T) {
	a := newAdminEnv(t)
	ctx := context.Background()
	for i := range 120 {
		if _, err := a.auth.CreateUser(ctx, auth.NewUser{Email: fmt.Sprintf("p%03d@example.com", i), DisplayName: fmt.Sprintf("Person %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	re := regexp.MustCompile(`<a href="/admin/users/[^"]+">([^<]+)</a>`)
	next := regexp.MustCompile(`href="([^"]+)" id="next-page"`)
	var seen []string
	p, pages := "/admin/users", 0
	for p != "" {
		r := a.admin.get(p)
		if r.code != 200 {
			t.Fatalf("GET %s: %d", p, r.code)
		}
		pages++
		for _, m := range re.FindAllStringSubmatch(r.body, -1) {
			seen = append(seen, m[1])
		}
		p = ""
		if m := next.FindStringSubmatch(r.body); m != nil {
			p = html.UnescapeString(m[1])
		}
	}
	if len(seen) != 122 || pages != 3 || !slices.IsSorted(seen) {
		t.Fatalf("saw %d users on %d pages (sorted %v)", len(seen), pages, slices.IsSorted(seen))
	}
	r := a.admin.get("/admin/users?q=person+11")
	if n := len(re.FindAllString(r.body, -1)); n != 11 { // 11, 110–119
		t.Errorf("search found %d users, want 11", n)
	}
}

func TestAdmin_Groups(t *testing.T) {
	a := newAdminEnv(t)
	ctx := context.Background()
	r := a.admin.post("/admin/groups", url.Values{"name": {"Family Room"}})
	if r.code != 400 || !strings.Contains(r.body, "The group name may contain only") {
		t.Fatalf("bad name: %d\n%s", r.code, r.body)
	}
	want(t, a.admin.post("/admin/groups", url.Values{"name": {"family"}, "description": {"Us"}}), 303, "/admin/groups/family?done=group-created")
	want(t, a.admin.post("/admin/groups/family/members", url.Values{"user": {"bob"}}), 303, "/admin/groups/family?done=member-added")
	if gs, _ := a.auth.UserGroups(ctx, a.bob.ID); len(gs) != 1 || gs[0].Name != "family" {
		t.Fatal("bob is not in family")
	}
	r = a.admin.post("/admin/groups/family/members", url.Values{"user": {"nobody"}})
	if r.code != 400 || !strings.Contains(r.body, "No user has") {
		t.Errorf("unknown member: %d", r.code)
	}
	r = a.admin.post("/admin/groups/family", url.Values{"name": {"family"}, "claims": {"[1]"}})
	if r.code != 400 || !strings.Contains(r.body, "Custom claims must be a JSON object") {
		t.Fatalf("bad claims: %d\n%s", r.code, r.body)
	}
	// Requiring a second factor signs bob (who has none) out, and says so.
	r = a.admin.post("/admin/groups/family", url.Values{"name": {"family"}, "description": {"Us"}, "require_second_factor": {"on"}})
	want(t, r, 303, "/admin/groups/family?done=saved-signed-out-1")
	if p := a.admin.get(r.loc); !strings.Contains(p.body, "1 member without a second factor was signed out") {
		t.Errorf("group page after saving:\n%s", p.body)
	}
	want(t, a.person.get("/"), 303, "/signin")
	want(t, a.admin.post("/admin/groups/family/members/remove", url.Values{"user": {a.bob.ID}}), 303, "/admin/groups/family?done=member-removed")
	want(t, a.admin.post("/admin/groups/family", url.Values{"name": {"home"}}), 303, "/admin/groups/home?done=saved")
	if c := a.admin.get("/admin/groups/home/delete"); !strings.Contains(c.body, `action="/admin/groups/home/delete"`) {
		t.Fatalf("delete confirmation:\n%s", c.body)
	}
	want(t, a.admin.post("/admin/groups/home/delete", url.Values{}), 303, "/admin/groups?done=group-deleted")
	if _, err := a.auth.Group(ctx, "home"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("home after delete: %v", err)
	}
}

// Changes made on the admin pages are in the audit log with the admin as
// the actor; the log filters by user and kind, and exports JSON lines.
func TestAdmin_Audit(t *testing.T) {
	a := newAdminEnv(t)
	path := "/admin/users/" + a.bob.ID
	want(t, a.admin.post(path, url.Values{"email": {"bob@example.com"}, "name": {"Bobby"}, "username": {"bob"}}), 303, path+"?done=saved")

	r := a.admin.get("/admin/audit?user=bob&kind=user.updated")
	if r.code != 200 || !strings.Contains(r.body, "<code>user.updated</code>") || !strings.Contains(r.body, "ada@example.com") ||
		!strings.Contains(r.body, "Bobby") {
		t.Fatalf("audit page:\n%s", r.body)
	}
	if strings.Contains(r.body, "<code>signin</code>") {
		t.Error("the kind filter let sign-ins through")
	}
	// The dashboard shows recent events.
	if d := a.admin.get("/admin"); !strings.Contains(d.body, "<code>user.updated</code>") {
		t.Errorf("dashboard lacks the recent event:\n%s", d.body)
	}
	// Bad filters are named, not ignored.
	for q, msg := range map[string]string{"kind=nope": "no event kind", "since=yesterday": "not a date and time"} {
		if r := a.admin.get("/admin/audit?" + q); r.code != 400 || !strings.Contains(r.body, msg) {
			t.Errorf("%s: %d", q, r.code)
		}
	}
	x := a.admin.get("/admin/audit/export?user=bob")
	if x.code != 200 || !strings.HasPrefix(x.hdr.Get("Content-Type"), "application/jsonl") ||
		!strings.Contains(x.hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", x.code, x.hdr)
	}
	lines := strings.Split(strings.TrimSpace(x.body), "\n")
	kinds := map[string]bool{}
	for _, l := range lines {
		var e audit.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		if e.Subject != a.bob.ID && e.Actor != a.bob.ID {
			t.Errorf("export for bob has an event about %s", e.Subject)
		}
		kinds[string(e.Kind)] = true
		if e.Kind == audit.UserUpdated && e.Actor != a.ada.ID {
			t.Errorf("the edit's actor is %q, want ada", e.Actor)
		}
	}
	if !kinds["user.updated"] || !kinds["signin"] {
		t.Errorf("export kinds %v, want user.updated and signin", kinds)
	}
}

// fakeGrants is an OIDC provider's grants: one grant of bob at one app.
type fakeGrants struct {
	mu      sync.Mutex
	grants  map[string][]Grant // by user id
	revoked []string           // "user/app"
}

func (f *fakeGrants) UserGrants(_ context.Context, userID string) ([]Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.grants[userID]), nil
}

func (f *fakeGrants) RevokeUser(_ context.Context, userID, appID string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, userID+"/"+appID)
	n := len(f.grants[userID])
	f.grants[userID] = slices.DeleteFunc(f.grants[userID], func(g Grant) bool { return g.AppID == appID })
	return n - len(f.grants[userID]), nil
}

// The user page lists the user's sessions and the OIDC apps holding
// tokens for them, ends either, and sets claims at one app.
func TestAdmin_SessionsGrantsAppClaims(t *testing.T) {
	fg := &fakeGrants{grants: map[string][]Grant{}}
	e := newEnvWith(t, func(c *Config) { c.Grants = fg })
	ctx := context.Background()
	if _, err := e.auth.CreateUser(ctx, auth.NewUser{Email: "ada@example.com", Username: "ada", Password: "ada-password", Admin: true}); err != nil {
		t.Fatal(err)
	}
	bob := e.user("bob@example.com", "bob", "bob-password")
	app, _, err := e.auth.CreateApp(ctx, auth.AppInput{Name: "Grafana", Slug: "grafana", Type: auth.AppOIDC, RedirectURIs: []string{"https://grafana.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	fg.grants[bob.ID] = []Grant{{AppID: app.ID, Scopes: []string{"openid", "email"}, CreatedAt: time.Now()}}
	admin, person := e.client("10.0.0.1"), e.client("10.0.0.2")
	want(t, admin.signin("ada", "ada-password", nil), 303, "/")
	want(t, person.signin("bob", "bob-password", nil), 303, "/")
	path := "/admin/users/" + bob.ID

	r := admin.get(path)
	for _, s := range []string{"Grafana", "openid email", "10.0.0.2", `id="end-sessions"`, `action="` + path + `/app-claims"`} {
		if !strings.Contains(r.body, s) {
			t.Errorf("user page lacks %q", s)
		}
	}
	want(t, admin.post(path+"/grants/revoke", url.Values{"app": {app.ID}}), 303, path+"?done=grants-revoked")
	if len(fg.revoked) != 1 || fg.revoked[0] != bob.ID+"/"+app.ID {
		t.Errorf("revoked %v", fg.revoked)
	}
	if r := admin.get(path); !strings.Contains(r.body, `id="no-grants"`) {
		t.Error("the revoked grant is still listed")
	}

	// App claims: a mistake is named and not saved; then saved.
	r = admin.post(path+"/app-claims", url.Values{"app": {"grafana"}, "claims": {`{"role": }`}})
	if r.code != 400 || !strings.Contains(r.body, "Custom claims are not valid JSON") || !strings.Contains(r.body, `{&#34;role&#34;: }`) {
		t.Fatalf("bad app claims: %d\n%s", r.code, r.body)
	}
	if c, _ := e.auth.UserAppClaims(ctx, bob.ID, app.ID); c != nil {
		t.Fatalf("bad app claims saved: %s", c)
	}
	want(t, admin.post(path+"/app-claims", url.Values{"app": {"grafana"}, "claims": {`{"role": "Editor"}`}}), 303, path+"?done=claims-saved#app-claims")
	if c, _ := e.auth.UserAppClaims(ctx, bob.ID, app.ID); string(c) != `{"role":"Editor"}` {
		t.Fatalf("app claims %s", c)
	}

	// One session ended, then bob's browser is signed out.
	ss, _ := e.auth.UserSessions(ctx, bob.ID)
	if len(ss) != 1 {
		t.Fatalf("%d sessions", len(ss))
	}
	want(t, admin.post(path+"/sessions/"+ss[0].ID+"/end", url.Values{}), 303, path+"?done=session-ended")
	want(t, person.get("/"), 303, "/signin")
	// Ending another user's session through bob's page does nothing.
	as, _ := e.auth.UserSessions(ctx, bob.ID)
	if len(as) != 0 {
		t.Fatalf("bob has %d sessions", len(as))
	}
	mine := admin.sessionCookie()
	adaSessions, _ := e.auth.UserSessions(ctx, mustUser(t, e, "ada@example.com").ID)
	want(t, admin.post(path+"/sessions/"+adaSessions[0].ID+"/end", url.Values{}), 303, path)
	if admin.sessionCookie() != mine || admin.get("/admin").code != 200 {
		t.Error("ending ada's session through bob's page worked")
	}
}

func mustUser(t *testing.T, e *env, email string) *auth.User {
	t.Helper()
	u, err := e.auth.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Without SMTP (the queue writes to the log) an invitation is still shown
// to the admin, who has it right there, and not queued; the dashboard
// says where reset links go and what nobody can do.
func TestAdmin_WithoutSMTPInvitationIsShownNotMailed(t *testing.T) {
	mails := make(chanMailer, 4)
	a := newAdminEnvWith(t, func(c *Config) { c.Mailer, c.MailToLog = mails, true })
	if r := a.admin.get("/admin/users/new"); !strings.Contains(r.body, "Clinch shows you a link to pass on") {
		t.Errorf("the invite form promises mail:\n%s", r.body)
	}
	r := a.admin.post("/admin/users/invite", url.Values{"email": {"dee@example.com"}, "name": {"Dee"}})
	if r.code != 200 || !strings.Contains(r.body, `id="invite-link"`) || !strings.Contains(r.body, "send this link to Dee yourself") {
		t.Fatalf("invite: %d\n%s", r.code, r.body)
	}
	if len(mails) != 0 {
		t.Errorf("%d messages queued for an invitation shown to the admin", len(mails))
	}
	d := a.admin.get("/admin")
	for _, s := range []string{"No mail is configured", "password-reset links and security notices are written to Clinch&#39;s log", "nobody can get a sign-in link by mail"} {
		if !strings.Contains(d.body, s) {
			t.Errorf("dashboard lacks %q:\n%s", s, d.body)
		}
	}
}
