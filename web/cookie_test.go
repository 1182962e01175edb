package web

import (
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
		{"http://auth.example.com", "", false, "example.com", true},
		{"http://192.168.1.10:3000", "", false, "", false},
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
		if s.CookieDomain != tt.wantDomain || s.Secure != tt.wantSecure {
			t.Errorf("NewSite(%s, %q, %v) = domain %q secure %v, want %q %v",
				tt.host, tt.cookieDomain, tt.forceSSL, s.CookieDomain, s.Secure, tt.wantDomain, tt.wantSecure)
		}
		// What the browser receives.
		rec := httptest.NewRecorder()
		s.SetSession(rec, "cs_x", time.Now().Add(time.Hour), true)
		c := rec.Result().Cookies()[0]
		if c.Name != SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
			c.Secure != tt.wantSecure || c.Domain != tt.wantDomain || c.Path != "/" {
			t.Errorf("%s: session cookie %+v", tt.host, c)
		}
	}
}
