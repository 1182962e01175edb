package ui

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// adminClient is a signed-in admin's browser.
func (e *env) adminClient() *client {
	e.t.Helper()
	if _, err := e.auth.CreateUser(context.Background(), auth.NewUser{Email: "root@example.com", Username: "root", DisplayName: "Root", Password: "correct horse", Admin: true}); err != nil {
		e.t.Fatal(err)
	}
	c := e.client("10.0.0.9")
	want(e.t, c.signin("root", "correct horse", nil), 303, "/")
	return c
}

// oidcForm is a valid new OIDC app.
func oidcForm() url.Values {
	return url.Values{
		"type": {"oidc"}, "name": {"Grafana"}, "active": {"1"}, "require_pkce": {"1"},
		"redirect_uri":     {"https://grafana.example.com/login/generic_oauth"},
		"grant_types":      {"authorization_code", "refresh_token"},
		"access_token_ttl": {"1h"}, "refresh_token_ttl": {"30d"}, "id_token_ttl": {"1h"},
	}
}

// faForm is a valid new forward_auth app.
func faForm() url.Values {
	return url.Values{
		"type": {"forward_auth"}, "name": {"Wiki"}, "active": {"1"}, "domain": {"wiki.example.com"},
		"header_user": {"Remote-User"}, "header_email": {"Remote-Email"}, "header_name": {"Remote-Name"},
		"header_groups": {"Remote-Groups"}, "header_admin": {"Remote-Admin"},
	}
}

var clientSecretRE = regexp.MustCompile(`ccs_[A-Za-z0-9_-]+`)
var keyRE = regexp.MustCompile(`cak_[A-Za-z0-9_-]+`)

func TestAdminApps_OnlyForAdmins(t *testing.T) {
	e := newEnv(t)
	admin := e.adminClient()
	r := admin.post("/admin/apps/new", faForm())
	want(t, r, 303, "/admin/apps/wiki")
	e.user("ann@example.com", "ann", "correct horse")
	ann := e.client("10.0.0.2")
	want(t, ann.signin("ann", "correct horse", nil), 303, "/")
	stranger := e.client("10.0.0.3")

	for _, rt := range []struct{ method, path string }{
		{"GET", "/admin/apps"}, {"GET", "/admin/apps/new?type=oidc"}, {"POST", "/admin/apps/new"},
		{"GET", "/admin/apps/wiki"}, {"POST", "/admin/apps/wiki"},
		{"GET", "/admin/apps/wiki/delete"}, {"POST", "/admin/apps/wiki/delete"},
		{"GET", "/admin/apps/wiki/secret"}, {"POST", "/admin/apps/wiki/secret"},
		{"POST", "/admin/apps/wiki/keys"}, {"GET", "/admin/apps/wiki/keys/x/revoke"}, {"POST", "/admin/apps/wiki/keys/x/revoke"},
		{"POST", "/admin/apps/wiki/rules"}, {"POST", "/admin/apps/wiki/rules/x/move"},
		{"GET", "/admin/apps/wiki/rules/x/remove"}, {"POST", "/admin/apps/wiki/rules/x/remove"},
	} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			var got, anon resp
			form := faForm()
			form.Set("domain", "evil.example.com")
			if rt.method == "GET" {
				got, anon = ann.get(rt.path), stranger.get(rt.path)
			} else {
				got, anon = ann.post(rt.path, form), stranger.post(rt.path, form)
			}
			if got.code != 403 {
				t.Errorf("a signed-in non-admin got %d, want 403", got.code)
			}
			// A signed-out POST is refused by the CSRF check already (it
			// has no token), or sent to sign in.
			if !(anon.code == 303 && strings.HasPrefix(anon.loc, "/signin") || rt.method == "POST" && anon.code == 403) {
				t.Errorf("a signed-out visitor got %d %q, want the sign-in page\n%s", anon.code, anon.loc, anon.body)
			}
		})
	}
	a, err := e.auth.AppBySlug(context.Background(), "wiki")
	if err != nil || a.Domain != "wiki.example.com" {
		t.Fatalf("the app changed under non-admin requests: %+v %v", a, err)
	}
	if apps, _ := e.auth.Apps(context.Background()); len(apps) != 1 {
		t.Errorf("%d apps, want 1", len(apps))
	}
}

