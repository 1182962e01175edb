package forward

import (
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/clinchsso/clinch/auth"
)

// Access rules, compiled for the hot path.
//
// A proxied path can be spelled many ways that an app may or may not read
// as the same path: percent-encoding (%2e%2e, %2F), dot segments, double
// slashes, ';' parameters (Tomcat and Jetty drop them, so /admin;x is
// /admin there), a backslash (a separator on Windows servers), and case
// (ASP.NET and Express route case-insensitively). Clinch cannot know
// which reading the app behind the proxy uses, so it reads the path every
// way an app might — each combination of these choices that the path
// gives room for — decides once per reading, and keeps the strictest
// verdict. A spelling therefore reaches a rule's path at an app only if
// every reading lets it; a path no reading can make sense of (an encoded
// control character, invalid UTF-8) is refused.
//
// Fixed choices: percent-encoding is decoded once (as HTTP servers do;
// %2e is '.'), a trailing slash is dropped, and "." and ".." never climb
// above the root.

// ruleSet is an app's rules in order.
type ruleSet struct {
	rules []rule
	// needAddr: some rule names networks, so the client address is needed.
	needAddr bool
	// upper: some rule path has upper-case letters, so even a lower-case
	// path is also read case-insensitively.
	upper bool
	// methods: some rule names methods, so the other methods an app may
	// act on matter.
	methods bool
}

type rule struct {
	id      string
	policy  auth.RulePolicy
	exact   pattern // as the admin wrote it
	folded  pattern // lower case, for case-insensitive readings
	methods []string
	nets    []netip.Prefix
	groups  []string
}

// pattern is a rule path: a plain prefix, or glob segments.
type pattern struct {
	prefix string   // "/admin"; "" for a glob
	glob   []string // segments; "**" is any number of segments
}

func compilePattern(p string) pattern {
	if p == "/" {
		return pattern{prefix: "/"}
	}
	if !strings.ContainsAny(p, "*?[") {
		return pattern{prefix: p}
	}
	return pattern{glob: strings.Split(p[1:], "/")}
}

// globMatch matches segments against p ("/seg/..." or ""). A match of all
// the segments covers everything under it. There is at most one "**", so
// this is linear in the path.
func globMatch(pat []string, p string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for {
				if globMatch(pat[1:], p) {
					return true
				}
				if p == "" {
					return false
				}
				_, p = nextSeg(p)
			}
		}
		if p == "" {
			return false
		}
		var seg string
		seg, p = nextSeg(p)
		if ok, _ := path.Match(pat[0], seg); !ok {
			return false
		}
		pat = pat[1:]
	}
	return true
}

// nextSeg splits "/seg/rest" into "seg" and "/rest".
func nextSeg(p string) (string, string) {
	p = p[1:]
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

func compileRules(rs []auth.AccessRule) ruleSet {
	var s ruleSet
	for _, r := range rs {
		c := rule{id: r.ID, policy: r.Policy, methods: r.Methods, groups: r.GroupIDs,
			exact: compilePattern(r.Path), folded: compilePattern(strings.ToLower(r.Path))}
		for _, n := range r.Networks {
			p, err := netip.ParsePrefix(n)
			if err != nil {
				// Validation keeps these out; should one slip through, the
				// rule can match nobody's address, so it denies instead.
				c.policy, c.nets = auth.PolicyDeny, nil
				break
			}
			c.nets = append(c.nets, p)
		}
		if len(c.nets) > 0 {
			s.needAddr = true
		}
		if strings.ToLower(r.Path) != r.Path {
			s.upper = true
		}
		if len(r.Methods) > 0 {
			s.methods = true
		}
		s.rules = append(s.rules, c)
	}
	return s
}

// ruleReq is what rules look at: the proxied request's escaped path, the
// methods an app may take it for, and the client's address (invalid when
// unknown).
type ruleReq struct {
	rawPath string
	method  string
	// alt are other methods the app may act on: GET for HEAD, and what
	// X-HTTP-Method-Override and its kin say.
	alt  []string
	addr netip.Addr
}

// overrideHeaders are the headers frameworks read as the real method.
var overrideHeaders = [...]string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// newRuleReq gathers what rules need from a verify request. The other
// methods are looked for only when a rule names methods (withAlt).
func newRuleReq(h http.Header, t Target, addr netip.Addr, withAlt bool) ruleReq {
	q := ruleReq{rawPath: t.URL.EscapedPath(), method: t.Method, addr: addr}
	if !withAlt {
		return q
	}
	if t.Method == http.MethodHead {
		q.alt = append(q.alt, http.MethodGet)
	}
	for _, name := range overrideHeaders {
		for _, v := range h[name] {
			if m := strings.ToUpper(strings.TrimSpace(v)); m != "" && m != t.Method {
				q.alt = append(q.alt, m)
			}
		}
	}
	return q
}

// methodMatches reports whether a rule's methods cover a method.
func (r *rule) methodMatches(m string) bool {
	return len(r.methods) == 0 || slices.Contains(r.methods, m)
}

// readings appends to paths the ways the raw path may be read, each with
// whether it is folded to lower case. ok is false when the path cannot be
// read at all. foldAlways asks for a folded reading of a plain path too
// (some rule has upper-case letters).
func readings(paths []reading, raw string, foldAlways bool) (_ []reading, ok bool) {
	if plainPath(raw) {
		// The common case: the path itself, read one way.
		p := raw
		if len(p) > 1 {
			p = strings.TrimSuffix(p, "/")
		}
		paths = append(paths, reading{path: p})
		if foldAlways {
			paths = append(paths, reading{path: p, folded: true})
		}
		return paths, true
	}
	var choices readFlags
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") {
		choices |= encSlash
	}
	if strings.IndexByte(raw, ';') >= 0 {
		choices |= semicolon
	}
	if strings.IndexByte(raw, '\\') >= 0 || strings.Contains(lower, "%5c") {
		choices |= backslash
	}
	if choices != 0 || strings.Contains(raw, "//") {
		choices |= collapse
	}
	if strings.IndexByte(raw, '.') >= 0 || strings.Contains(lower, "%2e") {
		choices |= dots
	}
	if foldAlways || lower != raw {
		choices |= fold
	}
	for f := readFlags(0); f <= choices; f++ {
		if f&^choices != 0 {
			continue
		}
		p, good := read(raw, f)
		if !good {
			return nil, false
		}
		r := reading{path: p, folded: f&fold != 0}
		if !slices.Contains(paths, r) {
			paths = append(paths, r)
		}
	}
	return paths, true
}

