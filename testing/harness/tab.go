package harness

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// StepTimeout bounds one browser step: a page load, a click, a wait.
const StepTimeout = 20 * time.Second

// Tab drives one browser tab (a context from Browser, BrowserWith or
// FreshBrowser) the way a person does: open a URL, type, click, read. Each
// step is bounded by StepTimeout and fails the test with the page's text.
type Tab struct {
	T   testing.TB
	Ctx context.Context
	// Base is prepended to paths given to Open ("/signin"); full URLs are
	// opened as they are.
	Base string
}

func (b Tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.T.Fatalf("browser: %s: %v\nat %s, page: %s%s", what, err, b.location(), b.Text(), consoleText(b.Ctx))
	}
}

// Open loads a URL (or a path under Base) and waits for the page that
// ends the redirects.
func (b Tab) Open(u string) {
	b.T.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.Base + u
	}
	b.do("open "+u, chromedp.Navigate(u))
}

// Type replaces the value of the input matching the CSS selector sel by
// typing text into it.
func (b Tab) Type(sel, text string) {
	b.T.Helper()
	b.do("type into "+sel,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Clear(chromedp.CSS(sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// TypeArea is Type for a textarea: chromedp's Clear and SetValue fail on
// one (an empty one has no text node), so the page's own DOM empties it
// before the keys are sent.
func (b Tab) TypeArea(sel, text string) {
	b.T.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	js := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); e.value = ""; return true; })()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
		b.T.Fatalf("browser: empty %s: %v", sel, err)
	}
	b.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// WaitVisible waits until an element matching the CSS selector sel is
// shown, for what a page's script reveals without loading a new page.
func (b Tab) WaitVisible(sel string) {
	b.T.Helper()
	b.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// Click clicks the element the JavaScript expression jsPath evaluates to
// (see SubmitOf and Button).
func (b Tab) Click(jsPath string) {
	b.T.Helper()
	b.do("click "+jsPath, chromedp.Click(chromedp.JSPath(jsPath)))
}

// ClickAndLoad clicks and waits until the tab has loaded a new page,
// wherever the redirects that follow end; the caller checks where.
func (b Tab) ClickAndLoad(jsPath string) {
	b.T.Helper()
	before := b.loadID()
	b.Click(jsPath)
	b.waitAt(before, "", "clicking "+jsPath)
}

// ClickAndWait clicks and waits until the tab has loaded a new page at
// want: a path ("/signin", on any host) or an origin and path
// ("https://app.clinch.test:8443/page"). The query is not compared.
func (b Tab) ClickAndWait(jsPath, want string) {
	b.T.Helper()
	before := b.loadID()
	b.Click(jsPath)
	b.waitAt(before, want, "clicking "+jsPath)
}

// WaitAt waits until the tab shows a loaded page at want (as for
// ClickAndWait), for pages that move on by themselves.
func (b Tab) WaitAt(want string) {
	b.T.Helper()
	b.waitAt(-2, want, "waiting")
}

func (b Tab) waitAt(before float64, want, after string) {
	b.T.Helper()
	deadline := time.Now().Add(StepTimeout)
	for time.Now().Before(deadline) {
		if id := b.loadID(); id != before && id != -1 && b.ready() && at(b.location(), want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want == "" {
		want = "a new page"
	}
	b.T.Fatalf("browser: after %s the tab is at %s, want %s\npage: %s%s", after, b.location(), want, b.Text(), consoleText(b.Ctx))
}

// at reports whether loc is at want (a path, or an origin and path; ""
// is anywhere).
func at(loc, want string) bool {
	u, err := url.Parse(loc)
	if err != nil {
		return false
	}
	if want == "" {
		return true
	}
	if strings.HasPrefix(want, "/") {
		return u.Path == want
	}
	return u.Scheme+"://"+u.Host+u.Path == want
}

// loadID marks the document: a new page load gets a new one; -1 means
// between documents.
func (b Tab) loadID() float64 {
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.timeOrigin`))
	if err != nil {
		return -1
	}
	return v
}

func (b Tab) ready() bool {
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.readyState`))
	return err == nil && s == "complete"
}

func (b Tab) location() string {
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// URL returns the tab's current URL.
func (b Tab) URL() *url.URL {
	b.T.Helper()
	loc := b.location()
	u, err := url.Parse(loc)
	if err != nil {
		b.T.Fatalf("browser: location %q: %v", loc, err)
	}
	return u
}

// Path returns the path of the tab's current URL.
func (b Tab) Path() string {
	b.T.Helper()
	return b.URL().Path
}

// Text returns the page's visible text.
func (b Tab) Text() string {
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(no page text: " + err.Error() + ")"
	}
	return s
}

// AllText returns all the text of the page, also what is hidden (in a
// closed <details>, say).
func (b Tab) AllText() string {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.textContent : ""`))
	if err != nil {
		b.T.Fatalf("browser: page text: %v", err)
	}
	return s
}

// See fails unless the page's visible text contains every phrase
// (case-insensitively), and returns the text.
func (b Tab) See(phrases ...string) string {
	b.T.Helper()
	text := b.Text()
	for _, w := range phrases {
		if !strings.Contains(strings.ToLower(text), strings.ToLower(w)) {
			b.T.Fatalf("browser: %s does not show %q:\n%s", b.location(), w, text)
		}
	}
	return text
}

// Has reports whether an element matches the CSS selector sel and is
// shown (not hidden, with a size).
func (b Tab) Has(sel string) bool {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	js := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return !!e && e.type !== "hidden" && e.getClientRects().length > 0; })()`
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		b.T.Fatalf("browser: look for %s: %v", sel, err)
	}
	return ok
}

// TextOf returns the visible text of the element matching the CSS
// selector sel (what a person would copy from it), failing the test when
// there is none.
func (b Tab) TextOf(sel string) string {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	js := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return e ? e.innerText : null; })()`
	v, err := chromedp.Run(ctx, chromedp.Evaluate[*string](js))
	if err != nil {
		b.T.Fatalf("browser: text of %s: %v", sel, err)
	}
	if v == nil {
		b.T.Fatalf("browser: %s has no %s:\n%s", b.location(), sel, b.Text())
	}
	return *v
}

// Value returns the value of the input matching the CSS selector sel.
func (b Tab) Value(sel string) string {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.T.Fatalf("browser: value of %s: %v", sel, err)
	}
	return v
}

// Attr returns the attribute name of the element matching the CSS
// selector sel ("" when it has none).
func (b Tab) Attr(sel, name string) string {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	js := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); return e ? (e.getAttribute(` + strconv.Quote(name) + `) || "") : "\u0000"; })()`
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.T.Fatalf("browser: attribute %s of %s: %v", name, sel, err)
	}
	if v == "\x00" {
		b.T.Fatalf("browser: no element matches %s at %s", sel, b.location())
	}
	return v
}

