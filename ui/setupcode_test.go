package ui

import (
	"regexp"
	"testing"
)

func TestNewSetupCode(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$`)
	seen := map[string]bool{}
	for range 100 {
		c := NewSetupCode()
		if !shape.MatchString(c) {
			t.Fatalf("setup code %q is not XXXX-XXXX-XXXX-XXXX in Crockford base32", c)
		}
		if seen[c] {
			t.Fatalf("setup code %q repeated", c)
		}
		seen[c] = true
	}
}

func TestSetupCodeMatches(t *testing.T) {
	const code = "AB1C-0DEF-GH23-4JKM"
	tests := []struct {
		want, got string
		ok        bool
	}{
		{code, code, true},
		{code, "ab1c-0def-gh23-4jkm", true},
		{code, "AB1C0DEFGH234JKM", true},
		{code, " AB1C 0DEF GH23 4JKM ", true},
		{code, "ABlC-oDEF-GH23-4JKM", true}, // l and o as Crockford reads them
		{code, "AB1C-0DEF-GH23-4JKN", false},
		{code, "AB1C-0DEF-GH23", false},
		{code, "", false},
		{"", "", false}, // no code this run: nothing matches
	}
	for _, tt := range tests {
		if got := setupCodeMatches(tt.want, tt.got); got != tt.ok {
			t.Errorf("setupCodeMatches(%q, %q) = %v, want %v", tt.want, tt.got, got, tt.ok)
		}
	}
}
