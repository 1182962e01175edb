package forward

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
	"github.com/clinchsso/clinch/web"
)

// fixture is a Verifier over a fresh store with:
//   - wiki.example.com, for group "staff" only;
//   - *.media.example.com, for everyone, with renamed headers;
//   - old.example.com, inactive;
//   - ann (staff, username "ann"), bob (no groups, no username).
type fixture struct {
	t       testing.TB
	svc     *auth.Service
	store   *kv.Store
	v       *Verifier
	tokens  *stubTokens
	secrets *auth.Secrets
	mu      sync.Mutex
	now     time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	// The clock starts at the real time: auth.TouchSession measures the
	// remaining TTL with the real clock.
	f := &fixture{t: t, now: time.Now().UTC().Truncate(time.Second)}
	sec, err := auth.NewSecrets([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	f.store = kvtest.Open(t)
	f.svc, err = auth.New(auth.Config{Store: f.store, Secrets: sec, BcryptCost: 4, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := url.Parse("https://auth.example.com")
	f.tokens = &stubTokens{m: map[string]*auth.AccessToken{}}
	f.secrets = sec
	// The cookie is kept to Clinch's own host, so the apps under
	// example.com are outside its reach and get fa_tokens after sign-in.
	f.v, err = New(Config{Auth: f.svc, Secrets: sec, Site: web.NewSite(host, "auth.example.com", false), Tokens: f.tokens})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.v.Close() })
	<-f.v.loaded // an empty store: done at once, and tests may then swap the logger
	must(t)(f.svc.CreateGroup(ctx, "staff", "", ""))
	must(t)(f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Username: "ann", DisplayName: "Ann Example", Password: "correct horse", Groups: []string{"staff"}}))
	must(t)(f.svc.CreateUser(ctx, auth.NewUser{Email: "bob@example.com", Password: "correct horse"}))
	must3(t)(f.svc.CreateApp(ctx, auth.AppInput{Name: "Wiki", Type: auth.AppForwardAuth, Domain: "wiki.example.com", AllowedGroups: []string{"staff"}}))
	must3(t)(f.svc.CreateApp(ctx, auth.AppInput{Name: "Media", Type: auth.AppForwardAuth, Domain: "*.media.example.com",
		Headers: &auth.HeaderConfig{User: "X-Webauth-User", Email: "", Name: "X-Webauth-Name", Groups: "X-Webauth-Groups"}}))
	off := false
	must3(t)(f.svc.CreateApp(ctx, auth.AppInput{Name: "Old", Type: auth.AppForwardAuth, Domain: "old.example.com", Active: &off}))
	return f
}