// Cookies returns the cookies the browser would send to u.
func (b Tab) Cookies(u string) []*network.Cookie {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		b.T.Fatalf("browser: cookies for %s: %v", u, err)
	}
	return res.Cookies
}

// ForgetCookies deletes the host-only cookies of u's host (those its site
// set for itself, such as oauth2-proxy's), as when they expire, and keeps
// the rest (Clinch's, whose Domain is the parent domain).
func (b Tab) ForgetCookies(u string) {
	b.T.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		b.T.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.Ctx, StepTimeout)
	defer cancel()
	for _, c := range b.Cookies(u) {
		if c.Domain != pu.Hostname() {
			continue
		}
		if _, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: c.Name, Domain: c.Domain, Path: c.Path}); err != nil {
			b.T.Fatalf("browser: delete cookie %s: %v", c.Name, err)
		}
	}
	for _, c := range b.Cookies(u) {
		if c.Domain == pu.Hostname() {
			b.T.Fatalf("browser: cookie %s of %s is still there after deleting it", c.Name, c.Domain)
		}
	}
}

// Visited returns the URLs of every page the tab has requested so far,
// redirects included, in order: what a person's address bar went
// through.
func (b Tab) Visited() []string { return visited(b.Ctx) }

// Shot keeps a screenshot of the tab (see Screenshot).
func (b Tab) Shot(name string) string {
	b.T.Helper()
	return Screenshot(b.T, b.Ctx, name)
}

// SubmitOf is a JS path to the submit button of the form that holds the
// element matching the CSS selector sel.
func SubmitOf(sel string) string {
	return `document.querySelector(` + strconv.Quote(sel) + `).form.querySelector('button[type="submit"], input[type="submit"], button:not([type])')`
}

// Button is a JS path to the first button (or submit input) whose visible
// label is text, ignoring case and surrounding space.
func Button(text string) string {
	return `Array.from(document.querySelectorAll('button, input[type="submit"]')).find(e => (e.innerText || e.value || "").trim().toLowerCase() === ` + strconv.Quote(strings.ToLower(text)) + `)`
}
