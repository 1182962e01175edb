package browser

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/testing/harness"
)

// An app that asks for a fresh sign-in (prompt=login, or max_age=0) gets
// one even when the browser is signed in: Clinch shows its sign-in form
// again ("Signed in as Ann — enter your password to continue"), the person
// types their password and clicks, the app gets its code, and the ID
// token's auth_time is the moment of that sign-in, not the old one. No
// parameter the app (or anyone editing the URL) adds can skip the form.
func TestReauthenticationAsksForThePasswordAgain(t *testing.T) {
	st := newStack(t)
	rp := st.goRP("relying", "--skip-consent")
	st.serve()
	rp.discover(st)

	for i, extra := range []url.Values{
		{"prompt": {"login"}},
		{"max_age": {"0"}},
	} {
		name := extra.Encode()
		t.Run(name, func(t *testing.T) {
			login := []string{"ann", "bob"}[i]
			st.user(t, login)
			tab := st.fresh(t)
			tab.Open("/")
			signIn(tab, login, "/")
			signedInAt := time.Now()

			// auth_time has whole seconds: make sure the re-authentication
			// happens in a later second than the first sign-in, so an old
			// auth_time cannot pass for a new one.
			time.Sleep(time.Until(time.Unix(signedInAt.Unix()+1, 0)))

			// A parameter named like the one Clinch once used for itself
			// does not count as re-authentication, whatever its value (the
			// session's sign-in time was what used to pass).
			cheat := rp.authorize(url.Values{"prompt": extra["prompt"], "max_age": extra["max_age"],
				"clinch_reauth": {strconv.FormatInt(signedInAt.Unix(), 10)}})
			tab.Open(cheat.url)
			reauthForm(tab, login, "with clinch_reauth in the URL")

			a := rp.authorize(extra)
			tab.Open(a.url)
			reauthForm(tab, login, "")
			tab.Shot("reauth-" + strings.ReplaceAll(name, "=", "-"))
			before := time.Now().Unix()
			signIn(tab, login, rp.origin+"/cb")
			tok := rp.finish(tab, a)
			if tok.authTime < before {
				t.Errorf("ID token auth_time %d (%s) is older than the re-authentication at %d: the app was told of the first sign-in",
					tok.authTime, time.Unix(tok.authTime, 0).UTC().Format(time.TimeOnly), before)
			}
			if tok.email != login+"@example.com" {
				t.Errorf("ID token email %q", tok.email)
			}
		})
	}

	// "Use another account" on the re-authentication form signs in as
	// somebody else, and the app gets that person.
	t.Run("use another account", func(t *testing.T) {
		st.user(t, "cid")
		st.user(t, "dee")
		tab := st.fresh(t)
		tab.Open("/")
		signIn(tab, "cid", "/")
		a := rp.authorize(url.Values{"prompt": {"login"}})
		tab.Open(a.url)
		reauthForm(tab, "cid", "")
		tab.ClickAndWait(`Array.from(document.querySelectorAll("a")).find(e => e.innerText.trim() === "Use another account")`, "/signin")
		if v := tab.Value(`input[name="login"]`); v != "" {
			t.Fatalf("after \"Use another account\" the login field says %q, want it empty:\n%s", v, tab.Text())
		}
		tab.Shot("reauth-another-account")
		signIn(tab, "dee", rp.origin+"/cb")
		tok := rp.finish(tab, a)
		if tok.email != "dee@example.com" {
			t.Errorf("after signing in as dee through \"Use another account\", the app got %q", tok.email)
		}
		tab.Open("/")
		tab.See("dee@example.com")
		// The new sign-in replaced cid's session in this browser.
		if out := strings.TrimSpace(st.clinch.MustCLI(t, "", "user", "sessions", "list", "--email", "cid@example.com", "--json")); out != "[]" && out != "null" {
			t.Errorf("cid's session outlived the sign-in as dee in the same browser: %s", out)
		}
	})
}

// reauthForm fails unless tab shows Clinch's re-authentication form for
// login: the sign-in page, saying who is signed in, asking for the
// password, offering another account.
func reauthForm(tab harness.Tab, login, when string) {
	tab.T.Helper()
	if p := tab.Path(); p != "/signin" {
		tab.T.Fatalf("signed in already, an authorization that demands a fresh sign-in %s went to %s instead of Clinch's sign-in form:\n%s", when, tab.URL(), tab.Text())
	}
	name := strings.ToUpper(login[:1]) + login[1:]
	tab.See("Signed in as "+name, "enter your password to continue", "use another account")
	if !tab.Has(`input[name="password"]`) {
		tab.T.Fatalf("the re-authentication page %s has no password field:\n%s", when, tab.Text())
	}
}
