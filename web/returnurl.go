package web

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// maxReturnURL bounds rd; real return URLs are far shorter.
const maxReturnURL = 4096

// ParseReturnURL turns a user-supplied return URL (the rd parameter) into a
// clean absolute http(s) URL, or reports false. A path such as "/x" resolves
// against CLINCH_HOST. It refuses everything a browser might read
// differently from Go: protocol-relative "//host" and "/\host", backslashes,
// control characters and whitespace anywhere, userinfo, other schemes
// (javascript:, data:), scheme-relative "https:/host", non-ASCII or
// percent-encoded hosts. Scheme and host come back in lower case.
//
// It does not decide which hosts may be followed; callers compare the host
// with CLINCH_HOST and the configured apps. CheckReturnURL is the same with
// the reason for a refusal, for callers that log it.
func ParseReturnURL(site Site, rd string) (*url.URL, bool) {
	u, err := CheckReturnURL(site, rd)
	return u, err == nil
}

// ReturnURLError says why a return URL was dropped. Reason is fit for a
// log line; it never repeats the URL, whose query may carry a token.
type ReturnURLError struct{ Reason string }

func (e *ReturnURLError) Error() string { return "return URL dropped: " + e.Reason }

func dropped(reason string) (*url.URL, error) { return nil, &ReturnURLError{Reason: reason} }

// CheckReturnURL is ParseReturnURL with the reason: it returns a
// *ReturnURLError when rd is refused.
func CheckReturnURL(site Site, rd string) (*url.URL, error) {
	if rd == "" {
		return dropped("empty")
	}
	if len(rd) > maxReturnURL {
		return dropped("longer than " + strconv.Itoa(maxReturnURL) + " bytes")
	}
	for i := 0; i < len(rd); i++ {
		c := rd[i]
		// Browsers drop tabs and newlines inside URLs and trim spaces and
		// C0 controls at the ends, and treat '\' as '/' in http(s) URLs:
		// any of these lets a URL mean one thing to Go and another to the
		// browser, so none is allowed.
		if c <= ' ' || c == 0x7f || c == '\\' {
			return dropped("contains a space, control character or backslash")
		}
	}
	if strings.HasPrefix(rd, "/") {
		if strings.HasPrefix(rd, "//") {
			return dropped("protocol-relative (starts with //)")
		}
		if site.Host == nil {
			return dropped("relative, and CLINCH_HOST is unknown")
		}
		ref, err := url.Parse(rd)
		if err != nil || ref.Scheme != "" || ref.Host != "" || ref.User != nil {
			return dropped("not a valid path")
		}
		return clean(site.Host.ResolveReference(ref))
	}
	u, err := url.Parse(rd)
	if err != nil {
		return dropped("not a valid URL")
	}
	return clean(u)
}

// clean checks an absolute URL and normalises its scheme and host.
func clean(u *url.URL) (*url.URL, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return dropped("not an http or https URL")
	}
	if u.Opaque != "" || u.Host == "" {
		return dropped("has no host")
	}
	if u.User != nil {
		return dropped("has user info (user@host)")
	}
	// The raw query and fragment must not smuggle a backslash either
	// (already refused above), and the host must be plain ASCII.
	host := strings.ToLower(u.Host)
	if !validHostPort(host) {
		return dropped("host is not a plain ASCII host name or IP address with an optional port")
	}
	// "example.com." is "example.com"; one spelling keeps host comparisons
	// by callers honest.
	if h, p := u.Hostname(), u.Port(); strings.HasSuffix(h, ".") {
		host = strings.ToLower(strings.TrimSuffix(h, "."))
		if p != "" {
			host += ":" + p
		}
	}
	if strings.HasSuffix(host, ":80") && scheme == "http" || strings.HasSuffix(host, ":443") && scheme == "https" {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	out := *u
	out.Scheme = scheme
	out.Host = host
	out.User = nil
	return &out, nil
}

// validHostPort accepts a DNS name or IP literal with an optional numeric
// port, nothing else: no percent-escapes, no Unicode (browsers map
// look-alike dots such as U+3002 to '.'), no empty labels.
func validHostPort(hp string) bool {
	host, port := hp, ""
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return false
		}
		host, port = hp[1:end], hp[end+1:]
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil && !strings.Contains(host, ":") || strings.Contains(host, "%") {
			return false
		}
		if port != "" {
			p, ok := strings.CutPrefix(port, ":")
			return ok && validPort(p)
		}
		return true
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 {
		host, port = hp[:i], hp[i+1:]
		if !validPort(port) {
			return false
		}
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535 && strconv.Itoa(n) == p
}
