package browser

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"

	"github.com/clinchsso/clinch/testing/harness"
)

// authenticator is a person's authenticator app: Debian's oathtool, an
// implementation of RFC 6238 independent of Clinch's, with the secret the
// person read off Clinch's set-up page. Clinch accepts each time step's
// code once, so it hands out a code for a step after the last one it
// gave: the current step, or the next (Clinch allows one step of skew),
// waiting for the clock when both are used.
type authenticator struct {
	t        *testing.T
	oathtool string
	secret   string
	last     int64 // the last step a code was given for
}

func newAuthenticator(t *testing.T, secret string) *authenticator {
	t.Helper()
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(secret) {
		t.Fatalf("the set-up page shows %q, not a 160-bit base32 secret", secret)
	}
	return &authenticator{t: t, oathtool: harness.NeedTool(t, "oathtool"), secret: secret}
}

// code returns a fresh code from oathtool.
func (a *authenticator) code() string {
	a.t.Helper()
	for {
		now := time.Now().Unix() / 30
		for _, step := range []int64{now, now + 1} {
			if step <= a.last {
				continue
			}
			out, err := exec.Command(a.oathtool, "--totp", "-b", "-N", "@"+strconv.FormatInt(step*30, 10), a.secret).CombinedOutput()
			code := strings.TrimSpace(string(out))
			if err != nil || !regexp.MustCompile(`^[0-9]{6}$`).MatchString(code) {
				a.t.Fatalf("oathtool --totp: %v: %s", err, out)
			}
			a.last = step
			return code
		}
		time.Sleep(time.Until(time.Unix((now+1)*30, 0)) + 100*time.Millisecond)
	}
}

// enterCode types code into the code box of the page in tab and clicks
// the form's button; the browser must then load a page at want.
func enterCode(tab harness.Tab, code, want string) {
	tab.T.Helper()
	tab.Type(`input[name="code"]`, code)
	tab.ClickAndWait(harness.SubmitOf(`input[name="code"]`), want)
}

// session is the value of the session cookie among cookies.
func session(cookies []*network.Cookie) string {
	for _, c := range cookies {
		if c.Name == "clinch_session" {
			return c.Value
		}
	}
	return ""
}

// backupCodes reads the backup codes the page shows.
func backupCodes(tab harness.Tab) []string {
	tab.T.Helper()
	codes := regexp.MustCompile(`[0-9a-z]{5}-[0-9a-z]{5}`).FindAllString(tab.TextOf("#backup-codes"), -1)
	if len(codes) != 10 {
		tab.T.Fatalf("the page shows %d backup codes, want 10:\n%s", len(codes), tab.Text())
	}
	return codes
}