// must returns a check for calls that return (value, error).
func must(t testing.TB) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func must3(t testing.TB) func(*auth.App, string, error) {
	return func(_ *auth.App, _ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// signIn starts a session for the user and returns its cookie token.
func (f *fixture) signIn(email string) (string, *auth.Session) {
	f.t.Helper()
	u, err := f.svc.UserByEmail(context.Background(), email)
	if err != nil {
		f.t.Fatal(err)
	}
	sess, tok, err := f.svc.StartSession(context.Background(), u, "127.0.0.1", "test", false, "1", []string{"pwd"})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok, sess
}

// req is a verify request from a proxy.
type req struct {
	h      http.Header
	cookie string
	bearer string
	accept string
	query  string // /api/verify's own query
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	f.t.Helper()
	target := Path
	if r.query != "" {
		target += "?" + r.query
	}
	hr := httptest.NewRequest("GET", target, nil)
	for k, vs := range r.h {
		hr.Header[k] = vs
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: r.cookie})
	}
	if r.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	if r.accept != "" {
		hr.Header.Set("Accept", r.accept)
	}
	w := httptest.NewRecorder()
	f.v.ServeHTTP(w, hr)
	return w
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

func wiki(uri string) http.Header { return caddyHeaders("https", "wiki.example.com", uri) }

func TestVerify_Outcomes(t *testing.T) {
	f := newFixture(t)
	ann, _ := f.signIn("ann@example.com")
	bob, _ := f.signIn("bob@example.com")
	signin := "https://auth.example.com/signin?rd=" + url.QueryEscape("https://wiki.example.com/page?x=1")

	tests := []struct {
		name     string
		r        req
		status   int
		location string
		headers  map[string]string // "" = must be absent
		body     string
	}{
		{"allowed, caddy", req{h: wiki("/page"), cookie: ann}, 200, "",
			map[string]string{"Remote-User": "ann", "Remote-Email": "ann@example.com", "Remote-Name": "Ann Example", "Remote-Groups": "staff", "Remote-Admin": "false"}, ""},
		{"allowed, traefik", req{h: traefikHeaders("POST", "https", "wiki.example.com", "/save"), cookie: ann}, 200, "",
			map[string]string{"Remote-User": "ann"}, ""},
		{"allowed, nginx", req{h: nginxHeaders("https://wiki.example.com/", "GET"), cookie: ann}, 200, "",
			map[string]string{"Remote-User": "ann"}, ""},
		{"wildcard app, renamed headers, email off, no username", req{h: caddyHeaders("https", "tv.media.example.com", "/"), cookie: bob}, 200, "",
			map[string]string{"X-Webauth-User": "bob@example.com", "X-Webauth-Name": "bob@example.com", "Remote-User": "", "Remote-Email": "", "X-Webauth-Groups": ""}, ""},
		{"signed in, not in group: 403 page", req{h: wiki("/"), cookie: bob, accept: browserAccept}, 403, "",
			map[string]string{"Remote-User": "", "Content-Type": "text/html; charset=utf-8"}, "You do not have permission for Wiki."},
		{"signed in, not in group, api: 403 text", req{h: wiki("/"), cookie: bob}, 403, "",
			map[string]string{"Content-Type": "text/plain; charset=utf-8"}, "You do not have permission for Wiki."},
		{"browser GET, not signed in: 302", req{h: wiki("/page?x=1"), accept: browserAccept}, 302, signin, map[string]string{"Remote-User": ""}, ""},
		{"browser POST, not signed in: 303", req{h: traefikHeaders("POST", "https", "wiki.example.com", "/page?x=1"), accept: browserAccept}, 303, signin, nil, ""},
		{"browser HEAD: 302", req{h: traefikHeaders("HEAD", "https", "wiki.example.com", "/page?x=1"), accept: browserAccept}, 302, signin, nil, ""},
		{"fetch (*/*), not signed in: 401", req{h: wiki("/page?x=1"), accept: "*/*"}, 401, "", map[string]string{"Www-Authenticate": ""}, "sign in required"},
		{"json client: 401", req{h: wiki("/"), accept: "application/json"}, 401, "", nil, ""},
		{"html q=0: 401", req{h: wiki("/"), accept: "text/html;q=0, */*"}, 401, "", nil, ""},
		{"nginx, not signed in: 401 + Location", req{h: nginxHeaders("https://wiki.example.com/page?x=1", "GET"), accept: browserAccept}, 401, signin, nil, ""},
		{"unknown cookie: sign in", req{h: wiki("/page?x=1"), cookie: "cs_unknown", accept: browserAccept}, 302, signin, nil, ""},
		{"not our cookie shape: sign in", req{h: wiki("/page?x=1"), cookie: "garbage", accept: browserAccept}, 302, signin, nil, ""},
		{"stale fa_token stripped from rd", req{h: wiki("/page?x=1&fa_token=cfa_used"), accept: browserAccept}, 302, signin, nil, ""},
		{"invalid bearer: 401 Bearer, no redirect", req{h: wiki("/"), bearer: "cak_nope", accept: browserAccept}, 401, "",
			map[string]string{"Www-Authenticate": `Bearer realm="clinch", error="invalid_token"`}, ""},
		{"invalid bearer beats a good cookie", req{h: wiki("/"), bearer: "nope", cookie: ann}, 401, "", map[string]string{"Remote-User": ""}, ""},
		{"no app for host: 403", req{h: caddyHeaders("https", "unknown.example.com", "/"), cookie: ann}, 403, "", map[string]string{"Remote-User": ""}, "not protected"},
		{"wildcard is one label only", req{h: caddyHeaders("https", "a.b.media.example.com", "/"), cookie: ann}, 403, "", nil, ""},
		{"inactive app: 403 even signed in", req{h: caddyHeaders("https", "old.example.com", "/"), cookie: ann}, 403, "", nil, ""},
		{"inactive app: 403 not signed in", req{h: caddyHeaders("https", "old.example.com", "/"), accept: browserAccept}, 403, "", nil, ""},
		{"bad target: 400 with reason", req{h: hdr("X-Forwarded-Host", "wiki.example.com"), cookie: ann}, 400, "", nil, "X-Forwarded-Proto is missing"},
		{"no target: 400", req{cookie: ann}, 400, "", nil, "no target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(tt.r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %q", w.Code, tt.status, w.Body)
			}
			if got := w.Header().Get("Location"); got != tt.location {
				t.Errorf("Location = %q, want %q", got, tt.location)
			}
			for k, want := range tt.headers {
				if got := w.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("body %q does not contain %q", w.Body, tt.body)
			}
			if w.Header().Get("Set-Cookie") != "" {
				t.Errorf("verify set a cookie")
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", w.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestVerify_SpoofedHostIsNotReflected(t *testing.T) {
	f := newFixture(t)
	ann, _ := f.signIn("ann@example.com")
	evil := "<script>alert(1)</script>.example.com"
	w := f.do(req{h: caddyHeaders("https", evil, "/"), cookie: ann, accept: browserAccept})
	if w.Code != 400 || strings.Contains(w.Body.String(), "<script>") {
		t.Errorf("status %d body %q", w.Code, w.Body)
	}
	// A host that is valid but covered by nothing is refused, and the page
	// does not name it.
	w = f.do(req{h: caddyHeaders("https", "wiki.example.com.evil.com", "/"), cookie: ann, accept: browserAccept})
	if w.Code != 403 || strings.Contains(w.Body.String(), "evil") {
		t.Errorf("status %d body %q", w.Code, w.Body)
	}
	// Identity headers the client sent are not echoed.
	h := caddyHeaders("https", "wiki.example.com", "/")
	h.Set("Remote-User", "admin")
	h.Set("Remote-Groups", "admins")
	w = f.do(req{h: h, cookie: ann})
	if w.Code != 200 || w.Header().Get("Remote-User") != "ann" || w.Header().Get("Remote-Groups") != "staff" {
		t.Errorf("status %d headers %v", w.Code, w.Header())
	}
}

func TestVerify_HeaderValuesAreSanitised(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must(t)(f.svc.CreateUser(ctx, auth.NewUser{Email: "eve@example.com", DisplayName: "Eve\r\nSet-Cookie: evil=1\x00", Password: "correct horse", Groups: []string{"staff"}}))
	must(t)(f.svc.CreateGroup(ctx, "ops", "", ""))
	if err := f.svc.AddToGroup(ctx, "ops", "eve@example.com"); err != nil {
		t.Fatal(err)
	}
	eve, _ := f.signIn("eve@example.com")
	w := f.do(req{h: wiki("/"), cookie: eve})
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if got := w.Header().Get("Remote-Name"); got != "EveSet-Cookie: evil=1" {
		t.Errorf("Remote-Name = %q", got)
	}
	if got := w.Header().Get("Remote-Groups"); got != "ops,staff" {
		t.Errorf("Remote-Groups = %q", got)
	}
	if got := headerValue(" a\r\nb\tc\x7f "); got != "abc" {
		t.Errorf("headerValue = %q", got)
	}
}

func TestVerify_APIKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	userKey, _, err := f.svc.CreateAPIKey(ctx, "wiki", "ann@example.com", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	svcKey, _, err := f.svc.CreateAPIKey(ctx, "wiki", "", "backup", 0)
	if err != nil {
		t.Fatal(err)
	}
	bobKey, _, err := f.svc.CreateAPIKey(ctx, "wiki", "bob@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	mediaKey, _, err := f.svc.CreateAPIKey(ctx, "media", "", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	w := f.do(req{h: wiki("/"), bearer: userKey})
	if w.Code != 200 || w.Header().Get("Remote-User") != "ann" || w.Header().Get("Remote-Email") != "ann@example.com" {
		t.Errorf("user key: %d %v", w.Code, w.Header())
	}
	w = f.do(req{h: wiki("/"), bearer: svcKey})
	if w.Code != 200 || w.Header().Get("Remote-User") != "wiki" || w.Header().Get("Remote-Email") != "" || w.Header().Get("Remote-Groups") != "" {
		t.Errorf("service key: %d %v", w.Code, w.Header())
	}
	// A key of a user outside the allowed groups: 401 saying so (a bearer
	// failure is never a 403).
	if w = f.do(req{h: wiki("/"), bearer: bobKey}); w.Code != 401 || !strings.Contains(w.Body.String(), reasonGroups) {
		t.Errorf("bob's key: %d %s", w.Code, w.Body)
	}
	// A key is bound to its app.
	if w = f.do(req{h: wiki("/"), bearer: mediaKey}); w.Code != 401 || w.Header().Get("Www-Authenticate") == "" {
		t.Errorf("other app's key: %d", w.Code)
	}
	if w = f.do(req{h: caddyHeaders("https", "x.media.example.com", "/"), bearer: mediaKey}); w.Code != 200 {
		t.Errorf("media key at media: %d", w.Code)
	}
	// Expiry.
	f.advance(2 * time.Hour)
	if w = f.do(req{h: caddyHeaders("https", "x.media.example.com", "/"), bearer: mediaKey}); w.Code != 401 {
		t.Errorf("expired key: %d", w.Code)
	}
	// Revocation is seen on the very next request.
	if w = f.do(req{h: wiki("/"), bearer: svcKey}); w.Code != 200 {
		t.Fatalf("before revoke: %d", w.Code)
	}
	keys, _ := f.svc.APIKeys(ctx, "wiki")
	for _, k := range keys {
		if k.Name == "backup" {
			if err := f.svc.RevokeAPIKey(ctx, "wiki", k.Prefix); err != nil {
				t.Fatal(err)
			}
		}
	}
	if w = f.do(req{h: wiki("/"), bearer: svcKey}); w.Code != 401 {
		t.Errorf("revoked key: %d", w.Code)
	}
}

// stubTokens is an OIDC access token store.
type stubTokens struct {
	mu sync.Mutex
	m  map[string]*auth.AccessToken
}

func (s *stubTokens) ResolveAccessToken(_ context.Context, tok string) (*auth.AccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.m[tok]; ok {
		return p, nil
	}
	return nil, auth.ErrNotFound
}

func (s *stubTokens) set(m map[string]*auth.AccessToken) {
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
}

func TestVerify_AccessTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ann, err := f.svc.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	grafana, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Grafana", Type: auth.AppOIDC, RedirectURIs: []string{"https://g.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	immich, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Immich", Type: auth.AppOIDC, RedirectURIs: []string{"https://i.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	exp := f.clock().Add(time.Hour)
	f.tokens.set(map[string]*auth.AccessToken{
		"cat_ann":     {UserID: ann.ID, Client: grafana, ExpiresAt: exp},
		"cat_immich":  {UserID: ann.ID, Client: immich, ExpiresAt: exp},
		"cat_service": {Client: grafana, ExpiresAt: exp},
	})
	// Nothing is accepted until the forward_auth app opts in.
	if w := f.do(req{h: wiki("/"), bearer: "cat_ann"}); w.Code != 401 {
		t.Errorf("token before --accept-tokens-from: %d", w.Code)
	}
	if _, err := f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error { a.AcceptTokensFrom = []string{grafana.ID}; return nil }); err != nil {
		t.Fatal(err)
	}
	if w := f.do(req{h: wiki("/"), bearer: "cat_ann"}); w.Code != 200 || w.Header().Get("Remote-User") != "ann" {
		t.Errorf("user token: %d %v", w.Code, w.Header())
	}
	if w := f.do(req{h: wiki("/"), bearer: "cat_immich"}); w.Code != 401 {
		t.Errorf("token of a client the app does not accept: %d", w.Code)
	}
	if w := f.do(req{h: wiki("/"), bearer: "cat_service"}); w.Code != 200 || w.Header().Get("Remote-User") != "grafana" || w.Header().Get("Remote-Email") != "" {
		t.Errorf("service token: %d %v", w.Code, w.Header())
	}
	// Revocation announced by the oidc package evicts at once.
	f.tokens.set(map[string]*auth.AccessToken{"cat_service": {Client: grafana, ExpiresAt: exp}})
	f.svc.Notify(auth.Change{Kind: auth.ChangeToken, TokenHash: f.secrets.Hash("cat_ann")})
	if w := f.do(req{h: wiki("/"), bearer: "cat_ann"}); w.Code != 401 {
		t.Errorf("revoked token: %d", w.Code)
	}
}

// A cached token outlived its client: deactivating or deleting the client,
// or the forward_auth app no longer accepting it, must refuse it on the very next
// request, however the resolver would have answered.
func TestVerify_CachedTokenDiesWithItsClient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ann, _ := f.svc.UserByEmail(ctx, "ann@example.com")
	grafana, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Grafana", Type: auth.AppOIDC, RedirectURIs: []string{"https://g.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	accept := func(ids ...string) {
		t.Helper()
		if _, err := f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error { a.AcceptTokensFrom = ids; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	accept(grafana.ID)
	exp := f.clock().Add(time.Hour)
	f.tokens.set(map[string]*auth.AccessToken{"cat_ann": {UserID: ann.ID, Client: grafana, ExpiresAt: exp}})
	if w := f.do(req{h: wiki("/"), bearer: "cat_ann"}); w.Code != 200 {
		t.Fatalf("token: %d", w.Code)
	}
	// The resolver now refuses it (the oidc side checks the client); the
	// cache must not answer from memory.
	f.tokens.set(map[string]*auth.AccessToken{})
	if _, err := f.svc.UpdateApp(ctx, "grafana", func(a *auth.App) error { a.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if w := f.do(req{h: wiki("/"), bearer: "cat_ann"}); w.Code != 401 {
		t.Errorf("token of a deactivated client: %d", w.Code)
	}
	// Dropped from the accepted list: refused although the resolver vouches.
	f.tokens.set(map[string]*auth.AccessToken{"cat_ann": {UserID: ann.ID, Client: grafana, ExpiresAt: exp}})
	accept()
	if w := f.do(req{h: wiki("/"), bearer: "cat_ann"}); w.Code != 401 {
		t.Errorf("token of a client no longer accepted: %d", w.Code)
	}
	// Deleted: refused on the next request although it was cached and the
	// resolver still vouches.
	if _, err := f.svc.UpdateApp(ctx, "grafana", func(a *auth.App) error { a.Active = true; return nil }); err != nil {
		t.Fatal(err)
	}
	accept(grafana.ID)
	if w := f.do(req{h: wiki("/"), bearer: "cat_ann"}); w.Code != 200 {
		t.Fatalf("token of the client accepted again: %d", w.Code)
	}
	if err := f.svc.DeleteApp(ctx, "grafana"); err != nil {
		t.Fatal(err)
	}
	if w := f.do(req{h: wiki("/"), bearer: "cat_ann"}); w.Code != 401 {
		t.Errorf("token of a deleted client: %d", w.Code)
	}
}

// TestVerify_Eviction checks that each kind of change refuses a cached
// credential on the very next request.
func TestVerify_Eviction(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		change func(f *fixture, sess *auth.Session) error
		want   int
	}{
		{"sign out", func(f *fixture, s *auth.Session) error { return f.svc.EndSession(ctx, s.ID, "") }, 401},
		{"revoke all sessions", func(f *fixture, _ *auth.Session) error {
			_, err := f.svc.RevokeSessions(ctx, "ann@example.com")
			return err
		}, 401},
		{"disable user", func(f *fixture, _ *auth.Session) error {
			_, err := f.svc.SetStatus(ctx, "ann@example.com", auth.StatusDisabled)
			return err
		}, 401},
		{"password change", func(f *fixture, _ *auth.Session) error {
			_, err := f.svc.SetPassword(ctx, "ann@example.com", "another horse")
			return err
		}, 401},
		{"delete user", func(f *fixture, _ *auth.Session) error { return f.svc.DeleteUser(ctx, "ann@example.com") }, 401},
		{"removed from group", func(f *fixture, _ *auth.Session) error { return f.svc.RemoveFromGroup(ctx, "staff", "ann@example.com") }, 403},
		{"group deleted", func(f *fixture, _ *auth.Session) error { _, err := f.svc.DeleteGroup(ctx, "staff"); return err }, 403},
		{"app deactivated", func(f *fixture, _ *auth.Session) error {
			_, err := f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error { a.Active = false; return nil })
			return err
		}, 403},
		{"app moved", func(f *fixture, _ *auth.Session) error {
			_, err := f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error { a.Domain = "docs.example.com"; return nil })
			return err
		}, 403},
		{"app deleted", func(f *fixture, _ *auth.Session) error { return f.svc.DeleteApp(ctx, "wiki") }, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tok, sess := f.signIn("ann@example.com")
			for range 2 { // the second is a cached hit
				if w := f.do(req{h: wiki("/"), cookie: tok}); w.Code != 200 {
					t.Fatalf("before: %d", w.Code)
				}
			}
			if err := tt.change(f, sess); err != nil {
				t.Fatal(err)
			}
			if w := f.do(req{h: wiki("/"), cookie: tok}); w.Code != tt.want {
				t.Errorf("after: %d, want %d", w.Code, tt.want)
			}
		})
	}
	t.Run("added to group", func(t *testing.T) {
		f := newFixture(t)
		tok, _ := f.signIn("bob@example.com")
		if w := f.do(req{h: wiki("/"), cookie: tok}); w.Code != 403 {
			t.Fatalf("before: %d", w.Code)
		}
		if err := f.svc.AddToGroup(ctx, "staff", "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		if w := f.do(req{h: wiki("/"), cookie: tok}); w.Code != 200 || w.Header().Get("Remote-Groups") != "staff" {
			t.Errorf("after: %d %q", w.Code, w.Header().Get("Remote-Groups"))
		}
	})
}

