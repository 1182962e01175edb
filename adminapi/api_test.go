package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/adminapi"
	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/control"
	"github.com/clinchsso/clinch/kv/kvtest"
	"github.com/clinchsso/clinch/web"
)

// clock is a test's movable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	srv   *httptest.Server
	env   *control.Env
	auth  *auth.Service
	audit *audit.Log
	clock *clock
	token string // a live admin token
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sec, err := auth.NewSecrets([]byte(strings.Repeat("a", 32)))
	if err != nil {
		t.Fatal(err)
	}
	st := kvtest.Open(t)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	al, err := audit.New(audit.Config{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(auth.Config{Store: st, Secrets: sec, BcryptCost: 4, Now: clk.Now, Audit: al})
	if err != nil {
		t.Fatal(err)
	}
	env := &control.Env{Auth: svc, Store: st, Audit: al}
	logs := &syncBuffer{}
	api, err := adminapi.New(adminapi.Config{Env: env, Tokens: svc, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(http.MaxBytesHandler(mux, web.MaxFormBytes))
	t.Cleanup(srv.Close)
	tok, err := env.CreateAdminToken(context.Background(), control.AdminTokenCreate{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, env: env, auth: svc, audit: al, clock: clk, token: tok.Token, logs: logs}
}

// call sends a request with the token ("" sends no Authorization) and
// returns the status and body.
func (f *fixture) call(t *testing.T, method, path, token string, body any) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out, resp.Header
}

// ok calls with the fixture's token, wants the status and decodes the body
// into v (when not nil).
func (f *fixture) ok(t *testing.T, method, path string, body any, want int, v any) {
	t.Helper()
	status, out, _ := f.call(t, method, path, f.token, body)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, out, want)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, out)
		}
	}
}

// endpoints is every route of the API, with placeholders filled.
var endpoints = []struct{ method, path string }{
	{"GET", "/api/admin/users"},
	{"POST", "/api/admin/users"},
	{"GET", "/api/admin/users/u1"},
	{"PATCH", "/api/admin/users/u1"},
	{"DELETE", "/api/admin/users/u1"},
	{"POST", "/api/admin/users/u1/disable"},
	{"POST", "/api/admin/users/u1/enable"},
	{"GET", "/api/admin/users/u1/sessions"},
	{"DELETE", "/api/admin/users/u1/sessions"},
	{"DELETE", "/api/admin/users/u1/sessions/s1"},
	{"DELETE", "/api/admin/sessions/s1"},
	{"GET", "/api/admin/groups"},
	{"POST", "/api/admin/groups"},
	{"GET", "/api/admin/groups/g1"},
	{"PATCH", "/api/admin/groups/g1"},
	{"DELETE", "/api/admin/groups/g1"},
	{"PUT", "/api/admin/groups/g1/members/u1"},
	{"DELETE", "/api/admin/groups/g1/members/u1"},
	{"GET", "/api/admin/apps"},
	{"POST", "/api/admin/apps"},
	{"GET", "/api/admin/apps/a1"},
	{"PATCH", "/api/admin/apps/a1"},
	{"DELETE", "/api/admin/apps/a1"},
	{"GET", "/api/admin/apps/a1/keys"},
	{"POST", "/api/admin/apps/a1/keys"},
	{"DELETE", "/api/admin/apps/a1/keys/k1"},
	{"GET", "/api/admin/audit"},
	{"GET", "/api/admin/no-such-thing"},
}