// A person sets up an authenticator app from Clinch's pages by clicking,
// reading the secret off the page, and signs in with codes from it
// (oathtool) and with backup codes, through Caddy's ForwardAuth (also as
// the step-up an app requiring a second factor asks for) and through an
// OIDC relying party, whose ID token then says acr "2".
func TestTOTPSetUpAndSignIn(t *testing.T) {
	st := newStack(t)
	st.user(t, "ann")
	st.caddyForwardAuth()
	rp := st.goRP("relying", "--skip-consent")
	st.serve()
	rp.discover(st)
	app := st.url("app", "/page")

	tab := st.fresh(t)
	tab.Open("/")
	signIn(tab, "ann", "/")
	tab.ClickAndWait(`document.querySelector("#security-link")`, "/account/security")
	tab.See("Two-step verification", "Off:")
	tab.ClickAndWait(`Array.from(document.querySelectorAll("a")).find(a => a.innerText.includes("Set up an authenticator app"))`, "/account/security/totp")
	tab.See("Set up two-step verification", "scanning this code")
	if !tab.Has("img.qr") {
		t.Fatalf("the set-up page shows no QR code:\n%s", tab.Text())
	}
	tab.Shot("totp-setup")
	app1 := newAuthenticator(t, tab.TextOf("#totp-secret"))

	// The signed-in session alone cannot set it up: the page asks for the
	// password too, and a wrong one is refused.
	tab.Type(`input[name="password"]`, "not my password")
	enterCode(tab, "000000", "/account/security/totp")
	tab.See("That password is not right")
	// A wrong code: refused, the same secret offered again.
	tab.Type(`input[name="password"]`, password)
	enterCode(tab, "000000", "/account/security/totp")
	tab.See("That code is not right")
	if got := tab.TextOf("#totp-secret"); got != app1.secret {
		t.Fatalf("after a wrong code the page offers another secret (%s, was %s)", got, app1.secret)
	}
	tab.Type(`input[name="password"]`, password)
	enterCode(tab, app1.code(), "/account/security/totp")
	tab.See("Two-step verification is on", "shown only now")
	codes := backupCodes(tab)
	tab.Shot("totp-backup-codes")
	tab.ClickAndWait(`document.querySelector("#continue")`, "/account/security")
	tab.See("On:", "10 of 10 left")
	if strings.Contains(tab.AllText(), app1.secret) {
		t.Fatal("the security page shows the secret again after set-up")
	}

	// This session was made with the password alone. An app that requires
	// a second factor sends it through the step-up page, which ends in a
	// new session that the app then lets in.
	t.Run("step-up at an app that requires a second factor", func(t *testing.T) {
		st.clinch.MustCLI(t, "", "app", "update", "--slug", "app", "--require-second-factor")
		before := tab.Cookies(st.clinch.URL)
		tab.Open(app)
		if p := tab.Path(); p != "/signin/second-factor" {
			t.Fatalf("a password-only session at an app requiring a second factor is at %s:\n%s", tab.URL(), tab.Text())
		}
		tab.See("asks for a second factor", "Signed in as Ann")
		tab.Shot("totp-step-up")
		enterCode(tab, app1.code(), st.url("app", "/page"))
		tab.See("Remote-User: ann")
		if session(before) == session(tab.Cookies(st.clinch.URL)) {
			t.Error("the step-up kept the old session cookie; it must make a new session")
		}
	})
	tab.Open("/")
	tab.ClickAndWait(harness.Button("Sign out"), "/signin")

	t.Run("ForwardAuth app: password, then a code from the app", func(t *testing.T) {
		tab.Open(app)
		signIn(tab, "ann", "/signin/second-factor")
		tab.See("Two-step verification", "Signing in as Ann")
		tab.Shot("totp-second-factor")
		enterCode(tab, "12345", "/signin/second-factor")
		tab.See("has 6 digits; that has 5")
		code := app1.code()
		// As apps show it, with a space in the middle.
		enterCode(tab, code[:3]+" "+code[3:], st.url("app", "/page"))
		tab.See("Remote-User: ann")
		tab.Shot("totp-app")

		// The same code again, in another browser that has the password:
		// refused.
		other := st.fresh(t)
		other.Open("/")
		signIn(other, "ann", "/signin/second-factor")
		enterCode(other, code, "/signin/second-factor")
		other.See("already used")
		signedOut(other, "after a replayed code")
	})

	t.Run("a backup code, once", func(t *testing.T) {
		b := st.fresh(t)
		b.Open("/")
		signIn(b, "ann", "/signin/second-factor")
		enterCode(b, strings.ToUpper(codes[0]), "/")
		b.See("Hello, Ann")
		b.Open("/account/security")
		b.See("9 of 10 left")

		again := st.fresh(t)
		again.Open("/")
		signIn(again, "ann", "/signin/second-factor")
		enterCode(again, codes[0], "/signin/second-factor")
		again.See("already used")
		again.Shot("totp-backup-code-used")
	})

	// A backup code is a second factor as good as the app's code (and
	// needs no wait for the app's next step).
	t.Run("OIDC relying party: the ID token says acr 2", func(t *testing.T) {
		o := st.fresh(t)
		a := rp.authorize(nil)
		o.Open(a.url)
		signIn(o, "ann", "/signin/second-factor")
		enterCode(o, codes[1], rp.origin+"/cb")
		tok := rp.finish(o, a)
		if tok.acr != "2" || !slices.Equal(tok.amr, []string{"pwd", "otp"}) {
			t.Errorf("ID token acr %q amr %v, want 2 [pwd otp]", tok.acr, tok.amr)
		}
	})
	t.Run("the audit trail shows the second factor's life", func(t *testing.T) {
		var got []string
		sc := bufio.NewScanner(strings.NewReader(st.clinch.MustCLI(t, "", "audit", "export", "--user", "ann@example.com")))
		for sc.Scan() {
			var e struct{ Kind, Reason string }
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("export line %q: %v", sc.Text(), err)
			}
			if strings.HasPrefix(e.Kind, "mfa.") || e.Kind == "signin.failed" {
				got = append([]string{strings.TrimSpace(e.Kind + " " + e.Reason)}, got...)
			}
		}
		want := []string{
			"signin.failed wrong password (confirming a change while signed in)", // "not my password" at the set-up
			"mfa.added",
			"signin.failed second-factor code already used", // the replayed app code
			"mfa.backup_code.used",
			"signin.failed second-factor code already used", // the backup code again
			"mfa.backup_code.used",                          // at the relying party
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("second-factor events, oldest first:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// A user who must have a second factor and has none is taken from the
// password straight to set-up, can reach nothing before it is done, and
// then goes on to the app they opened.
func TestTOTPRequiredUserIsSentToSetUp(t *testing.T) {
	st := newStack(t)
	st.user(t, "bob")
	st.caddyForwardAuth()
	st.serve()
	st.clinch.MustCLI(t, "", "user", "totp", "require", "--email", "bob@example.com")

	tab := st.fresh(t)
	tab.Open(st.url("app", "/page"))
	signIn(tab, "bob", "/signin/setup-totp")
	tab.See("Your account requires two-step verification")
	tab.Shot("totp-required-setup")
	secret := tab.TextOf("#totp-secret")

	// Nothing else is reachable meanwhile: no session exists.
	for _, page := range []string{st.clinch.URL + "/", st.clinch.URL + "/account/security", st.url("app", "/page")} {
		tab.Open(page)
		if p := tab.Path(); p != "/signin" {
			t.Fatalf("during the required set-up, %s opened (at %s):\n%s", page, tab.URL(), tab.Text())
		}
	}
	tab.Open("/signin/setup-totp")
	if got := tab.TextOf("#totp-secret"); got != secret {
		t.Fatalf("the set-up page offers another secret on return (%s, was %s)", got, secret)
	}
	bob := newAuthenticator(t, secret)
	enterCode(tab, bob.code(), "/signin/setup-totp")
	tab.See("Two-step verification is on")
	backupCodes(tab)
	tab.ClickAndWait(`document.querySelector("#continue")`, st.url("app", "/page"))
	tab.See("Remote-User: bob")

	// Required, it cannot be turned off from the security page.
	tab.Open("/account/security")
	tab.See("On:", "requires two-step verification", "cannot be turned off")
	if tab.Has(`form[action="/account/security/totp/disable"]`) {
		t.Fatal("the security page offers to turn off a required second factor")
	}
	out := st.clinch.MustCLI(t, "", "user", "totp", "status", "--email", "bob@example.com")
	if !strings.Contains(out, "totp:          on") || !strings.Contains(out, "required:      yes (account)") {
		t.Errorf("clinch user totp status:\n%s", out)
	}
}
