package oidc

import (
	"errors"
	"fmt"
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
	b := f.browser(false)
	u := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(f.app, nil).Encode()))
	id := u.Query().Get(PendingParam)
	if u.Path != "/signin" || id == "" || len(u.Query()) != 1 {
		t.Fatalf("went to %s, want /signin?authz=ID and nothing else", u)
	}
	step, err := f.p.SignInStep(b.request("GET", u.String(), nil), id)
	if err != nil || step.AppName != "Wiki" || step.Reauth || step.FormAction != "https://app.example.com" ||
		step.Continue != "http://localhost:3000"+PathResume+"?authz="+id {
		t.Fatalf("step %+v, %v", step, err)
	}
	// The id is bound to the browser that started the request.
	if _, err := f.p.SignInStep(f.browser(false).request("GET", u.String(), nil), id); !errors.Is(err, ErrNoPending) {
		t.Fatalf("another browser used the pending id: %v", err)
	}
	// After signing in, resuming issues the code to the registered URI.
	b.signIn()
	if got := location(t, b.get(PathResume+"?authz="+id)); got.Query().Get("code") == "" || got.Host != "app.example.com" {
		t.Fatalf("resume: %s", got)
	}
	// Single use.
	if w := b.get(PathResume + "?authz=" + id); w.Code != http.StatusBadRequest {
		t.Fatalf("second resume: %d", w.Code)
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
	b := f.browser(true)
	f.now = f.now.Add(time.Minute)
	u := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(f.app, func(q url.Values) { q.Set("prompt", "login") }).Encode()))
	id := u.Query().Get(PendingParam)
	if u.Path != "/signin" || id == "" {
		t.Fatalf("prompt=login with a session went to %s", u)
	}
	if step, err := f.p.SignInStep(b.request("GET", "/signin", nil), id); err != nil || !step.Reauth {
		t.Fatalf("the sign-in page is not told to ask again: %+v %v", step, err)
	}
	// Coming back with the same old session: back to sign-in, never a code.
	if got := location(t, b.get(PathResume+"?authz="+id)); got.Path != "/signin" || got.Query().Get("code") != "" {
		t.Fatalf("old session came back: %s", got)
	}
	// After a real sign-in the request goes through, with the new auth_time.
	f.now = f.now.Add(time.Second)
	b.signIn()
	got := location(t, b.get(PathResume+"?authz="+id))
	code := got.Query().Get("code")
	if code == "" {
		t.Fatalf("fresh session: %s", got)
	}
	res := f.exchange(code, testVerifier)
	if at := authTime(t, res.str("id_token")); at != f.now.Unix() {
		t.Errorf("auth_time %d, want the re-authentication at %d", at, f.now.Unix())
	}
}

// The old clinch_reauth parameter let a client claim the re-authentication
// had happened. Nothing in the request can say so now.
func TestAuthorize_ClientCannotClaimReauthentication(t *testing.T) {
	f := newFixture(t)
	b := f.browser(true)
	f.now = f.now.Add(time.Minute)
	for _, mod := range []func(url.Values){
		func(q url.Values) {
			q.Set("prompt", "login")
			q.Set("clinch_reauth", strconv.FormatInt(f.now.Unix()+60, 10))
		},
		func(q url.Values) { q.Set("max_age", "0"); q.Set("clinch_reauth", strconv.FormatInt(f.now.Unix(), 10)) },
		func(q url.Values) { q.Set("max_age", "0"); q.Set("authz", "made-up") },
	} {
		u := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(f.app, mod).Encode()))
		if u.Path != "/signin" || u.Query().Get("code") != "" {
			t.Fatalf("went to %s without a sign-in", u)
		}
	}
}

