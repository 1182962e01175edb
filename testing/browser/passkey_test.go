package browser

import (
	"bufio"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// A person with Chromium's virtual authenticator (a platform
// authenticator that verifies them) signs in with the password, opens
// "Passkeys" from the home page and adds one by clicking; signs out and
// back in with the passkey alone, from the login field's autofill and
// with "Sign in with a passkey"; signs in with the password, and is then
// asked for the passkey as a second factor; then deletes the passkey, and
// the authenticator that still holds it is refused. Everything is
// clicked, over HTTPS through Caddy, with the one script /static/passkey.js
// (CSP script-src 'self').
func TestPasskeys(t *testing.T) {
	st := newStack(t)
	st.user(t, "ann")
	// An app that admits only sessions made with a second factor (acr 2).
	st.caddyForwardAuth()
	st.clinch.MustCLI(t, "", "app", "update", "--slug", "app", "--require-second-factor")
	st.serve()
	tab := st.fresh(t)
	authn := harness.VirtualAuthenticator(t, tab.Ctx)

	tab.Open("/signin")
	if got := tab.Value(`#login`); got != "" {
		t.Fatalf("the login field is filled before anything was typed: %q", got)
	}
	if ac := tab.Attr("#login", "autocomplete"); ac != "username webauthn" {
		t.Errorf("the login field's autocomplete is %q, want %q (passkeys in the autofill)", ac, "username webauthn")
	}
	signIn(tab, "ann", "/")
	// The password alone is acr 1: the app wants more first.
	tab.Open(st.url("app", "/page"))
	if u := tab.URL(); u.Host == st.caddy.Host("app") || strings.Contains(tab.Text(), "Remote-User: ann") {
		t.Fatalf("a password-only session reached the app that requires a second factor (at %s)", u)
	}
	tab.Open("/")
	tab.ClickAndWait(`document.querySelector('a[href="/account/passkeys"]')`, "/account/passkeys")
	tab.See("You have no passkeys yet")

	t.Run("add a passkey by clicking", func(t *testing.T) {
		tab := harness.Tab{T: t, Ctx: tab.Ctx, Base: tab.Base}
		tab.Type("#passkey-name", "Virtual key")
		// The session alone cannot add a passkey: a wrong password gets
		// no ceremony, and the page says so without leaving.
		tab.Type("#passkey-password", "not my password")
		tab.Click(harness.Button("Add a passkey"))
		tab.WaitVisible("[data-passkey-error]")
		tab.See("That password is not right")
		if n := len(harness.Credentials(t, tab.Ctx, authn)); n != 0 {
			t.Fatalf("after a wrong password the authenticator holds %d credentials, want 0", n)
		}
		tab.Type("#passkey-password", password)
		tab.ClickAndWait(harness.Button("Add a passkey"), "/account/passkeys")
		tab.See("Passkey added", "Virtual key", "Last used", "never")
		tab.Shot("passkey-added")
		if n := len(harness.Credentials(t, tab.Ctx, authn)); n != 1 {
			t.Fatalf("the authenticator holds %d credentials, want 1", n)
		}
	})

	t.Run("sign out, and the autofill signs in with the passkey", func(t *testing.T) {
		tab := harness.Tab{T: t, Ctx: tab.Ctx, Base: tab.Base}
		// The virtual authenticator answers the sign-in page's autofill
		// request (conditional mediation) as a person picking the
		// passkey from the login field's suggestions would.
		tab.ClickAndWait(harness.Button("Sign out"), "/")
		tab.See("Hello, Ann")
		if !visited(tab, "/signin") || !visited(tab, "/signin/passkey") {
			t.Errorf("the way back in did not go through the sign-in page and /signin/passkey:\n%s", strings.Join(tab.Visited(), "\n"))
		}
	})

	t.Run("sign out, sign in by clicking \"Sign in with a passkey\"", func(t *testing.T) {
		tab := harness.Tab{T: t, Ctx: tab.Ctx, Base: tab.Base}
		// Without automatic presence the autofill request waits, as it
		// does for a person who ignores the suggestion.
		harness.SetPresence(t, tab.Ctx, authn, false)
		tab.ClickAndWait(harness.Button("Sign out"), "/signin")
		tab.See("Sign in with a passkey")
		tab.Shot("passkey-signin-page")
		harness.SetPresence(t, tab.Ctx, authn, true)
		if p := tab.Path(); p != "/signin" {
			t.Fatalf("the pending autofill request signed in by itself (at %s); the button is not what is tested", tab.URL())
		}
		tab.ClickAndWait(harness.Button("Sign in with a passkey"), "/")
		tab.See("Hello, Ann")
		// A user-verified passkey is acr 2: the app that requires a second
		// factor lets the session in, with no step-up on the way.
		before := len(tab.Visited())
		tab.Open(st.url("app", "/page"))
		tab.See("Remote-User: ann")
		if way := tab.Visited()[before:]; len(way) != 1 {
			t.Errorf("the passkey session did not go straight to the app:\n%s", strings.Join(way, "\n"))
		}
		tab.Open("/account/passkeys")
		text := tab.See("Virtual key", "Headless Chrome")
		if strings.Contains(text, "never") {
			t.Errorf("the passkeys page does not show the sign-in as the passkey's last use:\n%s", text)
		}
		tab.Shot("passkey-used")
	})

	t.Run("sign out, sign in with the password and the passkey as second factor", func(t *testing.T) {
		tab := harness.Tab{T: t, Ctx: tab.Ctx, Base: tab.Base}
		harness.SetPresence(t, tab.Ctx, authn, false)
		tab.ClickAndWait(harness.Button("Sign out"), "/signin")
		// With a passkey, ann's password is no longer the whole sign-in.
		signIn(tab, "ann", "/signin/second-factor")
		tab.See("Two-step verification", "use your passkey")
		if tab.Has(`input[name="code"]`) {
			t.Errorf("the second-factor page asks for a code, but ann has no authenticator app")
		}
		tab.Shot("passkey-second-factor")
		harness.SetPresence(t, tab.Ctx, authn, true)
		tab.ClickAndWait(harness.Button("Use your passkey"), "/")
		tab.See("Hello, Ann")
	})

	t.Run("delete it, and it is refused", func(t *testing.T) {
		tab := harness.Tab{T: t, Ctx: tab.Ctx, Base: tab.Base}
		tab.Open("/account/passkeys")
		tab.ClickAndWait(harness.Button("Delete"), "/account/passkeys")
		tab.See("Passkey deleted", "You have no passkeys yet")
		// The authenticator still holds the credential and offers it, in
		// the autofill and on the button; Clinch no longer knows it.
		if n := len(harness.Credentials(t, tab.Ctx, authn)); n != 1 {
			t.Fatalf("the authenticator holds %d credentials, want the deleted one still", n)
		}
		tab.ClickAndWait(harness.Button("Sign out"), "/signin/passkey")
		tab.See("That passkey did not sign you in")
		tab.ClickAndWait(harness.Button("Sign in with a passkey"), "/signin/passkey")
		tab.See("That passkey did not sign you in")
		tab.Shot("passkey-refused")
		signedOut(tab, "after a deleted passkey")
	})

	t.Run("the audit trail shows what ann did", func(t *testing.T) {
		// Oldest first, the passkey's life as an admin reads it back.
		var got []string
		refused := 0
		sc := bufio.NewScanner(strings.NewReader(st.clinch.MustCLI(t, "", "audit", "export")))
		for sc.Scan() {
			var e struct {
				Kind, Email, Reason string
				Detail              map[string]string
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("export line %q: %v", sc.Text(), err)
			}
			switch {
			case e.Kind == "passkey.added" || e.Kind == "passkey.removed":
				got = append([]string{e.Kind + " by " + e.Email}, got...)
			case e.Kind == "signin" && strings.Contains(e.Detail["amr"], "hwk"):
				got = append([]string{"signin " + e.Detail["amr"]}, got...)
			case e.Kind == "signin.failed" && e.Reason == "passkey: unknown credential":
				// The button's refusal, and the autofill's: how many the
				// autofill makes in the background depends on timing.
				if refused++; refused == 1 {
					got = append([]string{"signin.failed " + e.Reason}, got...)
				}
			}
		}
		want := []string{
			"passkey.added by ann@example.com",
			"signin hwk user",     // the autofill
			"signin hwk user",     // the button
			"signin pwd hwk user", // password, then the passkey
			"passkey.removed by ann@example.com",
			"signin.failed passkey: unknown credential",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") || refused < 2 {
			t.Errorf("passkey events, oldest first (%d refusals, want 2 or more):\n%s\nwant:\n%s", refused, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// visited reports whether the tab requested a page at path (on Clinch).
func visited(tab harness.Tab, path string) bool {
	for _, p := range tab.Visited() {
		if u, err := url.Parse(p); err == nil && u.Path == path {
			return true
		}
	}
	return false
}
