package forward

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

func (f *fixture) addRule(slug string, in auth.RuleInput) {
	f.t.Helper()
	if _, _, err := f.svc.AddAppRule(context.Background(), slug, in, 0); err != nil {
		f.t.Fatal(err)
	}
}

func TestVerify_BypassBlanksIdentityHeaders(t *testing.T) {
	f := newFixture(t)
	f.addRule("wiki", auth.RuleInput{Path: "/api", Policy: auth.PolicyBypass})
	tok, _ := f.signIn("ann@example.com")
	for _, cookie := range []string{"", tok} {
		h := wiki("/api/v1/items")
		h.Set("Remote-User", "admin") // what a client may try to pass on
		w := f.do(req{h: h, cookie: cookie})
		if w.Code != 200 {
			t.Fatalf("signed in %v: status %d", cookie != "", w.Code)
		}
		for _, name := range []string{"Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups", "Remote-Admin"} {
			if v, ok := w.Header()[name]; !ok || len(v) != 1 || v[0] != "" {
				t.Errorf("signed in %v: %s = %q, want one empty value", cookie != "", name, v)
			}
		}
	}
	// Outside the bypass the user is named as before.
	if w := f.do(req{h: wiki("/page"), cookie: tok}); w.Code != 200 || w.Header().Get("Remote-User") != "ann" {
		t.Errorf("outside the bypass: %d %q", w.Code, w.Header().Get("Remote-User"))
	}
}

func TestVerify_DenyRuleRefusesASignedInMember(t *testing.T) {
	f := newFixture(t)
	f.addRule("wiki", auth.RuleInput{Path: "/admin", Policy: auth.PolicyDeny})
	tok, _ := f.signIn("ann@example.com")
	for _, uri := range []string{"/admin", "/admin/x", "/ADMIN", "/x/../admin", "/x/..%2Fadmin", "/admin;x"} {
		if w := f.do(req{h: wiki(uri), cookie: tok}); w.Code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", uri, w.Code)
		}
	}
}

func TestVerify_NetworkRuleUsesTheTrustedProxysForwardedFor(t *testing.T) {
	f := newFixture(t)
	f.addRule("wiki", auth.RuleInput{Path: "/lan", Policy: auth.PolicyBypass, Networks: []string{"203.0.113.0/24"}})
	// httptest's peer is 192.0.2.1; caddyHeaders says the client is 203.0.113.7.
	if w := f.do(req{h: wiki("/lan/x")}); w.Code != http.StatusForbidden {
		t.Errorf("untrusted proxy: status %d, want 403 (the client's address is unknown)", w.Code)
	}
	f.v.trusted = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	if w := f.do(req{h: wiki("/lan/x")}); w.Code != 200 {
		t.Errorf("trusted proxy, client inside: status %d, want 200", w.Code)
	}
	h := wiki("/lan/x")
	h.Set("X-Forwarded-For", "198.51.100.9")
	if w := f.do(req{h: h}); w.Code != http.StatusUnauthorized {
		t.Errorf("trusted proxy, client outside: status %d, want 401", w.Code)
	}
	// A client naming an inside address before the proxy's own entry is
	// not believed: the rightmost untrusted address is the client's.
	h.Set("X-Forwarded-For", "203.0.113.7, 198.51.100.9")
	if w := f.do(req{h: h}); w.Code != http.StatusUnauthorized {
		t.Errorf("spoofed X-Forwarded-For: status %d, want 401", w.Code)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		peer string
		xff  []string
		want string // "" = unknown
	}{
		{"10.0.0.1:80", []string{"203.0.113.7"}, "203.0.113.7"},
		{"10.0.0.1:80", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"10.0.0.1:80", []string{"203.0.113.7", "10.0.0.2"}, "203.0.113.7"},
		// A client's own line before the one its proxy added (HAProxy adds
		// a line rather than append): the lines are one list.
		{"10.0.0.1:80", []string{"6.6.6.6", "203.0.113.7"}, "203.0.113.7"},
		{"10.0.0.1:80", []string{"10.0.0.9, 10.0.0.2"}, "10.0.0.9"},
		{"[::1]:80", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"10.0.0.1:80", nil, ""},
		{"10.0.0.1:80", []string{"junk, 203.0.113.7, 10.0.0.3"}, "203.0.113.7"},
		{"10.0.0.1:80", []string{"203.0.113.7, junk"}, ""},
		{"192.0.2.1:80", []string{"203.0.113.7"}, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", Path, nil)
		r.RemoteAddr = tt.peer
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		got := clientAddr(r, trusted)
		if want := tt.want; want == "" && got.IsValid() || want != "" && got.String() != want {
			t.Errorf("%s %q: %v, want %q", tt.peer, tt.xff, got, want)
		}
	}
}

// BenchmarkVerifyRules is the hot path at an app without rules and at one
// with ten, of which the last matches, taking turns in rounds so drift on
// a shared machine hits both alike (sub-benchmarks of one name are the
// rounds: rules=0, rules=0#01, ...). Compare the medians:
//
//	go test ./forward/ -run '^$' -bench VerifyRules -benchtime 100000x | scripts/benchratio
func BenchmarkVerifyRules(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	must3(b)(f.svc.CreateApp(ctx, auth.AppInput{Name: "Ruled", Type: auth.AppForwardAuth, Domain: "ruled.example.com", AllowedGroups: []string{"staff"}}))
	for i := range 9 {
		f.addRule("ruled", auth.RuleInput{Path: fmt.Sprintf("/section%d", i), Policy: auth.PolicyDeny})
	}
	f.addRule("ruled", auth.RuleInput{Path: "/some", Policy: auth.PolicySignedIn})
	tok, _ := f.signIn("ann@example.com")
	const rounds = 10
	for range rounds {
		for _, bc := range []struct{ name, host string }{{"rules=0", "wiki.example.com"}, {"rules=10", "ruled.example.com"}} {
			b.Run(bc.name, func(b *testing.B) {
				r := httptest.NewRequest("GET", Path, nil)
				r.Header = caddyHeaders("https", bc.host, "/some/page?q=1")
				r.Header.Set("Accept", browserAccept)
				r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: tok})
				w := &discardWriter{h: http.Header{}}
				f.v.ServeHTTP(w, r)
				if w.code != 200 || w.h.Get("Remote-User") != "ann" {
					b.Fatalf("status %d, user %q", w.code, w.h.Get("Remote-User"))
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					clear(w.h)
					f.v.ServeHTTP(w, r)
				}
			})
		}
	}
}

func TestVerify_MethodOverrideMeetsAMethodRule(t *testing.T) {
	f := newFixture(t)
	f.addRule("wiki", auth.RuleInput{Path: "/items", Methods: []string{"DELETE"}, Policy: auth.PolicyDeny})
	tok, _ := f.signIn("ann@example.com")
	h := wiki("/items/1")
	h.Set("X-Forwarded-Method", "POST")
	if w := f.do(req{h: h, cookie: tok}); w.Code != 200 {
		t.Errorf("POST: %d, want 200", w.Code)
	}
	h.Set("X-Http-Method-Override", "delete")
	if w := f.do(req{h: h, cookie: tok}); w.Code != http.StatusForbidden {
		t.Errorf("POST claiming DELETE: %d, want 403", w.Code)
	}
}
