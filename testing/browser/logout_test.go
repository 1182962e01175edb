package browser

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/clinchsso/clinch/testing/harness"
)

// An app signs the person out of Clinch (OpenID Connect RP-Initiated
// Logout): with the ID token as hint and a registered post-logout URI the
// browser goes straight back to the app, no question asked, and Clinch's
// session is over; without a hint Clinch asks first, and "Sign out" works.
func TestRPInitiatedLogoutEndsTheClinchSession(t *testing.T) {
	st := newStack(t)
	rp := st.goRP("relying", "--skip-consent")
	st.serve()
	rp.discover(st)

	t.Run("with id_token_hint it returns to the app at once", func(t *testing.T) {
		st.user(t, "ann")
		tab := st.fresh(t)
		tok := rp.signInAt(tab, rp.authorize(nil), "ann")
		tab.Open(st.clinch.URL + "/oauth/end_session?" + url.Values{
			"id_token_hint":            {tok.raw},
			"post_logout_redirect_uri": {rp.origin + "/bye"},
			"state":                    {"bye-1"},
		}.Encode())
		if u := tab.URL(); u.Scheme+"://"+u.Host+u.Path != rp.origin+"/bye" {
			t.Fatalf("RP-initiated logout with a hint stopped at %s instead of the app's post-logout page:\n%s", u, tab.Text())
		}
		if s := tab.URL().Query().Get("state"); s != "bye-1" {
			t.Errorf("the post-logout page got state=%q, want bye-1", s)
		}
		tab.See("Relying party: signed out")
		tab.Shot("logout-hint-bye")
		signedOut(tab, "after RP-initiated logout with id_token_hint")
	})

	t.Run("without a hint Clinch asks, and Sign out signs out", func(t *testing.T) {
		st.user(t, "bob")
		tab := st.fresh(t)
		tab.Open("/")
		signIn(tab, "bob", "/")
		tab.Open("/oauth/end_session")
		tab.See("Sign out of Clinch?")
		tab.Shot("logout-confirm")
		tab.ClickAndLoad(harness.Button("Sign out"))
		tab.Shot("logout-confirmed")
		signedOut(tab, `after "Sign out" on the confirmation page`)
	})

	// The confirmation's POST is answered with a redirect to the app's
	// registered post-logout URI: Chromium applies the page's CSP
	// form-action to that redirect, so it must allow the app's origin.
	t.Run("without a hint, Sign out returns to the app's post-logout page", func(t *testing.T) {
		st.user(t, "cai")
		tab := st.fresh(t)
		rp.signInAt(tab, rp.authorize(nil), "cai")
		tab.Open(st.clinch.URL + "/oauth/end_session?" + url.Values{
			"client_id":                {rp.client.ID},
			"post_logout_redirect_uri": {rp.origin + "/bye"},
			"state":                    {"bye-2"},
		}.Encode())
		tab.See("Sign out of Clinch?", "Relying asks")
		tab.ClickAndWait(harness.Button("Sign out"), rp.origin+"/bye")
		if s := tab.URL().Query().Get("state"); s != "bye-2" {
			t.Errorf("the post-logout page got state=%q, want bye-2", s)
		}
		tab.See("Relying party: signed out")
		tab.Shot("logout-confirm-bye")
		signedOut(tab, `after "Sign out" on the confirmation page of an app's logout`)
	})
}

// backchannelEvent is the member of a logout token's events claim that
// makes it one (Back-Channel Logout 1.0, §2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// When a person signs out of Clinch, every app they used in that session
// and that registered a back-channel logout URI hears of it at once, by a
// signed logout_token it can check against Clinch's published keys.
func TestBackChannelLogoutReachesTheApp(t *testing.T) {
	received := make(chan url.Values, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		form, err := url.ParseQuery(string(body))
		if r.Method != http.MethodPost || r.URL.Path != "/bcl" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || err != nil {
			form = url.Values{"bad_request": {r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type")}}
		}
		select {
		case received <- form:
		default:
		}
	}))
	t.Cleanup(receiver.Close)

	st := newStack(t)
	rp := st.goRP("relying", "--skip-consent", "--backchannel-logout-uri", receiver.URL+"/bcl")
	st.serve()
	rp.discover(st)
	st.user(t, "ann")
	tab := st.fresh(t)
	tok := rp.signInAt(tab, rp.authorize(nil), "ann")
	if tok.sid == "" {
		t.Errorf("the ID token has no sid, so the app cannot match a logout token to this session")
	}

	tab.Open("/")
	tab.See("ann@example.com")
	signedOutAt := time.Now()
	tab.ClickAndWait(`document.querySelector('form[action$="/signout"] button, form[action$="/signout"] [type="submit"]')`, "/signin")
	tab.Shot("backchannel-signed-out")

	var form url.Values
	select {
	case form = <-received:
	case <-time.After(15 * time.Second):
		t.Fatalf("no back-channel logout reached the app within 15 s of signing out")
	}
	if bad := form.Get("bad_request"); bad != "" {
		t.Fatalf("the back-channel logout is not a form POST to the registered URI: %s", bad)
	}
	raw := form.Get("logout_token")
	if raw == "" {
		t.Fatalf("the back-channel logout POST has no logout_token: %v", form)
	}

	// Checked as an RP must (Back-Channel Logout 1.0, §2.6): signature
	// against the JWKS, iss, aud, iat, the event, sub and sid of the ID
	// token, no nonce.
	keys := gooidc.NewRemoteKeySet(rp.ctx, st.clinch.URL+"/.well-known/jwks.json")
	payload, err := keys.VerifySignature(rp.ctx, raw)
	if err != nil {
		t.Fatalf("the logout_token's signature does not verify against Clinch's JWKS: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("logout_token payload: %v\n%s", err, payload)
	}
	if c["iss"] != st.clinch.URL {
		t.Errorf("logout_token iss %v, want %s", c["iss"], st.clinch.URL)
	}
	if !audience(c["aud"], rp.client.ID) {
		t.Errorf("logout_token aud %v, want the client id %s", c["aud"], rp.client.ID)
	}
	iat, _ := c["iat"].(float64)
	if int64(iat) < signedOutAt.Unix()-5 || int64(iat) > time.Now().Unix()+5 {
		t.Errorf("logout_token iat %v is not the time of the sign-out (%d)", c["iat"], signedOutAt.Unix())
	}
	if exp, _ := c["exp"].(float64); exp <= iat {
		t.Errorf("logout_token exp %v is missing or not after iat %v", c["exp"], c["iat"])
	}
	if jti, _ := c["jti"].(string); jti == "" {
		t.Errorf("logout_token has no jti")
	}
	events, _ := c["events"].(map[string]any)
	if _, ok := events[backchannelEvent].(map[string]any); !ok {
		t.Errorf("logout_token events %v lack %s", c["events"], backchannelEvent)
	}
	if c["sub"] != tok.sub {
		t.Errorf("logout_token sub %v, want the ID token's %s", c["sub"], tok.sub)
	}
	if c["sid"] != tok.sid {
		t.Errorf("logout_token sid %v, want the ID token's %s", c["sid"], tok.sid)
	}
	if _, ok := c["nonce"]; ok {
		t.Errorf("logout_token has a nonce, which the spec prohibits")
	}
}

// audience reports whether an aud claim (a string or a list) is exactly
// the one client.
func audience(aud any, client string) bool {
	switch a := aud.(type) {
	case string:
		return a == client
	case []any:
		return len(a) == 1 && a[0] == client
	}
	return false
}
