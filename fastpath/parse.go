package fastpath

import (
	"bytes"
	"net/http"
	"net/textproto"

	"golang.org/x/net/http/httpguts"
)

// request is a parsed request the fast path answers itself.
type request struct {
	target    string // origin-form: the path, and "?query" when present
	header    http.Header
	host      string
	keepAlive bool
	http10    bool
}

// maxHeaders bounds the header lines of a request taken by the fast path;
// a request with more is handed to net/http.
const maxHeaders = 64

// parse reads one request from the start of buf, which holds the whole
// head (through the blank line, n bytes). It accepts a strict subset of
// HTTP/1.1 and nothing else: "GET <path>[?query] HTTP/1.x", header lines
// "Name: value" ending in CRLF, one Host, and no sign of a body. For
// anything else ok is false and the request goes to net/http untouched,
// which answers it by its own rules; so the two can never disagree about
// where a request ends, and nothing unusual is this parser's business.
func parse(head []byte, path string) (req request, ok bool) {
	line, rest, found := bytes.Cut(head, crlf)
	if !found {
		return req, false
	}
	method, line, found := bytes.Cut(line, sp)
	if !found || string(method) != "GET" {
		return req, false
	}
	target, proto, found := bytes.Cut(line, sp)
	if !found {
		return req, false
	}
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		req.http10 = true
	default:
		return req, false
	}
	if !bytes.HasPrefix(target, []byte(path)) {
		return req, false
	}
	if after := target[len(path):]; len(after) > 0 && after[0] != '?' {
		return req, false
	}
	for _, b := range target {
		if b <= ' ' || b >= 0x7f || b == '#' {
			return req, false
		}
	}
	// One string holds every value of the request, so a header costs no
	// allocation of its own.
	all := string(rest)
	h := make(http.Header, 12)
	values := make([]string, 0, 16)
	n, hosts, lengths := 0, 0, 0
	for off := 0; ; {
		end := bytes.Index(rest[off:], crlf)
		if end < 0 {
			return req, false
		}
		if end == 0 {
			break // the blank line
		}
		if n++; n > maxHeaders {
			return req, false
		}
		lineB := rest[off : off+end]
		colon := bytes.IndexByte(lineB, ':')
		if colon <= 0 {
			return req, false
		}
		// net/http's own rules for names and values (no CR, LF, NUL or
		// other controls in a value).
		rawName, rawValue := all[off:off+colon], all[off+colon+1:off+end]
		if !httpguts.ValidHeaderFieldName(rawName) || !httpguts.ValidHeaderFieldValue(rawValue) {
			return req, false
		}
		name := textproto.CanonicalMIMEHeaderKey(rawName)
		value := textproto.TrimString(rawValue)
		switch name {
		case "Host":
			hosts++
			req.host = value
			if !httpguts.ValidHostHeader(value) {
				return req, false
			}
		case "Content-Length":
			if lengths++; value != "0" || lengths > 1 {
				return req, false
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Te", "Trailer":
			return req, false
		}
		if name == "Host" {
			// net/http keeps it in Request.Host only.
			off += end + 2
			continue
		}
		if cur, found := h[name]; found {
			h[name] = append(cur, value)
		} else {
			values = append(values, value)
			h[name] = values[len(values)-1 : len(values) : len(values)]
		}
		off += end + 2
	}
	if hosts > 1 || hosts == 0 && !req.http10 {
		return req, false
	}
	// Every Connection line counts, as in net/http.
	connection := h["Connection"]
	switch {
	case httpguts.HeaderValuesContainsToken(connection, "upgrade"):
		return req, false
	case req.http10:
		req.keepAlive = httpguts.HeaderValuesContainsToken(connection, "keep-alive")
	default:
		req.keepAlive = !httpguts.HeaderValuesContainsToken(connection, "close")
	}
	req.target = string(target)
	req.header = h
	return req, true
}

var (
	crlf = []byte("\r\n")
	sp   = []byte(" ")
)