// TestVerify_CachedHitReadsNothing closes the store under a warm cache: a
// cached hit still answers, which it could not if it read the store.
func TestVerify_CachedHitReadsNothing(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.signIn("ann@example.com")
	if w := f.do(req{h: wiki("/"), cookie: tok}); w.Code != 200 {
		t.Fatalf("warm-up: %d", w.Code)
	}
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	if w := f.do(req{h: wiki("/"), cookie: tok}); w.Code != 200 || w.Header().Get("Remote-User") != "ann" {
		t.Errorf("cached hit with the store closed: %d", w.Code)
	}
	// A miss does need the store, and fails closed.
	if w := f.do(req{h: wiki("/"), cookie: "cs_notcached"}); w.Code != 500 {
		t.Errorf("miss with the store closed: %d", w.Code)
	}
}

// TestVerify_UnauthenticatedLeavesNoState sends requests with no, unknown
// and malformed credentials and checks nothing was stored or cached.
func TestVerify_UnauthenticatedLeavesNoState(t *testing.T) {
	f := newFixture(t)
	before := countKeys(t, f.store)
	for i := range 200 {
		r := req{h: wiki("/?fa_token=cfa_bogus" + string(rune('a'+i%26))), accept: browserAccept}
		switch i % 4 {
		case 1:
			r.cookie = "cs_unknown" + strings.Repeat("x", i)
		case 2:
			r.bearer = "cak_unknown" + strings.Repeat("x", i)
		case 3:
			r.h = caddyHeaders("https", "nowhere.example.com", "/")
		}
		if w := f.do(r); w.Code == 200 || w.Header().Get("Set-Cookie") != "" {
			t.Fatalf("request %d: %d, Set-Cookie %q", i, w.Code, w.Header().Get("Set-Cookie"))
		}
	}
	if after := countKeys(t, f.store); after != before {
		t.Errorf("store keys %d → %d", before, after)
	}
	f.v.cache.mu.RLock()
	n, u := len(f.v.cache.creds), len(f.v.cache.users)
	f.v.cache.mu.RUnlock()
	if n != 0 || u != 0 {
		t.Errorf("cache holds %d credentials, %d users", n, u)
	}
}