func TestAdminApps_ClientSecretShownOnce(t *testing.T) {
	e := newEnv(t)
	c := e.adminClient()
	ctx := context.Background()

	r := c.post("/admin/apps/new", oidcForm())
	want(t, r, 200, "")
	secret := clientSecretRE.FindString(r.body)
	if secret == "" || !strings.Contains(r.hdr.Get("Cache-Control"), "no-store") {
		t.Fatalf("the new app's page shows no client secret (or may be cached: %q):\n%s", r.hdr.Get("Cache-Control"), r.body)
	}
	a, err := e.auth.AppBySlug(ctx, "grafana")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.body, a.ClientID) || !e.auth.CheckClientSecret(a, secret) {
		t.Fatal("the page's client id and secret are not the app's")
	}
	// Nothing shows it again.
	for _, p := range []string{"/admin/apps", "/admin/apps/grafana", "/admin/apps/grafana/secret"} {
		if b := c.get(p).body; strings.Contains(b, secret) || clientSecretRE.MatchString(b) {
			t.Errorf("%s shows a client secret", p)
		}
	}

	// Regenerating is confirmed: the GET only asks.
	confirm := c.get("/admin/apps/grafana/secret")
	want(t, confirm, 200, "")
	if !strings.Contains(confirm.body, `action="/admin/apps/grafana/secret"`) {
		t.Fatalf("no confirmation form:\n%s", confirm.body)
	}
	a, _ = e.auth.AppBySlug(ctx, "grafana")
	if !e.auth.CheckClientSecret(a, secret) {
		t.Fatal("opening the confirmation changed the secret")
	}
	r = c.post("/admin/apps/grafana/secret", url.Values{})
	want(t, r, 200, "")
	fresh := clientSecretRE.FindString(r.body)
	a, _ = e.auth.AppBySlug(ctx, "grafana")
	if fresh == "" || fresh == secret || !e.auth.CheckClientSecret(a, fresh) || e.auth.CheckClientSecret(a, secret) {
		t.Fatalf("after regenerating: new secret shown %q; it works %v; the old one works %v", fresh, e.auth.CheckClientSecret(a, fresh), e.auth.CheckClientSecret(a, secret))
	}
	if strings.Contains(c.get("/admin/apps/grafana").body, fresh) {
		t.Error("the app page shows the new secret")
	}
}

