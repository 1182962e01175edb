package browser

import (
	"context"
	"html"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/mail/mailtest"
	"github.com/clinchsso/clinch/testing/harness"
)

var inviteLinkRE = regexp.MustCompile(`https://\S+/invitation\?token=\S+`)

// An administrator invites a person with `clinch user invite`; Clinch
// mails the link (through a real SMTP server, go-smtp, started here); the
// person opens it, chooses a password by clicking and is signed in at
// once. The link works only once.
func TestInvitationByMail(t *testing.T) {
	smtp := mailtest.Start(t)
	st := newStackEnv(t, map[string]string{
		"SMTP_ADDRESS":      smtp.Host,
		"SMTP_PORT":         strconv.Itoa(smtp.Port),
		"CLINCH_FROM_EMAIL": "Clinch <auth@" + domain + ">",
	})
	st.serve()
	const email = "newcomer@example.com"
	out := st.clinch.MustCLI(t, "", "user", "invite", "--email", email, "--name", "Newcomer")
	if strings.Contains(out, "token=") || !strings.Contains(out, "mailed") {
		t.Fatalf("clinch user invite printed %q", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := smtp.Next(t, ctx)
	if len(m.To) != 1 || m.To[0] != email {
		t.Fatalf("mail went to %v, want %s", m.To, email)
	}
	link := inviteLinkRE.FindString(m.Text)
	if link == "" {
		t.Fatalf("no invitation link in the mail:\n%s", m.Text)
	}
	// The HTML alternative's button goes to the same link (its & escaped
	// as the attribute needs).
	if m.ContentType != "multipart/alternative" || !strings.Contains(m.HTML, `href="`+html.EscapeString(link)+`"`) {
		t.Fatalf("the mail (%s) has no HTML button to %s:\n%s", m.ContentType, link, m.HTML)
	}

	tab := st.fresh(t)
	tab.Open(link)
	tab.See("Choose your password", email)
	tab.Type(`#password`, password)
	tab.Type(`#password_confirm`, password)
	tab.Shot("invitation-form")
	tab.ClickAndWait(harness.SubmitOf(`#password`), "/")
	tab.See("Newcomer")
	tab.Shot("invitation-signed-in")

	// The link was used up.
	tab.Open(link)
	tab.See("This link does not work")
}
