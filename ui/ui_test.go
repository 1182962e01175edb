package ui

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
	"github.com/clinchsso/clinch/metrics"
	"github.com/clinchsso/clinch/web"
)

// env is a running Clinch front end over a fresh store.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	auth    *auth.Service
	store   *kv.Store
	metrics *metrics.Metrics
	h       *Handler
	// audit is the trail the service records into.
	audit *audit.Log

	mu  sync.Mutex
	now time.Time // the service's clock: still unless a test moves it
}

func (e *env) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }

// advance moves the clock on (for TOTP steps).
func (e *env) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

// appHost is the one foreign host the test ReturnTo accepts.
const appHost = "app.example.com"

// testSetupCode is the first-run wizard's code in these tests.
const testSetupCode = "AB1C-0DEF-GH23-4JKM"

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with a change to the ui.Config (may be nil).
func newEnvWith(t *testing.T, change func(*Config)) *env {
	t.Helper()
	return newEnvFrom(t, true, change)
}

// newEnvFrom is newEnvWith with passkeys on (RP ID localhost, the test
// server's origin) or off.
func newEnvFrom(t *testing.T, passkeys bool, change func(*Config)) *env {
	t.Helper()
	store := kvtest.Open(t)
	secrets, err := auth.NewSecrets([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	// A fixed clock keeps every rate-limit window the same during a test.
	e := &env{t: t, store: store, metrics: metrics.New(), now: time.Now(), srv: srv}
	if e.audit, err = audit.New(audit.Config{Store: store, Now: e.clock}); err != nil {
		t.Fatal(err)
	}
	ac := auth.Config{Store: store, Secrets: secrets, BcryptCost: 4, Now: e.clock, Audit: e.audit}
	if passkeys {
		ac.Passkeys = auth.PasskeyConfig{RPID: "localhost", Origin: srv.URL}
	}
	svc, err := auth.New(ac)
	if err != nil {
		t.Fatal(err)
	}
	e.auth = svc
	e.metrics.SetActiveSessions(func() float64 {
		n, _ := svc.CountActiveSessions(context.Background())
		return float64(n)
	})
	host, _ := url.Parse(e.srv.URL)
	site := web.NewSite(host, "", false)
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	cfg := Config{
		Auth: svc, Site: site, Metrics: e.metrics, TrustedProxies: []*net.IPNet{loopback}, SetupCode: testSetupCode,
		ReturnTo: func(_ context.Context, u *url.URL, sess *auth.Session) (string, bool) {
			if u.Hostname() != appHost || sess == nil {
				return "", false
			}
			return u.String() + "?fa_token=test", true
		},
		Covers: func(_ context.Context, u *url.URL) bool { return u.Hostname() == appHost },
		Audit:  e.audit,
		Ready:  store.Ready,
		// One pending authorization, "pa1": it asks for a fresh sign-in
		// when the request says so (the provider decides that for real).
		Pending: func(r *http.Request, id string) (*Continuation, bool) {
			if id != "pa1" {
				return nil, false
			}
			return &Continuation{AppName: "Grafana", Reauth: r.Header.Get("X-Test-Reauth") != "",
				Continue: "/oauth/authorize/resume?authz=pa1", FormAction: []string{"https://grafana.example.com"}}, true
		},
	}
	if change != nil {
		change(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	// Reset mails still being sent finish before the store closes.
	t.Cleanup(func() { h.WaitMail(context.Background()) })
	mux := http.NewServeMux()
	h.Register(mux)
	mux.Handle("GET /metrics", e.metrics.Handler())
	// The order main.go uses; metrics is innermost so it sees r.Pattern.
	handler = web.Chain(mux,
		web.RequestID, web.Recover(nil, h.RenderError), web.SecurityHeaders(site),
		web.CSRF(site, web.CSRFExempt{"/api/"}, h.RenderError, nil), e.metrics.Middleware,
	)
	return e
}

// client is a browser: a cookie jar, no automatic redirects, and its own
// client address (X-Forwarded-For from the trusted loopback proxy).
type client struct {
	e    *env
	http *http.Client
	ip   string
	// password is the one the client last signed in with: the pages that
	// add a second factor ask for it again.
	password string
}

func (e *env) client(ip string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, ip: ip, http: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type resp struct {
	code int
	loc  string
	body string
	hdr  http.Header
}

func (c *client) do(req *http.Request) resp {
	c.e.t.Helper()
	if c.ip != "" {
		req.Header.Set("X-Forwarded-For", c.ip)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{code: res.StatusCode, loc: res.Header.Get("Location"), body: string(b), hdr: res.Header}
}

func (c *client) get(path string) resp {
	c.e.t.Helper()
	req, _ := http.NewRequest("GET", c.e.srv.URL+path, nil)
	return c.do(req)
}

// token fetches a page so the jar holds the CSRF cookie, and returns the
// csrf_token the page carries.
func (c *client) token(path string) string {
	c.e.t.Helper()
	r := c.get(path)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(r.body)
	if m == nil {
		c.e.t.Fatalf("GET %s (%d) has no csrf_token field", path, r.code)
	}
	return m[1]
}

// post submits a form with the page's CSRF token (unless form sets one).
func (c *client) post(path string, form url.Values) resp {
	c.e.t.Helper()
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", c.csrfCookie())
	}
	req, _ := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// csrfCookie returns the jar's clinch_csrf, fetching a page first when
// there is none yet.
func (c *client) csrfCookie() string {
	c.e.t.Helper()
	u, _ := url.Parse(c.e.srv.URL)
	for range 2 {
		for _, ck := range c.http.Jar.Cookies(u) {
			if ck.Name == web.CSRFCookie {
				return ck.Value
			}
		}
		c.get("/healthz")
	}
	c.e.t.Fatal("no clinch_csrf cookie")
	return ""
}

func (c *client) sessionCookie() string {
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == web.SessionCookie {
			return ck.Value
		}
	}
	return ""
}

func (c *client) signin(login, password string, extra url.Values) resp {
	c.e.t.Helper()
	c.password = password
	f := url.Values{"login": {login}, "password": {password}}
	for k, v := range extra {
		f[k] = v
	}
	return c.post("/signin", f)
}

func (e *env) user(email, username, password string) *auth.User {
	e.t.Helper()
	u, err := e.auth.CreateUser(context.Background(), auth.NewUser{Email: email, Username: username, DisplayName: "User " + username, Password: password})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) scrape() string {
	e.t.Helper()
	return e.client("").get("/metrics").body
}

func want(t *testing.T, r resp, code int, loc string) {
	t.Helper()
	if r.code != code || r.loc != loc {
		t.Fatalf("got %d Location %q, want %d %q\n%s", r.code, r.loc, code, loc, r.body)
	}
}

func TestSignup_CreatesAdminThenIs404(t *testing.T) {
	e := newEnv(t)
	c := e.client("10.0.0.1")
	want(t, c.get("/signin"), 303, "/signup")
	want(t, c.get("/"), 303, "/signin")

	page := c.get("/signup")
	want(t, page, 200, "")
	for _, s := range []string{`autocomplete="new-password"`, `autofocus`, `for="email"`, "At least 8 characters", "at most 72 bytes"} {
		if !strings.Contains(page.body, s) {
			t.Errorf("wizard lacks %s", s)
		}
	}
	// 10.0.0.1 is another machine: it needs the setup code.
	form := url.Values{"email": {"Admin@Example.com"}, "name": {"Ada Admin"}, "username": {"ada"},
		"password": {"correct horse"}, "password_confirm": {"correct hors"}, "setup_code": {testSetupCode}}
	r := c.post("/signup", form)
	want(t, r, 400, "")
	if !strings.Contains(r.body, `role="alert"`) || !strings.Contains(r.body, "do not match") {
		t.Errorf("mismatch not explained:\n%s", r.body)
	}
	form.Set("password", "short")
	form.Set("password_confirm", "short")
	r = c.post("/signup", form)
	if r.code != 400 || !strings.Contains(r.body, "at least 8 characters") {
		t.Errorf("short password: %d\n%s", r.code, r.body)
	}
	form.Set("password", "correct horse")
	form.Set("password_confirm", "correct horse")
	want(t, c.post("/signup", form), 303, "/")
	if c.sessionCookie() == "" {
		t.Fatal("the new admin was not signed in")
	}
	home := c.get("/")
	want(t, home, 200, "")
	if !strings.Contains(home.body, "Ada Admin") || !strings.Contains(home.body, "This device") {
		t.Errorf("home page:\n%s", home.body)
	}
	u, err := e.auth.UserByEmail(context.Background(), "admin@example.com")
	if err != nil || !u.Admin {
		t.Fatalf("first user %+v, %v; want an admin", u, err)
	}

	other := e.client("10.0.0.2")
	want(t, other.get("/signup"), 404, "")
	form.Set("email", "second@example.com")
	form.Del("csrf_token") // the other browser has its own
	want(t, other.post("/signup", form), 404, "")
	if _, err := e.auth.UserByEmail(context.Background(), "second@example.com"); err == nil {
		t.Error("the wizard created a second user")
	}
	want(t, other.get("/signin"), 200, "")
}

func TestSignin(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	disabled := e.user("dan@example.com", "dan", "dan-password")
	e.user("keep@example.com", "", "keep-password") // an active admin must remain
	if _, err := e.auth.SetStatus(context.Background(), disabled.Email, auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, login, password string
		code                  int
		loc, text             string
	}{
		{"wrong password", "bob@example.com", "nope-nope", 401, "", "not right"},
		{"unknown user", "nobody@example.com", "bob-password", 401, "", "not right"},
		{"disabled user", "dan", "dan-password", 401, "", "not right"},
		{"empty", "", "", 400, "", "Enter your email"},
		{"by email", "BOB@example.com", "bob-password", 303, "/", ""},
		{"by username", "bob", "bob-password", 303, "/", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client(fmt.Sprintf("10.1.0.%d", i+1))
			r := c.signin(tt.login, tt.password, nil)
			want(t, r, tt.code, tt.loc)
			if !strings.Contains(r.body, tt.text) {
				t.Errorf("body lacks %q", tt.text)
			}
			if tt.code == 401 && !strings.Contains(r.body, `role="alert"`) {
				t.Error("error not in an alert")
			}
			if (c.sessionCookie() != "") != (tt.code == 303) {
				t.Errorf("session cookie %q after %d", c.sessionCookie(), tt.code)
			}
		})
	}
	out := e.scrape()
	for _, s := range []string{`clinch_signins_total{result="success"} 2`, `clinch_signins_total{result="invalid"} 3`,
		`clinch_http_requests_total{code="401",route="POST /signin"} 3`} {
		if !strings.Contains(out, s) {
			t.Errorf("metrics lack %s", s)
		}
	}
}

func TestSignin_RememberMeMakesPersistentCookie(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	for _, tt := range []struct {
		remember   string
		persistent bool
	}{{"", false}, {"1", true}} {
		c := e.client("10.2.0.1")
		r := c.signin("bob", "bob-password", url.Values{"remember": {tt.remember}})
		want(t, r, 303, "/")
		ck := (&http.Response{Header: r.hdr}).Cookies()
		var sc *http.Cookie
		for _, x := range ck {
			if x.Name == web.SessionCookie {
				sc = x
			}
		}
		if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || (sc.MaxAge > 0) != tt.persistent {
			t.Errorf("remember=%q: cookie %+v", tt.remember, sc)
		}
	}
}

func TestSignin_RateLimitedIs429WithRetryAfter(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	// The account limit: 10 failures an hour, from any addresses.
	for i := range 10 {
		r := e.client(fmt.Sprintf("10.3.0.%d", i+1)).signin("bob", "wrong-password", nil)
		want(t, r, 401, "")
	}
	r := e.client("10.3.1.1").signin("bob", "bob-password", nil)
	want(t, r, 429, "")
	if ra := r.hdr.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if !strings.Contains(r.body, "Too many sign-in attempts") || !strings.Contains(r.body, `role="alert"`) {
		t.Errorf("429 page:\n%s", r.body)
	}
	// The per-address limit: 20 attempts in 3 minutes.
	c := e.client("10.3.2.2")
	for i := range 20 {
		want(t, c.signin(fmt.Sprintf("nobody%d", i), "whatever1", nil), 401, "")
	}
	r = c.signin("someone-else", "whatever1", nil)
	want(t, r, 429, "")
	if !strings.Contains(e.scrape(), `clinch_signins_total{result="rate_limited"} 2`) {
		t.Error("rate-limited sign-ins not counted")
	}
}

func TestSignin_OpenRedirect(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	site := e.srv.URL
	tests := []struct{ rd, loc string }{
		{"", "/"},
		{"/x?y=1", site + "/x?y=1"},
		{site + "/account", site + "/account"},
		{"/signin", "/"},
		{"https://" + appHost + "/p", "https://" + appHost + "/p?fa_token=test"},
		{"https://evil.example/", "/"},
		{"//evil.example/", "/"},
		{"///evil.example/", "/"},
		{`/\evil.example/`, "/"},
		{`\\evil.example`, "/"},
		{"https:/evil.example", "/"},
		{"https://" + appHost + "@evil.example/", "/"},
		{"https://evil.example\\@" + appHost + "/", "/"},
		{"javascript:alert(document.cookie)", "/"},
		{"JavaScript://" + appHost + "/%0aalert(1)", "/"},
		{"data:text/html,<script>alert(1)</script>", "/"},
		{"/\t/evil.example", "/"},
		{" https://evil.example", "/"},
		{"https://evil。example/", "/"},
		{"https://" + appHost + ".evil.example/", "/"},
		{"evil.example", "/"},
	}
	for i, tt := range tests {
		t.Run(tt.rd, func(t *testing.T) {
			c := e.client(fmt.Sprintf("10.4.0.%d", i+1))
			want(t, c.signin("bob", "bob-password", url.Values{"rd": {tt.rd}}), 303, tt.loc)
			// Already signed in, a GET /signin with rd goes straight there.
			want(t, c.get("/signin?rd="+url.QueryEscape(tt.rd)), 303, tt.loc)
		})
	}
}

func TestSignin_FormCarriesReturnURLAndWidensFormAction(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	r := e.client("").get("/signin?rd=" + url.QueryEscape("https://"+appHost+"/p"))
	if !strings.Contains(r.body, `name="rd" value="https://`+appHost+`/p"`) {
		t.Errorf("rd not carried:\n%s", r.body)
	}
	if csp := r.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://"+appHost+";") {
		t.Errorf("CSP %q", csp)
	}
	for _, path := range []string{"/signin", "/signin?rd=" + url.QueryEscape("https://evil.example.com/p")} {
		r = e.client("").get(path)
		if csp := r.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
			t.Errorf("%s: CSP %q widens form-action for a host no app covers", path, csp)
		}
	}
}

func TestSignin_PendingAuthorization(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	c := e.client("10.5.0.1")
	r := c.get("/signin?authz=pa1")
	if !strings.Contains(r.body, `name="authz" value="pa1"`) || !strings.Contains(r.body, "Grafana") {
		t.Errorf("the form does not carry the pending authorization:\n%s", r.body)
	}
	if csp := r.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://grafana.example.com;") {
		t.Errorf("CSP %q blocks the redirect to the client after sign-in", csp)
	}
	// Signing in continues the authorization, not the home page.
	want(t, c.signin("bob", "bob-password", url.Values{"authz": {"pa1"}}), 303, "/oauth/authorize/resume?authz=pa1")
	// Signed in and no fresh sign-in asked: straight on.
	want(t, c.get("/signin?authz=pa1"), 303, "/oauth/authorize/resume?authz=pa1")
	// A fresh sign-in asked: the form again, for the same person.
	req, _ := http.NewRequest("GET", e.srv.URL+"/signin?authz=pa1", nil)
	req.Header.Set("X-Test-Reauth", "1")
	r = c.do(req)
	if r.code != 200 || !strings.Contains(r.body, "enter your password to continue") || !strings.Contains(r.body, "Use another account") {
		t.Fatalf("re-authentication page: %d\n%s", r.code, r.body)
	}
	// An unknown or foreign id: the plain form with a word about it.
	r = e.client("10.5.0.2").get("/signin?authz=stolen")
	if r.code != 200 || strings.Contains(r.body, `name="authz"`) || !strings.Contains(r.body, "expired") {
		t.Fatalf("unknown authz: %d\n%s", r.code, r.body)
	}
}

func TestSignout_ClearsSession(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	c := e.client("10.5.0.1")
	want(t, c.signin("bob", "bob-password", nil), 303, "/")
	token := c.sessionCookie()
	r := c.post("/signout", url.Values{})
	want(t, r, 303, "/signin")
	if c.sessionCookie() != "" {
		t.Error("cookie still in the jar")
	}
	if _, err := e.auth.SessionByToken(context.Background(), token); err == nil {
		t.Error("session still live after sign-out")
	}
	// Replaying the old cookie gets nowhere.
	req, _ := http.NewRequest("GET", e.srv.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: token})
	want(t, e.client("").do(req), 303, "/signin")
}

