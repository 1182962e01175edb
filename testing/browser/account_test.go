package browser

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/clinchsso/clinch/mail/mailtest"
	"github.com/clinchsso/clinch/testing/harness"
)

// otherSession is a JS path to the "Sign out" button of the first session
// on the account page that is not this browser's.
const otherSession = `document.querySelector("#sessions li:not(#this-session) form button")`

// mailStack is a stack whose Clinch sends mail to a real SMTP server
// (go-smtp, started here).
func mailStack(t *testing.T) (*stack, *mailtest.Server) {
	t.Helper()
	smtp := mailtest.Start(t)
	st := newStackEnv(t, map[string]string{
		"SMTP_ADDRESS":      smtp.Host,
		"SMTP_PORT":         strconv.Itoa(smtp.Port),
		"CLINCH_FROM_EMAIL": "Clinch <auth@" + domain + ">",
	})
	return st, smtp
}

// nextMail is the next message the SMTP server received, within 10 s.
func nextMail(t *testing.T, smtp *mailtest.Server) mailtest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return smtp.Next(t, ctx)
}

// signedInTwice signs login in on two fresh browsers and opens the
// account page of the first from the link in its header.
func signedInTwice(t *testing.T, st *stack, login string) (first, second harness.Tab) {
	t.Helper()
	first, second = st.fresh(t), st.fresh(t)
	for _, tab := range []harness.Tab{first, second} {
		tab.Open("/")
		signIn(tab, login, "/")
	}
	first.ClickAndWait(`document.querySelector("#account-link")`, "/account")
	first.See("Your account", "Where you are signed in", "This device")
	if n := strings.Count(first.TextOf("#sessions"), "Sign out"); n != 2 {
		t.Fatalf("the account page lists %d sessions, want the two browsers:\n%s", n, first.Text())
	}
	return first, second
}

// Two browsers signed in as the same person; "Sign out" on the other
// session, from the account page of the first, signs the second out on
// its very next request, and the first stays in.
func TestAccountSignsOutAnotherBrowser(t *testing.T) {
	st := newStack(t)
	st.serve()
	st.user(t, "ann")
	laptop, phone := signedInTwice(t, st, "ann")
	laptop.Shot("account-two-sessions")

	laptop.ClickAndWait(otherSession, "/account")
	laptop.See("That session was signed out")
	if n := strings.Count(laptop.TextOf("#sessions"), "Sign out"); n != 1 {
		t.Fatalf("after signing the other browser out the page lists %d sessions:\n%s", n, laptop.Text())
	}
	laptop.Shot("account-signed-out-other")

	phone.Open("/account")
	if p := phone.Path(); p != "/signin" {
		t.Fatalf("the signed-out browser still opens its account page (at %s):\n%s", phone.URL(), phone.Text())
	}
	phone.Shot("account-other-browser-signin")
	laptop.Open("/account")
	laptop.See("Your account", "This device")
}

// Changing the password on the account page signs every other browser
// out and keeps this one in; the old password stops working, and a
// security mail tells the person.
func TestAccountPasswordChangeSignsOutOtherBrowsers(t *testing.T) {
	st, smtp := mailStack(t)
	st.serve()
	email := st.user(t, "bea")
	const newPassword = "bea's brand new password"
	laptop, phone := signedInTwice(t, st, "bea")

	laptop.Type(`#current-password`, password)
	laptop.Type(`#new-password`, newPassword)
	laptop.Type(`#new-password-confirm`, newPassword)
	laptop.Shot("account-password-form")
	laptop.ClickAndWait(harness.SubmitOf(`#new-password`), "/account")
	laptop.See("Your password was changed", "This device")
	if n := strings.Count(laptop.TextOf("#sessions"), "Sign out"); n != 1 {
		t.Fatalf("after the change the page lists %d sessions, want this one:\n%s", n, laptop.Text())
	}
	laptop.Shot("account-password-changed")

	phone.Open("/account")
	if p := phone.Path(); p != "/signin" {
		t.Fatalf("the other browser is still signed in after the password change (at %s):\n%s", phone.URL(), phone.Text())
	}
	// The old password is refused there, the new one signs in.
	phone.Type(`input[name="login"]`, "bea")
	phone.Type(`input[name="password"]`, password)
	phone.ClickAndWait(harness.SubmitOf(`input[name="password"]`), "/signin")
	phone.See("password is not right")
	phone.Type(`input[name="login"]`, "bea")
	phone.Type(`input[name="password"]`, newPassword)
	phone.ClickAndWait(harness.SubmitOf(`input[name="password"]`), "/account")

	m := nextMail(t, smtp)
	if len(m.To) != 1 || m.To[0] != email || m.Header.Get("Subject") != "Your password was changed" {
		t.Fatalf("security mail %q to %v, want \"Your password was changed\" to %s:\n%s", m.Header.Get("Subject"), m.To, email, m.Text)
	}
}

var emailLinkRE = regexp.MustCompile(`https://\S+/account/email/confirm\?token=\S+`)

