package web

import (
	"net/http"
	"strings"
)

// CSP builds the Content-Security-Policy. No inline script or style is
// allowed anywhere. formAction lists extra origins forms may submit to (or
// be redirected to after submitting: Chromium applies form-action to the
// redirects that follow a form POST), beyond 'self'.
func CSP(formAction ...string) string {
	fa := "'self'"
	for _, o := range formAction {
		if o != "" && !strings.ContainsAny(o, " ;,'\"\r\n") {
			fa += " " + o
		}
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; frame-ancestors 'none'; form-action " + fa + "; base-uri 'none'"
}

// HSTS is the Strict-Transport-Security value: one year, subdomains of
// CLINCH_HOST's host included.
const HSTS = "max-age=31536000; includeSubDomains"

// SecurityHeaders sets the headers every response carries. A handler may
// replace Content-Security-Policy (with CSP) before writing, for a page
// whose form redirects to another origin.
func SecurityHeaders(site Site) func(http.Handler) http.Handler {
	csp := CSP()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			// Sent when CLINCH_HOST is https or FORCE_SSL says TLS ends at a
			// proxy in front. Browsers ignore it over plain http, so a
			// FORCE_SSL server reached on http://localhost does no harm.
			if site.Secure {
				h.Set("Strict-Transport-Security", HSTS)
			}
			next.ServeHTTP(w, r)
		})
	}
}
