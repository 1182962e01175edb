package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"mime"
	"net"
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
// A refused request gets a 403 page that names the cause and the fix, and
// one info line in log with the reason, the path and the Origin (never a
// token or cookie value).
//
// Safe requests without a valid cookie get a fresh one; CSRFToken(r) then
// returns the token for the page's hidden field. fail and log may be nil.
func CSRF(site Site, exempt CSRFExempt, fail ErrorFunc, log *slog.Logger) func(http.Handler) http.Handler {
	if fail == nil {
		fail = plainError
	}
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
			if ref := checkCSRF(r, site); ref != nil {
				Logger(r, log).Info("form refused", "reason", ref.Reason, "method", r.Method, "path", r.URL.Path,
					"origin", logValue(r.Header.Get("Origin")), "sec_fetch_site", logValue(r.Header.Get("Sec-Fetch-Site")))
				status := http.StatusForbidden
				if ref.Status != 0 {
					status = ref.Status
				}
				fail(w, r, status, "Request refused", ref.Message)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// MaxFormBytes is the most of a form body Clinch reads: its forms carry a
// few short fields.
const MaxFormBytes = 64 << 10

// csrfRefusal is why CSRF refused a request: a short code for logs and a
// message for the person that names the cause and the fix.
type csrfRefusal struct {
	Reason  string // origin_null, origin_mismatch, cross_site, cookie_missing, not_a_form, form_too_large, token_missing, token_mismatch
	Message string
	Status  int // 0: 403
}

// checkCSRF returns why a state-changing request is refused, or nil.
func checkCSRF(r *http.Request, site Site) *csrfRefusal {
	ours := Origin(site.Host)
	o := r.Header.Get("Origin")
	switch {
	case o == "":
	case o == "null":
		return &csrfRefusal{Reason: "origin_null", Message: "Your browser did not say which site this form was sent from (it sent \"Origin: null\"), " +
			"so Clinch cannot tell it apart from a form on another site. That happens when the page was opened from a file, " +
			"inside a sandboxed frame, or with a privacy setting that hides it. Open Clinch at " + ours + " and send the form from there."}
	case !strings.EqualFold(normalizeOrigin(o), ours):
		return &csrfRefusal{Reason: "origin_mismatch", Message: "This page was opened at " + shorten(o) + ", but Clinch's address is " + ours +
			" (CLINCH_HOST). Open Clinch at " + ours + " and try again. If " + shorten(o) +
			" is the address people should use, set CLINCH_HOST to it and restart Clinch."}
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return &csrfRefusal{Reason: "cross_site", Message: "This form was sent from another site (your browser says \"" + shorten(s) +
			"\"). Forms that change something in Clinch are accepted only from Clinch's own pages at " + ours + ". Open " + ours + " and try again."}
	}
	want := cookieToken(r)
	if want == "" {
		if site.Secure && secureCookieDropped(r, o, site) {
			return &csrfRefusal{Reason: "cookie_missing", Message: "Clinch's security cookie did not come back with the form. " +
				"Clinch marks its cookies Secure (FORCE_SSL is set, or CLINCH_HOST is https), and browsers keep no Secure cookie " +
				"from a plain-http address like this one. Open Clinch over https, or unset FORCE_SSL when Clinch really is reached over plain http."}
		}
		return &csrfRefusal{Reason: "cookie_missing", Message: "Clinch's security cookie did not come back with the form. " +
			"Your browser must accept cookies from " + site.Host.Hostname() + "; if it does, the cookie may have been cleared. " +
			"Reload the page and try again."}
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		// Only the body of a plain HTML form is read, and only as much of
		// it as MaxFormBytes allows: multipart parsing would buffer 32 MiB
		// per request before anything was checked.
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
			return &csrfRefusal{Reason: "not_a_form", Status: http.StatusUnsupportedMediaType,
				Message: "Clinch's forms are sent as application/x-www-form-urlencoded; this request was not. Send the form from Clinch's own page."}
		}
		r.Body = http.MaxBytesReader(nil, r.Body, MaxFormBytes)
		if err := r.ParseForm(); err != nil {
			return &csrfRefusal{Reason: "form_too_large", Status: http.StatusRequestEntityTooLarge,
				Message: "The form is larger than Clinch accepts (64 KiB) or could not be read."}
		}
		got = r.PostForm.Get(CSRFField)
	}
	if got == "" {
		return &csrfRefusal{Reason: "token_missing", Message: "The form carried no security token. Reload the page and send the form from it."}
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return &csrfRefusal{Reason: "token_mismatch", Message: "The form's security token does not match your browser's cookie: " +
			"the page is older than the cookie (it was opened before cookies were cleared, or Clinch was opened in another tab " +
			"under another address). Reload the page and try again."}
	}
	return nil
}

// secureCookieDropped reports whether the page was most likely opened over
// plain http at an address other than loopback (where browsers do keep
// Secure cookies): from the Origin, or without one from the request
// itself when CLINCH_HOST is http too.
func secureCookieDropped(r *http.Request, origin string, site Site) bool {
	if origin != "" {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Scheme, "http") && !IsLoopbackName(u.Hostname())
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return r.TLS == nil && site.Host.Scheme == "http" && !IsLoopbackName(host)
}

// shorten keeps a client-sent value that is echoed on a page or in a log
// line short and printable.
func shorten(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// logValue is shorten for a header that may be absent.
func logValue(s string) string {
	if s == "" {
		return "(none)"
	}
	return shorten(s)
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
