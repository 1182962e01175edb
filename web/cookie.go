// Package web holds what every HTTP module of Clinch shares: the session
// cookie's settings, the client address, safe return URLs and the middleware
// chain (request id, recovery, security headers, CSRF).
package web

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "clinch_session"

// Site describes where Clinch is reachable and how its cookies are set.
type Site struct {
	// Host is CLINCH_HOST parsed: scheme and host (with port) of Clinch.
	Host *url.URL
	// CookieDomain is the Domain attribute; "" means host-only.
	CookieDomain string
	// Secure marks cookies Secure; false only for plain-HTTP localhost.
	Secure bool
}

// NewSite derives the cookie settings from CLINCH_HOST and an optional
// explicit cookie domain. Localhost and IP addresses get host-only cookies;
// otherwise the registrable domain, so sibling subdomains share the session.
func NewSite(host *url.URL, cookieDomain string, forceSSL bool) Site {
	s := Site{Host: host, CookieDomain: strings.TrimPrefix(strings.ToLower(cookieDomain), ".")}
	h := strings.ToLower(host.Hostname())
	local := h == "localhost" || strings.HasSuffix(h, ".localhost") || net.ParseIP(h) != nil
	s.Secure = host.Scheme == "https" || forceSSL || !local
	if s.CookieDomain == "" && !local {
		if d, err := publicsuffix.EffectiveTLDPlusOne(h); err == nil {
			s.CookieDomain = d
		}
	}
	return s
}

// URL returns an absolute URL on Clinch for the path (which may carry a
// query).
func (s Site) URL(path string) string {
	return strings.TrimRight(s.Host.String(), "/") + path
}

// SetSession writes the session cookie. maxAge 0 makes it a browser-session
// cookie.
func (s Site) SetSession(w http.ResponseWriter, token string, expires time.Time, persistent bool) {
	c := &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", Domain: s.CookieDomain,
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode,
	}
	if persistent {
		c.Expires = expires
		c.MaxAge = int(time.Until(expires).Seconds())
	}
	http.SetCookie(w, c)
}

// ClearSession removes the session cookie.
func (s Site) ClearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", Domain: s.CookieDomain, MaxAge: -1,
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// SessionToken returns the session cookie's value, or "".
func SessionToken(r *http.Request) string {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// ClientIP is the address of the client. Clinch does not trust
// X-Forwarded-For by default: a client could write anything there and
// escape the per-IP rate limit. Behind a proxy, TrustedProxies lists the
// proxy addresses whose X-Forwarded-For is believed.
func ClientIP(r *http.Request, trusted []*net.IPNet) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil || !contains(trusted, ip) {
		return host
	}
	// Walk X-Forwarded-For from the right, skipping trusted hops. A proxy
	// may add its hop as a header line of its own (HAProxy does) rather
	// than append to the client's line: the lines are one list, in order,
	// and reading only the first would let the client name its address.
	parts := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(parts) - 1; i >= 0; i-- {
		p := net.ParseIP(strings.TrimSpace(parts[i]))
		if p == nil {
			break
		}
		if !contains(trusted, p) {
			return p.String()
		}
	}
	return host
}

func contains(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
