package harness

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser starts Debian's headless Chromium with a fresh profile and returns
// a chromedp context that has already opened a blank tab, so callers may
// derive per-step timeouts from it. The whole browser lives at most limit;
// it is closed when the test ends.
func Browser(t testing.TB, limit time.Duration) context.Context {
	t.Helper()
	return BrowserWith(t, limit, BrowserOptions{})
}

// BrowserOptions adapt Chromium to sites behind a test proxy.
type BrowserOptions struct {
	// Loopback lists host patterns Chromium resolves to 127.0.0.1, such
	// as "*.clinch.test" (--host-resolver-rules); any other name but
	// localhost and 127.0.0.1 fails to resolve, so nothing leaves the
	// machine.
	Loopback []string
	// IgnoreCertErrors accepts certificates of test CAs (Caddy's local
	// CA, nginx's self-signed one). Pages stay https, so Secure cookies
	// and secure contexts behave as in production.
	IgnoreCertErrors bool
}

// BrowserWith is Browser with options.
func BrowserWith(t testing.TB, limit time.Duration, bo BrowserOptions) context.Context {
	t.Helper()
	exe := NeedTool(t, "chromium")
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	// Flags from PEERS.md: running as root needs --no-sandbox; without the
	// background-networking flags Chromium floods the closed network.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	}
	if len(bo.Loopback) > 0 {
		rules := make([]string, 0, len(bo.Loopback)+1)
		for _, p := range bo.Loopback {
			rules = append(rules, "MAP "+p+" 127.0.0.1")
		}
		// Every other name is unresolvable: a test must not reach out.
		// The rules apply to IP literals too, so loopback is excluded.
		rules = append(rules, "EXCLUDE localhost", "EXCLUDE 127.0.0.1", "MAP * ~NOTFOUND")
		opts = append(opts, chromedp.Flag("host-resolver-rules", strings.Join(rules, ", ")))
	}
	if bo.IgnoreCertErrors {
		opts = append(opts, chromedp.IgnoreCertErrors)
	}
	// The deadline bounds the browser's whole life; it is not a per-step
	// timeout (a timeout on the first Run would stop the browser).
	root, cancelRoot := context.WithTimeout(context.Background(), limit)
	actx, cancelAlloc := chromedp.NewExecAllocator(root, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		cancelRoot()
		out.Close()
		if t.Failed() {
			if b, err := os.ReadFile(out.Name()); err == nil && len(b) > 0 {
				t.Logf("harness: chromium output (dbus lines left out):\n%s", withoutDBus(b))
			}
		}
	})
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("harness: start chromium: %v", err)
	}
	ctx, err = withRecord(ctx)
	if err != nil {
		t.Fatalf("harness: listen to chromium's log: %v", err)
	}
	return ctx
}

// FreshBrowser returns a chromedp context for a new tab in a new browser
// context of ctx's Chromium: no cookies, no storage, like a browser that
// never visited the sites (Chromium's incognito). It is closed when the
// test ends.
func FreshBrowser(t testing.TB, ctx context.Context) context.Context {
	t.Helper()
	fresh, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(fresh, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("harness: open a fresh browser context: %v", err)
	}
	fresh, err := withRecord(fresh)
	if err != nil {
		t.Fatalf("harness: listen to chromium's log: %v", err)
	}
	return fresh
}

// Screenshot saves a full-page PNG of the browser's tab as name.png in a
// temp dir of the test and logs its path. With CLINCH_KEEP_SCREENSHOTS set,
// it also copies it to testdata/ of the test's package.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // 100 means PNG; less is JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(t.TempDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
	if os.Getenv("CLINCH_KEEP_SCREENSHOTS") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		keep := filepath.Join("testdata", name+".png")
		if err := os.WriteFile(keep, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot kept: %s", keep)
	}
	return p
}

// withoutDBus drops Chromium's harmless complaints about the missing
// system bus, which would bury anything useful.
func withoutDBus(b []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.Contains(line, []byte("dbus")) {
			out = append(out, line...)
		}
	}
	return out
}
