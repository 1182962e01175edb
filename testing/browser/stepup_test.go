package browser

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// An OIDC app behind oauth2-proxy asks for a second factor with
// acr_values=2. A person who signs in with only a password is taken
// through the step-up (here: setting up TOTP, since they have no second
// factor yet) before the app gets a code, and the ID token the app
// receives says acr "2".
func TestStepUpAtOAuth2ProxyWithACRValues(t *testing.T) {
	st := newStack(t)
	st.user(t, "cai")
	r := st.oauth2Proxy("strict", "--skip-consent")
	st.serve()
	st.start(r, "--acr-values=2", "--pass-authorization-header")
	home := r.origin + "/"

	tab := st.fresh(t)
	tab.Open(home)
	// The password alone makes an acr "1" session: the authorization goes
	// on to the step-up, which for a user without a second factor is the
	// set-up.
	signIn(tab, "cai", "/signin/setup-totp")
	tab.Shot("stepup-oauth2-proxy-setup")
	secret := tab.TextOf("#totp-secret")
	// The step-up began from a session, not a password: the set-up asks
	// for the password with the code.
	tab.Type(`input[name="password"]`, password)
	enterCode(tab, newAuthenticator(t, secret).code(), "/signin/setup-totp")
	tab.See("Two-step verification is on")
	backupCodes(tab)
	tab.ClickAndWait(`document.querySelector("#continue")`, home)
	tab.See("Echo", "X-Forwarded-Email: cai@example.com")
	tab.Shot("stepup-oauth2-proxy-app")

	// The relying party's side: the ID token oauth2-proxy passed on.
	m := regexp.MustCompile(`Authorization: Bearer (\S+)`).FindStringSubmatch(tab.Text())
	if m == nil {
		t.Fatalf("the app received no ID token:\n%s", tab.Text())
	}
	parts := strings.Split(m[1], ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", m[1])
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		ACR string   `json:"acr"`
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.ACR != "2" || !slices.Contains(claims.AMR, "otp") {
		t.Fatalf("the ID token the app got says acr %q amr %v, want acr 2 with otp", claims.ACR, claims.AMR)
	}
}