// fieldError returns the error shown right after the form field with the
// id (before the next label), or "".
func fieldError(body, id string) string {
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	rest := body[i:]
	if j := strings.Index(rest[1:], "<label"); j >= 0 {
		rest = rest[:j+1]
	}
	m := regexp.MustCompile(`class="field-error" role="alert">([^<]*)<`).FindStringSubmatch(rest)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestAdminApps_RefusalsShownAtTheFieldNothingSaved(t *testing.T) {
	e := newEnv(t)
	c := e.adminClient()
	ctx := context.Background()
	if _, err := e.auth.CreateGroup(ctx, "family", "", ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		base  func() url.Values
		set   map[string][]string
		field string
		says  string
	}{
		{"no name", oidcForm, map[string][]string{"name": {""}}, "name", "required"},
		{"bad slug", oidcForm, map[string][]string{"slug": {"Not A Slug!"}}, "slug", "lower-case"},
		{"redirect URI with a fragment", oidcForm, map[string][]string{"redirect_uri": {"https://a.example.com/cb#x"}}, "redirect_uri", "fragment"},
		{"no redirect URI", oidcForm, map[string][]string{"redirect_uri": {" \n "}}, "redirect_uri", "at least one"},
		{"javascript post-logout URI", oidcForm, map[string][]string{"post_logout_redirect_uri": {"javascript:alert(1)"}}, "post_logout_redirect_uri", "scheme"},
		{"lifetime that is not one", oidcForm, map[string][]string{"access_token_ttl": {"forever"}}, "access_token_ttl", "not a duration"},
		{"lifetime out of range", oidcForm, map[string][]string{"refresh_token_ttl": {"365d"}}, "refresh_token_ttl", "between"},
		{"public without PKCE", oidcForm, map[string][]string{"public": {"1"}, "require_pkce": nil}, "require_pkce", "always requires PKCE"},
		{"client_credentials on a public client", oidcForm, map[string][]string{"public": {"1"}, "grant_types": {"client_credentials"}}, "grant_types", "confidential"},
		{"backchannel URI not http", oidcForm, map[string][]string{"backchannel_logout_uri": {"com.example.app:/x"}}, "backchannel_logout_uri", "http"},
		{"claims not JSON", oidcForm, map[string][]string{"claims": {"{tier: gold"}}, "claims", "JSON"},
		{"metadata line without =", oidcForm, map[string][]string{"metadata": {"owner=ann\nnonsense"}}, "metadata", "key=value"},
		{"no domain", faForm, map[string][]string{"domain": {""}}, "domain", ""},
		{"header name with a space", faForm, map[string][]string{"header_email": {"Remote Email"}}, "header_email", "not a valid"},
		{"reserved header", faForm, map[string][]string{"header_user": {"X-Forwarded-User"}}, "header_user", "reserved"},
		{"Basic password without Basic", faForm, map[string][]string{"basic_auth_password": {"1"}}, "basic_auth_password", "basic"},
		{"launch URL not http", faForm, map[string][]string{"launch_url": {"ftp://x.example.com"}}, "launch_url", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.base()
			for k, v := range tc.set {
				if v == nil {
					f.Del(k)
				} else {
					f[k] = v
				}
			}
			r := c.post("/admin/apps/new", f)
			if r.code != 400 {
				t.Fatalf("got %d, want 400:\n%s", r.code, r.body)
			}
			msg := fieldError(r.body, tc.field)
			if msg == "" || !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.says)) {
				t.Errorf("next to %s: %q, want a reason with %q\n%s", tc.field, msg, tc.says, r.body)
			}
			if !strings.Contains(r.body, `id="form-error"`) {
				t.Error("no summary at the top of the form")
			}
			// The form keeps what was typed.
			if n := f.Get("name"); n != "" && !strings.Contains(r.body, `value="`+n+`"`) {
				t.Error("the form lost the name typed")
			}
			if apps, _ := e.auth.Apps(ctx); len(apps) != 0 {
				t.Fatalf("a refused form stored an app: %+v", apps[0])
			}
		})
	}

	// A refused edit changes nothing either, even the fields that were
	// fine.
	want(t, c.post("/admin/apps/new", faForm()), 303, "/admin/apps/wiki")
	f := faForm()
	f.Set("name", "Renamed")
	f.Set("slug", "wiki")
	f.Set("header_groups", "Content-Length")
	r := c.post("/admin/apps/wiki", f)
	if r.code != 400 || !strings.Contains(fieldError(r.body, "header_groups"), "reserved") {
		t.Fatalf("got %d, header_groups says %q\n%s", r.code, fieldError(r.body, "header_groups"), r.body)
	}
	a, _ := e.auth.AppBySlug(ctx, "wiki")
	if a.Name != "Wiki" || a.EffectiveHeaders().Groups != "Remote-Groups" {
		t.Errorf("a refused edit was saved: name %q, groups header %q", a.Name, a.EffectiveHeaders().Groups)
	}

	// A second app for the same domain is refused at the top of the form.
	f = faForm()
	f.Set("name", "Wiki two")
	r = c.post("/admin/apps/new", f)
	if r.code != 400 || !regexp.MustCompile(`id="form-error">[^<]*already covers wiki.example.com`).MatchString(r.body) {
		t.Errorf("a second app for one domain: %d\n%s", r.code, r.body)
	}
	if apps, _ := e.auth.Apps(ctx); len(apps) != 1 {
		t.Errorf("%d apps, want 1", len(apps))
	}
}