func countKeys(t *testing.T, s *kv.Store) int {
	t.Helper()
	n := 0
	err := s.View(context.Background(), func(tx *kv.Txn) error {
		return tx.Scan(nil, func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestVerify_ActivityIsCoalesced: activity is written at most once a
// minute per session, by the background writer.
func TestVerify_ActivityIsCoalesced(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, sess := f.signIn("ann@example.com")
	start := sess.LastActiveAt
	f.advance(30 * time.Second)
	for range 5 {
		f.do(req{h: wiki("/"), cookie: tok})
	}
	f.advance(2 * time.Minute)
	want := f.clock()
	for range 5 {
		f.do(req{h: wiki("/"), cookie: tok})
	}
	f.v.Close() // drains the writer
	got, err := f.svc.SessionByID(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastActiveAt.Equal(want) {
		t.Errorf("last active = %v, want %v (started %v)", got.LastActiveAt, want, start)
	}
}

func TestVerify_FAToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, sess := f.signIn("ann@example.com")
	u, _ := url.Parse("https://wiki.example.com/page?a=1&fa_token=cfa_old")
	ret, ok := f.v.ReturnTo(ctx, u, sess)
	if !ok {
		t.Fatal("ReturnTo refused a covered host")
	}
	ru, err := url.Parse(ret)
	if err != nil {
		t.Fatal(err)
	}
	toks := ru.Query()["fa_token"]
	if ru.Host != "wiki.example.com" || ru.Path != "/page" || ru.Query().Get("a") != "1" || len(toks) != 1 || !strings.HasPrefix(toks[0], auth.PrefixFAToken) {
		t.Fatalf("return URL %q", ret)
	}
	uri := ru.RequestURI()

	// At another covered host it is neither accepted nor used up.
	if w := f.do(req{h: caddyHeaders("https", "tv.media.example.com", uri)}); w.Code != 401 {
		t.Errorf("other host: %d", w.Code)
	}
	// At its host it signs the request in once, without a cookie.
	w := f.do(req{h: wiki(uri)})
	if w.Code != 200 || w.Header().Get("Remote-User") != "ann" || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("first use: %d %v", w.Code, w.Header())
	}
	if w := f.do(req{h: wiki(uri)}); w.Code != 401 {
		t.Errorf("second use: %d", w.Code)
	}
	// A used token does not hide a good cookie.
	tok, _ := f.signIn("ann@example.com")
	if w := f.do(req{h: wiki(uri), cookie: tok}); w.Code != 200 {
		t.Errorf("used token + cookie: %d", w.Code)
	}

	// From /api/verify's own query, too; and it expires after 60 s.
	ret, _ = f.v.ReturnTo(ctx, u, sess)
	ru, _ = url.Parse(ret)
	q := "fa_token=" + url.QueryEscape(ru.Query().Get("fa_token"))
	ret2, _ := f.v.ReturnTo(ctx, u, sess)
	ru2, _ := url.Parse(ret2)
	if w := f.do(req{h: wiki("/"), query: q}); w.Code != 200 {
		t.Errorf("verify's own query: %d", w.Code)
	}
	f.advance(61 * time.Second)
	if w := f.do(req{h: wiki(ru2.RequestURI())}); w.Code != 401 {
		t.Errorf("expired token: %d", w.Code)
	}

	// An ended session's token is worthless.
	ret, _ = f.v.ReturnTo(ctx, u, sess)
	ru, _ = url.Parse(ret)
	if err := f.svc.EndSession(ctx, sess.ID, ""); err != nil {
		t.Fatal(err)
	}
	if w := f.do(req{h: wiki(ru.RequestURI())}); w.Code != 401 {
		t.Errorf("token of ended session: %d", w.Code)
	}
}

// An app that requires a second factor sends a password-only session to
// the step-up page, with the page it asked for as rd.
func TestVerify_StepUpForPasswordOnlySession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error { a.RequireSecondFactor = true; return nil }); err != nil {
		t.Fatal(err)
	}
	tok, _ := f.signIn("ann@example.com")
	w := f.do(req{h: wiki("/page?x=1"), cookie: tok, accept: browserAccept})
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc.Path != StepUpPath || loc.Query().Get("rd") != "https://wiki.example.com/page?x=1" {
		t.Fatalf("password-only session: %d to %q", w.Code, w.Header().Get("Location"))
	}
	// A session made with the second factor goes through.
	u, _ := f.svc.UserByEmail(ctx, "ann@example.com")
	_, tok2, err := f.svc.StartSession(ctx, u, "127.0.0.1", "test", false, auth.ACRSecondFactor, []string{"pwd", "otp"})
	if err != nil {
		t.Fatal(err)
	}
	if w := f.do(req{h: wiki("/page"), cookie: tok2}); w.Code != 200 {
		t.Fatalf("second-factor session: %d", w.Code)
	}
}

// An fa_token minted for Ann, opened in Bob's signed-in browser, used to
// make /api/verify answer as Ann. Bob's own session wins, and Ann's token
// is left unused.
func TestVerify_FATokenDoesNotBeatTheCallersSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, annSess := f.signIn("ann@example.com")
	u, _ := url.Parse("https://tv.media.example.com/")
	ret, ok := f.v.ReturnTo(ctx, u, annSess)
	if !ok {
		t.Fatal("ReturnTo refused a covered host")
	}
	ru, _ := url.Parse(ret)
	bob, _ := f.signIn("bob@example.com")
	w := f.do(req{h: caddyHeaders("https", "tv.media.example.com", ru.RequestURI()), cookie: bob})
	if w.Code != 200 || w.Header().Get("X-Webauth-User") != "bob@example.com" {
		t.Fatalf("Bob's browser with Ann's fa_token: %d as %q", w.Code, w.Header().Get("X-Webauth-User"))
	}
	// Ann's token was not burnt: it still works where no session is.
	if w := f.do(req{h: caddyHeaders("https", "tv.media.example.com", ru.RequestURI())}); w.Code != 200 || w.Header().Get("X-Webauth-User") != "ann" {
		t.Fatalf("Ann's token after Bob's request: %d as %q", w.Code, w.Header().Get("X-Webauth-User"))
	}
}