func TestRevokeSession(t *testing.T) {
	e := newEnv(t)
	bob := e.user("bob@example.com", "bob", "bob-password")
	e.user("eve@example.com", "eve", "eve-password")
	laptop, phone, eve := e.client("10.6.0.1"), e.client("10.6.0.2"), e.client("10.6.0.3")
	for _, c := range []*client{laptop, phone} {
		want(t, c.signin("bob", "bob-password", nil), 303, "/")
	}
	want(t, eve.signin("eve", "eve-password", nil), 303, "/")
	ctx := context.Background()
	phoneSess, _ := e.auth.SessionByToken(ctx, phone.sessionCookie())
	eveSess, _ := e.auth.SessionByToken(ctx, eve.sessionCookie())

	home := laptop.get("/")
	if strings.Count(home.body, "Sign out this device") != 2 || strings.Count(home.body, "This device") != 1 {
		t.Errorf("home should list two sessions, one marked:\n%s", home.body)
	}
	if !strings.Contains(home.body, "/sessions/"+phoneSess.ID+"/revoke") {
		t.Error("no revoke form for the phone")
	}

	// Someone else's session: 404, and it lives on.
	want(t, laptop.post("/sessions/"+eveSess.ID+"/revoke", url.Values{}), 404, "")
	want(t, eve.get("/"), 200, "")

	want(t, laptop.post("/sessions/"+phoneSess.ID+"/revoke", url.Values{}), 303, "/")
	want(t, phone.get("/"), 303, "/signin")
	want(t, laptop.get("/"), 200, "")

	// This device: signed out here too.
	ss, _ := e.auth.UserSessions(ctx, bob.ID)
	if len(ss) != 1 {
		t.Fatalf("%d sessions left, want 1", len(ss))
	}
	want(t, laptop.post("/sessions/"+ss[0].ID+"/revoke", url.Values{}), 303, "/signin")
	want(t, laptop.get("/"), 303, "/signin")
}

