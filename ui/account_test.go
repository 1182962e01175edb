package ui

import (
	"context"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// mailEnv is a front end with mail (chanMailer) whose security mails are
// wired as main wires them.
func mailEnv(t *testing.T, change func(*Config)) (*env, chanMailer) {
	t.Helper()
	mails := make(chanMailer, 16)
	e := newEnvWith(t, func(c *Config) {
		c.Mailer = mails
		if change != nil {
			change(c)
		}
	})
	e.auth.OnSecurityEvent(e.h.SecurityMail)
	return e, mails
}

func TestAccount_SignedOutGoesToSignIn(t *testing.T) {
	e := newEnv(t)
	want(t, e.client("10.1.0.1").get("/account"), 303, "/signin?rd=%2Faccount")
}

func TestAccount_LinkedFromEveryPageHeader(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	c := e.client("10.1.0.1")
	want(t, c.signin("ann", "ann-password", nil), 303, "/")
	for _, p := range []string{"/", "/account", "/account/security", "/account/passkeys", "/no-such-page"} {
		if r := c.get(p); !strings.Contains(r.body, `<a href="/account" id="account-link">`) {
			t.Errorf("%s (%d) has no link to the account page in its header", p, r.code)
		}
	}
}

func TestAccount_SignOutASession(t *testing.T) {
	e := newEnv(t)
	ann := e.user("ann@example.com", "ann", "ann-password")
	e.user("eve@example.com", "eve", "eve-password")
	laptop, phone, eve := e.client("10.2.0.1"), e.client("10.2.0.2"), e.client("10.2.0.3")
	want(t, laptop.signin("ann", "ann-password", nil), 303, "/")
	want(t, phone.signin("ann", "ann-password", nil), 303, "/")
	want(t, eve.signin("eve", "eve-password", nil), 303, "/")
	ctx := context.Background()
	phoneSess, _ := e.auth.SessionByToken(ctx, phone.sessionCookie())
	eveSess, _ := e.auth.SessionByToken(ctx, eve.sessionCookie())

	page := laptop.get("/account")
	if page.code != 200 || strings.Count(page.body, `class="secondary">Sign out</button>`) != 2 || strings.Count(page.body, "This device") != 1 ||
		!strings.Contains(page.body, "10.2.0.2") || !strings.Contains(page.body, "/account/sessions/"+phoneSess.ID+"/signout") {
		t.Fatalf("the account page should list both sessions, this one marked, with their addresses:\n%s", page.body)
	}

	// Someone else's session answers exactly like a missing one, and lives on.
	other := laptop.post("/account/sessions/"+eveSess.ID+"/signout", url.Values{})
	missing := laptop.post("/account/sessions/"+strings.Repeat("A", len(eveSess.ID))+"/signout", url.Values{})
	want(t, other, 404, "")
	if other.body != missing.body {
		t.Errorf("someone else's session and a missing one answer differently:\n%s\n----\n%s", other.body, missing.body)
	}
	want(t, eve.get("/account"), 200, "")

	// Without the CSRF token nothing happens.
	want(t, laptop.post("/account/sessions/"+phoneSess.ID+"/signout", url.Values{"csrf_token": {"forged"}}), 403, "")
	want(t, phone.get("/account"), 200, "")

	want(t, laptop.post("/account/sessions/"+phoneSess.ID+"/signout", url.Values{}), 303, "/account?done=signedout")
	want(t, phone.get("/account"), 303, "/signin?rd=%2Faccount")
	if r := laptop.get("/account?done=signedout"); !strings.Contains(r.body, "That session was signed out.") || strings.Count(r.body, `class="secondary">Sign out</button>`) != 1 {
		t.Errorf("after signing the phone out:\n%s", r.body)
	}

	// This device: signed out here too.
	ss, _ := e.auth.UserSessions(ctx, ann.ID)
	want(t, laptop.post("/account/sessions/"+ss[0].ID+"/signout", url.Values{}), 303, "/signin")
	want(t, laptop.get("/account"), 303, "/signin?rd=%2Faccount")
}

func TestAccount_PasswordChangeKeepsThisSessionEndsOthers(t *testing.T) {
	e, mails := mailEnv(t, nil)
	ann := e.user("ann@example.com", "ann", "ann-password")
	laptop, phone := e.client("10.3.0.1"), e.client("10.3.0.2")
	want(t, laptop.signin("ann", "ann-password", nil), 303, "/")
	want(t, phone.signin("ann", "ann-password", nil), 303, "/")
	cookie := laptop.sessionCookie()

	tests := []struct {
		name               string
		current, new, new2 string
		code               int
		says               string
	}{
		{"wrong current password", "not-it", "a new password", "a new password", 401, "Your current password is not right."},
		{"no current password", "", "a new password", "a new password", 400, "Enter your current password"},
		{"mismatch", "ann-password", "a new password", "another one", 400, "do not match"},
		{"too short", "ann-password", "short", "short", 400, "The new password must be at least 8 characters."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := laptop.post("/account/password", url.Values{"current_password": {tt.current}, "new_password": {tt.new}, "new_password_confirm": {tt.new2}})
			if r.code != tt.code || !strings.Contains(r.body, tt.says) {
				t.Fatalf("got %d, want %d saying %q:\n%s", r.code, tt.code, tt.says, r.body)
			}
			want(t, phone.get("/account"), 200, "")
		})
	}

	r := laptop.post("/account/password", url.Values{"current_password": {"ann-password"}, "new_password": {"a new password"}, "new_password_confirm": {"a new password"}})
	want(t, r, 303, "/account?done=password")
	if laptop.sessionCookie() != cookie {
		t.Error("this browser's session cookie changed")
	}
	if r := laptop.get("/account?done=password"); r.code != 200 || !strings.Contains(r.body, "Your password was changed.") {
		t.Fatalf("this browser is not on its account page after the change: %d\n%s", r.code, r.body)
	}
	want(t, phone.get("/account"), 303, "/signin?rd=%2Faccount")
	m := mails.next(t)
	if m.To != ann.Email || m.Subject != "Your password was changed" {
		t.Errorf("security mail %q to %s", m.Subject, m.To)
	}
	c := e.client("10.3.0.3")
	if r := c.signin("ann", "ann-password", nil); r.code == 303 {
		t.Error("the old password still signs in")
	}
	want(t, c.signin("ann", "a new password", nil), 303, "/")
}

