package ui

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/passkeytest"
	"github.com/clinchsso/clinch/web"
)

// begin posts to a ceremony's begin URL as passkey.js does (JSON, the
// X-CSRF-Token header) and returns the answer.
func (c *client) begin(path string) (resp, *auth.PasskeyChallenge) {
	c.e.t.Helper()
	return c.beginWith(path, "{}")
}

// beginWith is begin with a JSON body of its own.
func (c *client) beginWith(path, body string) (resp, *auth.PasskeyChallenge) {
	c.e.t.Helper()
	req, _ := http.NewRequest("POST", c.e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(web.CSRFHeader, c.csrfCookie())
	r := c.do(req)
	if r.code != http.StatusOK {
		return r, nil
	}
	var ch auth.PasskeyChallenge
	if err := json.Unmarshal([]byte(r.body), &ch); err != nil || ch.Ceremony == "" || len(ch.Options) == 0 {
		c.e.t.Fatalf("POST %s answered %q (%v)", path, r.body, err)
	}
	return r, &ch
}

// passwordBody is the begin request's JSON body with the password.
func passwordBody(password string) string {
	b, _ := json.Marshal(map[string]string{"password": password})
	return string(b)
}

// addPasskey registers a passkey on key for the signed-in client, as the
// passkeys page does (with the password the client signed in with), and
// returns the answer to the form.
func (c *client) addPasskey(key *passkeytest.Authenticator, name string) resp {
	c.e.t.Helper()
	r, ch := c.beginWith("/account/passkeys/begin", passwordBody(c.password))
	if ch == nil {
		c.e.t.Fatalf("begin registration: %d %s", r.code, r.body)
	}
	cred, err := key.Create(ch.Options, passkeytest.Answer{})
	if err != nil {
		c.e.t.Fatal(err)
	}
	return c.post("/account/passkeys", url.Values{"ceremony": {ch.Ceremony}, "credential": {string(cred)}, "name": {name}})
}

// passkeySignIn signs in with key, as the sign-in page does, with the
// page's extra fields (rd, authz, remember).
func (c *client) passkeySignIn(key *passkeytest.Authenticator, ans passkeytest.Answer, extra url.Values) resp {
	c.e.t.Helper()
	c.get("/signin")
	r, ch := c.begin("/signin/passkey/begin")
	if ch == nil {
		c.e.t.Fatalf("begin passkey sign-in: %d %s", r.code, r.body)
	}
	cred, err := key.Get(ch.Options, ans)
	if err != nil {
		c.e.t.Fatal(err)
	}
	f := url.Values{"ceremony": {ch.Ceremony}, "credential": {string(cred)}}
	for k, v := range extra {
		f[k] = v
	}
	return c.post("/signin/passkey", f)
}

func passkeyIDs(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`action="/account/passkeys/([^/"]+)/delete"`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// A person adds a passkey, sees it listed, signs in with it alone in
// another browser (acr 2, amr hwk+user), renames it, deletes it, and it
// signs nobody in any more.
func TestPasskeys_AddListSignInRenameDelete(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	key := &passkeytest.Authenticator{Origin: e.srv.URL}
	c := e.client("10.20.0.1")
	want(t, c.signin("ann", "ann-password", nil), 303, "/")
	home := c.get("/")
	if !strings.Contains(home.body, `href="/account/passkeys"`) {
		t.Fatalf("the home page does not link the passkeys page:\n%s", home.body)
	}
	page := c.get("/account/passkeys")
	want(t, page, 200, "")
	for _, s := range []string{"You have no passkeys yet", `data-passkey="create"`, `<script src="/static/passkey.js?v=`} {
		if !strings.Contains(page.body, s) {
			t.Errorf("passkeys page lacks %s", s)
		}
	}

	want(t, c.addPasskey(key, "Ann's phone"), 303, "/account/passkeys?done=added")
	page = c.get("/account/passkeys?done=added")
	for _, s := range []string{"Passkey added", "Ann&#39;s phone", "Last used</dt><dd>never"} {
		if !strings.Contains(page.body, s) {
			t.Errorf("after adding, the page lacks %q:\n%s", s, page.body)
		}
	}
	ids := passkeyIDs(page.body)
	if len(ids) != 1 {
		t.Fatalf("passkeys listed: %v", ids)
	}

	other := e.client("10.20.0.2")
	r := other.passkeySignIn(key, passkeytest.Answer{}, url.Values{"remember": {"1"}})
	want(t, r, 303, "/")
	sess, err := e.auth.SessionByToken(context.Background(), other.sessionCookie())
	if err != nil || sess.ACR != "2" || strings.Join(sess.AMR, ",") != "hwk,user" || !sess.Remember {
		t.Fatalf("passkey session = %+v, %v; want acr 2, amr hwk,user, remembered", sess, err)
	}
	page = c.get("/account/passkeys")
	if !strings.Contains(page.body, "10.20.0.2") || strings.Contains(page.body, "Last used</dt><dd>never") {
		t.Errorf("the last use is not shown:\n%s", page.body)
	}

	want(t, c.post("/account/passkeys/"+ids[0]+"/rename", url.Values{"name": {"Work laptop"}}), 303, "/account/passkeys?done=renamed")
	if r := c.post("/account/passkeys/"+ids[0]+"/rename", url.Values{"name": {strings.Repeat("x", 65)}}); r.code != 400 || !strings.Contains(r.body, "longer than 64") {
		t.Errorf("a long name: %d", r.code)
	}
	if page = c.get("/account/passkeys"); !strings.Contains(page.body, "Work laptop") {
		t.Error("rename not shown")
	}

	want(t, c.post("/account/passkeys/"+ids[0]+"/delete", url.Values{}), 303, "/account/passkeys?done=deleted")
	if page = c.get("/account/passkeys?done=deleted"); !strings.Contains(page.body, "Passkey deleted") || len(passkeyIDs(page.body)) != 0 {
		t.Errorf("after deleting:\n%s", page.body)
	}
	// The audit trail says ann removed it herself.
	if p, err := e.audit.List(context.Background(), audit.Filter{Kind: audit.PasskeyRemoved}); err != nil || len(p.Events) != 1 ||
		p.Events[0].Subject == "" || p.Events[0].Actor != p.Events[0].Subject || p.Events[0].Detail["passkey"] != ids[0] {
		t.Errorf("passkey removal recorded as %+v, %v; want ann as actor and subject", p.Events, err)
	}
	third := e.client("10.20.0.3")
	r = third.passkeySignIn(key, passkeytest.Answer{}, nil)
	if r.code != 401 || !strings.Contains(r.body, "That passkey did not sign you in") || third.sessionCookie() != "" {
		t.Fatalf("deleted passkey: %d\n%s", r.code, r.body)
	}
}

// Deleting or renaming someone else's passkey answers exactly like a
// passkey that does not exist, and changes nothing.
func TestPasskeys_SomeoneElsesIDAnswersLikeAMissingOne(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	e.user("bob@example.com", "bob", "bob-password")
	ann := e.client("10.21.0.1")
	want(t, ann.signin("ann", "ann-password", nil), 303, "/")
	want(t, ann.addPasskey(&passkeytest.Authenticator{Origin: e.srv.URL}, "ann's"), 303, "/account/passkeys?done=added")
	annsID := passkeyIDs(ann.get("/account/passkeys").body)[0]

	bob := e.client("10.21.0.2")
	want(t, bob.signin("bob", "bob-password", nil), 303, "/")
	for _, action := range []string{"delete", "rename"} {
		form := url.Values{"name": {"bob's now"}}
		missing := bob.post("/account/passkeys/no-such-passkey/"+action, form)
		others := bob.post("/account/passkeys/"+annsID+"/"+action, form)
		if missing.code != http.StatusNotFound || others.code != missing.code || others.body != missing.body {
			t.Errorf("%s: someone else's passkey answered %d, a missing one %d; bodies equal: %v\n%s",
				action, others.code, missing.code, others.body == missing.body, others.body)
		}
	}
	page := ann.get("/account/passkeys")
	if got := passkeyIDs(page.body); len(got) != 1 || got[0] != annsID || strings.Contains(page.body, "bob&#39;s now") {
		t.Fatalf("ann's passkeys after bob's tries: %v\n%s", got, page.body)
	}
}

// Whether the credential is unknown, deleted, or signs wrongly, the
// sign-in page answers the same, so nobody learns what exists.
func TestPasskeySignIn_SameAnswerWhateverIsWrong(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	ann := e.client("10.22.0.1")
	want(t, ann.signin("ann", "ann-password", nil), 303, "/")
	key := &passkeytest.Authenticator{Origin: e.srv.URL}
	want(t, ann.addPasskey(key, ""), 303, "/account/passkeys?done=added")
	stranger := &passkeytest.Authenticator{Origin: e.srv.URL}
	if _, err := stranger.NewKey("localhost"); err != nil {
		t.Fatal(err)
	}
	annsCred := key.Keys()[0]
	var answers []resp
	for i, try := range []struct {
		key *passkeytest.Authenticator
		ans passkeytest.Answer
	}{
		{stranger, passkeytest.Answer{}},
		{stranger, passkeytest.Answer{CredentialID: annsCred.ID, UserHandle: annsCred.UserHandle}},
		{key, passkeytest.Answer{Origin: "https://evil.example.net"}},
		{key, passkeytest.Answer{NoUV: true}},
	} {
		c := e.client("10.22.1." + string(rune('1'+i)))
		r := c.passkeySignIn(try.key, try.ans, nil)
		// The page carries the browser's own CSRF token; nothing else may
		// differ.
		r.body = strings.ReplaceAll(r.body, c.csrfCookie(), "TOKEN")
		answers = append(answers, r)
		if c.sessionCookie() != "" {
			t.Errorf("try %d signed in", i)
		}
	}
	for i, r := range answers {
		if r.code != http.StatusUnauthorized || r.body != answers[0].body {
			t.Errorf("try %d answered %d (same page as the first: %v)\n%s", i, r.code, r.body == answers[0].body, r.body)
		}
	}
}

// A passkey sign-in ends where a password sign-in would: at the return
// URL (with the app's hand-off), or at the pending authorization.
func TestPasskeySignIn_FollowsReturnURLAndPendingAuthorization(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	ann := e.client("10.23.0.1")
	want(t, ann.signin("ann", "ann-password", nil), 303, "/")
	key := &passkeytest.Authenticator{Origin: e.srv.URL}
	want(t, ann.addPasskey(key, ""), 303, "/account/passkeys?done=added")

	r := e.client("10.23.0.2").passkeySignIn(key, passkeytest.Answer{}, url.Values{"rd": {"https://" + appHost + "/x?y=1"}})
	want(t, r, 303, "https://"+appHost+"/x?y=1?fa_token=test")
	r = e.client("10.23.0.3").passkeySignIn(key, passkeytest.Answer{}, url.Values{"authz": {"pa1"}})
	want(t, r, 303, "/oauth/authorize/resume?authz=pa1")
	r = e.client("10.23.0.4").passkeySignIn(key, passkeytest.Answer{}, url.Values{"rd": {"https://evil.example.net/"}})
	want(t, r, 303, "/")
}

// The JSON begin requests take the CSRF header, and answer with the
// ceremony and the options; registration needs a signed-in session.
func TestPasskeyBegin_RequestsAndRefusals(t *testing.T) {
	e := newEnv(t)
	c := e.client("10.24.0.1")
	c.get("/signin")
	req, _ := http.NewRequest("POST", e.srv.URL+"/signin/passkey/begin", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	if r := c.do(req); r.code != http.StatusUnsupportedMediaType && r.code != http.StatusForbidden {
		t.Errorf("begin without the CSRF header: %d", r.code)
	}
	r, ch := c.begin("/signin/passkey/begin")
	if ch == nil || r.hdr.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("begin: %d %v %s", r.code, r.hdr, r.body)
	}
	var opts struct {
		Challenge        string `json:"challenge"`
		RPID             string `json:"rpId"`
		UserVerification string `json:"userVerification"`
		AllowCredentials []any  `json:"allowCredentials"`
	}
	if err := json.Unmarshal(ch.Options, &opts); err != nil || len(opts.Challenge) < 22 || opts.RPID != "localhost" ||
		opts.UserVerification != "required" || len(opts.AllowCredentials) != 0 {
		t.Errorf("sign-in options = %s (%v): want a challenge, rpId localhost, user verification required, no allowCredentials", ch.Options, err)
	}
	if r, ch := c.begin("/account/passkeys/begin"); ch != nil || r.code != http.StatusUnauthorized || !strings.Contains(r.body, `"error"`) {
		t.Errorf("registration begin signed out: %d %s", r.code, r.body)
	}
	want(t, c.get("/account/passkeys"), 303, "/signin?rd=/account/passkeys")
	// A finished form without a passkey (no JavaScript) is told why.
	if r := c.post("/signin/passkey", url.Values{}); r.code != 400 || !strings.Contains(r.body, "needs JavaScript") {
		t.Errorf("passkey sign-in without a passkey: %d", r.code)
	}
}

// The script is served as JavaScript from /static, and is used only
// where passkeys are on.
func TestPasskeyScript(t *testing.T) {
	e := newEnv(t)
	c := e.client("")
	r := c.get("/static/passkey.js")
	if r.code != 200 || r.hdr.Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(r.body, "navigator.credentials") {
		t.Fatalf("passkey.js: %d %v", r.code, r.hdr)
	}
	for _, bad := range []string{"eval(", "new Function", "innerHTML", "document.write"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("passkey.js uses %s", bad)
		}
	}
	e.user("ann@example.com", "ann", "ann-password")
	signin := c.get("/signin")
	for _, s := range []string{`autocomplete="username webauthn"`, `data-passkey-autofill`, "Sign in with a passkey"} {
		if !strings.Contains(signin.body, s) {
			t.Errorf("sign-in page lacks %s", s)
		}
	}

	off := newEnvFrom(t, false, nil)
	off.user("ann@example.com", "ann", "ann-password")
	oc := off.client("")
	signin = oc.get("/signin")
	if strings.Contains(signin.body, "<script") || strings.Contains(signin.body, "passkey") || strings.Contains(signin.body, "webauthn") {
		t.Errorf("with passkeys off the sign-in page still offers them:\n%s", signin.body)
	}
	want(t, oc.signin("ann", "ann-password", nil), 303, "/")
	if home := oc.get("/"); strings.Contains(home.body, "/account/passkeys") {
		t.Error("with passkeys off the home page links the passkeys page")
	}
}

// After the password, a user with a passkey is asked for it (and only for
// it, without TOTP): "Use your passkey" finishes the sign-in with acr 2.
// Someone else's passkey is refused there, and the step needs its own
// pending sign-in.
func TestPasskeySecondFactor(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	e.user("bob@example.com", "bob", "bob-password")
	annKey := &passkeytest.Authenticator{Origin: e.srv.URL}
	bobKey := &passkeytest.Authenticator{Origin: e.srv.URL}
	for _, u := range []struct {
		login string
		key   *passkeytest.Authenticator
	}{{"ann", annKey}, {"bob", bobKey}} {
		c := e.client("10.25.0.1")
		want(t, c.signin(u.login, u.login+"-password", nil), 303, "/")
		want(t, c.addPasskey(u.key, ""), 303, "/account/passkeys?done=added")
	}

	c := e.client("10.25.0.2")
	if r, ch := c.begin("/signin/second-factor/passkey/begin"); ch != nil || r.code != http.StatusBadRequest {
		t.Fatalf("the passkey step without a sign-in under way: %d %s", r.code, r.body)
	}
	want(t, c.signin("ann", "ann-password", url.Values{"rd": {"/account/passkeys"}}), 303, "/signin/second-factor")
	page := c.get("/signin/second-factor")
	if !strings.Contains(page.body, "Use your passkey") || strings.Contains(page.body, `name="code"`) || !strings.Contains(page.body, "/static/passkey.js") {
		t.Fatalf("second-factor page of a passkey-only user:\n%s", page.body)
	}

	// Bob's authenticator cannot answer for ann: it holds none of her
	// credentials. An attacker signing ann's challenge with Bob's key is
	// refused.
	r, ch := c.begin("/signin/second-factor/passkey/begin")
	if ch == nil {
		t.Fatalf("begin: %d %s", r.code, r.body)
	}
	if _, err := bobKey.Get(ch.Options, passkeytest.Answer{}); err == nil {
		t.Fatal("bob's authenticator found one of ann's credentials")
	}
	var o struct {
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(ch.Options, &o); err != nil {
		t.Fatal(err)
	}
	challenge, _ := base64.RawURLEncoding.DecodeString(o.Challenge)
	forged, err := bobKey.Sign(bobKey.Keys()[0], "localhost", challenge, passkeytest.Answer{})
	if err != nil {
		t.Fatal(err)
	}
	r = c.post("/signin/second-factor/passkey", url.Values{"ceremony": {ch.Ceremony}, "credential": {string(forged)}})
	if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "That passkey was not accepted") || c.sessionCookie() != "" {
		t.Fatalf("bob's passkey at ann's second-factor step: %d\n%s", r.code, r.body)
	}

	r, ch = c.begin("/signin/second-factor/passkey/begin")
	if ch == nil {
		t.Fatalf("begin: %d %s", r.code, r.body)
	}
	cred, err := annKey.Get(ch.Options, passkeytest.Answer{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, c.post("/signin/second-factor/passkey", url.Values{"ceremony": {ch.Ceremony}, "credential": {string(cred)}}), 303, e.srv.URL+"/account/passkeys")
	sess, err := e.auth.SessionByToken(context.Background(), c.sessionCookie())
	if err != nil || sess.ACR != "2" || strings.Join(sess.AMR, ",") != "pwd,hwk,user" {
		t.Fatalf("session after password and passkey = %+v, %v; want acr 2, amr pwd,hwk,user", sess, err)
	}
}

// The last passkey of a user who must have a second factor stays, and the
// page says why.
func TestPasskeys_LastRequiredSecondFactorIsKept(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	c := e.client("10.26.0.1")
	want(t, c.signin("ann", "ann-password", nil), 303, "/")
	want(t, c.addPasskey(&passkeytest.Authenticator{Origin: e.srv.URL}, ""), 303, "/account/passkeys?done=added")
	if _, _, err := e.auth.SetRequireSecondFactor(context.Background(), "ann@example.com", true); err != nil {
		t.Fatal(err)
	}
	id := passkeyIDs(c.get("/account/passkeys").body)[0]
	r := c.post("/account/passkeys/"+id+"/delete", url.Values{})
	if r.code != http.StatusConflict || !strings.Contains(r.body, "must keep a second factor") {
		t.Fatalf("deleting the last required second factor: %d\n%s", r.code, r.body)
	}
	if ids := passkeyIDs(c.get("/account/passkeys").body); len(ids) != 1 {
		t.Fatalf("passkeys after the refused delete: %v", ids)
	}
}