// An email change from the account page: the link goes to the new
// address (read from the real SMTP server), the address changes only when
// it is used, the account page then shows it, the old address gets a
// notice, and the link works once.
func TestAccountEmailChangeByMail(t *testing.T) {
	st, smtp := mailStack(t)
	st.serve()
	oldEmail := st.user(t, "cai")
	const newEmail = "cai.new@example.com"
	tab := st.fresh(t)
	tab.Open("/account")
	signIn(tab, "cai", "/account")
	if got := tab.TextOf("#current-email"); got != oldEmail {
		t.Fatalf("the account page shows %q, want %s", got, oldEmail)
	}
	tab.Type(`#new-email`, newEmail)
	tab.Type(`#email-password`, password)
	tab.Shot("account-email-form")
	tab.ClickAndWait(harness.SubmitOf(`#new-email`), "/account/email")
	tab.See("We sent a link to "+newEmail, oldEmail+" stays your address")
	tab.Shot("account-email-sent")

	m := nextMail(t, smtp)
	if len(m.To) != 1 || m.To[0] != newEmail {
		t.Fatalf("the confirmation went to %v, want %s", m.To, newEmail)
	}
	link := emailLinkRE.FindString(m.Text)
	if link == "" {
		t.Fatalf("no confirmation link in the mail:\n%s", m.Text)
	}
	tab.Open("/account")
	if got := tab.TextOf("#current-email"); got != oldEmail {
		t.Fatalf("the address changed to %q before the link was used", got)
	}

	tab.Open(link)
	tab.See("Confirm your new email address", newEmail)
	tab.Shot("account-email-confirm")
	tab.ClickAndWait(`document.querySelector("#confirm-email")`, "/account")
	tab.See("Your email address was changed")
	if got := tab.TextOf("#current-email"); got != newEmail {
		t.Fatalf("after confirming the account page shows %q, want %s", got, newEmail)
	}
	tab.Shot("account-email-changed")

	var to []string
	for range 2 {
		n := nextMail(t, smtp)
		if n.Header.Get("Subject") != "Your email address was changed" || !strings.Contains(n.Text, "from "+oldEmail+" to "+newEmail) {
			t.Errorf("notice %q:\n%s", n.Header.Get("Subject"), n.Text)
		}
		to = append(to, n.To...)
	}
	slices.Sort(to)
	if want := []string{newEmail, oldEmail}; !slices.Equal(to, want) {
		t.Errorf("the notices went to %v, want %v (the old address too)", to, want)
	}

	tab.Open(link)
	tab.See("This link does not work")

	// The new address signs in.
	other := st.fresh(t)
	other.Open("/")
	other.Type(`input[name="login"]`, newEmail)
	other.Type(`input[name="password"]`, password)
	other.ClickAndWait(harness.SubmitOf(`input[name="password"]`), "/")
}

// A person signs in to a relying party (go-oidc + x/oauth2) and allows
// it; the account page lists it under "Connected apps", and "Revoke
// access" ends its tokens: its refresh token, which worked before, is
// refused, and the app asks for consent again.
func TestAccountRevokeConnectedApp(t *testing.T) {
	st := newStack(t)
	rp := st.goRP("relying")
	st.serve()
	rp.discover(st)
	rp.conf.Scopes = append(rp.conf.Scopes, "offline_access")
	st.user(t, "dan")

	tab := st.fresh(t)
	a := rp.authorize(nil)
	tab.Open(a.url)
	signIn(tab, "dan", "")
	consentPage(tab, "after signing in")
	tab.ClickAndWait(harness.Button("Allow"), rp.origin+"/cb")
	tab.See("Relying party: signed in")
	tok, err := rp.conf.Exchange(rp.ctx, tab.URL().Query().Get("code"), oauth2.VerifierOption(a.pkce))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("the RP got no refresh token (%v)", err)
	}
	// The refresh token works before the revocation.
	refresh := func(rt string) (*oauth2.Token, error) {
		return rp.conf.TokenSource(rp.ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}
	fresh, err := refresh(tok.RefreshToken)
	if err != nil || fresh.RefreshToken == "" {
		t.Fatalf("refreshing before the revocation: %v", err)
	}

	tab.Open("/account")
	tab.See("Connected apps", "Relying", "offline_access")
	tab.Shot("account-connected-app")
	tab.ClickAndWait(harness.Button("Revoke access"), "/account")
	tab.See("Access revoked", "No application holds access")
	tab.Shot("account-app-revoked")

	if _, err := refresh(fresh.RefreshToken); err == nil {
		t.Fatal("the RP's refresh token still works after Revoke access")
	} else if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("refresh after revoking: %v, want invalid_grant", err)
	}
	// Consent was taken back too: the app has to ask again.
	again := rp.authorize(nil)
	tab.Open(again.url)
	consentPage(tab, "opening the app again after Revoke access")
	tab.ClickAndWait(harness.Button("Allow"), rp.origin+"/cb")
	tok, err = rp.conf.Exchange(rp.ctx, tab.URL().Query().Get("code"), oauth2.VerifierOption(again.pkce))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("the RP got no refresh token the second time (%v)", err)
	}

	// An admin takes the same access away from Dan's admin page.
	st.clinch.MustCLI(t, password, "user", "create", "--email", "ada@example.com", "--username", "ada",
		"--name", "Ada Admin", "--admin", "--password-stdin")
	admin := st.fresh(t)
	admin.Open("/admin/users?q=dan")
	signIn(admin, "ada", "/admin/users")
	admin.ClickAndWait(`document.querySelector('a[href^="/admin/users/"]:not([href="/admin/users/new"])')`, "")
	if v := admin.Value("#edit-email"); v != "dan@example.com" {
		t.Fatalf("the admin opened the page of %q, want Dan's", v)
	}
	admin.See("Applications signed in to (OIDC)", "Relying")
	admin.ClickAndWait(harness.Button("Revoke access"), "")
	admin.See("No application holds tokens for this user.")
	if _, err := refresh(tok.RefreshToken); err == nil {
		t.Fatal("the RP's refresh token still works after the admin's Revoke access")
	} else if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("refresh after the admin revoked: %v, want invalid_grant", err)
	}
}
