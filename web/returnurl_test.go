package web

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode"
)

func testSite(t testing.TB, host string) Site {
	t.Helper()
	u, err := url.Parse(host)
	if err != nil {
		t.Fatal(err)
	}
	return NewSite(u, "", false)
}

// refused runs rd through ParseReturnURL and fails when it was accepted.
func refused(t *testing.T, rds ...string) {
	t.Helper()
	site := testSite(t, "https://auth.example.com")
	for _, rd := range rds {
		if u, ok := ParseReturnURL(site, rd); ok {
			t.Errorf("ParseReturnURL(%q) = %s, want refused", rd, u)
		}
	}
}

// accepted checks rd parses to want.
func accepted(t *testing.T, cases map[string]string) {
	t.Helper()
	site := testSite(t, "https://auth.example.com")
	for rd, want := range cases {
		u, ok := ParseReturnURL(site, rd)
		if !ok {
			t.Errorf("ParseReturnURL(%q) refused, want %s", rd, want)
			continue
		}
		if u.String() != want {
			t.Errorf("ParseReturnURL(%q) = %s, want %s", rd, u, want)
		}
	}
}

func TestParseReturnURL_RelativePathResolvesAgainstHost(t *testing.T) {
	accepted(t, map[string]string{
		"/":                 "https://auth.example.com/",
		"/x?a=1#f":          "https://auth.example.com/x?a=1#f",
		"/..//evil.com":     "https://auth.example.com/evil.com",
		"/a/../..//evil.io": "https://auth.example.com/evil.io",
		"/%2F/evil.com":     "https://auth.example.com/%2F/evil.com",
	})
}

func TestParseReturnURL_AbsoluteHTTP(t *testing.T) {
	accepted(t, map[string]string{
		"https://app.example.com/path?q=1": "https://app.example.com/path?q=1",
		"http://127.0.0.1:8080/":           "http://127.0.0.1:8080/",
		"http://[::1]:8080/x":              "http://[::1]:8080/x",
		"https://app.example.com:443/x":    "https://app.example.com/x",
		"http://app.example.com:80/x":      "http://app.example.com/x",
		"https://app.example.com./x":       "https://app.example.com/x",
	})
}

func TestParseReturnURL_DoubleSlash(t *testing.T) {
	refused(t, "//evil.com", "//evil.com/path", "///evil.com", "////evil.com")
}

func TestParseReturnURL_Backslash(t *testing.T) {
	refused(t, `/\evil.com`, `\\evil.com`, `\/evil.com`, `https://evil.com\@auth.example.com`,
		`https:\\evil.com`, `https://auth.example.com\.evil.com/`, `/x\y`)
}

func TestParseReturnURL_Userinfo(t *testing.T) {
	refused(t, "https://auth.example.com@evil.com/", "https://user:pass@app.example.com/",
		"https://@evil.com", "http://a%40b@evil.com")
}

func TestParseReturnURL_MixedCase(t *testing.T) {
	accepted(t, map[string]string{
		"HTTPS://APP.Example.COM/Path": "https://app.example.com/Path",
		"hTTp://App.Example.com/":      "http://app.example.com/",
	})
	refused(t, "JaVaScRiPt:alert(1)", "DATA:text/html,x")
}

func TestParseReturnURL_JavascriptScheme(t *testing.T) {
	refused(t, "javascript:alert(1)", "javascript://auth.example.com/%0aalert(1)",
		"data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)", "file:///etc/passwd",
		"ftp://app.example.com/", "mailto:a@example.com")
}

func TestParseReturnURL_ControlCharacters(t *testing.T) {
	refused(t, "/x\x00", "java\tscript:alert(1)", "/\t/evil.com", "/\n/evil.com",
		"https://evil.com\r\nSet-Cookie: x=1", "/x\x7f", "/x\x1b")
}

func TestParseReturnURL_Whitespace(t *testing.T) {
	refused(t, " //evil.com", " /x", "/x ", " https://app.example.com/", "\u00a0//evil.com", "\u3000/x",
		"https://exa mple.com/")
}

func TestParseReturnURL_SchemeRelativeTricks(t *testing.T) {
	// Browsers read "https:/evil.com" and "https:evil.com" as https://evil.com.
	refused(t, "https:/evil.com", "https:///evil.com", "http:evil.com", "https:evil.com")
}

func TestParseReturnURL_NotAURL(t *testing.T) {
	refused(t, "", "evil.com", "evil.com/x", "./x", "../x", "?x=1", "#f", "%2F%2Fevil.com",
		strings.Repeat("a", 5000))
}