// Where the session cookie reaches the app by itself, an fa_token would
// only sit unused in the address bar for a minute, for anyone who sees the
// address to sign in with. None is minted there, and a token of the
// caller's own session that arrives with the cookie is used up.
func TestReturnTo_NoTokenWhereTheCookieReaches(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	host, _ := url.Parse("https://auth.example.com")
	v, err := New(Config{Auth: f.svc, Secrets: f.secrets, Site: web.NewSite(host, "", false)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	_, sess := f.signIn("ann@example.com")
	u, _ := url.Parse("https://wiki.example.com/page?a=1&fa_token=cfa_old")
	ret, ok := v.ReturnTo(ctx, u, sess)
	if !ok || ret != "https://wiki.example.com/page?a=1" {
		t.Fatalf("ReturnTo = %q, %v; want the page without any fa_token", ret, ok)
	}

	// A token of the caller's own session, presented with the cookie, is
	// used up; a token of another session is left alone.
	tok, own := f.signIn("ann@example.com")
	ownRet, _ := f.v.ReturnTo(ctx, u, own)
	ownURL, _ := url.Parse(ownRet)
	if w := f.do(req{h: wiki(ownURL.RequestURI()), cookie: tok}); w.Code != 200 {
		t.Fatalf("with the cookie: %d", w.Code)
	}
	if w := f.do(req{h: wiki(ownURL.RequestURI())}); w.Code == 200 {
		t.Fatal("the address the browser landed on still signs another browser in")
	}
}

// TestReturnTo_OpenRedirect: only hosts an active forward_auth app covers
// are followed; everything else is refused, whatever its spelling.
func TestReturnTo_OpenRedirect(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, sess := f.signIn("ann@example.com")
	tests := []struct {
		rd string
		ok bool
	}{
		{"https://wiki.example.com/x", true},
		{"https://WIKI.Example.COM/x", true},
		{"https://tv.media.example.com/", true},
		{"https://wiki.example.com:8443/", true},
		{"http://wiki.example.com/", false}, // Clinch is https: no token in clear
		{"https://evil.com/", false},
		{"https://wiki.example.com.evil.com/", false},
		{"https://evilwiki.example.com/", false},
		{"https://a.b.media.example.com/", false},
		{"https://media.example.com/", false},
		{"https://old.example.com/", false}, // inactive app
		{"https://evil.com@wiki.example.com/", false},
		{"https://wiki.example.com@evil.com/", false},
		{"javascript://wiki.example.com/%0aalert(1)", false},
		{"//evil.com", false},
		{"/relative", false},
	}
	for _, tt := range tests {
		t.Run(tt.rd, func(t *testing.T) {
			u, err := url.Parse(tt.rd)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := f.v.ReturnTo(ctx, u, sess)
			if ok != tt.ok {
				t.Fatalf("ok = %v (%q), want %v", ok, got, tt.ok)
			}
			if !ok {
				return
			}
			gu, err := url.Parse(got)
			if err != nil || gu.Hostname() != strings.ToLower(u.Hostname()) || gu.User != nil {
				t.Errorf("returned %q", got)
			}
		})
	}
	if _, ok := f.v.ReturnTo(ctx, nil, sess); ok {
		t.Error("nil URL accepted")
	}
	u, _ := url.Parse("https://wiki.example.com/")
	if _, ok := f.v.ReturnTo(ctx, u, nil); ok {
		t.Error("nil session accepted")
	}
}

func TestDecide(t *testing.T) {
	app := &fwdApp{App: &auth.App{ID: "w", Slug: "wiki", Active: true, AllowedGroupIDs: []string{"staff"}}}
	open := &fwdApp{App: &auth.App{ID: "o", Slug: "open", Active: true}}
	inactive := &fwdApp{App: &auth.App{ID: "i", Slug: "old", Active: false}}
	app.AcceptTokensFrom = []string{"c1"}
	staff := &identity{id: "u1", status: auth.StatusActive, groups: []string{"staff"}}
	other := &identity{id: "u2", status: auth.StatusActive, groups: []string{"misc"}}
	disabled := &identity{id: "u3", status: auth.StatusDisabled, groups: []string{"staff"}}
	client := &auth.App{ID: "c1", Type: auth.AppOIDC, Active: true}
	staffClient := &auth.App{ID: "c1", Type: auth.AppOIDC, Active: true, AllowedGroupIDs: []string{"admins"}}
	offClient := &auth.App{ID: "c1", Type: auth.AppOIDC, Active: false}
	sess := &cred{kind: credSession, userID: "u1", acr: "1"}
	sess2 := &cred{kind: credSession, userID: "u1", acr: "2"}
	strict := &fwdApp{App: &auth.App{ID: "s", Slug: "strict", Active: true, RequireSecondFactor: true, AllowedGroupIDs: []string{"staff"}}}
	keyS := &cred{kind: credAPIKey, appID: "s", userID: "u1"}
	keyW := &cred{kind: credAPIKey, appID: "w", userID: "u1"}
	svcW := &cred{kind: credAPIKey, appID: "w"}
	keyO := &cred{kind: credAPIKey, appID: "o"}
	tokW := &cred{kind: credAccessToken, userID: "u1", client: client}
	tokX := &cred{kind: credAccessToken, userID: "u1", client: &auth.App{ID: "c2", Type: auth.AppOIDC, Active: true}}
	tokSvc := &cred{kind: credAccessToken, client: client}
	tokOff := &cred{kind: credAccessToken, userID: "u1", client: offClient}
	tokGrp := &cred{kind: credAccessToken, userID: "u1", client: staffClient}
	tests := []struct {
		name string
		app  *fwdApp
		c    Caller
		want outcome
	}{
		{"no app", nil, Caller{via: viaSession, cred: sess, user: staff}, outNoApp},
		{"inactive app", inactive, Caller{via: viaSession, cred: sess, user: staff}, outNoApp},
		{"nobody", app, Caller{}, outSignIn},
		{"session allowed", app, Caller{via: viaSession, cred: sess, user: staff}, outAllowed},
		{"fa_token allowed", app, Caller{via: viaFAToken, cred: sess, user: staff}, outAllowed},
		{"session wrong group", app, Caller{via: viaSession, cred: sess, user: other}, outForbidden},
		{"session open app", open, Caller{via: viaSession, cred: sess, user: other}, outAllowed},
		{"session disabled user", app, Caller{via: viaSession, cred: sess, user: disabled}, outSignIn},
		{"session without user", app, Caller{via: viaSession, cred: sess}, outSignIn},
		{"bearer invalid", app, Caller{via: viaBearer}, outBadToken},
		{"api key", app, Caller{via: viaBearer, cred: keyW, user: staff}, outAllowed},
		{"api key wrong group", app, Caller{via: viaBearer, cred: keyW, user: other}, outForbidden},
		{"api key disabled owner", app, Caller{via: viaBearer, cred: keyW, user: disabled}, outBadToken},
		{"api key other app", app, Caller{via: viaBearer, cred: keyO}, outBadToken},
		{"service key", app, Caller{via: viaBearer, cred: svcW}, outAllowed},
		{"service key inactive app", inactive, Caller{via: viaBearer, cred: svcW}, outNoApp},
		{"access token", app, Caller{via: viaBearer, cred: tokW, user: staff}, outAllowed},
		{"access token of a client not accepted", app, Caller{via: viaBearer, cred: tokX, user: staff}, outBadToken},
		{"access token at an app accepting none", open, Caller{via: viaBearer, cred: tokW, user: staff}, outBadToken},
		{"service access token", app, Caller{via: viaBearer, cred: tokSvc}, outAllowed},
		{"access token of an inactive client", app, Caller{via: viaBearer, cred: tokOff, user: staff}, outBadToken},
		{"access token, user left the client's groups", app, Caller{via: viaBearer, cred: tokGrp, user: staff}, outBadToken},
		{"access token, disabled user", app, Caller{via: viaBearer, cred: tokW, user: disabled}, outBadToken},
		{"access token, not in the app's groups", app, Caller{via: viaBearer, cred: tokW, user: other}, outForbidden},
		{"session cred as bearer", app, Caller{via: viaBearer, cred: sess, user: staff}, outBadToken},
		{"password-only session, second factor required", strict, Caller{via: viaSession, cred: sess, user: staff}, outStepUp},
		{"fa_token of a password-only session, second factor required", strict, Caller{via: viaFAToken, cred: sess, user: staff}, outStepUp},
		{"second-factor session, second factor required", strict, Caller{via: viaSession, cred: sess2, user: staff}, outAllowed},
		{"wrong group beats step-up", strict, Caller{via: viaSession, cred: sess, user: other}, outForbidden},
		{"api key, second factor required", strict, Caller{via: viaBearer, cred: keyS, user: staff}, outAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(tt.app, ruleReq{rawPath: "/"}, tt.c); got != tt.want {
				t.Errorf("decide = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRegister_AllMethods(t *testing.T) {
	f := newFixture(t)
	tok, _ := f.signIn("ann@example.com")
	mux := http.NewServeMux()
	mux.Handle("GET /", http.NotFoundHandler()) // the pages' catch-all must not conflict
	f.v.Register(mux)
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PROPFIND"} {
		r := httptest.NewRequest(m, Path, nil)
		r.Header = wiki("/")
		r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: tok})
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Errorf("%s: %d", m, w.Code)
		}
	}
}

// BenchmarkVerify is /api/verify with a cached cookie, the hot path.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	tok, _ := f.signIn("ann@example.com")
	r := httptest.NewRequest("GET", Path, nil)
	r.Header = caddyHeaders("https", "wiki.example.com", "/some/page?q=1")
	r.Header.Set("Accept", browserAccept)
	r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: tok})
	w := &discardWriter{h: http.Header{}}
	f.v.ServeHTTP(w, r)
	if w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			f.v.ServeHTTP(w, r)
		}
	})
}

// BenchmarkEmptyHandler is the floor BenchmarkVerify is compared with.
func BenchmarkEmptyHandler(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	r := httptest.NewRequest("GET", Path, nil)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
	})
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return io.Discard.Write(b) }
func (d *discardWriter) WriteHeader(c int)           { d.code = c }

func TestSessionCookie(t *testing.T) {
	tests := []struct {
		cookies []string
		want    string
	}{
		{nil, ""},
		{[]string{"a=1; clinch_session=cs_x; b=2"}, "cs_x"},
		{[]string{"a=1", "clinch_session=cs_y"}, "cs_y"},
		{[]string{`clinch_session="cs_q"`}, "cs_q"},
		{[]string{"xclinch_session=cs_no; clinch_sessionx=cs_no"}, ""},
		{[]string{"clinch_session=cs_first; clinch_session=cs_second"}, "cs_first"},
	}
	for _, tt := range tests {
		if got := sessionCookie(http.Header{"Cookie": tt.cookies}); got != tt.want {
			t.Errorf("sessionCookie(%q) = %q, want %q", tt.cookies, got, tt.want)
		}
	}
}