func TestAdminApps_EditSetsEveryField(t *testing.T) {
	e := newEnv(t)
	c := e.adminClient()
	ctx := context.Background()
	for _, g := range []string{"family", "staff"} {
		if _, err := e.auth.CreateGroup(ctx, g, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	r := c.post("/admin/apps/new", oidcForm())
	want(t, r, 200, "")
	want(t, c.post("/admin/apps/new", faForm()), 303, "/admin/apps/wiki")

	t.Run("oidc", func(t *testing.T) {
		f := url.Values{
			"name": {"Grafana 2"}, "slug": {"grafana2"}, "group": {"staff", "family"},
			"launch_url": {"https://grafana.example.com/"}, "require_second_factor": {"1"},
			"redirect_uri":             {"https://grafana.example.com/cb\nhttps://grafana.example.com/cb2"},
			"post_logout_redirect_uri": {"https://grafana.example.com/bye"},
			"backchannel_logout_uri":   {"https://grafana.example.com/bcl"},
			"skip_consent":             {"1"}, "always_issue_refresh": {"1"},
			"grant_types":      {"authorization_code", "refresh_token", "client_credentials"},
			"access_token_ttl": {"30m"}, "refresh_token_ttl": {"7d"}, "id_token_ttl": {"2h"},
			"claims": {`{"tier":"gold"}`}, "metadata": {"owner = ann\nroom=3"},
		}
		want(t, c.post("/admin/apps/grafana", f), 303, "/admin/apps/grafana2?saved=1")
		a, err := e.auth.AppBySlug(ctx, "grafana2")
		if err != nil {
			t.Fatal(err)
		}
		names, _ := e.auth.GroupNames(ctx)
		var groups []string
		for _, id := range a.AllowedGroupIDs {
			groups = append(groups, names[id])
		}
		slices.Sort(groups)
		if a.Name != "Grafana 2" || a.Active || !slices.Equal(groups, []string{"family", "staff"}) ||
			a.LaunchURL != "https://grafana.example.com/" || !a.RequireSecondFactor ||
			!slices.Equal(a.RedirectURIs, []string{"https://grafana.example.com/cb", "https://grafana.example.com/cb2"}) ||
			!slices.Equal(a.PostLogoutRedirectURIs, []string{"https://grafana.example.com/bye"}) ||
			a.BackchannelLogoutURI != "https://grafana.example.com/bcl" || !a.SkipConsent || !a.AlwaysIssueRefresh ||
			a.RequirePKCE || len(a.GrantTypes) != 3 ||
			time.Duration(a.AccessTokenTTL) != 30*time.Minute || time.Duration(a.RefreshTokenTTL) != 7*24*time.Hour || time.Duration(a.IDTokenTTL) != 2*time.Hour ||
			string(a.Claims) != `{"tier":"gold"}` || a.Metadata["owner"] != "ann" || a.Metadata["room"] != "3" {
			t.Errorf("stored: %+v", a)
		}
		// The page shows them back as they were typed.
		page := c.get("/admin/apps/grafana2").body
		for _, s := range []string{`value="30m"`, `value="7d"`, `value="2h"`, "owner=ann", `value="staff" checked`, "Saved"} {
			if !strings.Contains(page+c.get("/admin/apps/grafana2?saved=1").body, s) {
				t.Errorf("the page does not show %s", s)
			}
		}
	})

	t.Run("forward_auth", func(t *testing.T) {
		f := url.Values{
			"name": {"Wiki"}, "slug": {"wiki"}, "active": {"1"}, "domain": {"*.wiki.example.com"},
			"header_user": {"X-User"}, "header_email": {""}, "header_name": {"X-Name"}, "header_groups": {"X-Groups"}, "header_admin": {""},
			"basic_auth": {"1"}, "basic_auth_password": {"1"}, "accept_tokens_from": {"grafana2"},
		}
		if r := c.post("/admin/apps/wiki", f); r.code != 303 || r.loc != "/admin/apps/wiki?saved=1" {
			t.Fatalf("got %d %q: %s", r.code, r.loc, regexp.MustCompile(`(?s)<p class="field-error".*?</p>`).FindAllString(r.body, -1))
		}
		a, _ := e.auth.AppBySlug(ctx, "wiki")
		g, _ := e.auth.AppBySlug(ctx, "grafana2")
		h := a.EffectiveHeaders()
		if a.Domain != "*.wiki.example.com" || h.User != "X-User" || h.Email != "" || h.Admin != "" || h.Groups != "X-Groups" ||
			!a.BasicAuth || !a.BasicAuthPassword || !slices.Equal(a.AcceptTokensFrom, []string{g.ID}) || !a.Active {
			t.Errorf("stored: %+v headers %+v", a, h)
		}
	})
}

func TestAdminApps_APIKeys(t *testing.T) {
	e := newEnv(t)
	c := e.adminClient()
	ctx := context.Background()
	e.user("ann@example.com", "ann", "correct horse")
	want(t, c.post("/admin/apps/new", faForm()), 303, "/admin/apps/wiki")

	r := c.post("/admin/apps/wiki/keys", url.Values{"name": {"backup job"}, "owner": {"nobody@example.com"}})
	if r.code != 400 || fieldError(r.body, "key-owner") == "" {
		t.Fatalf("a key for an unknown owner: %d, owner field says %q", r.code, fieldError(r.body, "key-owner"))
	}
	r = c.post("/admin/apps/wiki/keys", url.Values{"name": {"backup job"}, "expires": {"soon"}})
	if r.code != 400 || fieldError(r.body, "key-expires") == "" {
		t.Fatalf("a key with a bad lifetime: %d", r.code)
	}
	if keys, _ := e.auth.APIKeys(ctx, "wiki"); len(keys) != 0 {
		t.Fatalf("refused keys were made: %d", len(keys))
	}

	r = c.post("/admin/apps/wiki/keys", url.Values{"name": {"backup job"}, "owner": {"ann@example.com"}, "expires": {"90d"}})
	want(t, r, 200, "")
	key := keyRE.FindString(r.body)
	k, err := e.auth.APIKeyByToken(ctx, key)
	if key == "" || err != nil {
		t.Fatalf("the page shows key %q, which the service does not know (%v)", key, err)
	}
	page := c.get("/admin/apps/wiki")
	if strings.Contains(page.body, key) || keyRE.MatchString(page.body) {
		t.Error("the app page shows the key again")
	}
	for _, s := range []string{"backup job", "ann@example.com", k.Prefix, "never"} {
		if !strings.Contains(page.body, s) {
			t.Errorf("the key list lacks %q", s)
		}
	}

	// Revoking is confirmed.
	revoke := "/admin/apps/wiki/keys/" + k.Prefix + "/revoke"
	want(t, c.get(revoke), 200, "")
	if _, err := e.auth.APIKeyByToken(ctx, key); err != nil {
		t.Fatal("opening the confirmation revoked the key")
	}
	want(t, c.post(revoke, url.Values{}), 303, "/admin/apps/wiki#keys")
	if _, err := e.auth.APIKeyByToken(ctx, key); err == nil {
		t.Fatal("the revoked key still works")
	}
	want(t, c.post(revoke, url.Values{}), 404, "")
}

func TestAdminApps_AccessRules(t *testing.T) {
	e := newEnv(t)
	c := e.adminClient()
	ctx := context.Background()
	if _, err := e.auth.CreateGroup(ctx, "staff", "", ""); err != nil {
		t.Fatal(err)
	}
	want(t, c.post("/admin/apps/new", faForm()), 303, "/admin/apps/wiki")
	paths := func() []string {
		a, _ := e.auth.AppBySlug(ctx, "wiki")
		var out []string
		for _, r := range a.Rules {
			out = append(out, r.Path+" "+string(r.Policy))
		}
		return out
	}
	for _, f := range []url.Values{
		{"path": {"/public"}, "policy": {"bypass"}},
		{"path": {"/admin"}, "policy": {"groups"}, "rule_group": {"staff"}, "methods": {"GET, POST"}, "networks": {"10.0.0.0/8"}},
		{"path": {"/secret"}, "policy": {"deny"}, "position": {"1"}},
	} {
		want(t, c.post("/admin/apps/wiki/rules", f), 303, "/admin/apps/wiki#rules")
	}
	if got := paths(); !slices.Equal(got, []string{"/secret deny", "/public bypass", "/admin groups"}) {
		t.Fatalf("rules %v", got)
	}
	page := c.get("/admin/apps/wiki").body
	for _, s := range []string{"GET, POST", "10.0.0.0/8", "groups: staff", "No rule matches: every active user"} {
		if !strings.Contains(page, s) {
			t.Errorf("the rule list lacks %q", s)
		}
	}

	for _, tc := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"path": {"/a/../b"}, "policy": {"deny"}}, "rule-path"},
		{url.Values{"path": {"/a"}, "policy": {"groups"}}, "rule-policy"},
		{url.Values{"path": {"/a"}, "policy": {"deny"}, "networks": {"not-a-net"}}, "rule-networks"},
		{url.Values{"path": {"/a"}, "policy": {"deny"}, "position": {"0"}}, "rule-position"},
	} {
		r := c.post("/admin/apps/wiki/rules", tc.form)
		if r.code != 400 {
			t.Errorf("%v: got %d, want 400", tc.form, r.code)
			continue
		}
		// The groups policy's refusal is about its groups, shown after the
		// group choices.
		if tc.field == "rule-policy" {
			if !strings.Contains(fieldError(r.body, "rule-groups"), "is required for policy groups") {
				t.Errorf("%v: the missing group is not explained", tc.form)
			}
		} else if fieldError(r.body, tc.field) == "" {
			t.Errorf("%v: nothing next to %s", tc.form, tc.field)
		}
	}
	if len(paths()) != 3 {
		t.Fatal("a refused rule was added")
	}

	a, _ := e.auth.AppBySlug(ctx, "wiki")
	want(t, c.post("/admin/apps/wiki/rules/"+a.Rules[0].ID+"/move", url.Values{"to": {"2"}}), 303, "/admin/apps/wiki#rules")
	if got := paths(); !slices.Equal(got, []string{"/public bypass", "/secret deny", "/admin groups"}) {
		t.Fatalf("after moving down: %v", got)
	}
	want(t, c.post("/admin/apps/wiki/rules/"+a.Rules[2].ID+"/move", url.Values{"to": {"1"}}), 303, "/admin/apps/wiki#rules")
	if got := paths(); !slices.Equal(got, []string{"/admin groups", "/public bypass", "/secret deny"}) {
		t.Fatalf("after moving up: %v", got)
	}
	remove := "/admin/apps/wiki/rules/" + a.Rules[0].ID + "/remove"
	if r := c.get(remove); r.code != 200 || !strings.Contains(r.body, "/secret") {
		t.Fatalf("the removal is not confirmed: %d", r.code)
	}
	if len(paths()) != 3 {
		t.Fatal("opening the confirmation removed the rule")
	}
	want(t, c.post(remove, url.Values{}), 303, "/admin/apps/wiki#rules")
	if got := paths(); !slices.Equal(got, []string{"/admin groups", "/public bypass"}) {
		t.Fatalf("after removing: %v", got)
	}
}

