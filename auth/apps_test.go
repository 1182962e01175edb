package auth_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv/kvtest"
)

// appsFixture is a service with a moveable clock and a record of every
// change it announced.
type appsFixture struct {
	svc *auth.Service
	mu  sync.Mutex
	now time.Time
	chg []auth.Change
}

func newAppsFixture(t *testing.T) *appsFixture {
	t.Helper()
	sec, err := auth.NewSecrets([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	f := &appsFixture{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.svc, err = auth.New(auth.Config{Store: kvtest.Open(t), Secrets: sec, BcryptCost: 4, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Subscribe(func(c auth.Change) { f.mu.Lock(); f.chg = append(f.chg, c); f.mu.Unlock() })
	return f
}

func (f *appsFixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *appsFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}
func (f *appsFixture) changes() []auth.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.chg
	f.chg = nil
	return c
}

func fwdInput(name, domain string) auth.AppInput {
	return auth.AppInput{Name: name, Type: auth.AppForwardAuth, Domain: domain}
}

func TestCreateApp_ForwardAuth(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	media, err := f.svc.CreateGroup(ctx, "media", "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.changes()
	a, secret, err := f.svc.CreateApp(ctx, auth.AppInput{
		Name: "My MeTube!", Type: auth.AppForwardAuth, Domain: " MeTube.Example.COM. ",
		AllowedGroups: []string{"Media", "media"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		t.Errorf("forward_auth app got a secret")
	}
	if a.Slug != "my-metube" || a.Domain != "metube.example.com" || !a.Active {
		t.Errorf("got slug %q domain %q active %v", a.Slug, a.Domain, a.Active)
	}
	if len(a.AllowedGroupIDs) != 1 || a.AllowedGroupIDs[0] != media.ID {
		t.Errorf("allowed groups = %v, want [%s] (media's id)", a.AllowedGroupIDs, media.ID)
	}
	if h := a.EffectiveHeaders(); h != auth.DefaultHeaders() {
		t.Errorf("headers = %+v", h)
	}
	if c := f.changes(); len(c) != 1 || c[0].Kind != auth.ChangeApps {
		t.Errorf("changes = %+v, want one ChangeApps", c)
	}
	// Same name again: a unique generated slug.
	b, _, err := f.svc.CreateApp(ctx, fwdInput("My MeTube!", "other.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Slug != "my-metube-2" {
		t.Errorf("second slug = %q, want my-metube-2", b.Slug)
	}
	got, err := f.svc.AppBySlug(ctx, "MY-METUBE")
	if err != nil || got.ID != a.ID {
		t.Errorf("AppBySlug = %v, %v", got, err)
	}
}

func TestCreateApp_Invalid(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	if _, _, err := f.svc.CreateApp(ctx, fwdInput("Taken", "taken.example.com")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		in    auth.AppInput
		field string
		err   error
	}{
		{"no name", fwdInput("", "a.example.com"), "name", auth.ErrInvalid},
		{"no type", auth.AppInput{Name: "x"}, "type", auth.ErrInvalid},
		{"bad type", auth.AppInput{Name: "x", Type: "saml"}, "type", auth.ErrInvalid},
		{"no domain", fwdInput("x", ""), "domain", auth.ErrInvalid},
		{"wildcard tld", fwdInput("x", "*.com"), "domain", auth.ErrInvalid},
		{"wildcard everything", fwdInput("x", "*.*"), "domain", auth.ErrInvalid},
		{"wildcard top-level label", fwdInput("x", "example.*"), "domain", auth.ErrInvalid},
		{"wildcard part of a label", fwdInput("x", "a*.example.com"), "domain", auth.ErrInvalid},
		{"domain with port", fwdInput("x", "a.example.com:443"), "domain", auth.ErrInvalid},
		{"bad slug", auth.AppInput{Name: "x", Slug: "-bad", Type: auth.AppForwardAuth, Domain: "a.example.com"}, "slug", auth.ErrInvalid},
		{"unsluggable name", fwdInput("!!!", "a.example.com"), "slug", auth.ErrInvalid},
		{"missing group", auth.AppInput{Name: "x", Type: auth.AppForwardAuth, Domain: "a.example.com", AllowedGroups: []string{"nobody"}}, "group", auth.ErrInvalid},
		{"bad header name", auth.AppInput{Name: "x", Type: auth.AppForwardAuth, Domain: "a.example.com", Headers: &auth.HeaderConfig{User: "Remote User"}}, "header user", auth.ErrInvalid},
		{"header injection", auth.AppInput{Name: "x", Type: auth.AppForwardAuth, Domain: "a.example.com", Headers: &auth.HeaderConfig{User: "X\r\nSet-Cookie"}}, "header user", auth.ErrInvalid},
		{"reserved header", auth.AppInput{Name: "x", Type: auth.AppForwardAuth, Domain: "a.example.com", Headers: &auth.HeaderConfig{User: "Set-Cookie"}}, "header user", auth.ErrInvalid},
		{"duplicate header", auth.AppInput{Name: "x", Type: auth.AppForwardAuth, Domain: "a.example.com", Headers: &auth.HeaderConfig{User: "X-User", Email: "x-user"}}, "header email", auth.ErrInvalid},
		{"bad claims", auth.AppInput{Name: "x", Type: auth.AppForwardAuth, Domain: "a.example.com", Claims: "[1]"}, "claims", auth.ErrInvalid},
		{"taken slug", auth.AppInput{Name: "x", Slug: "taken", Type: auth.AppForwardAuth, Domain: "b.example.com"}, "", auth.ErrConflict},
		{"taken domain", fwdInput("y", "TAKEN.example.com"), "", auth.ErrConflict},
		{"oidc no redirect", auth.AppInput{Name: "x", Type: auth.AppOIDC}, "redirect_uri", auth.ErrInvalid},
		{"oidc relative redirect", oidcInput("/cb"), "redirect_uri", auth.ErrInvalid},
		{"oidc fragment", oidcInput("https://a.example.com/cb#x"), "redirect_uri", auth.ErrInvalid},
		{"oidc wildcard", oidcInput("https://*.example.com/cb"), "redirect_uri", auth.ErrInvalid},
		{"oidc javascript", oidcInput("javascript:alert(1)"), "redirect_uri", auth.ErrInvalid},
		{"oidc userinfo", oidcInput("https://u:p@a.example.com/cb"), "redirect_uri", auth.ErrInvalid},
		{"oidc bad client id", auth.AppInput{Name: "x", Type: auth.AppOIDC, ClientID: "a b", RedirectURIs: []string{"https://a.example.com/cb"}}, "client_id", auth.ErrInvalid},
		{"access ttl short", withTTL(func(in *auth.AppInput) { in.AccessTokenTTL = time.Minute }), "access_token_ttl", auth.ErrInvalid},
		{"access ttl long", withTTL(func(in *auth.AppInput) { in.AccessTokenTTL = 25 * time.Hour }), "access_token_ttl", auth.ErrInvalid},
		{"refresh ttl short", withTTL(func(in *auth.AppInput) { in.RefreshTokenTTL = time.Hour }), "refresh_token_ttl", auth.ErrInvalid},
		{"refresh ttl long", withTTL(func(in *auth.AppInput) { in.RefreshTokenTTL = 91 * 24 * time.Hour }), "refresh_token_ttl", auth.ErrInvalid},
		{"id ttl long", withTTL(func(in *auth.AppInput) { in.IDTokenTTL = 48 * time.Hour }), "id_token_ttl", auth.ErrInvalid},
		{"public client_credentials", withTTL(func(in *auth.AppInput) {
			in.Public = true
			in.GrantTypes = []string{auth.GrantClientCredentials}
		}), "grant_types", auth.ErrInvalid},
		{"unknown grant", withTTL(func(in *auth.AppInput) { in.GrantTypes = []string{"password"} }), "grant_types", auth.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.svc.CreateApp(ctx, tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var ie *auth.InvalidError
			if tt.field != "" && (!errors.As(err, &ie) || ie.Field != tt.field) {
				t.Errorf("err = %v, want field %q", err, tt.field)
			}
		})
	}
	apps, err := f.svc.Apps(ctx)
	if err != nil || len(apps) != 1 {
		t.Errorf("after failures: %d apps, %v; want only the first", len(apps), err)
	}
}

func oidcInput(redirect string) auth.AppInput {
	return auth.AppInput{Name: "x", Type: auth.AppOIDC, RedirectURIs: []string{redirect}}
}

func withTTL(fn func(*auth.AppInput)) auth.AppInput {
	in := oidcInput("https://a.example.com/cb")
	fn(&in)
	return in
}

func TestCreateApp_OIDC(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	a, secret, err := f.svc.CreateApp(ctx, auth.AppInput{
		Name: "Grafana", Type: auth.AppOIDC,
		RedirectURIs: []string{"https://grafana.example.com/login/generic_oauth", "com.example.app:/cb"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.ClientID == "" || !strings.HasPrefix(secret, auth.PrefixClientSecret) || len(secret) < 40 {
		t.Fatalf("client id %q, secret %q", a.ClientID, secret)
	}
	if string(a.SecretHash) == secret || strings.Contains(string(a.SecretHash), secret) {
		t.Fatal("secret stored in the clear")
	}
	if time.Duration(a.AccessTokenTTL) != time.Hour || time.Duration(a.RefreshTokenTTL) != 30*24*time.Hour || time.Duration(a.IDTokenTTL) != time.Hour {
		t.Errorf("ttls = %v %v %v", a.AccessTokenTTL, a.RefreshTokenTTL, a.IDTokenTTL)
	}
	if !a.RequirePKCE || a.Public {
		t.Errorf("new confidential client: public %v, require_pkce %v; want false, true", a.Public, a.RequirePKCE)
	}
	stored, err := f.svc.AppByClientID(ctx, a.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	if !f.svc.CheckClientSecret(stored, secret) {
		t.Error("right secret refused")
	}
	for _, bad := range []string{"", secret + "x", secret[:len(secret)-1], "ccs_nope"} {
		if f.svc.CheckClientSecret(stored, bad) {
			t.Errorf("wrong secret %q accepted", bad)
		}
	}
	// Rotation: the old secret stops working.
	f.changes()
	secret2, err := f.svc.RotateAppSecret(ctx, a.Slug)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ = f.svc.AppByClientID(ctx, a.ClientID)
	if f.svc.CheckClientSecret(stored, secret) || !f.svc.CheckClientSecret(stored, secret2) {
		t.Error("rotation did not replace the secret")
	}
	if c := f.changes(); len(c) != 1 || c[0].Kind != auth.ChangeApps {
		t.Errorf("changes = %+v", c)
	}

	// Public client: no secret, PKCE required, given client id.
	p, psecret, err := f.svc.CreateApp(ctx, auth.AppInput{
		Name: "SPA", Type: auth.AppOIDC, Public: true, ClientID: "spa-client",
		RedirectURIs: []string{"http://localhost:5173/cb"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if psecret != "" || !p.RequirePKCE || len(p.SecretHash) != 0 || p.ClientID != "spa-client" {
		t.Errorf("public client: secret %q pkce %v hash %d id %q", psecret, p.RequirePKCE, len(p.SecretHash), p.ClientID)
	}
	if f.svc.CheckClientSecret(p, "") {
		t.Error("public client matched an empty secret")
	}
	if _, err := f.svc.RotateAppSecret(ctx, p.Slug); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("rotate public: %v", err)
	}
	// The client id is unique.
	_, _, err = f.svc.CreateApp(ctx, auth.AppInput{Name: "SPA2", Type: auth.AppOIDC, Public: true, ClientID: "spa-client", RedirectURIs: []string{"http://localhost:5173/cb"}})
	if !errors.Is(err, auth.ErrConflict) {
		t.Errorf("duplicate client id: %v", err)
	}
}

func TestUpdateApp(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	admins, err := f.svc.CreateGroup(ctx, "admins", "", "")
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := f.svc.CreateApp(ctx, fwdInput("Wiki", "wiki.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	f.changes()
	f.advance(time.Minute)
	u, err := f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error {
		a.Domain = "*.Wiki.example.com"
		a.AllowedGroupIDs = []string{admins.ID}
		a.Active = false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Domain != "*.wiki.example.com" || u.Active || !u.UpdatedAt.After(a.CreatedAt) {
		t.Errorf("updated = %+v", u)
	}
	if c := f.changes(); len(c) != 1 || c[0].Kind != auth.ChangeApps {
		t.Errorf("changes = %+v", c)
	}
	// A failing validation writes nothing.
	_, err = f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error {
		a.Name = "renamed"
		a.AllowedGroupIDs = append(a.AllowedGroupIDs, "ghosts")
		return nil
	})
	if !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	got, _ := f.svc.AppBySlug(ctx, "wiki")
	if got.Name != "Wiki" {
		t.Errorf("failed update changed the name to %q", got.Name)
	}
	if _, err := f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error { a.Type = auth.AppOIDC; return nil }); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("type change: %v", err)
	}
	if _, err := f.svc.UpdateApp(ctx, "nope", func(*auth.App) error { return nil }); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("missing app: %v", err)
	}
	// Renaming the slug moves the index.
	if _, err := f.svc.UpdateApp(ctx, "wiki", func(a *auth.App) error { a.Slug = "docs"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AppBySlug(ctx, "wiki"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("old slug still found: %v", err)
	}
	if _, err := f.svc.AppBySlug(ctx, "docs"); err != nil {
		t.Errorf("new slug: %v", err)
	}
}

func TestAPIKeys(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	app, _, err := f.svc.CreateApp(ctx, fwdInput("Files", "files.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := f.svc.CreateApp(ctx, fwdInput("Other", "other.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	f.changes()

	tok, k, err := f.svc.CreateAPIKey(ctx, "files", "Ann@Example.com", "sync job", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, auth.PrefixAPIKey) || k.UserID != u.ID || k.AppID != app.ID || k.ID == tok || strings.Contains(k.ID, tok) {
		t.Fatalf("key = %+v", k)
	}
	svcTok, svcKey, err := f.svc.CreateAPIKey(ctx, "files", "", "", 90*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if svcKey.UserID != "" || !svcKey.ExpiresAt.Equal(f.clock().Add(90*24*time.Hour)) {
		t.Errorf("service key = %+v", svcKey)
	}
	got, err := f.svc.APIKeyByToken(ctx, tok)
	if err != nil || got.ID != k.ID {
		t.Fatalf("APIKeyByToken = %v, %v", got, err)
	}
	for _, bad := range []string{"", "cak_nope", "cs_" + tok[4:], tok + "x"} {
		if _, err := f.svc.APIKeyByToken(ctx, bad); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("APIKeyByToken(%q) err = %v", bad, err)
		}
	}
	keys, err := f.svc.APIKeys(ctx, "files")
	if err != nil || len(keys) != 2 {
		t.Fatalf("APIKeys = %d, %v", len(keys), err)
	}
	if ks, _ := f.svc.APIKeys(ctx, "other"); len(ks) != 0 {
		t.Errorf("other app lists %d keys", len(ks))
	}

	// Touch records last use.
	at := f.clock().Add(time.Minute)
	if err := f.svc.TouchAPIKey(ctx, k.ID, at); err != nil {
		t.Fatal(err)
	}
	got, _ = f.svc.APIKeyByToken(ctx, tok)
	if !got.LastUsedAt.Equal(at) {
		t.Errorf("last used = %v, want %v", got.LastUsedAt, at)
	}

	// Revoking by prefix, through the wrong app, is not found.
	if err := f.svc.RevokeAPIKey(ctx, "other", k.Prefix); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoke via other app: %v", err)
	}
	f.changes()
	if err := f.svc.RevokeAPIKey(ctx, "files", k.Prefix); err != nil {
		t.Fatal(err)
	}
	if c := f.changes(); len(c) != 1 || c[0].Kind != auth.ChangeAPIKey || c[0].KeyID != k.ID {
		t.Errorf("changes = %+v", c)
	}
	if _, err := f.svc.APIKeyByToken(ctx, tok); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoked key still found: %v", err)
	}

	// Expiry: the key is gone once its time is up.
	f.advance(91 * 24 * time.Hour)
	if _, err := f.svc.APIKeyByToken(ctx, svcTok); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("expired key: %v", err)
	}
	if ks, _ := f.svc.APIKeys(ctx, "files"); len(ks) != 0 {
		t.Errorf("expired key listed")
	}

	// Deleting an app deletes its keys and announces both.
	tok3, k3, err := f.svc.CreateAPIKey(ctx, "other", "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	f.changes()
	if err := f.svc.DeleteApp(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.APIKeyByToken(ctx, tok3); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("key of deleted app: %v", err)
	}
	var sawKey, sawApps bool
	for _, c := range f.changes() {
		sawKey = sawKey || (c.Kind == auth.ChangeAPIKey && c.KeyID == k3.ID)
		sawApps = sawApps || c.Kind == auth.ChangeApps
	}
	if !sawKey || !sawApps {
		t.Errorf("delete announced key %v apps %v", sawKey, sawApps)
	}
	_ = other

	// Keys only for forward_auth apps, and for existing owners.
	if _, _, err := f.svc.CreateApp(ctx, oidcInput("https://a.example.com/cb")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.CreateAPIKey(ctx, "x", "", "", 0); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("key for oidc app: %v", err)
	}
	if _, _, err := f.svc.CreateAPIKey(ctx, "files", "ghost@example.com", "", 0); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("key for unknown owner: %v", err)
	}
}

func TestDeleteUser_DeletesTheirAPIKeys(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	if _, _, err := f.svc.CreateApp(ctx, fwdInput("Files", "files.example.com")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "admin@example.com", Password: "correct horse", Admin: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "bob@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.svc.CreateAPIKey(ctx, "files", "bob@example.com", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteUser(ctx, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.APIKeyByToken(ctx, tok); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("deleted user's key: %v", err)
	}
}

// ServiceGroupsApply was stored and never read, so an admin who set it
// believed client_credentials honoured the app's groups when nothing did.
// It is gone from the types; the schema 2 migration drops it from stored
// apps (kv's TestMigration_AppAllowlistsByGroupID).
func TestApp_ServiceGroupsApplyIsGone(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[auth.App](), reflect.TypeFor[auth.AppInput]()} {
		if _, ok := typ.FieldByName("ServiceGroupsApply"); ok {
			t.Errorf("%s still has ServiceGroupsApply, which nothing reads", typ)
		}
	}
}