func TestAuthorize_MaxAge(t *testing.T) {
	f := newFixture(t)
	b := f.browser(true)
	f.now = f.now.Add(2 * time.Hour)
	for _, age := range []string{"3600", "0"} {
		u := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(f.app, func(q url.Values) { q.Set("max_age", age) }).Encode()))
		if u.Path != "/signin" {
			t.Fatalf("max_age=%s with a 2 h old session went to %s", age, u)
		}
	}
	// A session younger than max_age is enough.
	u := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(f.app, func(q url.Values) { q.Set("max_age", "86400") }).Encode()))
	if u.Query().Get("code") == "" {
		t.Fatalf("max_age=86400: %s", u)
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
	b := f.browser(true)
	w := b.get(PathAuthorize + "?" + f.authorizeQuery(app, nil).Encode())
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, `value="allow"`) || !strings.Contains(body, "email_verified") {
		t.Fatalf("consent page: %d %s", w.Code, body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com;") {
		t.Errorf("CSP %q does not let the form redirect to the client", csp)
	}
	if strings.Contains(body, "no-referrer") {
		t.Error("the page sets no-referrer, which makes Chromium send Origin: null on its form")
	}
	// prompt=none without consent: consent_required, no page.
	u := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(app, func(q url.Values) { q.Set("prompt", "none") }).Encode()))
	if u.Query().Get("error") != ErrConsentRequired {
		t.Fatalf("prompt=none: %s", u)
	}
	if u := location(t, b.consent(body, "deny")); u.Query().Get("error") != ErrAccessDenied || u.Query().Get("state") != "st" {
		t.Fatalf("deny: %s", u)
	}
	// Deny remembers nothing: the next request asks again.
	w = b.get(PathAuthorize + "?" + f.authorizeQuery(app, nil).Encode())
	if w.Code != 200 || !strings.Contains(w.Body.String(), `value="allow"`) {
		t.Fatalf("after deny: %d, want the consent page again", w.Code)
	}
	u = location(t, b.consent(w.Body.String(), "allow"))
	code := u.Query().Get("code")
	if code == "" {
		t.Fatalf("allow: %s", u)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
	if res := f.post(PathToken, form, app.ClientID, secret); res.status != 200 {
		t.Fatalf("exchange after consent: %v", res.body)
	}
	// Remembered: no page the second time.
	if u := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(app, nil).Encode())); u.Query().Get("code") == "" {
		t.Fatalf("consent not remembered: %s", u)
	}
	// prompt=consent asks again.
	if w := b.get(PathAuthorize + "?" + f.authorizeQuery(app, func(q url.Values) { q.Set("prompt", "consent") }).Encode()); w.Code != 200 {
		t.Fatalf("prompt=consent: %d", w.Code)
	}
}

// The consent form used to echo every authorize parameter: a decision
// planted in the URL, or a second one in the body, turned Deny into Allow,
// and a redirect_uri in the body skipped its check.
func TestConsent_DecisionAndParametersCannotBeInjected(t *testing.T) {
	f := newFixture(t)
	app, _ := f.newApp(auth.AppInput{Name: "Needs consent"})
	b := f.browser(true)
	page := b.get(PathAuthorize + "?" + f.authorizeQuery(app, func(q url.Values) { q.Set("decision", "allow") }).Encode()).Body.String()
	id := hiddenValue(page, PendingParam)
	if id == "" {
		t.Fatalf("no pending id in the consent page: %s", page)
	}
	for _, name := range []string{"client_id", "redirect_uri", "scope", "state", "code_challenge", "decision\" value"} {
		if strings.Contains(page, `name="`+name+`"`) {
			t.Errorf("the consent form carries %s", name)
		}
	}
	for what, req := range map[string]*http.Request{
		"decision in the URL": b.request("POST", PathConsent+"?decision=allow", url.Values{PendingParam: {id}, "decision": {"deny"}}),
		"repeated decision":   b.request("POST", PathConsent, url.Values{PendingParam: {id}, "decision": {"deny", "allow"}}),
		"no decision":         b.request("POST", PathConsent, url.Values{PendingParam: {id}}),
	} {
		if w := f.do(req); w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
			t.Errorf("%s: %d %q, want 400 and no redirect", what, w.Code, w.Header().Get("Location"))
		}
	}
	// Extra parameters in the body change nothing: the stored request wins.
	w := f.do(b.request("POST", PathConsent, url.Values{PendingParam: {id}, "decision": {"allow"},
		"redirect_uri": {"https://evil.example.com/cb"}, "scope": {"openid admin"}, "state": {"x"}}))
	u := location(t, w)
	if u.Host != "app.example.com" || u.Query().Get("state") != "st" || u.Query().Get("code") == "" {
		t.Fatalf("allow with injected fields went to %s", u)
	}
	// Another browser cannot use the id, nor a session of another user.
	if w := f.do(f.browser(true).request("POST", PathConsent, url.Values{PendingParam: {id}, "decision": {"allow"}})); w.Header().Get("Location") != "" {
		t.Fatalf("another browser's consent redirected to %s", w.Header().Get("Location"))
	}
}

