package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad_Defaults(t *testing.T) {
	c, err := Load(envOf(nil), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":3000" || c.DataDir != "./storage" || c.Host.String() != "http://localhost:3000" || c.LogFormat != "text" || c.BcryptCost != 12 || c.CacheMB != 64 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestLoad_FlagsOverrideEnv(t *testing.T) {
	c, err := Load(envOf(map[string]string{"CLINCH_LISTEN": ":4000"}), []string{"--listen", "127.0.0.1:5000"}, io.Discard)
	if err != nil || c.Listen != "127.0.0.1:5000" {
		t.Fatalf("Load = %+v, %v", c, err)
	}
}

func TestLoad_ListsEveryProblem(t *testing.T) {
	env := map[string]string{
		"CLINCH_HOST":            "not-a-url",
		"CLINCH_LOG_FORMAT":      "xml",
		"CLINCH_LOG_LEVEL":       "loud",
		"FORCE_SSL":              "maybe",
		"CLINCH_MAGIC_LINKS":     "sometimes",
		"SECRET_KEY_BASE":        "short",
		"CLINCH_LISTEN":          "3000",
		"CLINCH_BCRYPT_COST":     "40",
		"CLINCH_TRUSTED_PROXIES": "10.0.0.0/8, nope",
		"CLINCH_AUDIT_RETENTION": "soon",
		"CLINCH_CACHE_MB":        "0",
	}
	_, err := Load(envOf(env), nil, io.Discard)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load = %v, want *Error", err)
	}
	for _, name := range []string{"CLINCH_HOST", "CLINCH_LOG_FORMAT", "CLINCH_LOG_LEVEL", "FORCE_SSL", "CLINCH_MAGIC_LINKS", "SECRET_KEY_BASE", "CLINCH_LISTEN", "CLINCH_BCRYPT_COST", "CLINCH_TRUSTED_PROXIES", "CLINCH_AUDIT_RETENTION", "CLINCH_CACHE_MB"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("message does not name %s:\n%v", name, err)
		}
	}
}

func TestLoad_HostShapes(t *testing.T) {
	tests := []struct {
		host string
		ok   bool
	}{
		{"https://auth.example.com", true},
		{"https://Auth.Example.com/", true},
		{"https://auth.example.com/sso", false},
		{"https://user@auth.example.com", false},
		{"ftp://auth.example.com", false},
		{"auth.example.com", false},
	}
	for _, tt := range tests {
		_, err := Load(envOf(map[string]string{"CLINCH_HOST": tt.host}), nil, io.Discard)
		if (err == nil) != tt.ok {
			t.Errorf("CLINCH_HOST=%q: err = %v", tt.host, err)
		}
	}
}

func TestEnsureSecret_GeneratedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	c, _ := Load(envOf(map[string]string{"CLINCH_DATA_DIR": dir}), nil, io.Discard)
	gen, err := c.EnsureSecret()
	if err != nil || !gen || len(c.SecretKeyBase) < 32 {
		t.Fatalf("first EnsureSecret = %v, %v", gen, err)
	}
	first := string(c.SecretKeyBase)
	if fi, err := os.Stat(filepath.Join(dir, secretFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v, mode %v", err, fi.Mode())
	}
	c2, _ := Load(envOf(map[string]string{"CLINCH_DATA_DIR": dir}), nil, io.Discard)
	gen, err = c2.EnsureSecret()
	if err != nil || gen || string(c2.SecretKeyBase) != first {
		t.Fatalf("second EnsureSecret generated again or changed: %v %v", gen, err)
	}
}

func TestLoad_HostDefaultsToListenPort(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"nothing set", nil, nil, "http://localhost:3000"},
		{"only the port changed", map[string]string{"CLINCH_LISTEN": ":4000"}, nil, "http://localhost:4000"},
		{"listen flag", nil, []string{"--listen", "127.0.0.1:5000"}, "http://localhost:5000"},
		{"flag beats env for the port", map[string]string{"CLINCH_LISTEN": ":4000"}, []string{"--listen", ":4001"}, "http://localhost:4001"},
		{"explicit host wins", map[string]string{"CLINCH_LISTEN": ":4000", "CLINCH_HOST": "https://auth.example.com"}, nil, "https://auth.example.com"},
		{"host flag wins", map[string]string{"CLINCH_LISTEN": ":4000"}, []string{"--host", "http://192.0.2.2:4000"}, "http://192.0.2.2:4000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(envOf(tt.env), tt.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Host.String(); got != tt.want {
				t.Errorf("CLINCH_HOST = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLoad_HelpListsEverySetting(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		var stderr strings.Builder
		if _, err := Load(envOf(nil), []string{arg}, &stderr); !errors.Is(err, ErrHelp) {
			t.Errorf("Load(%s) = %v, want ErrHelp", arg, err)
		}
		if stderr.Len() != 0 {
			t.Errorf("Load(%s) wrote to stderr: %q", arg, stderr.String())
		}
	}
	u := Usage()
	for _, want := range []string{
		"CLINCH_LISTEN", "--listen", "CLINCH_DATA_DIR", "--data-dir", "CLINCH_HOST", "--host",
		"CLINCH_COOKIE_DOMAIN", "--cookie-domain", "CLINCH_WEBAUTHN_RP_ID", "--webauthn-rp-id", "FORCE_SSL", "--force-ssl", "CLINCH_MAGIC_LINKS", "--magic-links",
		"CLINCH_TRUSTED_PROXIES", "--trusted-proxies", "CLINCH_LOG_LEVEL", "--log-level",
		"CLINCH_LOG_FORMAT", "--log-format", "CLINCH_BCRYPT_COST", "--bcrypt-cost", "CLINCH_CACHE_MB", "--cache-mb",
		"SECRET_KEY_BASE", "SECRET_KEY_BASE_FILE", "OIDC_PRIVATE_KEY", "OIDC_PRIVATE_KEY_FILE",
		"http://localhost:<port of CLINCH_LISTEN>",
	} {
		if !strings.Contains(u, want) {
			t.Errorf("clinch serve --help does not mention %s:\n%s", want, u)
		}
	}
}

