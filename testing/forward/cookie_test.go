package forward

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// The session cookie is shared by every app under the cookie domain, so
// the browser sends it to each of them. An app (or whoever controls its
// upstream) that receives it holds a session for every other app: the
// documented proxy configurations take it out of the upstream request,
// after Clinch has read it, and leave the app's own cookies alone.
func TestProxy_SessionCookieNotSentUpstream(t *testing.T) {
	s := clinch(t)
	up := startUpstream(t)
	c := browser()
	harness.SignIn(t, c, s, "ann@example.com", password, "")
	ck := harness.Cookie(c, "http://"+appHost+"/", "clinch_session")
	if ck == nil {
		t.Fatal("ann has no session cookie for the app's domain")
	}
	sess := ck.Name + "=" + ck.Value
	// Cookie headers as browsers send them: the session alone, first, in
	// the middle, last, twice (two Domains), beside look-alike names.
	cases := []struct {
		header string
		want   []string // the cookies the app must see, in order
	}{
		{sess, nil},
		{sess + "; theme=dark", []string{"theme=dark"}},
		{"theme=dark; " + sess, []string{"theme=dark"}},
		{"theme=dark; " + sess + "; lang=en", []string{"theme=dark", "lang=en"}},
		{"theme=dark;" + sess + ";lang=en", []string{"theme=dark", "lang=en"}},
		{sess + "; app_session=abc; " + sess, []string{"app_session=abc"}},
		{"my_clinch_session=keep; " + sess + "; clinch_session_x=keep", []string{"my_clinch_session=keep", "clinch_session_x=keep"}},
	}
	for _, proxy := range []struct {
		name  string
		start func(*testing.T, *harness.Server, string) string
	}{{"caddy", startCaddy}, {"nginx", startNginx}} {
		t.Run(proxy.name, func(t *testing.T) {
			site := proxy.start(t, s, up.URL)
			bare := &http.Client{Transport: loopback(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			// Messages show the session token as TOKEN.
			hide := strings.NewReplacer(ck.Value, "TOKEN").Replace
			for _, tc := range cases {
				e := upstreamSaw(t)(get(t, bare, site+"/page", "Cookie", tc.header))
				if e.Headers["Remote-User"] != "ann@example.com" {
					t.Errorf("Cookie %q: not signed in as ann at the app (%v)", hide(tc.header), e.Headers)
				}
				if strings.Contains(e.Cookie, ck.Value) {
					t.Errorf("Cookie %q: the app received the session cookie: %q", hide(tc.header), hide(e.Cookie))
				}
				if got := cookieNames(e.Cookie); !slices.Equal(got, tc.want) {
					t.Errorf("Cookie %q: the app received cookies %q, want %q", hide(tc.header), hide(strings.Join(got, "; ")), tc.want)
				}
			}
		})
	}
}

// cookieNames splits a Cookie header as an app's server would.
func cookieNames(h string) []string {
	var out []string
	for _, part := range strings.Split(h, ";") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