// Every endpoint refuses, with 401 and nothing done, a request without a
// token, with a revoked or expired one, with another kind of Clinch
// secret (an app's API key, a session token), and with a signed-in
// admin's session cookie alone: a browser cannot be led into the API.
// There is no non-admin admin token to try: tokens are made only by the
// CLI and every one is an admin's.
func TestAuthorization_EveryEndpointRefusesWithoutALiveAdminToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	revoked, err := f.env.CreateAdminToken(ctx, control.AdminTokenCreate{Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.RevokeAdminToken(ctx, control.AdminTokenRevoke{Name: "old"}); err != nil {
		t.Fatal(err)
	}
	expiring, err := f.env.CreateAdminToken(ctx, control.AdminTokenCreate{Name: "short", Expires: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	// Before it expires it works: the refusal below is about the expiry.
	f.ok(t, "GET", "/api/admin/users", nil, 200, nil)
	if status, body, _ := f.call(t, "GET", "/api/admin/users", expiring.Token, nil); status != 200 {
		t.Fatalf("a token within its lifetime: %d %s", status, body)
	}
	f.clock.Add(time.Hour + time.Second)

	admin, err := f.auth.CreateUser(ctx, auth.NewUser{Email: "root@example.com", Password: "correct horse", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	_, session, err := f.auth.StartSession(ctx, admin, "127.0.0.1", "test", false, auth.ACRPassword, []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.CreateApp(ctx, control.AppCreate{Type: auth.AppForwardAuth, Name: "Wiki", Domain: "wiki.example.com"}); err != nil {
		t.Fatal(err)
	}
	key, err := f.env.CreateAPIKey(ctx, "wiki", control.APIKeyCreate{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}

	creds := []struct {
		name   string
		header func(*http.Request)
	}{
		{"no token", func(*http.Request) {}},
		{"revoked token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+revoked.Token) }},
		{"expired token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+expiring.Token) }},
		{"an app's API key", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key.Key) }},
		{"a session token as bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+session) }},
		{"an admin's session cookie", func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: session})
		}},
		{"Basic with the token", func(r *http.Request) { r.SetBasicAuth("ci", f.token) }},
	}
	for _, c := range creds {
		for _, e := range endpoints {
			req, err := http.NewRequest(e.method, f.srv.URL+e.path, strings.NewReader(`{"email":"x@example.com","name":"x","type":"oidc"}`))
			if err != nil {
				t.Fatal(err)
			}
			c.header(req)
			// Each wrong token counts against this address: keep under
			// the limit, which has its own test.
			f.clock.Add(time.Minute)
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") ||
				!strings.Contains(string(body), `"error"`) {
				t.Errorf("%s: %s %s = %d (WWW-Authenticate %q) %s, want 401 with a Bearer challenge and a JSON error",
					c.name, e.method, e.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
			}
		}
	}
	// Nothing was done by any of them.
	page, err := f.env.ListUsers(ctx, control.UserQuery{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Users) != 1 {
		t.Errorf("users after refused requests: %+v", page.Users)
	}
	// Refused tokens are logged without the token.
	logs := f.logs.String()
	if !strings.Contains(logs, "token refused") {
		t.Errorf("no log line for a refused token:\n%s", logs)
	}
	for _, secret := range []string{revoked.Token, expiring.Token, key.Key, session, f.token} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a token:\n%s", logs)
		}
	}
	// And the live token still works for an unknown path: 404 in JSON.
	status, body, _ := f.call(t, "GET", "/api/admin/no-such-thing", f.token, nil)
	if status != 404 || !strings.Contains(string(body), `"error"`) {
		t.Errorf("unknown endpoint with a token: %d %s", status, body)
	}
}

// Wrong tokens from one address are limited: after 20 in a minute even
// the right token waits, with Retry-After, until the minute is over.
func TestAuthorization_WrongTokensAreLimitedPerAddress(t *testing.T) {
	f := newFixture(t)
	wrong := auth.PrefixAdminToken + strings.Repeat("x", 43)
	for i := 0; i < 20; i++ {
		if status, _, _ := f.call(t, "GET", "/api/admin/users", wrong, nil); status != 401 {
			t.Fatalf("wrong token %d: %d, want 401", i+1, status)
		}
	}
	status, _, h := f.call(t, "GET", "/api/admin/users", f.token, nil)
	if status != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Fatalf("after 20 wrong tokens the right one got %d (Retry-After %q), want 429 with Retry-After", status, h.Get("Retry-After"))
	}
	f.clock.Add(time.Minute)
	f.ok(t, "GET", "/api/admin/users", nil, 200, nil)
	if strings.Contains(f.logs.String(), wrong) {
		t.Error("the log holds the wrong token")
	}
}

type userOut = control.UserJSON

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// The user endpoints, in the order an admin script uses them.
func TestUsers(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "POST", "/api/admin/groups", map[string]any{"name": "staff"}, 201, nil)
	var u userOut
	f.ok(t, "POST", "/api/admin/users", map[string]any{
		"email": "Ann@Example.com", "name": "Ann", "username": "ann", "password": "correct horse",
		"groups": []string{"staff"}, "claims": map[string]any{"team": "blue"},
	}, 201, &u)
	if u.Email != "ann@example.com" || u.Status != auth.StatusActive || len(u.Groups) != 1 || u.Groups[0] != "staff" ||
		compact(t, u.Claims) != `{"team":"blue"}` || u.PasswordScheme != "bcrypt" {
		t.Fatalf("created %+v", u)
	}
	var got userOut
	f.ok(t, "GET", "/api/admin/users/"+u.ID, nil, 200, &got)
	if got.ID != u.ID || got.Email != u.Email {
		t.Errorf("get by id: %+v", got)
	}
	f.ok(t, "GET", "/api/admin/users/ann@example.com", nil, 200, &got)
	if got.ID != u.ID {
		t.Errorf("get by email: %+v", got)
	}
	f.ok(t, "PATCH", "/api/admin/users/"+u.ID, map[string]any{"name": "Ann B", "admin": true, "email": "ann.b@example.com"}, 200, &got)
	if got.DisplayName != "Ann B" || !got.Admin || got.Email != "ann.b@example.com" || got.Username != "ann" {
		t.Errorf("after PATCH: %+v", got)
	}
	// Sessions: two browsers, one ended by id, then the rest.
	ctx := context.Background()
	uu, err := f.auth.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	s1, tok1, err := f.auth.StartSession(ctx, uu, "192.0.2.1", "Firefox", false, auth.ACRPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, tok2, err := f.auth.StartSession(ctx, uu, "192.0.2.2", "Chrome", false, auth.ACRPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ss []control.SessionJSON
	f.ok(t, "GET", "/api/admin/users/"+u.ID+"/sessions", nil, 200, &ss)
	if len(ss) != 2 {
		t.Fatalf("sessions: %+v", ss)
	}
	f.ok(t, "DELETE", "/api/admin/users/"+u.ID+"/sessions/"+s1.ID, nil, 204, nil)
	if _, err := f.auth.SessionByToken(ctx, tok1); err == nil {
		t.Error("the session ended by id still signs in")
	}
	f.ok(t, "DELETE", "/api/admin/users/"+u.ID+"/sessions/"+s1.ID, nil, 404, nil)
	var rev control.Revoked
	f.ok(t, "DELETE", "/api/admin/users/"+u.ID+"/sessions", nil, 200, &rev)
	if rev.Sessions != 1 {
		t.Errorf("revoke all: %+v", rev)
	}
	if _, err := f.auth.SessionByToken(ctx, tok2); err == nil {
		t.Error("a session survived sign-out everywhere")
	}
	// A session of someone else is not found under this user.
	_, tok3, err := f.auth.StartSession(ctx, uu, "192.0.2.3", "Safari", false, auth.ACRPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ok(t, "POST", "/api/admin/users", map[string]any{"email": "bob@example.com"}, 201, nil)
	s3, err := f.auth.SessionByToken(ctx, tok3)
	if err != nil {
		t.Fatal(err)
	}
	f.ok(t, "DELETE", "/api/admin/users/bob@example.com/sessions/"+s3.ID, nil, 404, nil)
	f.ok(t, "DELETE", "/api/admin/sessions/"+s3.ID, nil, 204, nil)

	bob, err := f.auth.UserByEmail(ctx, "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.SetPassword(ctx, bob.Email, "bob's password"); err != nil {
		t.Fatal(err)
	}
	_, bobTok, err := f.auth.StartSession(ctx, bob, "192.0.2.4", "Safari", false, auth.ACRPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ok(t, "POST", "/api/admin/users/"+bob.ID+"/disable", nil, 200, &got)
	if got.Status != auth.StatusDisabled {
		t.Errorf("after disable: %s", got.Status)
	}
	if _, err := f.auth.SessionByToken(ctx, bobTok); err == nil {
		t.Error("disabling left a session")
	}
	f.ok(t, "POST", "/api/admin/users/"+bob.ID+"/enable", nil, 200, &got)
	if got.Status != auth.StatusActive {
		t.Errorf("after enable: %s", got.Status)
	}
	// The last active admin keeps admin and cannot be disabled: 409.
	f.ok(t, "PATCH", "/api/admin/users/"+u.ID, map[string]any{"admin": false}, 409, nil)
	f.ok(t, "POST", "/api/admin/users/"+u.ID+"/disable", nil, 409, nil)
	f.ok(t, "PATCH", "/api/admin/users/bob@example.com", map[string]any{"email": "ann.b@example.com"}, 409, nil)
	f.ok(t, "POST", "/api/admin/users", map[string]any{"email": "ANN.B@example.com"}, 409, nil)
	f.ok(t, "DELETE", "/api/admin/users/bob@example.com", nil, 204, nil)
	f.ok(t, "GET", "/api/admin/users/bob@example.com", nil, 404, nil)
	f.ok(t, "GET", "/api/admin/users/no-such-id", nil, 404, nil)
	f.ok(t, "DELETE", "/api/admin/users/no-such-id", nil, 404, nil)
}

func TestGroups(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "POST", "/api/admin/users", map[string]any{"email": "ann@example.com"}, 201, nil)
	var g control.GroupJSON
	f.ok(t, "POST", "/api/admin/groups", map[string]any{"name": "Staff", "description": "the team", "claims": map[string]any{"level": 2}}, 201, &g)
	if g.Name != "staff" || g.Description != "the team" || compact(t, g.Claims) != `{"level":2}` {
		t.Fatalf("created %+v", g)
	}
	f.ok(t, "POST", "/api/admin/groups", map[string]any{"name": "staff"}, 409, nil)
	f.ok(t, "PUT", "/api/admin/groups/staff/members/ann@example.com", nil, 200, &g)
	if len(g.Members) != 1 || g.Members[0] != "ann@example.com" {
		t.Errorf("members after PUT: %v", g.Members)
	}
	var gs []control.GroupJSON
	f.ok(t, "GET", "/api/admin/groups", nil, 200, &gs)
	if len(gs) != 1 || len(gs[0].Members) != 1 {
		t.Errorf("list: %+v", gs)
	}
	var up control.GroupUpdated
	f.ok(t, "PATCH", "/api/admin/groups/staff", map[string]any{"name": "team", "description": "renamed"}, 200, &up)
	if up.Name != "team" || up.Description != "renamed" || len(up.Members) != 1 {
		t.Errorf("after PATCH: %+v", up)
	}
	f.ok(t, "GET", "/api/admin/groups/staff", nil, 404, nil)
	f.ok(t, "GET", "/api/admin/groups/team", nil, 200, &g)
	f.ok(t, "DELETE", "/api/admin/groups/team/members/ann@example.com", nil, 200, &g)
	if len(g.Members) != 0 {
		t.Errorf("members after DELETE: %v", g.Members)
	}
	f.ok(t, "PUT", "/api/admin/groups/team/members/nobody@example.com", nil, 404, nil)
	f.ok(t, "POST", "/api/admin/apps", map[string]any{"type": "forward_auth", "name": "Vault", "domain": "vault.example.com", "allowed_groups": []string{"team"}}, 201, nil)
	var del control.GroupDeleted
	f.ok(t, "DELETE", "/api/admin/groups/team", nil, 200, &del)
	if len(del.Deactivated) != 1 || del.Deactivated[0] != "vault" {
		t.Errorf("delete said %+v; want vault deactivated", del)
	}
	f.ok(t, "DELETE", "/api/admin/groups/team", nil, 404, nil)
}

func TestApps(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var oidcApp control.AppJSON
	f.ok(t, "POST", "/api/admin/apps", map[string]any{
		"type": "oidc", "name": "Grafana", "redirect_uris": []string{"https://grafana.example.com/login/generic_oauth"},
		"access_token_ttl": "2h",
	}, 201, &oidcApp)
	if oidcApp.ClientID == "" || !strings.HasPrefix(oidcApp.ClientSecret, auth.PrefixClientSecret) || oidcApp.AccessTokenTTL != "2h0m0s" {
		t.Fatalf("OIDC create: %+v", oidcApp)
	}
	// The secret is shown once: never in a GET or a list.
	status, body, _ := f.call(t, "GET", "/api/admin/apps/grafana", f.token, nil)
	if status != 200 || strings.Contains(string(body), oidcApp.ClientSecret) || strings.Contains(string(body), "client_secret") {
		t.Errorf("GET shows the secret: %d %s", status, body)
	}
	_, body, _ = f.call(t, "GET", "/api/admin/apps", f.token, nil)
	if strings.Contains(string(body), oidcApp.ClientSecret) {
		t.Error("the list shows the secret")
	}
	a, err := f.auth.AppBySlug(ctx, "grafana")
	if err != nil || !f.auth.CheckClientSecret(a, oidcApp.ClientSecret) {
		t.Errorf("the secret the API gave does not authenticate the client: %v", err)
	}

	var fa control.AppJSON
	f.ok(t, "POST", "/api/admin/apps", map[string]any{
		"type": "forward_auth", "name": "Wiki", "domain": "wiki.example.com",
		"headers": map[string]string{"user": "X-User", "email": ""}, "accept_tokens_from": []string{"grafana"},
		"metadata": map[string]string{"owner": "ops"},
	}, 201, &fa)
	if fa.Headers == nil || fa.Headers.User != "X-User" || fa.Headers.Email != "" || fa.Headers.Groups != "Remote-Groups" ||
		len(fa.AcceptTokensFrom) != 1 || fa.Metadata["owner"] != "ops" || fa.ClientSecret != "" {
		t.Fatalf("forward_auth create: %+v", fa)
	}
	f.ok(t, "POST", "/api/admin/apps", map[string]any{"type": "forward_auth", "name": "Wiki", "slug": "wiki", "domain": "other.example.com"}, 409, nil)
	var up control.AppJSON
	f.ok(t, "PATCH", "/api/admin/apps/wiki", map[string]any{
		"domain": "docs.example.com", "active": false, "headers": map[string]string{"name": "X-Name"},
		"metadata": map[string]string{"owner": "", "tier": "1"},
	}, 200, &up)
	if up.Domain != "docs.example.com" || up.Active || up.Headers.User != "X-User" || up.Headers.Name != "X-Name" ||
		len(up.Metadata) != 1 || up.Metadata["tier"] != "1" {
		t.Errorf("after PATCH: %+v", up)
	}
	// A PATCH that fails validation changes nothing.
	f.ok(t, "PATCH", "/api/admin/apps/wiki", map[string]any{"name": "Docs", "domain": "not a domain!"}, 400, nil)
	f.ok(t, "GET", "/api/admin/apps/wiki", nil, 200, &up)
	if up.Name != "Wiki" {
		t.Errorf("a refused PATCH renamed the app to %q", up.Name)
	}

	// API keys: shown once, listed without the key, revoked by prefix.
	var k control.APIKeyJSON
	f.ok(t, "POST", "/api/admin/apps/wiki/keys", map[string]any{"name": "backup job", "expires": "30d"}, 201, &k)
	if !strings.HasPrefix(k.Key, auth.PrefixAPIKey) || k.ExpiresAt == nil || k.Name != "backup job" {
		t.Fatalf("key create: %+v", k)
	}
	if _, err := f.auth.APIKeyByToken(ctx, k.Key); err != nil {
		t.Fatalf("the key the API gave is not live: %v", err)
	}
	status, body, _ = f.call(t, "GET", "/api/admin/apps/wiki/keys", f.token, nil)
	if status != 200 || strings.Contains(string(body), k.Key) || !strings.Contains(string(body), k.Prefix) {
		t.Errorf("key list: %d %s", status, body)
	}
	f.ok(t, "POST", "/api/admin/apps/grafana/keys", map[string]any{}, 400, nil)
	f.ok(t, "DELETE", "/api/admin/apps/wiki/keys/"+k.Prefix, nil, 204, nil)
	if _, err := f.auth.APIKeyByToken(ctx, k.Key); err == nil {
		t.Error("a revoked key is still live")
	}
	f.ok(t, "DELETE", "/api/admin/apps/wiki/keys/"+k.Prefix, nil, 404, nil)

	f.ok(t, "DELETE", "/api/admin/apps/wiki", nil, 204, nil)
	f.ok(t, "GET", "/api/admin/apps/wiki", nil, 404, nil)
	f.ok(t, "GET", "/api/admin/apps/wiki/keys", nil, 404, nil)
	f.ok(t, "PATCH", "/api/admin/apps/wiki", map[string]any{"name": "x"}, 404, nil)
}

// Every validation error is 400 with the field named.
func TestValidation_ErrorsNameTheField(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "POST", "/api/admin/users", map[string]any{"email": "ann@example.com"}, 201, nil)
	f.ok(t, "POST", "/api/admin/apps", map[string]any{"type": "oidc", "name": "Grafana", "redirect_uris": []string{"https://g.example.com/cb"}}, 201, nil)
	f.ok(t, "POST", "/api/admin/apps", map[string]any{"type": "forward_auth", "name": "Wiki", "domain": "wiki.example.com"}, 201, nil)
	tests := []struct {
		method, path string
		body         any
		field        string
	}{
		{"POST", "/api/admin/users", `{}`, "email"},
		{"POST", "/api/admin/users", ``, "email"},
		{"POST", "/api/admin/users", `{"email":"not an address"}`, "email"},
		{"POST", "/api/admin/users", `{"email":5}`, "email"},
		{"POST", "/api/admin/users", `{"email":"bob@example.com","password":"short"}`, "password"},
		{"POST", "/api/admin/users", `{"email":"bob@example.com","username":"no spaces"}`, "username"},
		{"POST", "/api/admin/users", `{"email":"bob@example.com","claims":[1]}`, "claims"},
		{"POST", "/api/admin/users", `{"email":"bob@example.com","admin":"yes"}`, "admin"},
		{"POST", "/api/admin/users", `{"emial":"bob@example.com"}`, "emial"},
		{"PATCH", "/api/admin/users/ann@example.com", `{"name":"` + strings.Repeat("n", 201) + `"}`, "name"},
		{"PATCH", "/api/admin/users/ann@example.com", `{"email":""}`, "email"},
		{"GET", "/api/admin/users?limit=1000", nil, "limit"},
		{"GET", "/api/admin/users?limit=ten", nil, "limit"},
		{"GET", "/api/admin/users?cursor=%25%25", nil, "cursor"},
		{"POST", "/api/admin/groups", `{}`, "name"},
		{"POST", "/api/admin/groups", `{"name":"a,b"}`, "name"},
		{"PATCH", "/api/admin/groups/x", `{"require_second_factor":"on"}`, "require_second_factor"},
		{"POST", "/api/admin/apps", `{"name":"x"}`, "type"},
		{"POST", "/api/admin/apps", `{"type":"oidc"}`, "name"},
		{"POST", "/api/admin/apps", `{"type":"forward_auth","name":"x","domain":"x.example.com","headers":{"who":"X"}}`, "headers"},
		{"POST", "/api/admin/apps", `{"type":"oidc","name":"y","redirect_uris":["https://y.example.com/cb"],"access_token_ttl":"soon"}`, "access_token_ttl"},
		{"POST", "/api/admin/apps", `{"type":"oidc","name":"y","public":true,"require_pkce":false,"redirect_uris":["https://y.example.com/cb"]}`, "require_pkce"},
		{"POST", "/api/admin/apps", `{"type":"forward_auth","name":"z","domain":"z.example.com","accept_tokens_from":["wiki"]}`, "accept_tokens_from"},
		{"POST", "/api/admin/apps", `{"type":"forward_auth","name":"z","domain":"z.example.com","metadata":{"":"v"}}`, "metadata"},
		{"PATCH", "/api/admin/apps/grafana", `{"refresh_token_ttl":"1h"}`, "refresh_token_ttl"},
		{"PATCH", "/api/admin/apps/grafana", `{"redirect_uris":["http://x.example.com/cb#frag"]}`, "redirect_uris"},
		{"PATCH", "/api/admin/apps/wiki", `{"allowed_groups":["ghosts"]}`, "allowed_groups"},
		{"POST", "/api/admin/users", `{"email":"bob@example.com","groups":["ghosts"]}`, "groups"},
		{"PATCH", "/api/admin/apps/wiki", `{"allowed_groups":"staff"}`, "allowed_groups"},
		{"POST", "/api/admin/apps/wiki/keys", `{"expires":"soon"}`, "expires"},
		{"POST", "/api/admin/apps/wiki/keys", `{"name":"x","owner":"not-an-email"}`, "email"},
		{"GET", "/api/admin/audit?kind=nope", nil, "kind"},
		{"GET", "/api/admin/audit?since=yesterday", nil, "since"},
		{"GET", "/api/admin/audit?limit=0", nil, "limit"},
		{"GET", "/api/admin/audit?format=csv", nil, "format"},
	}
	for _, tt := range tests {
		status, body, h := f.call(t, tt.method, tt.path, f.token, tt.body)
		var e struct{ Error, Field string }
		if err := json.Unmarshal(body, &e); err != nil || status != 400 || e.Field != tt.field || e.Error == "" ||
			h.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s %v = %d %s, want 400 naming %q", tt.method, tt.path, tt.body, status, body, tt.field)
		}
	}
	// A refused create wrote nothing.
	page, err := f.env.ListUsers(context.Background(), control.UserQuery{All: true})
	if err != nil || len(page.Users) != 1 {
		t.Errorf("users after refused creates: %v %+v", err, page.Users)
	}
}

// More users than a page: walking next returns each exactly once,
// in email order, and search narrows the walk.
func TestUsers_PaginationWalksEveryUserOnce(t *testing.T) {
	f := newFixture(t)
	const n = 123
	ctx := context.Background()
	for i := range n {
		if _, err := f.env.CreateUser(ctx, control.UserCreate{Email: fmt.Sprintf("user%03d@example.com", i), Name: map[bool]string{true: "Even", false: "Odd"}[i%2 == 0]}); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(query string, limit int) []string {
		var emails []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatal("the cursor never ends")
			}
			var p control.UserPage
			path := "/api/admin/users?limit=" + strconv.Itoa(limit) + query
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			f.ok(t, "GET", path, nil, 200, &p)
			if len(p.Users) > limit {
				t.Fatalf("a page of %d with limit %d", len(p.Users), limit)
			}
			for _, u := range p.Users {
				emails = append(emails, u.Email)
			}
			if p.Next == "" {
				return emails
			}
			cursor = p.Next
		}
	}
	all := walk("", 50)
	if len(all) != n {
		t.Fatalf("walked %d users, want %d", len(all), n)
	}
	for i, e := range all {
		want := fmt.Sprintf("user%03d@example.com", i)
		if e != want {
			t.Fatalf("user %d is %s, want %s (each once, in order)", i, e, want)
		}
	}
	var first control.UserPage
	f.ok(t, "GET", "/api/admin/users", nil, 200, &first)
	if len(first.Users) != control.DefaultPageSize || first.Next == "" {
		t.Errorf("default page: %d users, next %q", len(first.Users), first.Next)
	}
	odd := walk("&search=odd", 10)
	if len(odd) != n/2 {
		t.Errorf("search=odd walked %d users, want %d", len(odd), n/2)
	}
	if one := walk("&search=user007", 10); len(one) != 1 {
		t.Errorf("search by email: %v", one)
	}
}

// The audit trail: filters by user, kind and time, pages, and a JSON-lines
// export of everything the filter selects.
func TestAudit_FiltersPagesAndExport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ann userOut
	f.ok(t, "POST", "/api/admin/users", map[string]any{"email": "ann@example.com"}, 201, &ann)
	start := f.clock.Now()
	for i := range 5 {
		f.clock.Add(time.Minute)
		kind := audit.SignIn
		if i%2 == 1 {
			kind = audit.SignInFailed
		}
		if err := f.audit.Record(ctx, audit.Event{Kind: kind, Subject: ann.ID, Email: ann.Email}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.audit.Record(ctx, audit.Event{Kind: audit.SignIn, Subject: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	var p control.AuditPage
	f.ok(t, "GET", "/api/admin/audit?user=ann@example.com&kind=signin", nil, 200, &p)
	if len(p.Events) != 3 {
		t.Errorf("ann's sign-ins: %d events", len(p.Events))
	}
	f.ok(t, "GET", "/api/admin/audit?user="+ann.ID+"&limit=2", nil, 200, &p)
	if len(p.Events) != 2 || p.Next == "" {
		t.Fatalf("first page: %+v", p)
	}
	newest := p.Events[0].Time
	f.ok(t, "GET", "/api/admin/audit?user="+ann.ID+"&limit=2&cursor="+p.Next, nil, 200, &p)
	if len(p.Events) != 2 || !p.Events[0].Time.Before(newest) {
		t.Errorf("second page: %+v", p)
	}
	since := start.Add(3 * time.Minute).Format(time.RFC3339)
	f.ok(t, "GET", "/api/admin/audit?user="+ann.ID+"&since="+since, nil, 200, &p)
	if len(p.Events) != 3 {
		t.Errorf("since %s: %d events, want 3", since, len(p.Events))
	}
	f.ok(t, "GET", "/api/admin/audit?cursor=garbage", nil, 400, nil)
	status, body, h := f.call(t, "GET", "/api/admin/audit?user="+ann.ID+"&format=jsonl", f.token, nil)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	// Five sign-ins and the creation of ann by this API, which names the
	// token as the actor.
	if status != 200 || h.Get("Content-Type") != "application/jsonl" || len(lines) != 6 {
		t.Fatalf("export: %d %s, %d lines: %s", status, h.Get("Content-Type"), len(lines), body)
	}
	for i, l := range lines {
		var e audit.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Subject != ann.ID {
			t.Errorf("export line %q: %v", l, err)
		}
		if i == len(lines)-1 && (e.Kind != audit.UserCreated || e.Actor != "api:ci" || e.IP != "127.0.0.1") {
			t.Errorf("the oldest event is %+v, want ann's creation by api:ci from 127.0.0.1", e)
		}
	}
	// since also takes a duration, as `clinch audit list --since` does.
	f.ok(t, "GET", "/api/admin/audit?kind=signin&since=2m&user="+ann.ID, nil, 200, &p)
	if len(p.Events) != 2 {
		t.Errorf("since=2m: %d sign-ins, want 2", len(p.Events))
	}
	status, body, h = f.call(t, "GET", "/api/admin/audit?format=jsonl&cursor=garbage", f.token, nil)
	if status != 400 || h.Get("Content-Disposition") != "" || !strings.Contains(string(body), `"field": "cursor"`) {
		t.Errorf("export with a bad cursor: %d %v %s", status, h, body)
	}
	f.ok(t, "GET", "/api/admin/audit?user=nobody@example.com", nil, 404, nil)
}
