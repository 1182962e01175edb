package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv/kvtest"
	"github.com/clinchsso/clinch/web"
)

const (
	testRedirect = "https://app.example.com/cb"
	testVerifier = "dBjftJeZ4CVP-mJ92K1-fake-verifier-0123456789abcdefgh"
)

type fixture struct {
	t       testing.TB
	ctx     context.Context
	svc     *auth.Service
	p       *Provider
	mux     *http.ServeMux
	now     time.Time
	user    *auth.User
	cookie  string // session token
	app     *auth.App
	secret  string
	pub     *auth.App // public client
	changes []auth.Change
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	store := kvtest.Open(t)
	secrets, err := auth.NewSecrets([]byte(strings.Repeat("k", 64)))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, now: time.Now()}
	svc, err := auth.New(auth.Config{Store: store, Secrets: secrets, BcryptCost: 4, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	NewGrants(store).Attach(svc)
	svc.Subscribe(func(c auth.Change) { f.changes = append(f.changes, c) })
	host, _ := url.Parse("http://localhost:3000")
	f.p, err = New(Config{Auth: svc, Store: store, Secrets: secrets, Site: web.NewSite(host, "", false)})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-in first-out: the back-channel sender stops before
	// the store closes under it.
	t.Cleanup(f.p.Close)
	f.mux = http.NewServeMux()
	f.p.Register(f.mux)
	f.user, err = svc.CreateUser(ctx, auth.NewUser{Email: "ada@example.com", Username: "ada", DisplayName: "Ada", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	_, f.cookie, err = svc.StartSession(ctx, f.user, "127.0.0.1", "test", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	f.app, f.secret = f.newApp(auth.AppInput{Name: "Wiki", SkipConsent: true,
		GrantTypes: []string{auth.GrantAuthorizationCode, auth.GrantRefreshToken, auth.GrantClientCredentials}})
	f.pub, _ = f.newApp(auth.AppInput{Name: "Mobile", Public: true, SkipConsent: true})
	return f
}

func (f *fixture) newApp(in auth.AppInput) (*auth.App, string) {
	f.t.Helper()
	in.Type = auth.AppOIDC
	if in.RedirectURIs == nil {
		in.RedirectURIs = []string{testRedirect}
	}
	a, secret, err := f.svc.CreateApp(f.ctx, in)
	if err != nil {
		f.t.Fatal(err)
	}
	return a, secret
}

func challenge(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// authorizeQuery is a good request for the app, changed by mod.
func (f *fixture) authorizeQuery(app *auth.App, mod func(url.Values)) url.Values {
	q := url.Values{
		"client_id": {app.ClientID}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {"openid profile email groups offline_access"}, "state": {"st"}, "nonce": {"n0"},
		"code_challenge": {challenge(testVerifier)}, "code_challenge_method": {"S256"},
	}
	if mod != nil {
		mod(q)
	}
	return q
}

func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

// authorize runs GET /oauth/authorize signed in and returns the response.
func (f *fixture) authorize(q url.Values, signedIn bool) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", PathAuthorize+"?"+q.Encode(), nil)
	if signedIn {
		r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: f.cookie})
	}
	return f.do(r)
}

// location parses the redirect of a response.
func location(t testing.TB, w *httptest.ResponseRecorder) *url.URL {
	t.Helper()
	if w.Code != http.StatusSeeOther && w.Code != http.StatusFound {
		t.Fatalf("status %d, want a redirect; body %s", w.Code, w.Body.String())
	}
	u, err := url.Parse(w.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// exchange2 gets tokens for app (which skips consent) with secret.
func (f *fixture) exchange2(app *auth.App, secret string) tokenResult {
	f.t.Helper()
	code := f.code(app, nil)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	res := f.post(PathToken, form, app.ClientID, secret)
	if res.status != 200 {
		f.t.Fatalf("token: %v", res.body)
	}
	return res
}

// code gets a code for the app with the default request.
func (f *fixture) code(app *auth.App, mod func(url.Values)) string {
	f.t.Helper()
	u := location(f.t, f.authorize(f.authorizeQuery(app, mod), true))
	c := u.Query().Get("code")
	if c == "" {
		f.t.Fatalf("no code in %s", u)
	}
	return c
}

type tokenResult struct {
	status int
	body   map[string]any
	header http.Header
}

func (r tokenResult) str(k string) string { s, _ := r.body[k].(string); return s }

// post sends a form to path, with Basic credentials when id is set.
func (f *fixture) post(path string, form url.Values, id, secret string) tokenResult {
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	w := f.do(r)
	res := tokenResult{status: w.Code, header: w.Header()}
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &res.body); err != nil {
			f.t.Fatalf("%s: body %q: %v", path, w.Body.String(), err)
		}
	}
	return res
}

func (f *fixture) exchange(code, verifier string) tokenResult {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return f.post(PathToken, form, f.app.ClientID, f.secret)
}

func (f *fixture) refreshWith(rt string) tokenResult {
	return f.post(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, f.app.ClientID, f.secret)
}

func (f *fixture) userinfo(tok string) int {
	r := httptest.NewRequest("GET", PathUserinfo, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return f.do(r).Code
}

// userinfoClaims is the userinfo answer for an access token (nil if not 200).
func (f *fixture) userinfoClaims(tok string) map[string]any {
	f.t.Helper()
	r := httptest.NewRequest("GET", PathUserinfo, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := f.do(r)
	if w.Code != 200 {
		f.t.Errorf("userinfo: %d %s", w.Code, w.Body)
		return nil
	}
	var c map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil {
		f.t.Fatal(err)
	}
	return c
}

func wantOAuthError(t testing.TB, res tokenResult, status int, code string) {
	t.Helper()
	if res.status != status || res.str("error") != code {
		t.Fatalf("got %d %v, want %d %s", res.status, res.body, status, code)
	}
	if res.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", res.header.Get("Cache-Control"))
	}
}

// browser is one browser's cookies against the provider's mux (no
// middleware: CSRF is the middleware's business and tested there).
type browser struct {
	f       *fixture
	cookies map[string]string
}

func (f *fixture) browser(signedIn bool) *browser {
	b := &browser{f: f, cookies: map[string]string{}}
	if signedIn {
		b.signIn()
	}
	return b
}

// signIn starts a new session for the fixture's user in this browser.
func (b *browser) signIn() {
	b.f.t.Helper()
	_, tok, err := b.f.svc.StartSession(b.f.ctx, b.f.user, "127.0.0.1", "test", false, "1", []string{"pwd"})
	if err != nil {
		b.f.t.Fatal(err)
	}
	b.cookies[web.SessionCookie] = tok
}

func (b *browser) request(method, target string, form url.Values) *http.Request {
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for k, v := range b.cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	return r
}

func (b *browser) do(r *http.Request) *httptest.ResponseRecorder {
	w := b.f.do(r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return w
}

func (b *browser) get(target string) *httptest.ResponseRecorder {
	return b.do(b.request("GET", target, nil))
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenValue returns the value of the page's hidden input name, or "".
func hiddenValue(page, name string) string {
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	return ""
}

// postForm submits the page's hidden inputs plus extra to target.
func (b *browser) postForm(target, page string, extra url.Values) *httptest.ResponseRecorder {
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Add(m[1], html.UnescapeString(m[2]))
	}
	for k, v := range extra {
		form[k] = v
	}
	return b.do(b.request("POST", target, form))
}

// consent clicks Allow or Deny on a consent page.
func (b *browser) consent(page, decision string) *httptest.ResponseRecorder {
	return b.postForm(PathConsent, page, url.Values{"decision": {decision}})
}

// idToken signs in to app (which skips consent) and returns the ID token.
func (b *browser) idToken(app *auth.App, secret string) string {
	b.f.t.Helper()
	u := location(b.f.t, b.get(PathAuthorize+"?"+b.f.authorizeQuery(app, nil).Encode()))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	res := b.f.post(PathToken, form, app.ClientID, secret)
	if res.status != 200 {
		b.f.t.Fatalf("token: %v", res.body)
	}
	return res.str("id_token")
}

// claimsOf decodes a JWT's payload without checking it.
func claimsOf(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func authTime(t testing.TB, idt string) int64 {
	t.Helper()
	at, _ := claimsOf(t, idt)["auth_time"].(float64)
	return int64(at)
}