var emailLinkRE = regexp.MustCompile(`https?://\S+/account/email/confirm\?token=\S+`)

func TestAccount_EmailChangeConfirmedByTheLinkOnly(t *testing.T) {
	e, mails := mailEnv(t, nil)
	ann := e.user("ann@example.com", "ann", "ann-password")
	e.user("bob@example.com", "bob", "bob-password")
	c := e.client("10.4.0.1")
	want(t, c.signin("ann", "ann-password", nil), 303, "/")

	for _, tt := range []struct {
		name, email, password string
		code                  int
		says                  string
	}{
		{"wrong password", "ann@new.example", "nope", 401, "Your current password is not right."},
		{"another account's", "bob@example.com", "ann-password", 409, "Another account has that email address."},
		{"not an address", "ann", "ann-password", 400, "The new email address is not a valid address."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.post("/account/email", url.Values{"email": {tt.email}, "password": {tt.password}})
			if r.code != tt.code || !strings.Contains(r.body, tt.says) {
				t.Fatalf("got %d, want %d saying %q:\n%s", r.code, tt.code, tt.says, r.body)
			}
		})
	}
	select {
	case m := <-mails:
		t.Fatalf("a refused change sent %q to %s", m.Subject, m.To)
	default:
	}

	r := c.post("/account/email", url.Values{"email": {"ann@new.example"}, "password": {"ann-password"}})
	if r.code != 200 || !strings.Contains(r.body, "We sent a link to ann@new.example") {
		t.Fatalf("got %d:\n%s", r.code, r.body)
	}
	m := mails.next(t)
	if m.To != "ann@new.example" {
		t.Fatalf("the confirmation went to %s", m.To)
	}
	link := emailLinkRE.FindString(m.Text)
	if link == "" {
		t.Fatalf("no link in the mail:\n%s", m.Text)
	}
	lu, _ := url.Parse(link)
	email := func() string {
		u, err := e.auth.User(context.Background(), ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u.Email
	}

	// Opening the link, in any browser, changes nothing (mail scanners).
	scanner := e.client("10.4.0.9")
	for _, b := range []*client{scanner, c} {
		p := b.get(lu.RequestURI())
		if p.code != 200 || !strings.Contains(p.body, "Confirm the new address") || !strings.Contains(p.body, "ann@new.example") {
			t.Fatalf("the link's page: %d\n%s", p.code, p.body)
		}
	}
	if got := email(); got != "ann@example.com" {
		t.Fatalf("the address changed to %s before the button was pressed", got)
	}

	token := lu.Query().Get("token")
	want(t, c.post("/account/email/confirm", url.Values{"token": {token}}), 303, "/account?done=email")
	if got := email(); got != "ann@new.example" {
		t.Fatalf("address %s after confirming", got)
	}
	if p := c.get("/account?done=email"); !strings.Contains(p.body, `<strong id="current-email">ann@new.example</strong>`) {
		t.Errorf("the account page does not show the new address:\n%s", p.body)
	}
	// The notice goes to both addresses.
	var to []string
	for range 2 {
		n := mails.next(t)
		if n.Subject != "Your email address was changed" || !strings.Contains(n.Text, "from ann@example.com to ann@new.example") {
			t.Errorf("notice %q:\n%s", n.Subject, n.Text)
		}
		to = append(to, n.To)
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{"ann@example.com", "ann@new.example"}) {
		t.Errorf("notices went to %v, want the old and the new address", to)
	}

	// Single use.
	if r := scanner.post("/account/email/confirm", url.Values{"token": {token}}); r.code != 404 || !strings.Contains(r.body, "This link does not work") {
		t.Fatalf("second use: %d\n%s", r.code, r.body)
	}
	if r := scanner.get(lu.RequestURI()); r.code != 404 {
		t.Fatalf("used link's page: %d", r.code)
	}
}

