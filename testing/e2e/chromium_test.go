package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/testing/harness"
)

// A person does the first run and a sign-in in a real browser, typing and
// clicking; the pages need no JavaScript and no inline code (CSP).
func TestChromiumWizardAndSignIn(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	ctx := harness.Browser(t, 3*time.Minute)
	const email = "browser@example.com"

	b := harness.Tab{T: t, Ctx: ctx, Base: srv.URL}
	b.Open("/")
	// A fresh install sends the visitor to the wizard.
	if p := b.Path(); p != "/signup" {
		t.Fatalf("a fresh install opened at %s, want /signup", p)
	}
	b.See("email", "password")
	b.Type(`input[name="email"]`, email)
	b.Type(`input[name="name"]`, "Browser Person")
	b.Type(`input[name="password"]`, password)
	b.Type(`input[name="password_confirm"]`, password)
	harness.Screenshot(t, ctx, "signup-filled")
	b.ClickAndWait(harness.SubmitOf(`input[name="password"]`), "/")
	b.See(email)
	harness.Screenshot(t, ctx, "home-after-signup")

	b.ClickAndWait(`document.querySelector('form[action$="/signout"] button, form[action$="/signout"] [type="submit"]')`, "/signin")
	b.See("sign in")
	b.Type(`input[name="login"]`, email)
	b.Type(`input[name="password"]`, "not the password")
	b.ClickAndWait(harness.SubmitOf(`input[name="password"]`), "/signin")
	b.See("sign in") // refused, back on the form

	b.Type(`input[name="login"]`, email)
	b.Type(`input[name="password"]`, password)
	b.Click(`document.querySelector('input[name="remember"]')`)
	b.ClickAndWait(harness.SubmitOf(`input[name="password"]`), "/")
	text := b.See(email)
	if strings.Contains(text, password) {
		t.Error("the home page shows the password")
	}
	shot := harness.Screenshot(t, ctx, "home-after-signin")
	t.Logf("final screenshot: %s", shot)
}
