package forward

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// caddyHeaders is what Caddy's forward_auth sends (it also copies the
// client's own headers).
func caddyHeaders(proto, host, uri string) http.Header {
	return hdr("X-Forwarded-Method", "GET", "X-Forwarded-Proto", proto, "X-Forwarded-Host", host,
		"X-Forwarded-Uri", uri, "X-Forwarded-For", "203.0.113.7")
}

// traefikHeaders is what Traefik's forwardAuth sends.
func traefikHeaders(method, proto, host, uri string) http.Header {
	return hdr("X-Forwarded-Method", method, "X-Forwarded-Proto", proto, "X-Forwarded-Host", host,
		"X-Forwarded-Uri", uri, "X-Forwarded-For", "203.0.113.7", "X-Forwarded-Port", "443",
		"X-Forwarded-Server", "traefik-1", "X-Real-Ip", "203.0.113.7")
}

// nginxHeaders is what the committed nginx auth location sets.
func nginxHeaders(url, method string) http.Header {
	return hdr("X-Original-URL", url, "X-Original-Method", method)
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		name    string
		h       http.Header
		url     string
		host    string
		method  string
		flavour Flavour
	}{
		{"caddy", caddyHeaders("https", "Wiki.Example.com", "/page?x=1&y=%20"), "https://wiki.example.com/page?x=1&y=%20", "wiki.example.com", "GET", Forwarded},
		{"caddy port", caddyHeaders("http", "app.clinch.localhost:8443", "/"), "http://app.clinch.localhost:8443/", "app.clinch.localhost", "GET", Forwarded},
		{"caddy trailing dot", caddyHeaders("https", "wiki.example.com.", "/"), "https://wiki.example.com./", "wiki.example.com", "GET", Forwarded},
		{"traefik post", traefikHeaders("POST", "https", "wiki.example.com", "/api/save"), "https://wiki.example.com/api/save", "wiki.example.com", "POST", Forwarded},
		{"traefik ipv6", traefikHeaders("get", "HTTPS", "[::1]:8443", "/x"), "https://[::1]:8443/x", "::1", "GET", Forwarded},
		{"no method defaults to GET", hdr("X-Forwarded-Proto", "https", "X-Forwarded-Host", "a.example.com", "X-Forwarded-Uri", "/"), "https://a.example.com/", "a.example.com", "GET", Forwarded},
		{"double slash path stays a path", caddyHeaders("https", "a.example.com", "//evil.com/x"), "https://a.example.com//evil.com/x", "a.example.com", "GET", Forwarded},
		{"nginx", nginxHeaders("https://Wiki.example.com/a/b?q=1", "PUT"), "https://wiki.example.com/a/b?q=1", "wiki.example.com", "PUT", Nginx},
		{"nginx no path", nginxHeaders("http://wiki.example.com:8080", "GET"), "http://wiki.example.com:8080/", "wiki.example.com", "GET", Nginx},
		{"nginx no method", hdr("X-Original-URL", "https://wiki.example.com/"), "https://wiki.example.com/", "wiki.example.com", "GET", Nginx},
		{"nginx with forwarded proto from a front proxy", hdr("X-Original-URL", "https://wiki.example.com/", "X-Forwarded-Proto", "https", "X-Forwarded-For", "1.2.3.4"), "https://wiki.example.com/", "wiki.example.com", "GET", Nginx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTarget(tt.h)
			if err != nil {
				t.Fatal(err)
			}
			if got.URL.String() != tt.url || got.Host != tt.host || got.Method != tt.method || got.Flavour != tt.flavour {
				t.Errorf("got %s host %q method %q flavour %v; want %s %q %q %v", got.URL, got.Host, got.Method, got.Flavour, tt.url, tt.host, tt.method, tt.flavour)
			}
		})
	}
}

