package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"strings"
)

// setupAlphabet is Crockford's base32: no I, L, O or U, so a code read
// from a terminal and typed by hand survives.
const setupAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewSetupCode returns a one-time code for the first-run wizard: 16
// symbols (80 bits) of crypto/rand, shown as XXXX-XXXX-XXXX-XXXX. Clinch
// prints it in its log at start while no account exists and keeps it only
// in memory; the wizard asks for it from any browser not on this machine.
func NewSetupCode() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	out := make([]byte, 0, 19)
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, setupAlphabet[c&31]) // 256 is a multiple of 32: no bias
	}
	return string(out)
}

// normalizeSetupCode makes a typed code comparable: upper case, without
// spaces and dashes, with the letters Crockford reads as digits mapped.
func normalizeSetupCode(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t':
			return -1
		case 'o', 'O':
			return '0'
		case 'i', 'I', 'l', 'L':
			return '1'
		}
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// setupCodeMatches compares a typed code with the real one in constant
// time. An empty real code matches nothing.
func setupCodeMatches(want, got string) bool {
	if want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(normalizeSetupCode(want)), []byte(normalizeSetupCode(got))) == 1
}