func TestParseReturnURL_UnicodeAndEncodedHosts(t *testing.T) {
	// U+3002 and fullwidth dots become '.' in browsers; percent escapes in
	// the host decode to something else than what was checked.
	refused(t, "https://evil。com/", "https://evil．com/", "https://evil%2ecom/",
		"https://exämple.com/", "https://[::1%25eth0]/", "https://app.example.com:0/",
		"https://app.example.com:99999/", "https://app..example.com/", "https://app.example.com:x/")
}

func TestParseReturnURL_HostComparedCaseInsensitively(t *testing.T) {
	site := testSite(t, "https://Auth.Example.com")
	u, ok := ParseReturnURL(site, "https://AUTH.example.COM/x")
	if !ok || u.Host != "auth.example.com" {
		t.Fatalf("got %v %v, want host auth.example.com", u, ok)
	}
}

// FuzzParseReturnURL checks the invariants every accepted URL keeps, for
// any input: absolute http(s), a plain host, no userinfo, and nothing a
// browser would read differently.
func FuzzParseReturnURL(f *testing.F) {
	for _, s := range []string{"/", "/x?y#z", "//evil.com", `/\evil.com`, "https://a.example.com/",
		"javascript:alert(1)", "https://u@evil.com", "HTTPS://X.COM", "https:/evil.com", "/\t/evil.com",
		"http://[::1]:80/", "https://evil。com"} {
		f.Add(s)
	}
	site := testSite(f, "https://auth.example.com")
	f.Fuzz(func(t *testing.T, rd string) {
		u, ok := ParseReturnURL(site, rd)
		if !ok {
			return
		}
		s := u.String()
		if u.Scheme != "http" && u.Scheme != "https" {
			t.Fatalf("%q: scheme %q", rd, u.Scheme)
		}
		if u.User != nil || u.Opaque != "" || u.Host == "" || u.Host != strings.ToLower(u.Host) {
			t.Fatalf("%q: bad URL %#v", rd, u)
		}
		if strings.ContainsAny(rd, "\\") || strings.ContainsFunc(rd, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			t.Fatalf("%q accepted despite backslash or control character", rd)
		}
		for _, r := range u.Host {
			if r > unicode.MaxASCII {
				t.Fatalf("%q: non-ASCII host %q", rd, u.Host)
			}
		}
		if strings.HasPrefix(rd, "/") && u.Host != "auth.example.com" {
			t.Fatalf("%q: a path left the site: %s", rd, s)
		}
		// What we hand back must parse back to the same host: what a
		// browser follows is what the caller checked.
		again, err := url.Parse(s)
		if err != nil || again.Host != u.Host || again.Scheme != u.Scheme {
			t.Fatalf("%q: %s does not round-trip (%v)", rd, s, err)
		}
	})
}

// A dropped return URL says why, for the log line, without repeating the
// URL (its query may carry a token).
func TestCheckReturnURL_SaysWhy(t *testing.T) {
	site := testSite(t, "https://auth.example.com")
	tests := []struct{ rd, reason string }{
		{"", "empty"},
		{"https://app.example.com/" + strings.Repeat("a", maxReturnURL), "longer than"},
		{"https://app.example.com/a b?secret=1", "space, control character or backslash"},
		{"/\\evil.com?secret=1", "space, control character or backslash"},
		{"//evil.com/?secret=1", "protocol-relative"},
		{"javascript:alert(1)//?secret=1", "not an http or https URL"},
		{"https://ann@app.example.com/?secret=1", "user info"},
		{"https://app.example.com:99999/?secret=1", "host is not a plain"},
		{"https://app.example.com%zz/?secret=1", "not a valid URL"},
		{"https:/app.example.com?secret=1", "has no host"},
	}
	for _, tt := range tests {
		u, err := CheckReturnURL(site, tt.rd)
		var re *ReturnURLError
		if !errors.As(err, &re) || u != nil {
			t.Errorf("CheckReturnURL(%q) = %v, %v; want a *ReturnURLError", tt.rd, u, err)
			continue
		}
		if !strings.Contains(re.Reason, tt.reason) {
			t.Errorf("CheckReturnURL(%q) reason %q, want %q", tt.rd, re.Reason, tt.reason)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("the reason repeats the URL: %q", err)
		}
		if _, ok := ParseReturnURL(site, tt.rd); ok {
			t.Errorf("ParseReturnURL(%q) accepted what CheckReturnURL refused", tt.rd)
		}
	}
	if u, err := CheckReturnURL(site, "/home?x=1"); err != nil || u.String() != "https://auth.example.com/home?x=1" {
		t.Errorf("CheckReturnURL(/home?x=1) = %v, %v", u, err)
	}
}
