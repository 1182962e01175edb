package auth_test

import (
	"errors"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

func TestDomainMatches(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"app.example.com", "app.example.com", true},
		{"app.example.com", "APP.example.com.", true},
		{"app.example.com", "x.app.example.com", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", "aexample.com", false},
		{"*.example.com", ".example.com", false},
		{"*.*.example.com", "a.b.example.com", true},
		{"*.*.example.com", "a.example.com", false},
		{"*.*.example.com", "a..example.com", false},
		{"api.*.com", "api.foo.com", true},
		{"api.*.com", "api.foo.org", false},
		{"api.*.com", "web.foo.com", false},
		{"api.*.com", "api.a.b.com", false},
		{"api.*.example.com", "api.eu.example.com", true},
		{"api.*.example.com", "www.eu.example.com", false},
	}
	for _, tt := range tests {
		if got := auth.DomainMatches(tt.pattern, tt.host); got != tt.want {
			t.Errorf("DomainMatches(%q, %q) = %v", tt.pattern, tt.host, got)
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"App.Example.com.", "app.example.com"},
		{"*.example.com", "*.example.com"},
		{"*.*.example.com", "*.*.example.com"},
		{"api.*.com", "api.*.com"},
		{"api.*.example.com", "api.*.example.com"},
		{"*.api.*.com", "*.api.*.com"},
		{"api.*.co.uk", "api.*.co.uk"},
		{"localhost", "localhost"},
		// Everything, or a whole public suffix.
		{"*", ""},
		{"*.*", ""},
		{"*.com", ""},
		{"*.*.com", ""},
		{"*.co.uk", ""},
		{"*.*.co.uk", ""},
		{"*.github.io", ""},
		{"example.*", ""},
		{"api.example.*", ""},
		// Not a label.
		{"a*.example.com", ""},
		{"**.example.com", ""},
		{"a..example.com", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := auth.NormalizeDomain(tt.in)
		if tt.want == "" {
			if err == nil || !errors.Is(err, auth.ErrInvalid) {
				t.Errorf("NormalizeDomain(%q) = %q, %v; want refused as invalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDomainBeats(t *testing.T) {
	tests := []struct {
		name, a, b string // a takes precedence over b
	}{
		{"exact beats wildcard", "app.example.com", "*.example.com"},
		{"exact beats two-wildcard", "a.b.example.com", "*.*.example.com"},
		{"fewer wildcards", "*.b.example.com", "*.*.example.com"},
		{"fewer wildcards wherever they sit", "a.b.*.com", "*.*.example.com"},
		{"tie: literal nearer the top wins", "*.api.example.com", "api.*.example.com"},
		{"tie: two wildcards, literal nearer the top wins", "*.*.eu.example.com", "*.app.*.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !auth.DomainBeats(tt.a, tt.b) {
				t.Errorf("DomainBeats(%q, %q) = false", tt.a, tt.b)
			}
			if auth.DomainBeats(tt.b, tt.a) {
				t.Errorf("DomainBeats(%q, %q) = true too", tt.b, tt.a)
			}
		})
	}
	if auth.DomainBeats("*.example.com", "*.example.com") {
		t.Error("a pattern beats itself")
	}
}
