package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad_Defaults(t *testing.T) {
	c, err := Load(envOf(nil), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":3000" || c.DataDir != "./storage" || c.Host.String() != "http://localhost:3000" || c.LogFormat != "text" || c.BcryptCost != 12 {
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
		"SECRET_KEY_BASE":        "short",
		"CLINCH_LISTEN":          "3000",
		"CLINCH_BCRYPT_COST":     "40",
		"CLINCH_TRUSTED_PROXIES": "10.0.0.0/8, nope",
	}
	_, err := Load(envOf(env), nil, io.Discard)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Load = %v, want *Error", err)
	}
	for _, name := range []string{"CLINCH_HOST", "CLINCH_LOG_FORMAT", "CLINCH_LOG_LEVEL", "FORCE_SSL", "SECRET_KEY_BASE", "CLINCH_LISTEN", "CLINCH_BCRYPT_COST", "CLINCH_TRUSTED_PROXIES"} {
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
		"CLINCH_COOKIE_DOMAIN", "--cookie-domain", "FORCE_SSL", "--force-ssl",
		"CLINCH_TRUSTED_PROXIES", "--trusted-proxies", "CLINCH_LOG_LEVEL", "--log-level",
		"CLINCH_LOG_FORMAT", "--log-format", "CLINCH_BCRYPT_COST", "--bcrypt-cost",
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