func TestParseTarget_Refused(t *testing.T) {
	tests := []struct {
		name   string
		h      http.Header
		reason string
	}{
		{"nothing (never a guess from Host)", hdr("Host", "wiki.example.com"), "no target"},
		{"no proto", hdr("X-Forwarded-Host", "a.example.com", "X-Forwarded-Uri", "/"), "X-Forwarded-Proto is missing"},
		{"no host", hdr("X-Forwarded-Proto", "https", "X-Forwarded-Uri", "/"), "X-Forwarded-Host is missing"},
		{"no uri", hdr("X-Forwarded-Proto", "https", "X-Forwarded-Host", "a.example.com"), "X-Forwarded-Uri is missing"},
		{"proto ftp", caddyHeaders("ftp", "a.example.com", "/"), "X-Forwarded-Proto"},
		{"proto javascript", caddyHeaders("javascript", "a.example.com", "/"), "X-Forwarded-Proto"},
		{"two hosts", hdr("X-Forwarded-Proto", "https", "X-Forwarded-Host", "a.example.com", "X-Forwarded-Host", "b.example.com", "X-Forwarded-Uri", "/"), "more than once"},
		{"host list", caddyHeaders("https", "a.example.com, b.example.com", "/"), "X-Forwarded-Host"},
		{"host userinfo", caddyHeaders("https", "evil.com@a.example.com", "/"), "X-Forwarded-Host"},
		{"host with path", caddyHeaders("https", "a.example.com/x", "/"), "X-Forwarded-Host"},
		{"host backslash", caddyHeaders("https", `a.example.com\evil.com`, "/"), "X-Forwarded-Host"},
		{"host percent", caddyHeaders("https", "a%2eexample.com", "/"), "X-Forwarded-Host"},
		{"host unicode dot", caddyHeaders("https", "a\u3002example.com", "/"), "X-Forwarded-Host"},
		{"host empty label", caddyHeaders("https", "a..example.com", "/"), "X-Forwarded-Host"},
		{"host bad port", caddyHeaders("https", "a.example.com:99999", "/"), "X-Forwarded-Host"},
		{"host empty", caddyHeaders("https", "", "/"), "X-Forwarded-Host is empty"},
		{"uri relative", caddyHeaders("https", "a.example.com", "page"), "X-Forwarded-Uri"},
		{"uri absolute", caddyHeaders("https", "a.example.com", "https://evil.com/"), "X-Forwarded-Uri"},
		{"uri space", caddyHeaders("https", "a.example.com", "/a b"), "X-Forwarded-Uri"},
		{"uri newline", caddyHeaders("https", "a.example.com", "/a\r\nSet-Cookie: x"), "X-Forwarded-Uri"},
		{"bad method", traefikHeaders("GET /", "https", "a.example.com", "/"), "X-Forwarded-Method"},
		{"both flavours (client-added X-Original-URL behind Caddy)", func() http.Header {
			h := caddyHeaders("https", "private.example.com", "/")
			h.Set("X-Original-URL", "https://public.example.com/")
			return h
		}(), "both"},
		{"both flavours (client-added X-Forwarded-Host behind nginx)", func() http.Header {
			h := nginxHeaders("https://private.example.com/", "GET")
			h.Set("X-Forwarded-Host", "public.example.com")
			return h
		}(), "both"},
		{"nginx relative", nginxHeaders("/path", "GET"), "X-Original-URL"},
		{"nginx scheme relative", nginxHeaders("//evil.com/", "GET"), "X-Original-URL"},
		{"nginx javascript", nginxHeaders("javascript://a.example.com/%0aalert(1)", "GET"), "X-Original-URL"},
		{"nginx userinfo", nginxHeaders("https://a.example.com@evil.com/", "GET"), "X-Original-URL"},
		{"nginx two", hdr("X-Original-URL", "https://a.example.com/", "X-Original-URL", "https://b.example.com/"), "more than once"},
		{"nginx space", nginxHeaders("https://a.example.com/a b", "GET"), "X-Original-URL"},
		{"nginx backslash host", nginxHeaders(`https://a.example.com\@evil.com/`, "GET"), "X-Original-URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTarget(tt.h)
			if err == nil {
				t.Fatalf("accepted as %s", got.URL)
			}
			if !errors.Is(err, ErrBadTarget) || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("err = %q, want ErrBadTarget mentioning %q", err, tt.reason)
			}
		})
	}
}

// FuzzParseTarget checks that whatever the proxy headers say, an accepted
// target is an absolute http(s) URL whose host is exactly the matched host
// and survives a round trip through its own string form.
func FuzzParseTarget(f *testing.F) {
	f.Add("https", "wiki.example.com", "/page?x=1", "", "GET")
	f.Add("http", "app.clinch.localhost:8080", "//evil.com", "", "POST")
	f.Add("", "", "", "https://a.example.com/x?fa_token=cfa_x", "GET")
	f.Add("https", "a.example.com@evil.com", "/", "http://evil.com\\@a.example.com/", "")
	f.Add("HTTPS", "[::1]:443", "/%2F..%2F", "", "")
	f.Fuzz(func(t *testing.T, proto, host, uri, orig, method string) {
		h := http.Header{}
		for k, v := range map[string]string{"X-Forwarded-Proto": proto, "X-Forwarded-Host": host, "X-Forwarded-Uri": uri, "X-Original-Url": orig, "X-Forwarded-Method": method} {
			if v != "" {
				h.Set(k, v)
			}
		}
		tg, err := ParseTarget(h)
		if err != nil {
			if !errors.Is(err, ErrBadTarget) {
				t.Fatalf("error %v does not match ErrBadTarget", err)
			}
			return
		}
		u := tg.URL
		if u.Scheme != "http" && u.Scheme != "https" || u.User != nil || u.Opaque != "" {
			t.Fatalf("accepted %q", u)
		}
		if u.Host != strings.ToLower(u.Host) || tg.Host == "" || strings.ContainsAny(tg.Host, "/\\@%?#") {
			t.Fatalf("host %q / %q", u.Host, tg.Host)
		}
		if n, ok := splitHostPort(u.Host); !ok || n != tg.Host {
			t.Fatalf("host %q does not split to %q", u.Host, tg.Host)
		}
		s := u.String()
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] == 0x7f {
				t.Fatalf("control or space in %q", s)
			}
		}
		// The sign-in redirect sends the user back here: the URL must
		// still point at the same host when a browser parses it again.
		back, err := ParseTarget(hdr("X-Original-URL", s))
		if err != nil {
			t.Fatalf("round trip of %q: %v", s, err)
		}
		if back.Host != tg.Host {
			t.Fatalf("round trip moved host %q → %q", tg.Host, back.Host)
		}
	})
}