func TestAccount_EmailChangeWithoutMailNeedsAnAdministrator(t *testing.T) {
	tests := []struct {
		name  string
		mails chanMailer
	}{
		{"no mailer", nil},
		// A confirmation link in the log proves no mailbox.
		{"SMTP not configured (mail to the log)", make(chanMailer, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(c *Config) {
				if tt.mails != nil {
					c.Mailer, c.MailToLog = tt.mails, true
				}
			})
			ann := e.user("ann@example.com", "ann", "ann-password")
			c := e.client("10.5.0.1")
			want(t, c.signin("ann", "ann-password", nil), 303, "/")
			p := c.get("/account")
			if !strings.Contains(p.body, "ask an administrator to change your email") || strings.Contains(p.body, `action="/account/email"`) {
				t.Fatalf("without mail the page must say to ask an administrator and offer no form:\n%s", p.body)
			}
			r := c.post("/account/email", url.Values{"email": {"ann@new.example"}, "password": {"ann-password"}})
			if r.code != 409 || !strings.Contains(r.body, "Ask an administrator") {
				t.Fatalf("got %d:\n%s", r.code, r.body)
			}
			if u, _ := e.auth.User(context.Background(), ann.ID); u.Email != "ann@example.com" {
				t.Fatalf("address changed to %s", u.Email)
			}
			if len(tt.mails) != 0 {
				t.Fatalf("%d messages queued", len(tt.mails))
			}
		})
	}
}

func TestAccount_Name(t *testing.T) {
	e := newEnv(t)
	ann := e.user("ann@example.com", "ann", "ann-password")
	c := e.client("10.5.0.2")
	want(t, c.signin("ann", "ann-password", nil), 303, "/")
	want(t, c.post("/account/profile", url.Values{"name": {"  Ann Smith "}}), 303, "/account?done=name")
	if u, _ := e.auth.User(context.Background(), ann.ID); u.DisplayName != "Ann Smith" {
		t.Fatalf("name %q", u.DisplayName)
	}
	if r := c.post("/account/profile", url.Values{"name": {strings.Repeat("x", 201)}}); r.code != 400 || !strings.Contains(r.body, "Name is longer than 200 characters.") {
		t.Fatalf("long name: %d\n%s", r.code, r.body)
	}
}

// fakeApps is a ConnectedApps over a map of user id → apps.
type fakeApps struct {
	mu      sync.Mutex
	apps    map[string][]ConnectedApp
	revoked []string
}

func (f *fakeApps) UserApps(_ context.Context, userID string) ([]ConnectedApp, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.apps[userID]), nil
}

func (f *fakeApps) RevokeUserApp(_ context.Context, userID, appID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, userID+"/"+appID)
	f.apps[userID] = slices.DeleteFunc(f.apps[userID], func(a ConnectedApp) bool { return a.ID == appID })
	return nil
}

