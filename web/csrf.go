package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// CSRF names.
const (
	CSRFCookie = "clinch_csrf"
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// CSRFExempt lists paths that take requests from non-browser clients
// (token endpoints, /api/verify): they are neither checked nor given a
// clinch_csrf cookie, which keeps the verify hot path free of it. An entry
// ending in "/" exempts everything under it.
type CSRFExempt []string

func (e CSRFExempt) match(urlPath string) bool {
	// Compare the path as ServeMux will route it, so "/api/../signin"
	// cannot borrow an exemption.
	clean := path.Clean(urlPath)
	if strings.HasSuffix(urlPath, "/") && clean != "/" {
		clean += "/"
	}
	for _, p := range e {
		if p == clean || strings.HasSuffix(p, "/") && strings.HasPrefix(clean, p) {
			return true
		}
	}
	return false
}

// CSRF protects state-changing requests (POST, PUT, PATCH, DELETE) with a
// double-submitted token: the clinch_csrf cookie must equal the csrf_token
// form field (or X-CSRF-Token header). On top of that, a request that says
// where it comes from must come from Clinch's own origin: Origin, when
// present, must equal CLINCH_HOST's origin, and Sec-Fetch-Site, when
// present, must be same-origin or none. Sibling subdomains can plant
// cookies on the shared parent domain, which is why the origin check is
// not optional when the browser gives one.
//
// Safe requests without a valid cookie get a fresh one; CSRFToken(r) then
// returns the token for the page's hidden field. fail may be nil.
func CSRF(site Site, exempt CSRFExempt, fail ErrorFunc) func(http.Handler) http.Handler {
	if fail == nil {
		fail = plainError
	}
	origin := Origin(site.Host)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if exempt.match(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
				if cookieToken(r) == "" {
					tok := newCSRFToken()
					http.SetCookie(w, &http.Cookie{
						Name: CSRFCookie, Value: tok, Path: "/",
						HttpOnly: true, Secure: site.Secure, SameSite: http.SameSiteLaxMode,
					})
					r = r.WithContext(context.WithValue(r.Context(), keyCSRF, tok))
				}
				next.ServeHTTP(w, r)
				return
			}
			if reason := checkCSRF(r, origin); reason != "" {
				fail(w, r, http.StatusForbidden, "Request refused",
					"This form could not be accepted ("+reason+"). Go back, reload the page and try again.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// checkCSRF returns why a state-changing request is refused, or "".
func checkCSRF(r *http.Request, origin string) string {
	if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(normalizeOrigin(o), origin) {
		return "it came from another site"
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return "it came from another site"
	}
	want := cookieToken(r)
	if want == "" {
		return "the security cookie is missing; cookies must be enabled"
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return "the security token does not match"
	}
	return ""
}

// CSRFToken returns the token a page must put in its csrf_token field.
func CSRFToken(r *http.Request) string {
	if tok, ok := r.Context().Value(keyCSRF).(string); ok {
		return tok
	}
	return cookieToken(r)
}

// cookieToken returns the clinch_csrf cookie if it looks like one of ours.
func cookieToken(r *http.Request) string {
	c, err := r.Cookie(CSRFCookie)
	if err != nil || len(c.Value) != 43 {
		return ""
	}
	if _, err := base64.RawURLEncoding.DecodeString(c.Value); err != nil {
		return ""
	}
	return c.Value
}

func newCSRFToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Origin is the serialised origin of u (scheme://host[:port]), lower case,
// without a default port.
func Origin(u *url.URL) string {
	if u == nil {
		return ""
	}
	return normalizeOrigin(u.Scheme + "://" + u.Host)
}

func normalizeOrigin(o string) string {
	o = strings.ToLower(strings.TrimRight(o, "/"))
	switch {
	case strings.HasPrefix(o, "http://"):
		o = strings.TrimSuffix(o, ":80")
	case strings.HasPrefix(o, "https://"):
		o = strings.TrimSuffix(o, ":443")
	}
	return o
}