type reading struct {
	path   string
	folded bool
}

// readFlags are the choices of one reading.
type readFlags uint8

const (
	encSlash  readFlags = 1 << iota // %2F and %5C separate segments
	semicolon                       // ";..." is cut from each segment
	backslash                       // '\' separates segments
	collapse                        // empty segments are dropped
	dots                            // "." and ".." are resolved
	fold                            // lower case
)

// plainPath reports whether a path has only one reading: lower-case
// letters, digits and path punctuation, no escapes, no dot segments, no
// double slashes.
func plainPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '~':
		case c == '/':
			if i+1 < len(p) && p[i+1] == '/' {
				return false
			}
		case c == '.':
			if p[i-1] == '/' && (i+1 == len(p) || p[i+1] == '/' || p[i+1] == '.') {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// read is one reading of an escaped path.
func read(raw string, f readFlags) (string, bool) {
	// Split on the separators this reading takes.
	var segs []string
	start := 0
	for i := 0; i <= len(raw); i++ {
		sep := 0
		switch {
		case i == len(raw):
			sep = 1
		case raw[i] == '/':
			sep = 1
		case raw[i] == '\\' && f&backslash != 0:
			sep = 1
		case raw[i] == '%' && f&encSlash != 0 && i+2 < len(raw) && isSlashEscape(raw[i+1:i+3]):
			sep = 3
		}
		if sep == 0 {
			continue
		}
		segs = append(segs, raw[start:i])
		start = i + sep
		i += sep - 1
	}
	if len(segs) > 0 && segs[0] == "" {
		segs = segs[1:]
	}
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		if f&semicolon != 0 {
			if i := strings.IndexByte(s, ';'); i >= 0 {
				s = s[:i]
			}
		}
		d, ok := decodeSeg(s, f&backslash != 0)
		if !ok {
			return "", false
		}
		if f&backslash != 0 && strings.IndexByte(d, '\\') >= 0 {
			// An encoded backslash (%5C) read as a separator.
			out = append(out, strings.Split(d, "\\")...)
			continue
		}
		out = append(out, d)
	}
	if f&collapse != 0 {
		out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	}
	if f&dots != 0 {
		res := out[:0]
		for _, s := range out {
			switch s {
			case ".":
			case "..":
				if len(res) > 0 {
					res = res[:len(res)-1]
				}
			default:
				res = append(res, s)
			}
		}
		out = res
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	p := "/" + strings.Join(out, "/")
	if f&fold != 0 {
		p = strings.ToLower(p)
	}
	return p, true
}

func isSlashEscape(h string) bool {
	return h[0] == '2' && (h[1] == 'f' || h[1] == 'F') || h[0] == '5' && (h[1] == 'c' || h[1] == 'C')
}

// decodeSeg percent-decodes one segment. %2F stays "%2F" (it was not read
// as a separator), and %5C becomes '\' only when keepBackslash asks for
// it. Control characters and invalid UTF-8 make the path unreadable.
func decodeSeg(s string, keepBackslash bool) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, validSeg(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
			return "", false
		}
		c := unhex(s[i+1])<<4 | unhex(s[i+2])
		switch {
		case c == '/':
			b.WriteString("%2F")
		case c == '\\' && !keepBackslash:
			b.WriteString("%5C")
		default:
			b.WriteByte(c)
		}
		i += 2
	}
	d := b.String()
	return d, validSeg(d)
}

func validSeg(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

func ishex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// noRule is what first returns when no rule matches.
const noRule = -1

// unknownAddr is what first returns when it reached a rule that names
// networks without knowing the client's address.
const unknownAddr = -2

// first returns the index of the first rule that matches the reading and
// the method, noRule, or unknownAddr.
func (s *ruleSet) first(rd reading, method string, addr netip.Addr) int {
	for i := range s.rules {
		r := &s.rules[i]
		pt := &r.exact
		if rd.folded {
			pt = &r.folded
		}
		// A plain prefix covers the path itself and what is under it ("/"
		// covers everything); the cheap byte tests go first, as this loop
		// is the hot path's whole cost of rules.
		if pt.glob == nil {
			pre, p := pt.prefix, rd.path
			if n := len(pre); n > 1 && (len(p) < n || p[n-1] != pre[n-1] || len(p) > n && p[n] != '/' || p[:n] != pre) {
				continue
			}
		} else if !globMatch(pt.glob, rd.path) {
			continue
		}
		if !r.methodMatches(method) {
			continue
		}
		if len(r.nets) > 0 {
			if !addr.IsValid() {
				return unknownAddr
			}
			if !slices.ContainsFunc(r.nets, func(p netip.Prefix) bool { return p.Contains(addr) }) {
				continue
			}
		}
		return i
	}
	return noRule
}
