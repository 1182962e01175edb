package auth

import (
	"regexp"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// A domain pattern is a host name in which any label may be "*", standing
// for exactly one label: "app.example.com", "*.example.com",
// "*.*.example.com", "api.*.example.com", "api.*.com".
//
// Precedence, when several patterns cover one host: every pattern that
// covers a host has as many labels as the host, so length in labels never
// separates them. Instead
//
//  1. an exact pattern (no "*") beats every wildcard pattern;
//  2. more literal labels (fewer "*") beat fewer;
//  3. between patterns with the same number of "*", the labels are
//     compared from the right (the top of the name): at the first place
//     where one has a literal label and the other "*", the literal wins, so
//     "*.api.example.com" beats "api.*.example.com" for api.api.example.com.
//
// Two different patterns that cover the same host always differ at some
// place in rule 3, so the order is total and no tie is left to chance.
// DomainBeats is that order.

// maxPatternLabels bounds the labels of a wildcard pattern, so a pattern's
// wildcard places fit in a uint64.
const maxPatternLabels = 64

var domainLabelRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// DomainMatches reports whether pattern covers host (no port).
func DomainMatches(pattern, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	pattern = strings.ToLower(pattern)
	if !strings.Contains(pattern, "*") {
		return host == pattern
	}
	pl, hl := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i, l := range pl {
		if hl[i] == "" || l != "*" && l != hl[i] {
			return false
		}
	}
	return true
}

// WildcardMask has bit i set when label i (counted from the left) of the
// pattern is "*"; 0 for an exact pattern.
func WildcardMask(pattern string) uint64 {
	var m uint64
	for i, l := range strings.Split(pattern, ".") {
		if l == "*" && i < maxPatternLabels {
			m |= 1 << i
		}
	}
	return m
}

// DomainBeats reports whether pattern a takes precedence over pattern b
// (see the rules above). Both are normalised patterns that cover one host.
func DomainBeats(a, b string) bool {
	return MaskBeats(WildcardMask(a), WildcardMask(b), strings.Count(a, ".")+1)
}

// MaskBeats is DomainBeats for the wildcard masks of two patterns of n
// labels.
func MaskBeats(a, b uint64, n int) bool {
	if a == b {
		return false
	}
	ca, cb := popcount(a), popcount(b)
	if ca != cb {
		return ca < cb
	}
	for i := n - 1; i >= 0; i-- {
		wa, wb := a&(1<<i) != 0, b&(1<<i) != 0
		if wa != wb {
			return wb
		}
	}
	return false
}

func popcount(m uint64) int {
	n := 0
	for ; m != 0; m &= m - 1 {
		n++
	}
	return n
}

// NormalizeDomain checks a domain pattern and returns it in lower case. It
// refuses a pattern that would cover everything or a whole public suffix:
// the last label must be literal, and a pattern whose only literal labels
// are a public suffix at its right end ("*", "*.*", "*.com", "*.*.com",
// "*.co.uk") is refused, while "api.*.com" (with a literal label of its
// own) and "*.example.com" are fine.
func NormalizeDomain(p string) (string, error) {
	p = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p), "."))
	if p == "" {
		return "", invalid("domain", "is required for forward_auth apps")
	}
	labels := strings.Split(p, ".")
	wild := 0
	for _, l := range labels {
		if l == "*" {
			wild++
			continue
		}
		if !domainLabelRE.MatchString(l) {
			return "", invalid("domain", "must be a host name like app.example.com, where '*' may stand for any one whole label, like *.example.com or api.*.example.com")
		}
	}
	if wild == 0 {
		return p, nil
	}
	if len(labels) > maxPatternLabels {
		return "", invalid("domain", "a wildcard pattern may have at most 64 labels")
	}
	if labels[len(labels)-1] == "*" {
		return "", invalid("domain", "the last label (the top-level domain) cannot be '*'")
	}
	// The literal labels at the right end, after the last '*'.
	tail := labels[len(labels)-1:]
	for i := len(labels) - 2; i >= 0 && labels[i] != "*"; i-- {
		tail = labels[i:]
	}
	onlyWildLeft := true
	for _, l := range labels[:len(labels)-len(tail)] {
		if l != "*" {
			onlyWildLeft = false
		}
	}
	if suffix := strings.Join(tail, "."); onlyWildLeft && isPublicSuffix(suffix) {
		return "", invalid("domain", "wildcard would cover every name under the public suffix "+suffix+"; use a pattern like *.example."+labels[len(labels)-1])
	}
	return p, nil
}

// isPublicSuffix reports whether s is a public suffix (com, co.uk,
// github.io) or has only one label, so an unknown top-level domain counts
// as one too.
func isPublicSuffix(s string) bool {
	if !strings.Contains(s, ".") {
		return true
	}
	ps, _ := publicsuffix.PublicSuffix(s)
	return ps == s
}
