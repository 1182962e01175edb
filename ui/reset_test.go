package ui

import (
	"context"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/mail"
)

// chanMailer hands every message to the test.
type chanMailer chan mail.Message

func (c chanMailer) Send(_ context.Context, m mail.Message) error { c <- m; return nil }

func (c chanMailer) next(t *testing.T) mail.Message {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail was sent")
		return mail.Message{}
	}
}

var resetLinkRE = regexp.MustCompile(`https?://\S+/password-reset\?token=\S+`)

func resetPath(t *testing.T, m mail.Message) string {
	t.Helper()
	link := resetLinkRE.FindString(m.Text)
	if link == "" {
		t.Fatalf("no reset link in the mail:\n%s", m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func TestForgotPassword_WithoutMailAsksForTheAdministrator(t *testing.T) {
	e := newEnv(t)
	e.user("ann@example.com", "ann", "correct horse")
	c := e.client("10.0.0.1")
	if r := c.get("/signin"); !strings.Contains(r.body, `href="/forgot-password"`) {
		t.Fatalf("the sign-in page has no forgot-password link:\n%s", r.body)
	}
	for _, r := range []resp{c.get("/forgot-password"), c.post("/forgot-password", url.Values{"email": {"ann@example.com"}})} {
		if r.code != 200 || !strings.Contains(r.body, "Ask your administrator") || strings.Contains(r.body, `name="email"`) {
			t.Fatalf("got %d:\n%s", r.code, r.body)
		}
	}
}

// Unknown, disabled and invited addresses get exactly the page a real
// account gets; only the real one gets mail.
func TestForgotPassword_SameAnswerWhetherOrNotTheAccountExists(t *testing.T) {
	mails := make(chanMailer, 8)
	e := newEnvWith(t, func(c *Config) { c.Mailer = mails })
	e.user("ann@example.com", "ann", "correct horse")
	e.user("off@example.com", "off", "correct horse")
	if _, err := e.auth.SetStatus(context.Background(), "off@example.com", auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.CreateUser(context.Background(), auth.NewUser{Email: "invited@example.com"}); err != nil {
		t.Fatal(err)
	}
	c := e.client("10.0.0.1")
	c.token("/forgot-password")
	var first string
	for _, email := range []string{"nobody@example.com", "off@example.com", "invited@example.com", "ann@example.com"} {
		r := c.post("/forgot-password", url.Values{"email": {email}})
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
	if m.To != "ann@example.com" || !strings.Contains(m.Text, auth.PrefixResetToken) {
		t.Fatalf("mail to %q:\n%s", m.To, m.Text)
	}
}

func TestForgotPassword_RateLimitedPerAddress(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.Mailer = make(chanMailer, 8) })
	for i := range auth.ResetAddressRequests + 1 {
		c := e.client("10.0.1." + string(rune('1'+i)))
		r := c.post("/forgot-password", url.Values{"email": {"Nobody@Example.com"}})
		if i < auth.ResetAddressRequests {
			want(t, r, 200, "")
			continue
		}
		if r.code != 429 || r.hdr.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many requests") {
			t.Fatalf("request %d: got %d (Retry-After %q):\n%s", i+1, r.code, r.hdr.Get("Retry-After"), r.body)
		}
	}
}

func TestPasswordReset_LinkIsUsedOnlyByThePOST(t *testing.T) {
	mails := make(chanMailer, 8)
	e := newEnvWith(t, func(c *Config) { c.Mailer = mails })
	e.user("ann@example.com", "ann", "correct horse")
	signedIn := e.client("10.0.0.9")
	want(t, signedIn.signin("ann", "correct horse", nil), 303, "/")

	c := e.client("10.0.0.1")
	want(t, c.post("/forgot-password", url.Values{"email": {"ann@example.com"}}), 200, "")
	link := resetPath(t, mails.next(t))
	token, _ := url.ParseQuery(strings.SplitN(link, "?", 2)[1])

	// A mail scanner's GETs change nothing.
	for range 3 {
		if r := e.client("192.0.2.1").get(link); r.code != 200 || !strings.Contains(r.body, "Choose a new password") {
			t.Fatalf("GET link: %d\n%s", r.code, r.body)
		}
	}
	form := url.Values{"token": {token.Get("token")}, "password": {"brand new pass"}, "password_confirm": {"brand new typo"}}
	want(t, c.post("/password-reset", form), 400, "")
	form.Set("password_confirm", "brand new pass")
	want(t, c.post("/password-reset", form), 303, "/signin?reset=done")
	if r := c.get("/signin?reset=done"); !strings.Contains(r.body, "Your password was changed") {
		t.Fatalf("no notice on the sign-in page:\n%s", r.body)
	}
	// Used once: the link and the form are dead now.
	if r := c.post("/password-reset", form); r.code != 404 || !strings.Contains(r.body, "This link does not work") {
		t.Fatalf("second use: %d\n%s", r.code, r.body)
	}
	if r := c.get(link); r.code != 404 {
		t.Fatalf("GET used link: %d", r.code)
	}
	// The other browser was signed out; the old password is refused and
	// the new one works.
	want(t, signedIn.get("/"), 303, "/signin")
	if r := c.signin("ann", "correct horse", nil); r.code == 303 {
		t.Fatal("the old password still signs in")
	}
	want(t, c.signin("ann", "brand new pass", nil), 303, "/")
}

// syncBuffer is a log destination the request goroutines and the test
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Without SMTP the queue writes to the log: the forgot-password page
// takes the request, gives every address the same answer saying the link
// goes to the administrator, and the reset link is in exactly one line of
// the log, the WARN that says SMTP is not configured.
func TestForgotPassword_WithoutSMTPTheLinkGoesToTheLog(t *testing.T) {
	var logged syncBuffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnvWith(t, func(c *Config) {
		c.Logger, c.Mailer, c.MailToLog = log, mail.Log{Logger: log}, true
	})
	e.user("ann@example.com", "ann", "correct horse")
	c := e.client("10.0.0.1")
	if r := c.get("/forgot-password"); r.code != 200 || !strings.Contains(r.body, `name="email"`) || !strings.Contains(r.body, "This server sends no mail") {
		t.Fatalf("form: got %d:\n%s", r.code, r.body)
	}
	var first string
	for _, email := range []string{"nobody@example.com", "ann@example.com"} {
		r := c.post("/forgot-password", url.Values{"email": {email}})
		body := strings.ReplaceAll(r.body, email, "EMAIL")
		if r.code != 200 || !strings.Contains(body, "If an account has the address") || !strings.Contains(body, "went to your administrator") || strings.Contains(body, "on its way") {
			t.Fatalf("%s: got %d:\n%s", email, r.code, r.body)
		}
		if first == "" {
			first = body
		} else if body != first {
			t.Fatalf("%s got another page than nobody@example.com:\n%s\n---\n%s", email, body, first)
		}
	}
	e.h.WaitMail(context.Background())

	var warn []string
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	for _, l := range lines {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "SMTP is not configured") {
			warn = append(warn, l)
		}
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "to=ann@example.com") {
		t.Fatalf("%d WARN lines for mail, want one to ann:\n%s", len(warn), logged.String())
	}
	link := resetLinkRE.FindString(strings.ReplaceAll(warn[0], `\n`, " "))
	if link == "" {
		t.Fatalf("the WARN line has no reset link: %s", warn[0])
	}
	token := link[strings.Index(link, auth.PrefixResetToken):]
	for _, l := range lines {
		if l != warn[0] && (strings.Contains(l, token) || strings.Contains(l, auth.PrefixResetToken)) {
			t.Errorf("another log line has the link: %s", l)
		}
	}
	// The link works.
	u, _ := url.Parse(link)
	if r := c.get(u.RequestURI()); r.code != 200 || !strings.Contains(r.body, "Choose a new password") {
		t.Fatalf("the logged link: got %d:\n%s", r.code, r.body)
	}
}