func TestAdminApps_DeleteIsConfirmed(t *testing.T) {
	e := newEnv(t)
	c := e.adminClient()
	ctx := context.Background()
	want(t, c.post("/admin/apps/new", faForm()), 303, "/admin/apps/wiki")
	r := c.post("/admin/apps/wiki/keys", url.Values{"name": {"k"}})
	key := keyRE.FindString(r.body)
	confirm := c.get("/admin/apps/wiki/delete")
	if confirm.code != 200 || !strings.Contains(confirm.body, "API keys") {
		t.Fatalf("the delete confirmation: %d\n%s", confirm.code, confirm.body)
	}
	if _, err := e.auth.AppBySlug(ctx, "wiki"); err != nil {
		t.Fatal("opening the confirmation deleted the app")
	}
	want(t, c.post("/admin/apps/wiki/delete", url.Values{}), 303, "/admin/apps")
	if _, err := e.auth.AppBySlug(ctx, "wiki"); err == nil {
		t.Fatal("the app is still there")
	}
	if _, err := e.auth.APIKeyByToken(ctx, key); err == nil {
		t.Fatal("the app's API key outlived it")
	}
	want(t, c.get("/admin/apps/wiki"), 404, "")
}

func TestAdminApps_Preview(t *testing.T) {
	ctx := context.Background()
	e := newEnvWith(t, func(cfg *Config) {
		// Stand-ins that show what the page is given; serve.go wires
		// oidc.PreviewClaims and forward.PreviewHeaders, tested there.
		cfg.ClaimsPreview = func(_ context.Context, a *auth.App, u *auth.User) (map[string]any, error) {
			return map[string]any{"email": u.Email, "app": a.Slug}, nil
		}
		cfg.HeadersPreview = func(a *auth.App, u *auth.User, _ []*auth.Group) http.Header {
			return http.Header{"Remote-User": {u.Login()}, "Remote-App": {a.Slug}}
		}
	})
	c := e.adminClient()
	if _, err := e.auth.CreateGroup(ctx, "staff", "", ""); err != nil {
		t.Fatal(err)
	}
	e.user("ann@example.com", "ann", "correct horse")
	f := oidcForm()
	f.Set("group", "staff")
	want(t, c.post("/admin/apps/new", f), 200, "")

	r := c.get("/admin/apps/grafana?preview=ann@example.com")
	want(t, r, 200, "")
	for _, s := range []string{"ann@example.com may not use it", "none of the application", "&#34;app&#34;: &#34;grafana&#34;"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("the preview lacks %q:\n%s", s, r.body)
		}
	}
	if err := e.auth.AddToGroup(ctx, "staff", "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if r = c.get("/admin/apps/grafana?preview=ann@example.com"); !strings.Contains(r.body, "ann@example.com may use it") {
		t.Errorf("a member is not shown as allowed:\n%s", r.body)
	}
	if r = c.get("/admin/apps/grafana?preview=nobody@example.com"); !strings.Contains(r.body, "No user has the email") {
		t.Errorf("an unknown user is not explained")
	}

	// A forward_auth app shows headers, in name order; a disabled user
	// may not use it.
	want(t, c.post("/admin/apps/new", faForm()), 303, "/admin/apps/wiki")
	r = c.get("/admin/apps/wiki?preview=ann@example.com")
	if !regexp.MustCompile(`(?s)Remote-App</code></td><td><code>wiki<.*Remote-User</code></td><td><code>ann<`).MatchString(r.body) {
		t.Errorf("the headers are not shown in order:\n%s", r.body)
	}
	if _, err := e.auth.SetStatus(ctx, "ann@example.com", auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if r = c.get("/admin/apps/wiki?preview=ann@example.com"); !strings.Contains(r.body, "may not use it") || !strings.Contains(r.body, "disabled") {
		t.Errorf("a disabled user is not refused:\n%s", r.body)
	}
}
