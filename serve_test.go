package main

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/web"
)

func TestWarnPlainHTTP(t *testing.T) {
	tests := []struct {
		host     string
		forceSSL bool
		want     string // "" = no warning
	}{
		{"http://localhost:3000", false, ""},
		{"http://auth.clinch.localhost:3000", false, ""},
		{"http://127.0.0.1:3000", false, ""},
		{"https://auth.example.com", false, ""},
		{"http://192.0.2.2:3000", false, "passwords and session cookies travel in clear"},
		{"http://auth.example.com", false, "passwords and session cookies travel in clear"},
		{"http://auth.example.com", true, "nobody can sign in there"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.host)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		warnPlainHTTP(slog.New(slog.NewTextHandler(&buf, nil)), web.NewSite(u, "", tt.forceSSL))
		got := buf.String()
		switch {
		case tt.want == "" && got != "":
			t.Errorf("%s FORCE_SSL=%v: unexpected warning %q", tt.host, tt.forceSSL, got)
		case tt.want != "" && (strings.Count(got, "\n") != 1 || !strings.Contains(got, "level=WARN") || !strings.Contains(got, tt.want)):
			t.Errorf("%s FORCE_SSL=%v: log %q, want one warning saying %q", tt.host, tt.forceSSL, got, tt.want)
		}
	}
}