func TestConsent_SignedOutOrOtherUserStartsOver(t *testing.T) {
	f := newFixture(t)
	app, _ := f.newApp(auth.AppInput{Name: "Needs consent"})
	b := f.browser(true)
	page := b.get(PathAuthorize + "?" + f.authorizeQuery(app, nil).Encode()).Body.String()
	bob, err := f.svc.CreateUser(f.ctx, auth.NewUser{Email: "bob@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := f.svc.StartSession(f.ctx, bob, "127.0.0.1", "test", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	b.cookies[web.SessionCookie] = tok
	w := b.consent(page, "allow")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "bob@example.com") {
		t.Fatalf("bob's session decided on ada's page: %d %s", w.Code, w.Header().Get("Location"))
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
			`"response_types_supported":["code"]`, `"subject_types_supported":["pairwise"]`,
			`"acr_values_supported":["1","2"]`, `"acr","amr"`} {
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
	b := f.browser(true)
	idt := b.idToken(app, secret)
	end := func(c *browser, q url.Values) *httptest.ResponseRecorder {
		return c.get(PathEndSession + "?" + q.Encode())
	}
	if w := end(b, url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example.com/"}}); w.Header().Get("Location") != "" {
		t.Fatal("unregistered post_logout_redirect_uri was followed")
	}
	// Without a hint: a confirmation form, the session lives on.
	w := end(b, url.Values{"client_id": {app.ClientID}, "post_logout_redirect_uri": {"https://app.example.com/bye"}})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `action="`+PathEndSessionDone+`"`) {
		t.Fatalf("no hint: %d %s", w.Code, w.Body.String())
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com;") {
		t.Errorf("confirmation CSP %q blocks the redirect after it", csp)
	}
	if _, err := f.svc.SessionByToken(f.ctx, b.cookies[web.SessionCookie]); err != nil {
		t.Fatal("session ended without id_token_hint")
	}
	tok := b.cookies[web.SessionCookie]
	u := location(t, end(b, url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://app.example.com/bye"}, "state": {"s1"}}))
	if u.String() != "https://app.example.com/bye?state=s1" {
		t.Fatalf("redirect %s", u)
	}
	if _, err := f.svc.SessionByToken(f.ctx, tok); err == nil {
		t.Fatal("session still alive after end_session")
	}
	if _, ok := b.cookies[web.SessionCookie]; ok {
		t.Error("the session cookie was not cleared")
	}
}

// oauth2-proxy's --backend-logout-url and Immich call end_session from
// their server, with the ID token and without the browser's cookie.
func TestEndSession_ServerToServerHintEndsTheSession(t *testing.T) {
	f := newFixture(t)
	app, secret := f.newApp(auth.AppInput{Name: "Proxy", SkipConsent: true})
	b := f.browser(true)
	idt := b.idToken(app, secret)
	other := f.browser(true) // a second session of the same user lives on
	w := f.do(httptest.NewRequest("GET", PathEndSession+"?id_token_hint="+url.QueryEscape(idt), nil))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	if _, err := f.svc.SessionByToken(f.ctx, b.cookies[web.SessionCookie]); err == nil {
		t.Fatal("the session the ID token names is still alive")
	}
	if _, err := f.svc.SessionByToken(f.ctx, other.cookies[web.SessionCookie]); err != nil {
		t.Fatal("another session of the user ended too")
	}
	// A confirmation POST ends the browser's own session.
	page := other.get(PathEndSession).Body.String()
	if w := other.postForm(PathEndSessionDone, page, nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "signed out") {
		t.Fatalf("confirm: %d %s", w.Code, w.Body.String())
	}
	if _, err := f.svc.SessionByToken(f.ctx, other.cookies[web.SessionCookie]); err == nil {
		t.Fatal("confirmed sign-out left the session alive")
	}
}

// An app that requires a second factor, or acr_values=2, never gets a code
// for a password-only session: the person goes through the step-up first,
// and prompt=none answers interaction_required.
func TestAuthorize_SecondFactorRequired(t *testing.T) {
	f := newFixture(t)
	strict, secret := f.newApp(auth.AppInput{Name: "Strict", SkipConsent: true, RequireSecondFactor: true})
	tests := []struct {
		name string
		app  *auth.App
		mod  func(url.Values)
	}{
		{"app requires it", strict, nil},
		{"acr_values=2", f.app, func(q url.Values) { q.Set("acr_values", "2") }},
		{"acr_values lists 2 among others", f.app, func(q url.Values) { q.Set("acr_values", "1 2") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := f.browser(true) // acr "1": a password only
			u := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(tt.app, tt.mod).Encode()))
			if u.Path != StepUpPath || u.Query().Get(PendingParam) == "" {
				t.Fatalf("a password-only session went to %s, want the step-up page", u)
			}
			id := u.Query().Get(PendingParam)
			// Resuming with the same session does not get a code either.
			if got := location(t, b.get(PathResume+"?authz="+id)); got.Path != StepUpPath {
				t.Fatalf("resume with acr 1 went to %s", got)
			}
			none := func(q url.Values) {
				if tt.mod != nil {
					tt.mod(q)
				}
				q.Set("prompt", "none")
			}
			if got := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(tt.app, none).Encode())); got.Query().Get("error") != ErrInteractionRequired {
				t.Fatalf("prompt=none: %s", got)
			}
			// After the second factor (a new session with acr 2) it resumes.
			_, tok, err := f.svc.StartSession(f.ctx, f.user, "127.0.0.1", "test", false, "2", []string{"pwd", "otp"})
			if err != nil {
				t.Fatal(err)
			}
			b.cookies[web.SessionCookie] = tok
			got := location(t, b.get(PathResume+"?authz="+id))
			if got.Query().Get("code") == "" {
				t.Fatalf("acr 2 session: %s", got)
			}
			if tt.app == strict {
				form := url.Values{"grant_type": {"authorization_code"}, "code": {got.Query().Get("code")}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
				res := f.post(PathToken, form, strict.ClientID, secret)
				c := claimsOf(t, res.str("id_token"))
				if c["acr"] != "2" || fmt.Sprint(c["amr"]) != "[pwd otp]" {
					t.Errorf("ID token acr %v amr %v", c["acr"], c["amr"])
				}
			}
		})
	}
}

