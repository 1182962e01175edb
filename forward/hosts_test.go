package forward

import (
	"testing"

	"github.com/clinchsso/clinch/auth"
)

func hostTable(patterns ...string) *appTable {
	var apps []*auth.App
	for _, p := range patterns {
		apps = append(apps, &auth.App{ID: p, Slug: p, Type: auth.AppForwardAuth, Active: true, Domain: p})
	}
	return compileApps(1, apps)
}

func TestAppTable_Match(t *testing.T) {
	table := hostTable(
		"app.example.com",
		"*.example.com",
		"*.*.example.com",
		"*.b.example.com",
		"api.*.example.com",
		"*.api.example.com",
		"api.*.com",
		"x.y.z.example.com",
		"*.app.*.example.com",
		"*.*.eu.example.com",
	)
	tests := []struct {
		name, host, want string // want "" is no app
	}{
		{"exact", "app.example.com", "app.example.com"},
		{"exact beats the wildcard that also covers it", "app.example.com", "app.example.com"},
		{"one-label wildcard", "tv.example.com", "*.example.com"},
		{"apex is not covered by *.", "example.com", ""},
		{"two wildcards", "a.c.example.com", "*.*.example.com"},
		{"fewer wildcards beat more", "a.b.example.com", "*.b.example.com"},
		{"wildcard inside", "api.eu.example.com", "api.*.example.com"},
		{"tie goes to the literal nearer the top", "api.api.example.com", "*.api.example.com"},
		{"tie with two wildcards", "a.app.eu.example.com", "*.*.eu.example.com"},
		{"two wildcards, one shape only", "a.app.us.example.com", "*.app.*.example.com"},
		{"wildcard under a top-level domain", "api.foo.com", "api.*.com"},
		{"wildcard under a top-level domain, other label", "www.foo.com", ""},
		{"exact four labels", "x.y.z.example.com", "x.y.z.example.com"},
		{"four labels, no four-label pattern fits", "q.y.z.example.com", ""},
		{"too many labels", "a.b.c.d.e.example.com", ""},
		{"empty label", "a..example.com", ""},
		{"other domain", "example.org", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if a := table.match(tt.host); a != nil {
				got = a.Slug
			}
			if got != tt.want {
				t.Errorf("match(%q) = %q, want %q", tt.host, got, tt.want)
			}
			// The table agrees with the one rule in auth.
			if tt.want != "" && !auth.DomainMatches(tt.want, tt.host) {
				t.Errorf("auth.DomainMatches(%q, %q) = false", tt.want, tt.host)
			}
		})
	}
}

// The order in which apps come from the store does not change the winner.
func TestAppTable_MatchOrderIndependent(t *testing.T) {
	ps := []string{"api.*.example.com", "*.api.example.com", "*.*.example.com"}
	for i := range ps {
		rot := append(append([]string{}, ps[i:]...), ps[:i]...)
		if a := hostTable(rot...).match("api.api.example.com"); a == nil || a.Slug != "*.api.example.com" {
			t.Errorf("order %v: got %v", rot, a)
		}
	}
}

func TestAppTable_MatchAllocatesNothing(t *testing.T) {
	table := hostTable("*.*.example.com", "api.*.example.com", "app.example.com")
	if n := testing.AllocsPerRun(100, func() { table.match("api.eu.example.com") }); n != 0 {
		t.Errorf("match allocates %v times", n)
	}
}

func BenchmarkAppTable_Match(b *testing.B) {
	table := hostTable("app.example.com", "*.example.com", "*.*.example.com", "api.*.example.com", "*.api.example.com")
	for _, host := range []string{"app.example.com", "tv.example.com", "api.eu.example.com", "a.b.example.com"} {
		b.Run(host, func(b *testing.B) {
			for b.Loop() {
				table.match(host)
			}
		})
	}
}
