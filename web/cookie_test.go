package web

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

func TestNewSite(t *testing.T) {
	tests := []struct {
		host, cookieDomain string
		forceSSL           bool
		wantDomain         string
		wantSecure         bool
	}{
		{"http://localhost:3000", "", false, "", false},
		{"http://LOCALHOST:3000", "", false, "", false},
		{"http://app.localhost:3000", "", false, "", false},
		{"http://localhost:3000", "", true, "", true},
		{"https://example.com", "", false, "example.com", true},
		{"https://auth.example.com", "", false, "example.com", true},
		{"https://auth.example.co.uk", "", false, "example.co.uk", true},
		// Secure exactly when https or FORCE_SSL: a browser would drop a
		// Secure cookie from a plain-http address and nobody could sign in.
		{"http://auth.example.com", "", false, "example.com", false},
		{"http://auth.example.com", "", true, "example.com", true},
		{"http://192.168.1.10:3000", "", false, "", false},
		{"http://192.168.1.10:3000", "", true, "", true},
		{"https://192.168.1.10", "", false, "", true},
		{"http://[::1]:3000", "", false, "", false},
		{"https://auth.example.com", "sso.example.com", false, "sso.example.com", true},
		{"https://auth.example.com", ".Example.com", false, "example.com", true},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.host)
		if err != nil {
			t.Fatal(err)
		}
		s := NewSite(u, tt.cookieDomain, tt.forceSSL)
		// The CSRF cookie follows the same rule.
		rec := httptest.NewRecorder()
		CSRF(s, nil, nil, nil)(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", tt.host+"/signin", nil))
		if cs := rec.Result().Cookies(); len(cs) != 1 || cs[0].Name != CSRFCookie || cs[0].Secure != tt.wantSecure {
			t.Errorf("%s (FORCE_SSL=%v): CSRF cookie %v, want Secure=%v", tt.host, tt.forceSSL, cs, tt.wantSecure)
		}
		if s.CookieDomain != tt.wantDomain || s.Secure != tt.wantSecure {
			t.Errorf("NewSite(%s, %q, %v) = domain %q secure %v, want %q %v",
				tt.host, tt.cookieDomain, tt.forceSSL, s.CookieDomain, s.Secure, tt.wantDomain, tt.wantSecure)
		}
		// What the browser receives.
		rec = httptest.NewRecorder()
		s.SetSession(rec, "cs_x", time.Now().Add(time.Hour), true)
		c := rec.Result().Cookies()[0]
		if c.Name != SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
			c.Secure != tt.wantSecure || c.Domain != tt.wantDomain || c.Path != "/" {
			t.Errorf("%s: session cookie %+v", tt.host, c)
		}
	}
}

func TestIsLoopbackNameAndPlainHTTPOnNetwork(t *testing.T) {
	tests := []struct {
		host     string
		loopback bool
	}{
		{"http://localhost:3000", true},
		{"http://LocalHost", true},
		{"http://auth.clinch.localhost:8443", true},
		{"http://127.0.0.1:3000", true},
		{"http://127.3.2.1", true},
		{"http://[::1]:3000", true},
		{"http://192.0.2.2:3000", false},
		{"http://10.0.0.5", false},
		{"http://[2001:db8::1]:3000", false},
		{"http://auth.example.com", false},
		{"http://localhost.example.com", false},
		{"http://notlocalhost", false},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.host)
		if err != nil {
			t.Fatal(err)
		}
		if got := IsLoopbackName(u.Hostname()); got != tt.loopback {
			t.Errorf("IsLoopbackName(%q) = %v, want %v", u.Hostname(), got, tt.loopback)
		}
		if got := NewSite(u, "", false).PlainHTTPOnNetwork(); got != !tt.loopback {
			t.Errorf("%s: PlainHTTPOnNetwork = %v, want %v", tt.host, got, !tt.loopback)
		}
		u.Scheme = "https"
		if NewSite(u, "", false).PlainHTTPOnNetwork() {
			t.Errorf("%s: PlainHTTPOnNetwork over https", u)
		}
	}
}

func TestLocalRequest(t *testing.T) {
	_, lo, _ := net.ParseCIDR("127.0.0.1/32")
	tests := []struct {
		name    string
		remote  string
		host    string
		hdr     map[string]string
		trusted []*net.IPNet
		local   bool
	}{
		{"browser on this machine", "127.0.0.1:5000", "localhost:3000", nil, nil, true},
		{"IPv6 loopback", "[::1]:5000", "[::1]:3000", nil, nil, true},
		{"a *.localhost name", "127.0.0.1:5000", "auth.clinch.localhost:3000", nil, nil, true},
		{"another machine", "192.0.2.5:5000", "192.0.2.2:3000", nil, nil, false},
		{"another machine claiming localhost", "192.0.2.5:5000", "localhost:3000", nil, nil, false},
		{"untrusted local proxy with X-Forwarded-For", "127.0.0.1:5000", "localhost:3000", map[string]string{"X-Forwarded-For": "192.0.2.5"}, nil, false},
		{"untrusted local proxy with X-Forwarded-For 127.0.0.1", "127.0.0.1:5000", "localhost:3000", map[string]string{"X-Forwarded-For": "127.0.0.1"}, nil, false},
		{"untrusted local proxy with X-Real-IP", "127.0.0.1:5000", "localhost:3000", map[string]string{"X-Real-IP": "192.0.2.5"}, nil, false},
		{"untrusted local proxy with Forwarded", "127.0.0.1:5000", "localhost:3000", map[string]string{"Forwarded": "for=192.0.2.5"}, nil, false},
		{"local proxy passing a public host", "127.0.0.1:5000", "auth.example.com", nil, nil, false},
		{"trusted proxy for a remote client", "127.0.0.1:5000", "localhost:3000", map[string]string{"X-Forwarded-For": "192.0.2.5"}, []*net.IPNet{lo}, false},
		{"trusted proxy for a local browser", "127.0.0.1:5000", "auth.clinch.localhost", map[string]string{"X-Forwarded-For": "127.0.0.1"}, []*net.IPNet{lo}, true},
		{"trusted proxy, spoofed X-Forwarded-For left of the remote client", "127.0.0.1:5000", "localhost", map[string]string{"X-Forwarded-For": "127.0.0.1, 192.0.2.5"}, []*net.IPNet{lo}, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/signup", nil)
		r.RemoteAddr, r.Host = tt.remote, tt.host
		for k, v := range tt.hdr {
			r.Header.Set(k, v)
		}
		if got := LocalRequest(r, tt.trusted); got != tt.local {
			t.Errorf("%s: LocalRequest = %v, want %v", tt.name, got, tt.local)
		}
	}
}
