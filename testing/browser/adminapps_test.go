package browser

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// An admin sets up both kinds of application by clicking through
// /admin/apps, and what they made works with real peers:
//
//   - an OIDC app, whose client id and secret the admin copies from the
//     page shown once; a relying party (go-oidc + x/oauth2) given those
//     signs ann in through Caddy and verifies her ID token;
//   - a forward_auth app behind Caddy with an API key and an access rule
//     that denies /private: a request bearing the key is let in to the
//     app as the app's service identity, and the rule refuses the denied
//     path.
//
// On the way, a mistake in the form is shown at its field and saves
// nothing, and the preview shows the claims ann would receive.
func TestAdminAppsInTheBrowser(t *testing.T) {
	st := newStack(t)
	st.clinch.MustCLI(t, password, "user", "create", "--email", "root@example.com", "--username", "root",
		"--name", "Root", "--admin", "--password-stdin")
	st.user(t, "ann")
	rpOrigin := st.rpSite("relying")
	// The forward_auth site: Caddy with docs/proxy/Caddyfile in front of
	// the echo app; its app in Clinch is made in the browser below.
	st.sites = append(st.sites, harness.CaddySite{Name: "app", Import: harness.DocsFile(t, "proxy/Caddyfile")})
	st.env["APP_SITE"] = st.caddy.Host("app")
	st.env["APP_UPSTREAM"] = strings.TrimPrefix(st.echo.URL, "http://")
	st.serve()

	admin := st.fresh(t)
	admin.Open("/admin/apps")
	signIn(admin, "root", "/admin/apps")
	admin.See("Applications", "No applications yet")
	save := `document.querySelector("#save")`

	// ---- OIDC ----
	admin.ClickAndWait(`document.querySelector("#new-oidc")`, "/admin/apps/new")
	admin.Type("#name", "Relying")
	admin.TypeArea("#redirect_uri", rpOrigin+"/cb")
	admin.TypeArea("#post_logout_redirect_uri", rpOrigin+"/bye")
	admin.Click(`document.querySelector('input[name="skip_consent"]')`)
	admin.Type("#access_token_ttl", "forever")
	admin.ClickAndWait(save, "/admin/apps/new")
	admin.See("Nothing was saved", `"forever" is not a duration`)
	admin.Shot("admin-app-refused")
	admin.Type("#access_token_ttl", "15m")
	admin.ClickAndWait(save, "/admin/apps/new")
	admin.See("Copy the secret now", "cannot show it again")
	clientID, secret := admin.Value("#client-id"), admin.Value("#client-secret")
	if clientID == "" || !strings.HasPrefix(secret, "ccs_") {
		t.Fatalf("the page shows client id %q and secret %q", clientID, secret)
	}
	admin.Shot("admin-app-oidc-credentials")
	admin.ClickAndWait(`document.querySelector("#done")`, "/admin/apps/relying")
	if page := admin.Text(); !strings.Contains(page, clientID) || strings.Contains(page, secret) {
		t.Fatalf("the app page should show the client id and not the secret:\n%s", page)
	}
	if v := admin.Value("#access_token_ttl"); v != "15m" {
		t.Errorf("the access token lifetime shows %q, want 15m", v)
	}
	admin.Type("#preview-user", "ann@example.com")
	admin.ClickAndWait(`document.querySelector("#show-preview")`, "/admin/apps/relying")
	admin.See("ann@example.com may use it", `"email": "ann@example.com"`, `"preferred_username": "ann"`)
	admin.Shot("admin-app-oidc")

	// A relying party given what the admin copied signs ann in.
	rp := &goRP{origin: rpOrigin, client: client{ID: clientID, Secret: secret, Slug: "relying"}}
	rp.discover(st)
	tok := rp.signInAt(st.fresh(t), rp.authorize(nil), "ann")
	if tok.email != "ann@example.com" {
		t.Errorf("the RP's ID token names %q, want ann@example.com", tok.email)
	}

	// ---- forward_auth ----
	admin.Open("/admin/apps")
	admin.ClickAndWait(`document.querySelector("#new-forward-auth")`, "/admin/apps/new")
	admin.Type("#name", "App")
	admin.Type("#domain", st.caddy.Host("app"))
	admin.ClickAndWait(save, "/admin/apps/app")
	admin.Type("#key-name", "ci job")
	admin.ClickAndWait(`document.querySelector("#create-key")`, "/admin/apps/app/keys")
	admin.See("Copy the key now")
	key := admin.Value("#api-key")
	if !strings.HasPrefix(key, "cak_") {
		t.Fatalf("the page shows API key %q", key)
	}
	admin.ClickAndWait(`document.querySelector("#done")`, "/admin/apps/app")
	admin.See("ci job", "the app itself")
	admin.Type("#rule-path", "/private")
	admin.Click(`document.querySelector("#policy-deny")`)
	admin.ClickAndWait(`document.querySelector("#add-rule")`, "/admin/apps/app")
	if rules := admin.TextOf("#rule-list"); !strings.Contains(rules, "/private") || !strings.Contains(rules, "deny") {
		t.Fatalf("the rule list shows:\n%s", rules)
	}
	if strings.Contains(admin.Text(), key) {
		t.Fatal("the app page shows the API key again")
	}
	admin.Shot("admin-app-forward-auth")

	admin.Open("/admin/apps")
	if list := admin.TextOf("#apps"); !strings.Contains(list, "Relying") || !strings.Contains(list, st.caddy.Host("app")) {
		t.Fatalf("the list shows:\n%s", list)
	}
	admin.Shot("admin-apps")

	// The key through Caddy: let in as the app itself, except where the
	// rule denies.
	c := st.caddy.Client(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	get := func(path, bearer string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", st.url("app", path), nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/page", key); code != 200 || !strings.Contains(body, "Path: /page") || !strings.Contains(body, "Remote-User: app") {
		t.Fatalf("with the API key: %d\n%s", code, body)
	}
	if code, body := get("/private/report", key); code == 200 || strings.Contains(body, "Echo") {
		t.Fatalf("the deny rule let the key in to /private: %d\n%s", code, body)
	}
	if code, body := get("/page", key+"x"); code == 200 || strings.Contains(body, "Echo") {
		t.Fatalf("a wrong key is let in: %d\n%s", code, body)
	}
}