func TestLoad_UnknownFlagIsOneLine(t *testing.T) {
	var stderr strings.Builder
	_, err := Load(envOf(nil), []string{"--no-such-flag"}, &stderr)
	var ue *UsageError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UsageError", err)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "no-such-flag") || !strings.Contains(got, "--help") {
		t.Errorf("stderr = %q, want one line naming the flag and pointing at --help", got)
	}
}

func TestLoad_WebAuthnRPID(t *testing.T) {
	tests := []struct {
		name, host, rpID string
		want             string // "" with ok: passkeys off
		ok               bool
	}{
		{"default: CLINCH_HOST's host", "https://auth.example.com", "", "auth.example.com", true},
		{"default on localhost", "http://localhost:3000", "", "localhost", true},
		{"default on an IP address: passkeys off", "http://192.0.2.2:3000", "", "", true},
		{"default on an IPv6 address: passkeys off", "http://[2001:db8::1]:3000", "", "", true},
		{"the parent domain", "https://auth.example.com", "example.com", "example.com", true},
		{"the host itself, any case, trailing dot", "https://auth.example.com", "Auth.Example.com.", "auth.example.com", true},
		{"a parent under a private TLD", "https://auth.clinch.test:8443", "clinch.test", "clinch.test", true},
		{"a sibling", "https://auth.example.com", "app.example.com", "", false},
		{"a child", "https://auth.example.com", "x.auth.example.com", "", false},
		{"another domain", "https://auth.example.com", "example.net", "", false},
		{"a suffix that is not a parent", "https://auth.myexample.com", "example.com", "", false},
		{"a public suffix", "https://auth.example.co.uk", "co.uk", "", false},
		{"a TLD", "https://auth.example.com", "com", "", false},
		{"a private public suffix", "https://me.github.io", "github.io", "", false},
		{"a URL", "https://auth.example.com", "https://example.com", "", false},
		{"with a port", "https://auth.example.com", "example.com:443", "", false},
		{"an IP address", "http://192.0.2.2:3000", "192.0.2.2", "", false},
		{"not a name", "https://auth.example.com", "exa_mple.com", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(envOf(map[string]string{"CLINCH_HOST": tt.host, "CLINCH_WEBAUTHN_RP_ID": tt.rpID}), nil, io.Discard)
			if !tt.ok {
				if err == nil || !strings.Contains(err.Error(), "CLINCH_WEBAUTHN_RP_ID") {
					t.Fatalf("Load = %v, want a problem naming CLINCH_WEBAUTHN_RP_ID", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.WebAuthnRPID != tt.want {
				t.Errorf("RP ID = %q, want %q", c.WebAuthnRPID, tt.want)
			}
		})
	}
	// The flag overrides the environment, as for every setting.
	c, err := Load(envOf(map[string]string{"CLINCH_HOST": "https://auth.example.com", "CLINCH_WEBAUTHN_RP_ID": "auth.example.com"}), []string{"--webauthn-rp-id", "example.com"}, io.Discard)
	if err != nil || c.WebAuthnRPID != "example.com" {
		t.Fatalf("--webauthn-rp-id: %+v, %v", c, err)
	}
}

func TestLoad_MagicLinks(t *testing.T) {
	tests := []struct {
		env  map[string]string
		args []string
		want bool
	}{
		{nil, nil, true},
		{map[string]string{"CLINCH_MAGIC_LINKS": "false"}, nil, false},
		{nil, []string{"--magic-links=false"}, false},
		{map[string]string{"CLINCH_MAGIC_LINKS": "false"}, []string{"--magic-links=true"}, true},
	}
	for _, tt := range tests {
		c, err := Load(envOf(tt.env), tt.args, io.Discard)
		if err != nil || c.MagicLinks != tt.want {
			t.Errorf("Load(%v, %v): MagicLinks %v, %v; want %v", tt.env, tt.args, c != nil && c.MagicLinks, err, tt.want)
		}
	}
}

func TestLoad_AuditRetention(t *testing.T) {
	tests := []struct {
		val  string
		want time.Duration
		ok   bool
	}{
		{"", 90 * 24 * time.Hour, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"720h", 720 * time.Hour, true},
		{"1h", time.Hour, true},
		{"59m", 0, false}, // shorter than the retention anyone means
		{"-3d", 0, false},
		{"0d", 0, false},
		{"ninety days", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.val, func(t *testing.T) {
			c, err := Load(envOf(map[string]string{"CLINCH_AUDIT_RETENTION": tc.val}), nil, io.Discard)
			if tc.ok != (err == nil) {
				t.Fatalf("Load(%q) err = %v, want ok=%v", tc.val, err, tc.ok)
			}
			if tc.ok && c.AuditRetention != tc.want {
				t.Errorf("retention %v, want %v", c.AuditRetention, tc.want)
			}
		})
	}
}
