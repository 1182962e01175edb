package oidc

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

func TestAuthorize_RedirectURIMismatch(t *testing.T) {
	f := newFixture(t)
	for _, uri := range []string{
		"https://evil.example.com/cb",
		testRedirect + "/extra",
		testRedirect + "?x=1",
		"https://app.example.com/c",
		strings.ToUpper(testRedirect),
		"",
	} {
		w := f.authorize(f.authorizeQuery(f.app, func(q url.Values) { q.Set("redirect_uri", uri) }), true)
		if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
			t.Errorf("redirect_uri %q: status %d, Location %q; want an error page and no redirect", uri, w.Code, w.Header().Get("Location"))
		}
	}
}

func TestAuthorize_UnknownClientShowsPageNotRedirect(t *testing.T) {
	f := newFixture(t)
	w := f.authorize(f.authorizeQuery(f.app, func(q url.Values) { q.Set("client_id", "nope") }), true)
	if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
		t.Fatalf("status %d Location %q", w.Code, w.Header().Get("Location"))
	}
}

func TestAuthorize_RepeatedParameter(t *testing.T) {
	f := newFixture(t)
	// A second redirect_uri must not be honoured by any part of the code.
	q := f.authorizeQuery(f.app, func(q url.Values) { q.Add("redirect_uri", "https://evil.example.com/cb") })
	if w := f.authorize(q, true); w.Header().Get("Location") != "" {
		t.Fatalf("redirected to %q", w.Header().Get("Location"))
	}
	q = f.authorizeQuery(f.app, func(q url.Values) { q.Add("scope", "openid") })
	if u := location(t, f.authorize(q, true)); u.Query().Get("error") != ErrInvalidRequest {
		t.Fatalf("repeated scope: %s", u)
	}
}

func TestAuthorize_ErrorsCarryStateAndIssuer(t *testing.T) {
	f := newFixture(t)
	cases := map[string]func(url.Values){
		ErrUnsupportedResponseType: func(q url.Values) { q.Set("response_type", "token") },
		ErrInvalidRequest:          func(q url.Values) { q.Set("max_age", "-1") },
		ErrRequestNotSupported:     func(q url.Values) { q.Set("request", "eyJ") },
	}
	for want, mod := range cases {
		u := location(t, f.authorize(f.authorizeQuery(f.app, mod), true))
		q := u.Query()
		if q.Get("error") != want || q.Get("state") != "st" || q.Get("iss") != "http://localhost:3000" || u.Host != "app.example.com" {
			t.Errorf("%s: got %s", want, u)
		}
	}
}

func TestAuthorize_NotSignedInGoesToSignIn(t *testing.T) {
	f := newFixture(t)
	u := location(t, f.authorize(f.authorizeQuery(f.app, nil), false))
	if u.Path != "/signin" {
		t.Fatalf("went to %s", u)
	}
	rd, err := url.Parse(u.Query().Get("rd"))
	if err != nil || rd.Host != "localhost:3000" || rd.Path != PathAuthorize || rd.Query().Get("client_id") != f.app.ClientID {
		t.Fatalf("rd = %q", u.Query().Get("rd"))
	}
	if _, ok := web.ParseReturnURL(f.p.site, u.Query().Get("rd")); !ok {
		t.Error("rd is not a return URL the sign-in page accepts")
	}
}

func TestAuthorize_PromptNoneWithoutSession(t *testing.T) {
	f := newFixture(t)
	u := location(t, f.authorize(f.authorizeQuery(f.app, func(q url.Values) { q.Set("prompt", "none") }), false))
	if u.Host != "app.example.com" || u.Query().Get("error") != ErrLoginRequired {
		t.Fatalf("got %s", u)
	}
}

func TestAuthorize_PromptLoginForcesFreshSignIn(t *testing.T) {
	f := newFixture(t)
	f.now = f.now.Add(time.Minute)
	u := location(t, f.authorize(f.authorizeQuery(f.app, func(q url.Values) { q.Set("prompt", "login") }), true))
	if u.Path != "/signin" {
		t.Fatalf("prompt=login with a session went to %s", u)
	}
	rd, _ := url.Parse(u.Query().Get("rd"))
	// Coming back with the same old session: an error, never a loop.
	r := httptest.NewRequest("GET", rd.RequestURI(), nil)
	r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: f.cookie})
	if u := location(t, f.do(r)); u.Query().Get("error") != ErrLoginRequired {
		t.Fatalf("old session came back: %s", u)
	}
	// After a real sign-in the request goes through.
	_, tok, err := f.svc.StartSession(f.ctx, f.user, "127.0.0.1", "test", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	r = httptest.NewRequest("GET", rd.RequestURI(), nil)
	r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: tok})
	if u := location(t, f.do(r)); u.Query().Get("code") == "" {
		t.Fatalf("fresh session: %s", u)
	}
}

func TestAuthorize_MaxAge(t *testing.T) {
	f := newFixture(t)
	f.now = f.now.Add(2 * time.Hour)
	u := location(t, f.authorize(f.authorizeQuery(f.app, func(q url.Values) { q.Set("max_age", "3600") }), true))
	if u.Path != "/signin" || !strings.Contains(u.Query().Get("rd"), reauthParam+"="+strconv.FormatInt(f.now.Unix(), 10)) {
		t.Fatalf("stale session with max_age went to %s", u)
	}
}

