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
