package forward

import (
	"context"
	"net/url"
	"strings"

	"github.com/clinchsso/clinch/auth"
)

// FATokenTTL is how long an fa_token may wait for its first request.
const FATokenTTL = auth.FATokenTTL

// ReturnTo decides where sign-in sends a browser whose return URL is on a
// host other than CLINCH_HOST. u must already be a clean absolute URL
// (web.ParseReturnURL). Only a host covered by an active forward_auth app
// is followed, and the URL comes back with a fresh fa_token appended: one
// use, 60 seconds, valid only at that host. Any other host is refused, so
// sign-in is never an open redirect. When Clinch runs on https, plain-http
// return URLs are refused too: the token would cross the network in clear.
func (v *Verifier) ReturnTo(ctx context.Context, u *url.URL, sess *auth.Session) (string, bool) {
	if sess == nil {
		return "", false
	}
	host, scheme, ok := v.covered(ctx, u)
	if !ok {
		return "", false
	}
	tok, err := v.auth.NewFAToken(ctx, sess, host)
	if err != nil {
		v.log.Error("return url: store fa_token", "err", err)
		return "", false
	}
	out := withoutFAToken(u)
	out.Scheme = scheme
	out.Host = strings.ToLower(u.Host)
	if out.RawQuery != "" {
		out.RawQuery += "&"
	}
	out.RawQuery += faParam + "=" + tok
	return out.String(), true
}

// Covers reports whether sign-in may send a browser to u: a host an active
// forward_auth app covers, under the same rules as ReturnTo. The sign-in
// page uses it to allow that origin in its CSP form-action.
func (v *Verifier) Covers(ctx context.Context, u *url.URL) bool {
	_, _, ok := v.covered(ctx, u)
	return ok
}

// covered returns the lower-cased host and scheme of u when an active
// forward_auth app covers it and its scheme is acceptable.
func (v *Verifier) covered(ctx context.Context, u *url.URL) (host, scheme string, ok bool) {
	if u == nil || u.User != nil || u.Opaque != "" {
		return "", "", false
	}
	scheme = strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", "", false
	}
	if scheme == "http" && v.site.Host.Scheme == "https" {
		return "", "", false
	}
	host, ok = splitHostPort(strings.ToLower(u.Host))
	if !ok {
		return "", "", false
	}
	tbl, err := v.table(ctx)
	if err != nil {
		v.log.Error("return url: load apps", "err", err)
		return "", "", false
	}
	app := tbl.match(host)
	if app == nil || !app.Active {
		return "", "", false
	}
	return host, scheme, true
}

// withoutFAToken copies u without any fa_token parameter, keeping the rest
// of the query byte for byte.
func withoutFAToken(u *url.URL) *url.URL {
	out := *u
	out.User = nil
	if !strings.Contains(u.RawQuery, faParam) {
		return &out
	}
	parts := strings.Split(u.RawQuery, "&")
	kept := parts[:0]
	for _, p := range parts {
		if p == faParam || strings.HasPrefix(p, faParam+"=") {
			continue
		}
		kept = append(kept, p)
	}
	out.RawQuery = strings.Join(kept, "&")
	return &out
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