func TestAuthorize_NotInAllowedGroup(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.CreateGroup(f.ctx, "admins", "", ""); err != nil {
		t.Fatal(err)
	}
	app, _ := f.newApp(auth.AppInput{Name: "Admin only", AllowedGroups: []string{"admins"}})
	w := f.authorize(f.authorizeQuery(app, nil), true)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "do not have permission") {
		t.Fatalf("status %d body %s", w.Code, w.Body.String())
	}
	if strings.Contains(w.Body.String(), "Allow") {
		t.Error("consent shown to a user who may not use the app")
	}
}

func TestAuthorize_ConsentIsAskedRememberedAndReasked(t *testing.T) {
	f := newFixture(t)
	app, secret := f.newApp(auth.AppInput{Name: "Needs consent"})
	w := f.authorize(f.authorizeQuery(app, nil), true)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `value="allow"`) || !strings.Contains(body, "email_verified") {
		t.Fatalf("consent page: %d %s", w.Code, body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com") {
		t.Errorf("CSP %q does not let the form redirect to the client", csp)
	}
	// prompt=none without consent: consent_required, no page.
	u := location(t, f.authorize(f.authorizeQuery(app, func(q url.Values) { q.Set("prompt", "none") }), true))
	if u.Query().Get("error") != ErrConsentRequired {
		t.Fatalf("prompt=none: %s", u)
	}
	consent := func(decision string, q url.Values) *httptest.ResponseRecorder {
		form := url.Values{}
		for k, v := range q {
			form[k] = v
		}
		form.Set("decision", decision)
		r := httptest.NewRequest("POST", PathConsent, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: f.cookie})
		return f.do(r)
	}
	if u := location(t, consent("deny", f.authorizeQuery(app, nil))); u.Query().Get("error") != ErrAccessDenied || u.Query().Get("state") != "st" {
		t.Fatalf("deny: %s", u)
	}
	u = location(t, consent("allow", f.authorizeQuery(app, nil)))
	code := u.Query().Get("code")
	if code == "" {
		t.Fatalf("allow: %s", u)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	if res := f.post(PathToken, form, app.ClientID, secret); res.status != 200 {
		t.Fatalf("exchange after consent: %v", res.body)
	}
	// Remembered: no page the second time.
	if u := location(t, f.authorize(f.authorizeQuery(app, nil), true)); u.Query().Get("code") == "" {
		t.Fatalf("consent not remembered: %s", u)
	}
	// prompt=consent asks again.
	if w := f.authorize(f.authorizeQuery(app, func(q url.Values) { q.Set("prompt", "consent") }), true); w.Code != 200 {
		t.Fatalf("prompt=consent: %d", w.Code)
	}
}

func TestAuthorize_ConsentCannotSkipRedirectValidation(t *testing.T) {
	f := newFixture(t)
	q := f.authorizeQuery(f.app, func(q url.Values) { q.Set("redirect_uri", "https://evil.example.com/cb") })
	q.Set("decision", "allow")
	r := httptest.NewRequest("POST", PathConsent, strings.NewReader(q.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: f.cookie})
	if w := f.do(r); w.Header().Get("Location") != "" {
		t.Fatalf("consent POST redirected to %q", w.Header().Get("Location"))
	}
}

func TestDiscovery_AdvertisesWhatIsImplemented(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{PathDiscovery, PathASMetadata} {
		w := f.do(httptest.NewRequest("GET", path, nil))
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s: %d", path, w.Code)
		}
		for _, want := range []string{`"issuer":"http://localhost:3000"`, `"code_challenge_methods_supported":["S256"]`,
			`"response_types_supported":["code"]`, `"subject_types_supported":["pairwise"]`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s", path, want)
			}
		}
		for _, never := range []string{"plain", "implicit", "id_token token", "password"} {
			if strings.Contains(body, `"`+never+`"`) {
				t.Errorf("%s advertises %q", path, never)
			}
		}
	}
}

func TestEndSession(t *testing.T) {
	f := newFixture(t)
	app, secret := f.newApp(auth.AppInput{Name: "Logout", SkipConsent: true, PostLogoutRedirectURIs: []string{"https://app.example.com/bye"}})
	code := f.code(app, nil)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	res := f.post(PathToken, form, app.ClientID, secret)
	idt := res.str("id_token")
	end := func(q url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", PathEndSession+"?"+q.Encode(), nil)
		r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: f.cookie})
		return f.do(r)
	}
	if w := end(url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example.com/"}}); w.Header().Get("Location") != "" {
		t.Fatal("unregistered post_logout_redirect_uri was followed")
	}
	// Without a hint: a confirmation form, the session lives on.
	if w := end(url.Values{}); w.Code != 200 || !strings.Contains(w.Body.String(), `action="/signout"`) {
		t.Fatalf("no hint: %d", w.Code)
	}
	if _, err := f.svc.SessionByToken(f.ctx, f.cookie); err != nil {
		t.Fatal("session ended without id_token_hint")
	}
	u := location(t, end(url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://app.example.com/bye"}, "state": {"s1"}}))
	if u.String() != "https://app.example.com/bye?state=s1" {
		t.Fatalf("redirect %s", u)
	}
	if _, err := f.svc.SessionByToken(f.ctx, f.cookie); err == nil {
		t.Fatal("session still alive after end_session")
	}
}
