package oidc

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"github.com/clinchsso/clinch/web"
)

// page shows an error page: the site's own when wired, else ours.
func (p *Provider) page(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	if p.render != nil {
		p.render(w, r, status, title, msg)
		return
	}
	p.execute(w, status, "error.html", map[string]any{"Title": title, "Message": msg})
}

func (p *Provider) execute(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := p.pages.ExecuteTemplate(&buf, name, data); err != nil {
		p.log.Error("oidc: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type scopeLine struct {
	Name, Description string
	Claims            []string
}

var scopeText = map[string]string{
	ScopeOpenID:        "Know who you are (a stable identifier for this application only)",
	ScopeProfile:       "See your name and username",
	ScopeEmail:         "See your email address",
	ScopeGroups:        "See which groups you are in",
	ScopeOfflineAccess: "Stay signed in when you are away (refresh tokens)",
}

// formOrigin is the CSP source for a redirect URI: its origin, or its
// scheme for private-use schemes.
func formOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return web.Origin(u)
	}
	return strings.ToLower(u.Scheme) + ":"
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Host
}
