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

var resetLinkRE = regexp.MustCompile(`https://\S+/password-reset\?token=\S+`)

// A person who forgot their password clicks "Forgot password?", types
// their email, opens the link Clinch mailed (through a real SMTP server,
// go-smtp, started here), chooses a new password by clicking, and signs
// in with it; the old password is refused, and the link works only once.
func TestPasswordResetByMail(t *testing.T) {
	smtp := mailtest.Start(t)
	st := newStackEnv(t, map[string]string{
		"SMTP_ADDRESS":      smtp.Host,
		"SMTP_PORT":         strconv.Itoa(smtp.Port),
		"CLINCH_FROM_EMAIL": "Clinch <auth@" + domain + ">",
	})
	st.serve()
	email := st.user(t, "ann")
	const newPassword = "a new password for ann"

	tab := st.fresh(t)
	tab.Open("/signin")
	tab.ClickAndWait(`document.querySelector("#forgot-password")`, "/forgot-password")
	tab.Type(`input[name="email"]`, email)
	tab.ClickAndWait(harness.SubmitOf(`input[name="email"]`), "/forgot-password")
	tab.See("If an account has the address", email)
	tab.Shot("reset-requested")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := smtp.Next(t, ctx)
	if len(m.To) != 1 || m.To[0] != email {
		t.Fatalf("mail went to %v, want %s", m.To, email)
	}
	link := resetLinkRE.FindString(m.Text)
	if link == "" {
		t.Fatalf("no reset link in the mail:\n%s", m.Text)
	}

	tab.Open(link)
	tab.See("Choose a new password", email)
	tab.Type(`#password`, newPassword)
	tab.Type(`#password_confirm`, newPassword)
	tab.Shot("reset-form")
	tab.ClickAndWait(harness.SubmitOf(`#password`), "/signin")
	tab.See("Your password was changed")

	// The old password is refused.
	tab.Type(`input[name="login"]`, "ann")
	tab.Type(`input[name="password"]`, password)
	tab.ClickAndWait(harness.SubmitOf(`input[name="password"]`), "/signin")
	tab.See("password is not right")

	// The new one signs in.
	tab.Type(`input[name="login"]`, "ann")
	tab.Type(`input[name="password"]`, newPassword)
	tab.ClickAndWait(harness.SubmitOf(`input[name="password"]`), "/")
	tab.See("Ann")

	// The link was used up.
	tab.Open(link)
	tab.See("This link does not work")
}
