package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoad_SMTP(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    SMTP
		problem string // "" when Load must succeed
	}{
		{name: "none", want: SMTP{Port: 587, Domain: "localhost", Authentication: "plain", EnableStartTLS: true}},
		{name: "original names", env: map[string]string{
			"SMTP_ADDRESS": "smtp.example.com", "SMTP_PORT": "465", "SMTP_TLS": "true", "SMTP_USERNAME": "u",
			"SMTP_PASSWORD": "p", "SMTP_AUTHENTICATION": "LOGIN", "CLINCH_FROM_EMAIL": "Clinch <a@example.com>",
		}, want: SMTP{Address: "smtp.example.com", Port: 465, Domain: "localhost", Username: "u", Password: "p",
			Authentication: "login", EnableStartTLS: true, TLS: true, From: "Clinch <a@example.com>"}},
		{name: "password file and flags", env: map[string]string{"SMTP_ADDRESS": "a", "SMTP_USERNAME": "u", "SMTP_PASSWORD_FILE": pwFile, "CLINCH_FROM_EMAIL": "a@example.com"},
			args: []string{"--smtp-address", "b", "--smtp-enable-starttls=false"},
			want: SMTP{Address: "b", Port: 587, Domain: "localhost", Username: "u", Password: "from-file", Authentication: "plain", From: "a@example.com"}},
		{name: "from required", env: map[string]string{"SMTP_ADDRESS": "a"}, problem: "CLINCH_FROM_EMAIL is required"},
		{name: "bad from", env: map[string]string{"SMTP_ADDRESS": "a", "CLINCH_FROM_EMAIL": "nobody"}, problem: "CLINCH_FROM_EMAIL"},
		{name: "bad port", env: map[string]string{"SMTP_PORT": "70000"}, problem: "SMTP_PORT"},
		{name: "bad auth", env: map[string]string{"SMTP_AUTHENTICATION": "cram"}, problem: "SMTP_AUTHENTICATION"},
		{name: "bad starttls", env: map[string]string{"SMTP_ENABLE_STARTTLS": "sometimes"}, problem: "SMTP_ENABLE_STARTTLS"},
		{name: "password without user", env: map[string]string{"SMTP_ADDRESS": "a", "CLINCH_FROM_EMAIL": "a@example.com", "SMTP_PASSWORD": "p"}, problem: "SMTP_USERNAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(envOf(tt.env), tt.args, io.Discard)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("Load = %v, want a problem naming %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.SMTP != tt.want {
				t.Fatalf("SMTP = %+v, want %+v", c.SMTP, tt.want)
			}
			if c.SMTP.Configured() != (tt.want.Address != "") {
				t.Fatal("Configured disagrees with Address")
			}
		})
	}
}

func TestUsage_NamesSMTPSettings(t *testing.T) {
	u := Usage()
	for _, name := range []string{"SMTP_ADDRESS", "SMTP_PORT", "SMTP_DOMAIN", "SMTP_USERNAME", "SMTP_PASSWORD_FILE", "SMTP_AUTHENTICATION", "SMTP_ENABLE_STARTTLS", "SMTP_TLS", "CLINCH_FROM_EMAIL"} {
		if !strings.Contains(u, name) {
			t.Errorf("--help does not list %s", name)
		}
	}
}
