package forward

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Flavour is the way a proxy tells /api/verify where a request is going.
type Flavour int

const (
	// Forwarded is X-Forwarded-Proto, -Host, -Uri and -Method, as Caddy's
	// forward_auth and Traefik's forwardAuth send them.
	Forwarded Flavour = iota
	// Nginx is X-Original-URL and X-Original-Method, which nginx's
	// auth_request location sets. nginx passes only 2xx, 401 and 403 back,
	// so a sign-in redirect is a 401 with a Location header for it.
	Nginx
)

func (f Flavour) String() string {
	if f == Nginx {
		return "nginx"
	}
	return "forwarded"
}

// Target is the request the proxy is asking about.
type Target struct {
	// URL is absolute; its scheme and host are lower case.
	URL *url.URL
	// Host is URL's host name without port or trailing dot, for matching
	// against app domains.
	Host string
	// Method is the proxied request's method (GET when the proxy did not
	// say).
	Method  string
	Flavour Flavour
}

// ErrBadTarget is what ParseTarget's errors match: the proxy did not say
// where the request goes, or said it in a way that cannot be trusted.
var ErrBadTarget = errors.New("forward: bad target")

// TargetError says which header is wrong. It matches ErrBadTarget. Reason
// never repeats the header's value.
type TargetError struct{ Reason string }

func (e *TargetError) Error() string     { return e.Reason }
func (e *TargetError) Is(err error) bool { return err == ErrBadTarget }

func badTarget(reason string) error { return &TargetError{Reason: reason} }

// ParseTarget reads where the proxied request is going from the proxy's
// headers. It never falls back to Host: a verify request with no target is
// a misconfigured proxy, and guessing would decide for the wrong app.
//
// A request carrying both flavours is refused. Caddy and nginx pass the
// client's own headers through to the auth request, so a client could add
// X-Original-URL to a Caddy request (or X-Forwarded-Host to an nginx one)
// to name a more permissive app; refusing the mix closes that.
func ParseTarget(h http.Header) (Target, error) {
	orig := h.Values("X-Original-Url")
	fwdHost := h.Values("X-Forwarded-Host")
	fwdURI := h.Values("X-Forwarded-Uri")
	switch {
	case len(orig) > 0 && (len(fwdHost) > 0 || len(fwdURI) > 0):
		return Target{}, badTarget("both X-Original-URL and X-Forwarded-Host/-Uri are present; the proxy must send one kind (clear the other in its auth request)")
	case len(orig) > 0:
		return parseNginx(orig, h.Values("X-Original-Method"))
	case len(fwdHost) > 0 || len(fwdURI) > 0 || len(h.Values("X-Forwarded-Proto")) > 0:
		return parseForwarded(h.Values("X-Forwarded-Proto"), fwdHost, fwdURI, h.Values("X-Forwarded-Method"))
	}
	return Target{}, badTarget("no target: send X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Uri (Caddy, Traefik) or X-Original-URL (nginx)")
}

func one(vals []string, name string) (string, error) {
	switch len(vals) {
	case 0:
		return "", badTarget(name + " is missing")
	case 1:
		if vals[0] == "" {
			return "", badTarget(name + " is empty")
		}
		return vals[0], nil
	}
	return "", badTarget(name + " is sent more than once")
}

func parseForwarded(protos, hosts, uris, methods []string) (Target, error) {
	proto, err := one(protos, "X-Forwarded-Proto")
	if err != nil {
		return Target{}, err
	}
	proto = strings.ToLower(proto)
	if proto != "http" && proto != "https" {
		return Target{}, badTarget("X-Forwarded-Proto must be http or https")
	}
	host, err := one(hosts, "X-Forwarded-Host")
	if err != nil {
		return Target{}, err
	}
	host = strings.ToLower(host)
	name, ok := splitHostPort(host)
	if !ok {
		return Target{}, badTarget("X-Forwarded-Host must be one host name or IP with an optional port")
	}
	uri, err := one(uris, "X-Forwarded-Uri")
	if err != nil {
		return Target{}, err
	}
	if uri[0] != '/' || !cleanURI(uri) {
		return Target{}, badTarget("X-Forwarded-Uri must be a path starting with '/', without spaces or control characters")
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return Target{}, badTarget("X-Forwarded-Uri is not a valid request URI")
	}
	u.Scheme, u.Host = proto, host
	m, err := method(methods, "X-Forwarded-Method")
	if err != nil {
		return Target{}, err
	}
	return Target{URL: u, Host: name, Method: m, Flavour: Forwarded}, nil
}

func parseNginx(origs, methods []string) (Target, error) {
	raw, err := one(origs, "X-Original-URL")
	if err != nil {
		return Target{}, err
	}
	if !cleanURI(raw) {
		return Target{}, badTarget("X-Original-URL must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, badTarget("X-Original-URL is not a URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" || u.Opaque != "" || u.User != nil || u.Host == "" {
		return Target{}, badTarget("X-Original-URL must be an absolute http(s) URL with a host (set it to the site's fixed origin, e.g. $scheme://app.example.com$request_uri, never $http_host)")
	}
	if rest := raw[len(u.Scheme):]; !strings.HasPrefix(rest, "://") || !strings.HasPrefix(rest[3:], u.Host) {
		// The host must be spelled exactly as the authority, nothing that
		// Go's parser had to reinterpret.
		return Target{}, badTarget("X-Original-URL has an unusual authority")
	}
	u.Host = strings.ToLower(u.Host)
	name, ok := splitHostPort(u.Host)
	if !ok {
		return Target{}, badTarget("X-Original-URL's host must be one host name or IP with an optional port")
	}
	if u.Path == "" {
		u.Path = "/"
	}
	u.Fragment, u.RawFragment = "", ""
	m, err := method(methods, "X-Original-Method")
	if err != nil {
		return Target{}, err
	}
	return Target{URL: u, Host: name, Method: m, Flavour: Nginx}, nil
}

func method(vals []string, name string) (string, error) {
	if len(vals) == 0 {
		return http.MethodGet, nil
	}
	m, err := one(vals, name)
	if err != nil {
		return "", err
	}
	if len(m) > 20 {
		return "", badTarget(name + " is not an HTTP method")
	}
	for i := 0; i < len(m); i++ {
		if c := m[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return "", badTarget(name + " is not an HTTP method")
		}
	}
	return strings.ToUpper(m), nil
}

// cleanURI refuses bytes a request line cannot hold.
func cleanURI(s string) bool {
	if len(s) > 8192 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// splitHostPort checks a lower-case host[:port] and returns the host name
// without port or trailing dot. Only LDH labels (and '_'), IPv4 and
// bracketed IPv6 literals pass: no userinfo, no percent escapes, no
// Unicode, nothing a browser would read as a different host.
func splitHostPort(hp string) (string, bool) {
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return "", false
		}
		host, port = hp[1:end], hp[end+1:]
		if ip := net.ParseIP(host); ip == nil || !strings.Contains(host, ":") || strings.Contains(host, "%") {
			return "", false
		}
		if port != "" {
			p, ok := strings.CutPrefix(port, ":")
			if !ok || !validPort(p) {
				return "", false
			}
		}
		return host, true
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i+1:]
		if !validPort(port) {
			return "", false
		}
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return "", false
	}
	start := 0
	for i := 0; i <= len(host); i++ {
		if i == len(host) || host[i] == '.' {
			if i == start || i-start > 63 {
				return "", false
			}
			start = i + 1
			continue
		}
		if c := host[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return host, true
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535 && strconv.Itoa(n) == p
}
