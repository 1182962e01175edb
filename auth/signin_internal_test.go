package auth

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/clinchsso/clinch/kv/kvtest"
)

// A failed sign-in costs at least one comparison at the configured cost,
// whatever cost the user's stored hash was made at: the unknown-user hash
// is made at the configured cost, and a cheaper stored hash is padded with
// a comparison against it.
func TestSignIn_FailureCostsTheConfiguredCost(t *testing.T) {
	sec, err := NewSecrets([]byte(strings.Repeat("i", 32)))
	if err != nil {
		t.Fatal(err)
	}
	const configured = 6
	s, err := New(Config{Store: kvtest.Open(t), Secrets: sec, BcryptCost: configured})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost(s.dummyHash()); err != nil || c != configured {
		t.Fatalf("unknown-user hash at cost %d (%v), want %d", c, err, configured)
	}
	hashAt := func(cost int) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte("correct horse"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	tests := []struct {
		name string
		hash []byte
		pad  bool
	}{
		{"made at a lower cost", hashAt(4), true},
		{"made at the configured cost", hashAt(configured), false},
		{"made at a higher cost", hashAt(configured + 1), false},
		{"not a bcrypt hash", []byte("garbage"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pad := s.equaliser(tt.hash)
			if (pad != nil) != tt.pad {
				t.Fatalf("padded = %v, want %v", pad != nil, tt.pad)
			}
			if pad != nil {
				if c, _ := bcrypt.Cost(pad); c != configured {
					t.Fatalf("padding hash at cost %d, want %d", c, configured)
				}
			}
		})
	}
}