// A pending authorization lives pendingTTL: a person who comes back from
// the sign-in page later than that starts again at the application,
// rather than sending it a code for a request it has long given up on.
func TestAuthorize_PendingAuthorizationExpires(t *testing.T) {
	f := newFixture(t)
	b := f.browser(false)
	u := location(t, b.get(PathAuthorize+"?"+f.authorizeQuery(f.app, nil).Encode()))
	id := u.Query().Get(PendingParam)
	if id == "" {
		t.Fatalf("went to %s, want /signin?authz=ID", u)
	}
	f.now = f.now.Add(pendingTTL + time.Second)
	b.signIn()
	if _, err := f.p.SignInStep(b.request("GET", u.String(), nil), id); !errors.Is(err, ErrNoPending) {
		t.Fatalf("the sign-in page still continues an expired authorization: %v", err)
	}
	w := b.get(PathResume + "?authz=" + id)
	if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "expired") {
		t.Fatalf("resume after %s: %d %q", pendingTTL, w.Code, w.Header().Get("Location"))
	}
}

// end_session takes POST as well as GET (RP-Initiated Logout §2): a form
// the RP's page posts, or its server's call, with the hint in the body.
func TestEndSession_PostWithHint(t *testing.T) {
	f := newFixture(t)
	app, secret := f.newApp(auth.AppInput{Name: "Logout", SkipConsent: true, PostLogoutRedirectURIs: []string{"https://app.example.com/bye"}})
	b := f.browser(true)
	tok := b.cookies[web.SessionCookie]
	idt := b.idToken(app, secret)
	u := location(t, b.do(b.request("POST", PathEndSession, url.Values{"id_token_hint": {idt},
		"post_logout_redirect_uri": {"https://app.example.com/bye"}, "state": {"p1"}})))
	if u.String() != "https://app.example.com/bye?state=p1" {
		t.Fatalf("POST end_session went to %s", u)
	}
	if _, err := f.svc.SessionByToken(f.ctx, tok); err == nil {
		t.Fatal("the session the hint names is alive after POST end_session")
	}
	// From the RP's server: no cookie, the hint in the body.
	c := f.browser(true)
	tok = c.cookies[web.SessionCookie]
	idt = c.idToken(app, secret)
	r := httptest.NewRequest("POST", PathEndSession, strings.NewReader(url.Values{"id_token_hint": {idt}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w := f.do(r); w.Code != http.StatusOK {
		t.Fatalf("server-to-server POST: %d", w.Code)
	}
	if _, err := f.svc.SessionByToken(f.ctx, tok); err == nil {
		t.Fatal("the session the hint names is alive after a server-to-server POST")
	}
}
