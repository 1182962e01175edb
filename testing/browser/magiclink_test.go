package browser

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/clinchsso/clinch/mail/mailtest"
	"github.com/clinchsso/clinch/testing/harness"
)

var magicLinkRE = regexp.MustCompile(`https://\S+/signin/link\?token=\S+`)

// On the sign-in page ann clicks "Email me a sign-in link", types her
// email and clicks; she opens the link Clinch mailed (through go-smtp,
// started here) in the same Chromium, clicks "Sign in" and is signed in.
// The link works only once. Asked for from the sign-in page a ForwardAuth
// app sent her to, the link brings her back to the app.
func TestMagicLinkSignIn(t *testing.T) {
	smtp := mailtest.Start(t)
	st := newStackEnv(t, map[string]string{
		"SMTP_ADDRESS":      smtp.Host,
		"SMTP_PORT":         strconv.Itoa(smtp.Port),
		"CLINCH_FROM_EMAIL": "Clinch <auth@" + domain + ">",
	})
	st.caddyForwardAuth()
	st.serve()
	email := st.user(t, "ann")

	tab := st.fresh(t)
	tab.Open("/signin")
	tab.ClickAndWait(`document.querySelector("#magic-link")`, "/signin/email")
	tab.Type(`input[name="email"]`, email)
	tab.ClickAndWait(harness.SubmitOf(`input[name="email"]`), "/signin/email")
	tab.See("If an account has the address", email)
	tab.Shot("magic-link-requested")

	link := nextMagicLink(t, smtp, email)
	tab.Open(link)
	tab.See("Sign in as", email)
	tab.Shot("magic-link-page")
	tab.ClickAndWait(`document.querySelector("#use-link")`, "/")
	tab.See("Ann")

	// The link was used up.
	tab.Open(link)
	tab.See("This link does not work")

	// From the app: the link carries the way back (rd) and the page's
	// form may end there (CSP form-action).
	page := st.url("app", "/page")
	app := st.fresh(t)
	app.Open(page)
	app.See("sign in")
	app.ClickAndWait(`document.querySelector("#magic-link")`, "/signin/email")
	app.Type(`input[name="email"]`, email)
	app.ClickAndWait(harness.SubmitOf(`input[name="email"]`), "/signin/email")
	app.Open(nextMagicLink(t, smtp, email))
	app.ClickAndWait(`document.querySelector("#use-link")`, page)
	app.See("Echo", "Path: /page", "Remote-User: ann")
	app.Shot("magic-link-app")
}

func nextMagicLink(t *testing.T, smtp *mailtest.Server, email string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := smtp.Next(t, ctx)
	if len(m.To) != 1 || m.To[0] != email {
		t.Fatalf("mail went to %v, want %s", m.To, email)
	}
	link := magicLinkRE.FindString(m.Text)
	if link == "" {
		t.Fatalf("no sign-in link in the mail:\n%s", m.Text)
	}
	return link
}
