package ui

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/mail"
)

var magicLinkRE = regexp.MustCompile(`https?://\S+/signin/link\?token=\S+`)

func magicPath(t *testing.T, m mail.Message) (path, token string) {
	t.Helper()
	link := magicLinkRE.FindString(m.Text)
	if link == "" {
		t.Fatalf("no sign-in link in the mail:\n%s", m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI(), u.Query().Get("token")
}

func magicEnv(t *testing.T, on bool) (*env, chanMailer) {
	mails := make(chanMailer, 8)
	return newEnvWith(t, func(c *Config) { c.Mailer, c.MagicLinks = mails, on }), mails
}

func TestMagicLink_OffHidesEverything(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"CLINCH_MAGIC_LINKS=false", func(c *Config) { c.Mailer = make(chanMailer, 1) }},
		{"no mail", func(c *Config) { c.MagicLinks = true }},
		// A link in the log helps nobody sign in by themselves.
		{"SMTP not configured (mail to the log)", func(c *Config) { c.Mailer, c.MailToLog, c.MagicLinks = make(chanMailer, 1), true, true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, tt.cfg)
			c := e.client("10.0.0.1")
			if r := c.get("/signin"); strings.Contains(r.body, "/signin/email") {
				t.Fatalf("the sign-in page offers sign-in links:\n%s", r.body)
			}
			want(t, c.get("/signin/email"), 404, "")
			want(t, c.post("/signin/email", url.Values{"email": {"ann@example.com"}}), 404, "")
			want(t, c.get("/signin/link?token=x"), 404, "")
		})
	}
}

// Unknown, disabled and invited addresses get exactly the page a real
// account gets; only the real one gets mail.
func TestMagicLink_SameAnswerWhetherOrNotTheAccountExists(t *testing.T) {
	e, mails := magicEnv(t, true)
	e.user("ann@example.com", "ann", "correct horse")
	e.user("off@example.com", "off", "correct horse")
	if _, err := e.auth.SetStatus(context.Background(), "off@example.com", auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.CreateUser(context.Background(), auth.NewUser{Email: "invited@example.com"}); err != nil {
		t.Fatal(err)
	}
	c := e.client("10.0.0.1")
	if r := c.get("/signin?rd=%2Fx"); !strings.Contains(r.body, `href="/signin/email?rd=%2Fx"`) {
		t.Fatalf("the sign-in page has no sign-in link request carrying rd:\n%s", r.body)
	}
	var first string
	for _, email := range []string{"nobody@example.com", "off@example.com", "invited@example.com", "ann@example.com"} {
		r := c.post("/signin/email", url.Values{"email": {email}})
		body := strings.ReplaceAll(r.body, email, "EMAIL")
		if r.code != 200 || !strings.Contains(body, "If an account has the address") {
			t.Fatalf("%s: got %d:\n%s", email, r.code, r.body)
		}
		if first == "" {
			first = body
		} else if body != first {
			t.Fatalf("%s got another page than nobody@example.com:\n%s\n---\n%s", email, body, first)
		}
	}
	m := mails.next(t)
	if m.To != "ann@example.com" || !strings.Contains(m.Text, auth.PrefixMagicToken) {
		t.Fatalf("mail to %q:\n%s", m.To, m.Text)
	}
}

func TestMagicLink_RateLimitedPerAddress(t *testing.T) {
	e, _ := magicEnv(t, true)
	for i := range auth.MagicAddressRequests + 1 {
		c := e.client("10.0.1." + string(rune('1'+i)))
		r := c.post("/signin/email", url.Values{"email": {"Nobody@Example.com"}})
		if i < auth.MagicAddressRequests {
			want(t, r, 200, "")
			continue
		}
		if r.code != 429 || r.hdr.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many requests") {
			t.Fatalf("request %d: got %d (Retry-After %q):\n%s", i+1, r.code, r.hdr.Get("Retry-After"), r.body)
		}
	}
}

// Only the button's POST uses the link; it signs in and goes where the
// sign-in page was going.
func TestMagicLink_UsedOnlyByThePOST(t *testing.T) {
	e, mails := magicEnv(t, true)
	e.user("ann@example.com", "ann", "correct horse")
	c := e.client("10.0.0.1")
	want(t, c.post("/signin/email", url.Values{"email": {"ann@example.com"}, "rd": {"/security"}}), 200, "")
	link, token := magicPath(t, mails.next(t))
	for range 3 {
		if r := e.client("192.0.2.1").get(link); r.code != 200 || !strings.Contains(r.body, "Sign in as") {
			t.Fatalf("GET link: %d\n%s", r.code, r.body)
		}
	}
	// Another browser: the link is one factor, and ann has no other.
	other := e.client("10.0.0.2")
	other.get(link)
	if r := other.post("/signin/link", url.Values{"token": {token}}); r.code != 303 || !strings.HasSuffix(r.loc, "/security") {
		t.Fatalf("using the link: %d to %q, want 303 to the rd /security", r.code, r.loc)
	}
	if r := other.get("/"); r.code != 200 || !strings.Contains(r.body, "ann@example.com") {
		t.Fatalf("not signed in: %d\n%s", r.code, r.body)
	}
	tests := []struct {
		name string
		r    resp
	}{
		{"POST again", c.post("/signin/link", url.Values{"token": {token}})},
		{"GET again", c.get(link)},
	}
	for _, tt := range tests {
		if tt.r.code != 404 || !strings.Contains(tt.r.body, "This link does not work") {
			t.Errorf("%s: %d\n%s", tt.name, tt.r.code, tt.r.body)
		}
	}
	want(t, c.get("/"), 303, "/signin")
}

func TestMagicLink_SecondFactorStillAsked(t *testing.T) {
	e, mails := magicEnv(t, true)
	e.user("ann@example.com", "ann", "correct horse")
	if _, _, err := e.auth.SetRequireSecondFactor(context.Background(), "ann@example.com", true); err != nil {
		t.Fatal(err)
	}
	c := e.client("10.0.0.1")
	want(t, c.post("/signin/email", url.Values{"email": {"ann@example.com"}}), 200, "")
	_, token := magicPath(t, mails.next(t))
	want(t, c.post("/signin/link", url.Values{"token": {token}}), 303, pathSetupTOTP)
	want(t, c.get("/"), 303, "/signin")
}
