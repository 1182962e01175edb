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
	// Secure marks cookies Secure and turns on HSTS: exactly when
	// CLINCH_HOST is https or FORCE_SSL is set. A browser keeps no Secure
	// cookie from a plain-http address, so a plain-http CLINCH_HOST gets
	// plain cookies (and Clinch warns at start when it is not loopback).
	Secure bool
}

// NewSite derives the cookie settings from CLINCH_HOST and an optional
// explicit cookie domain. Localhost and IP addresses get host-only cookies;
// otherwise the registrable domain, so sibling subdomains share the session.
func NewSite(host *url.URL, cookieDomain string, forceSSL bool) Site {
	s := Site{Host: host, CookieDomain: strings.TrimPrefix(strings.ToLower(cookieDomain), ".")}
	h := strings.ToLower(host.Hostname())
	local := IsLoopbackName(h) || net.ParseIP(h) != nil
	s.Secure = host.Scheme == "https" || forceSSL
	if s.CookieDomain == "" && !local {
		if d, err := publicsuffix.EffectiveTLDPlusOne(h); err == nil {
			s.CookieDomain = d
		}
	}
	return s
}

// PlainHTTPOnNetwork reports whether people reach Clinch over plain http at
// an address other than this machine's loopback: passwords then cross the
// network in clear.
func (s Site) PlainHTTPOnNetwork() bool {
	return s.Host != nil && s.Host.Scheme == "http" && !IsLoopbackName(s.Host.Hostname())
}

// IsLoopbackName reports whether host (no port) names this machine's
// loopback interface: localhost, a name under .localhost (browsers resolve
// those to loopback themselves), or a loopback IP address.
func IsLoopbackName(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// URL returns an absolute URL on Clinch for the path (which may carry a
// query).
func (s Site) URL(path string) string {
	return strings.TrimRight(s.Host.String(), "/") + path
}

// CookieReaches reports whether the browser sends the session cookie to
// host (lower case, no port): Clinch's own host, or any host under the
// cookie domain.
func (s Site) CookieReaches(host string) bool {
	if s.CookieDomain == "" {
		return s.Host != nil && strings.EqualFold(host, s.Host.Hostname())
	}
	return host == s.CookieDomain || strings.HasSuffix(host, "."+s.CookieDomain)
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

// SignInCookie holds the token of a sign-in under way (the pending state
// itself stays on the server, under the token's HMAC). It goes only to
// Clinch's own host and only to the sign-in pages (Path /signin covers
// /signin/second-factor and the rest), and ends with the browser session;
// the server forgets the sign-in after ten minutes anyway.
const SignInCookie = "clinch_signin"

// SetSignIn writes the pending sign-in cookie.
func (s Site) SetSignIn(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: SignInCookie, Value: token, Path: "/signin",
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// ClearSignIn removes the pending sign-in cookie.
func (s Site) ClearSignIn(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: SignInCookie, Value: "", Path: "/signin", MaxAge: -1,
		HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// SignInToken returns the pending sign-in cookie's value, or "".
func SignInToken(r *http.Request) string {
	c, err := r.Cookie(SignInCookie)
	if err != nil {
		return ""
	}
	return c.Value
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

// LocalRequest reports whether r comes from a browser on this machine: its
// client address (ClientIP with the trusted proxies) is loopback, no
// untrusted peer says it forwarded the request for someone else, and the
// host it asked for is a loopback name. A proxy on the same machine that is
// not in CLINCH_TRUSTED_PROXIES connects from loopback too; its forwarding
// headers, or the public host name it passes on, keep its clients from
// counting as local.
func LocalRequest(r *http.Request, trusted []*net.IPNet) bool {
	ip := net.ParseIP(ClientIP(r, trusted))
	if ip == nil || !ip.IsLoopback() {
		return false
	}
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if p := net.ParseIP(peer); p == nil || !contains(trusted, p) {
		// The headers by which a proxy says it passed on someone else's
		// request.
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "Forwarded"} {
			if _, ok := r.Header[h]; ok {
				return false
			}
		}
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return IsLoopbackName(host)
}
