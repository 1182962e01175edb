package harness

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Echo starts the protected app of the proxy tests on loopback: an HTML
// page titled "Echo" that shows the path it was asked for and each
// identity header it received, one per line as "Name: value", so a test
// reads in the browser what the app was told. It stops when the test
// ends.
func Echo(t testing.TB) *httptest.Server {
	t.Helper()
	// What ForwardAuth (Remote-*) and oauth2-proxy (X-Forwarded-*, and
	// the ID token as Authorization with --pass-authorization-header) tell
	// an app about the user.
	headers := []string{
		"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups", "Remote-Admin",
		"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Preferred-Username", "X-Forwarded-Groups",
		"Authorization",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString("<!doctype html><title>Echo</title><h1>Echo</h1><pre>")
		fmt.Fprintf(&b, "Path: %s\n", html.EscapeString(r.URL.Path))
		for _, h := range headers {
			fmt.Fprintf(&b, "%s: %s\n", h, html.EscapeString(r.Header.Get(h)))
		}
		b.WriteString("</pre>")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(b.String()))
	}))
	t.Cleanup(srv.Close)
	return srv
}