func TestDisabledUserIsSignedOut(t *testing.T) {
	e := newEnv(t)
	e.user("admin@example.com", "admin", "admin-password")
	e.user("bob@example.com", "bob", "bob-password")
	c := e.client("10.7.0.1")
	want(t, c.signin("bob", "bob-password", nil), 303, "/")
	if _, err := e.auth.SetStatus(context.Background(), "bob@example.com", auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	want(t, c.get("/"), 303, "/signin")
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	c := e.client("10.8.0.1")
	if c.token("/signin") != c.csrfCookie() {
		t.Fatal("the page's csrf_token differs from the clinch_csrf cookie")
	}
	tests := []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"missing token", url.Values{"csrf_token": {""}}, nil},
		{"wrong token", url.Values{"csrf_token": {strings.Repeat("A", 43)}}, nil},
		{"cross-origin", url.Values{}, map[string]string{"Origin": "https://evil.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{"login": {"bob"}, "password": {"bob-password"}}
			for k, v := range tt.form {
				f[k] = v
			}
			if _, ok := f["csrf_token"]; !ok {
				f.Set("csrf_token", c.token("/signin"))
			}
			req, _ := http.NewRequest("POST", e.srv.URL+"/signin", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			r := c.do(req)
			want(t, r, 403, "")
			if c.sessionCookie() != "" {
				t.Error("signed in despite the refused form")
			}
		})
	}
	// The same form with the token and our own Origin works.
	f := url.Values{"login": {"bob"}, "password": {"bob-password"}, "csrf_token": {c.token("/signin")}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/signin", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	want(t, c.do(req), 303, "/")
}

func TestHealthReadyStaticAnd404(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	c := e.client("")
	if r := c.get("/healthz"); r.code != 200 || strings.TrimSpace(r.body) != "ok" {
		t.Errorf("healthz %d %q", r.code, r.body)
	}
	want(t, c.get("/readyz"), 200, "")

	r := c.get("/static/clinch.css")
	if r.code != 200 || !strings.HasPrefix(r.hdr.Get("Content-Type"), "text/css") || r.hdr.Get("ETag") == "" ||
		!strings.Contains(r.body, "prefers-color-scheme: dark") {
		t.Errorf("css: %d %v", r.code, r.hdr)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/static/clinch.css", nil)
	req.Header.Set("If-None-Match", r.hdr.Get("ETag"))
	want(t, c.do(req), 304, "")
	want(t, c.get("/static/nope.js"), 404, "")

	nf := c.get("/no/such/page")
	if nf.code != 404 || !strings.Contains(nf.body, "Page not found") || !strings.Contains(nf.body, "<html") {
		t.Errorf("404 page: %d\n%s", nf.code, nf.body)
	}
	signin := c.get("/signin")
	if signin.hdr.Get("Cache-Control") != "no-store" || !strings.Contains(signin.hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("headers %v", signin.hdr)
	}
	// The one script is passkey.js, from /static, with nothing inline.
	scripts := regexp.MustCompile(`<script[^>]*>[^<]*</script>`).FindAllString(signin.body, -1)
	if strings.Count(signin.body, "<script") != 1 || len(scripts) != 1 ||
		!regexp.MustCompile(`^<script src="/static/passkey\.js\?v=[0-9a-f]+" defer></script>$`).MatchString(scripts[0]) {
		t.Errorf("pages must carry no script but /static/passkey.js, and nothing inline: %q", scripts)
	}
	if strings.Contains(signin.body, "style=") || regexp.MustCompile(`\son[a-z]+=`).MatchString(signin.body) {
		t.Error("pages must carry no inline style or event handler")
	}
	css := regexp.MustCompile(`href="(/static/clinch\.css\?v=[^"]+)"`).FindStringSubmatch(signin.body)
	if css == nil {
		t.Fatal("page does not link the stylesheet")
	}
	if r := c.get(css[1]); !strings.Contains(r.hdr.Get("Cache-Control"), "immutable") {
		t.Errorf("versioned css Cache-Control %q", r.hdr.Get("Cache-Control"))
	}

	e.store.Close()
	want(t, c.get("/readyz"), 503, "")
}

func TestSignin_HugeLoginGetsAClearMessageAndIsNotEchoed(t *testing.T) {
	e := newEnv(t)
	e.user("bob@example.com", "bob", "bob-password")
	long := strings.Repeat("p", 300)
	r := e.client("10.6.0.1").signin(long, "whatever-password", nil)
	if r.code != http.StatusBadRequest || !strings.Contains(r.body, "longer than 254 characters") || strings.Contains(r.body, long) {
		t.Fatalf("got %d\n%s", r.code, r.body)
	}
}
