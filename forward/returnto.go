package forward

import (
	"context"
	"net/url"
	"strings"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// ReturnTo decides where sign-in sends a browser whose return URL is on a
// host other than CLINCH_HOST. u must already be a clean absolute URL
// (web.ParseReturnURL). Only a host covered by an active forward_auth app
// is followed, and the URL comes back with a fresh fa_token appended: one
// use, 60 seconds, valid only at that host. Any other host is refused, so
// sign-in is never an open redirect. When Clinch runs on https, plain-http
// return URLs are refused too: the token would cross the network in clear.
// A refusal is logged at info with its reason and the host (never the
// whole URL), so "why did I land on Clinch's home page" has an answer.
func (v *Verifier) ReturnTo(ctx context.Context, u *url.URL, sess *auth.Session) (string, bool) {
	if sess == nil {
		return "", false
	}
	host, scheme, reason := v.covered(ctx, u)
	if reason != "" {
		h := ""
		if u != nil {
			h = u.Host
		}
		web.ContextLogger(ctx, v.log).Info("return URL dropped", "reason", reason, "host", h)
		return "", false
	}
	out := withoutFAToken(u)
	out.Scheme = scheme
	out.Host = strings.ToLower(u.Host)
	if v.site.CookieReaches(host) {
		// The session cookie goes there by itself. A token would only sit
		// unused in the address bar, where whoever sees the address in the
		// next minute could sign in with it.
		return out.String(), true
	}
	tok, err := v.auth.NewFAToken(ctx, sess, host)
	if err != nil {
		v.log.Error("return url: store fa_token", "err", err)
		return "", false
	}
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
	_, _, reason := v.covered(ctx, u)
	return reason == ""
}

// covered returns the lower-cased host and scheme of u when an active
// forward_auth app covers it and its scheme is acceptable, else why not.
func (v *Verifier) covered(ctx context.Context, u *url.URL) (host, scheme, reason string) {
	if u == nil || u.User != nil || u.Opaque != "" {
		return "", "", "not a clean absolute URL"
	}
	scheme = strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", "", "not an http or https URL"
	}
	if scheme == "http" && v.site.Host.Scheme == "https" {
		return "", "", "plain-http app while Clinch is https: the fa_token would cross the network in clear; serve the app over https"
	}
	host, ok := splitHostPort(strings.ToLower(u.Host))
	if !ok {
		return "", "", "not a valid host"
	}
	tbl, err := v.table(ctx)
	if err != nil {
		v.log.Error("return url: load apps", "err", err)
		return "", "", "could not load the apps"
	}
	app := tbl.match(host)
	if app == nil {
		return "", "", "no forward_auth app covers this host (register it with clinch app create --type forward_auth --domain)"
	}
	if !app.Active {
		return "", "", "the app covering this host (" + app.Slug + ") is inactive"
	}
	return host, scheme, ""
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