func TestAccount_ConnectedApps(t *testing.T) {
	apps := &fakeApps{apps: map[string][]ConnectedApp{}}
	e := newEnvWith(t, func(c *Config) { c.ConnectedApps = apps })
	ann := e.user("ann@example.com", "ann", "ann-password")
	eve := e.user("eve@example.com", "eve", "eve-password")
	apps.apps[ann.ID] = []ConnectedApp{{ID: "app-grafana", Name: "Grafana", Scopes: []string{"email", "openid"}, Since: time.Now()}}
	apps.apps[eve.ID] = []ConnectedApp{{ID: "app-gitea", Name: "Gitea", Scopes: []string{"openid"}, Since: time.Now()}}
	c := e.client("10.6.0.1")
	want(t, c.signin("ann", "ann-password", nil), 303, "/")
	p := c.get("/account")
	if !strings.Contains(p.body, "Grafana") || !strings.Contains(p.body, "email, openid") || !strings.Contains(p.body, `action="/account/apps/app-grafana/revoke"`) || strings.Contains(p.body, "Gitea") {
		t.Fatalf("connected apps:\n%s", p.body)
	}
	// An app the user never let in (someone else's) is not found, and not revoked.
	want(t, c.post("/account/apps/app-gitea/revoke", url.Values{}), 404, "")
	want(t, c.post("/account/apps/app-grafana/revoke", url.Values{}), 303, "/account?done=revoked")
	if !slices.Equal(apps.revoked, []string{ann.ID + "/app-grafana"}) {
		t.Fatalf("revoked %v", apps.revoked)
	}
	if p := c.get("/account?done=revoked"); !strings.Contains(p.body, "Access revoked.") || !strings.Contains(p.body, "No application holds access") {
		t.Fatalf("after revoking:\n%s", p.body)
	}
}

func TestSecurityMessages(t *testing.T) {
	u := &auth.User{Email: "ann@new.example", DisplayName: "Ann"}
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	tests := []struct {
		ev      auth.SecurityEvent
		to      []string
		subject string
		says    string
	}{
		{auth.SecurityEvent{Kind: auth.EventTOTPAdded}, []string{u.Email}, "Two-step verification was turned on", "authenticator app was set up"},
		{auth.SecurityEvent{Kind: auth.EventTOTPRemoved}, []string{u.Email}, "Two-step verification was turned off", "no longer work"},
		{auth.SecurityEvent{Kind: auth.EventBackupCodesRegenerated}, []string{u.Email}, "New backup codes were made", "old codes no longer work"},
		{auth.SecurityEvent{Kind: auth.EventPasskeyAdded, Detail: "Work laptop"}, []string{u.Email}, "A passkey was added", `A passkey "Work laptop" was added`},
		{auth.SecurityEvent{Kind: auth.EventPasskeyRemoved, Detail: "Phone"}, []string{u.Email}, "A passkey was removed", `The passkey "Phone" was removed`},
		{auth.SecurityEvent{Kind: auth.EventSecondFactorsReset}, []string{u.Email}, "Your second factors were reset", "An administrator removed"},
		{auth.SecurityEvent{Kind: auth.EventPasswordChanged}, []string{u.Email}, "Your password was changed", "password of your account was changed"},
		{auth.SecurityEvent{Kind: auth.EventEmailChanged, OldEmail: "ann@example.com"}, []string{u.Email, "ann@example.com"}, "Your email address was changed", "from ann@example.com to ann@new.example"},
	}
	for _, tt := range tests {
		t.Run(string(tt.ev.Kind), func(t *testing.T) {
			tt.ev.User, tt.ev.At = u, at
			ms := securityMessages(tt.ev, "https://auth.example.com/")
			var to []string
			for _, m := range ms {
				to = append(to, m.To)
				if m.Subject != tt.subject || !strings.Contains(m.Text, tt.says) || !strings.Contains(m.Text, "2 Jan 2026, 03:04 UTC") ||
					!strings.Contains(m.Text, "https://auth.example.com/forgot-password") {
					t.Errorf("mail %q:\n%s", m.Subject, m.Text)
				}
			}
			if !slices.Equal(to, tt.to) {
				t.Errorf("to %v, want %v", to, tt.to)
			}
		})
	}
	if ms := securityMessages(auth.SecurityEvent{Kind: "unknown", User: u}, "https://x"); ms != nil {
		t.Errorf("an unknown event mails %v", ms)
	}
}

// A refused password change keeps the name field filled: the page is the
// whole account page, and saving it next must not clear the name.
func TestAccount_RefusedFormKeepsTheName(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "ann-password")
	c := e.client("10.5.0.3")
	want(t, c.signin("ann", "ann-password", nil), 303, "/")
	r := c.post("/account/password", url.Values{"current_password": {"wrong"}, "new_password": {"a new password"}, "new_password_confirm": {"a new password"}})
	if r.code != 401 || !strings.Contains(r.body, `id="name" name="name" type="text" autocomplete="name" maxlength="200" value="User ann"`) {
		t.Fatalf("got %d:\n%s", r.code, r.body)
	}
}
