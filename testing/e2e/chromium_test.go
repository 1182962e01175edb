package e2e

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/clinchsso/clinch/testing/harness"
)

// stepTimeout bounds one browser step: a page load, a click, a wait.
const stepTimeout = 20 * time.Second

// A person does the first run and a sign-in in a real browser, typing and
// clicking; the pages need no JavaScript and no inline code (CSP).
func TestChromiumWizardAndSignIn(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	ctx := harness.Browser(t, 3*time.Minute)
	const email = "browser@example.com"

	b := browser{t: t, ctx: ctx, base: srv.URL}
	b.open("/")
	// A fresh install sends the visitor to the wizard.
	if p := b.path(); p != "/signup" {
		t.Fatalf("a fresh install opened at %s, want /signup", p)
	}
	b.see("email", "password")
	b.typeInto(`input[name="email"]`, email)
	b.typeInto(`input[name="name"]`, "Browser Person")
	b.typeInto(`input[name="password"]`, password)
	b.typeInto(`input[name="password_confirm"]`, password)
	harness.Screenshot(t, ctx, "signup-filled")
	b.clickAndWait(submitOf(`input[name="password"]`), "/")
	b.see(email)
	harness.Screenshot(t, ctx, "home-after-signup")

	b.clickAndWait(`document.querySelector('form[action$="/signout"] button, form[action$="/signout"] [type="submit"]')`, "/signin")
	b.see("sign in")
	b.typeInto(`input[name="login"]`, email)
	b.typeInto(`input[name="password"]`, "not the password")
	b.clickAndWait(submitOf(`input[name="password"]`), "/signin")
	b.see("sign in") // refused, back on the form

	b.typeInto(`input[name="login"]`, email)
	b.typeInto(`input[name="password"]`, password)
	b.click(`document.querySelector('input[name="remember"]')`)
	b.clickAndWait(submitOf(`input[name="password"]`), "/")
	text := b.see(email)
	if strings.Contains(text, password) {
		t.Error("the home page shows the password")
	}
	shot := harness.Screenshot(t, ctx, "home-after-signin")
	t.Logf("final screenshot: %s", shot)
}

// submitOf is a JS path to the submit button of the form that holds the
// element matching sel.
func submitOf(sel string) string {
	return `document.querySelector('` + sel + `').form.querySelector('button[type="submit"], input[type="submit"], button:not([type])')`
}

// browser runs bounded steps in one tab and fails the test on error.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (b browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v\npage: %s", what, err, b.text())
	}
}

func (b browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

func (b browser) typeInto(sel, text string) {
	b.t.Helper()
	b.do("type into "+sel,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Clear(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (b browser) click(jsPath string) {
	b.t.Helper()
	b.do("click "+jsPath, chromedp.Click(chromedp.JSPath(jsPath)))
}

// clickAndWait clicks and waits until the tab has loaded a page at path.
func (b browser) clickAndWait(jsPath, path string) {
	b.t.Helper()
	before := b.loadID()
	b.click(jsPath)
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		if b.loadID() != before && b.ready() {
			if p := b.path(); p == path {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("browser: after clicking %s the tab is at %s, want %s\npage: %s", jsPath, b.path(), path, b.text())
}

// loadID marks the document: a new page load gets a new one.
func (b browser) loadID() float64 {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.timeOrigin`))
	if err != nil {
		return -1 // between documents
	}
	return v
}

func (b browser) ready() bool {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState`))
	return err == nil && s == "complete"
}

func (b browser) path() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("browser: location: %v", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.Path
}

func (b browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(no page text: " + err.Error() + ")"
	}
	return s
}

// see fails unless the page's visible text contains every word
// (case-insensitively), and returns the text.
func (b browser) see(words ...string) string {
	b.t.Helper()
	text := b.text()
	for _, w := range words {
		if !strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
			b.t.Fatalf("browser: %s does not show %q:\n%s", b.path(), w, text)
		}
	}
	return text
}
