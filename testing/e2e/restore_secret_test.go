package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// The README's move to a new host with a generated secret: back up, restore
// into an empty data directory, copy <data dir>/secret_key_base over, start.
// Forgetting the secret stops Clinch with a message naming it; with it, an
// API key made before the move works after it.
func TestRestoreWithGeneratedSecret(t *testing.T) {
	// No SECRET_KEY_BASE: Clinch generates one into the data directory.
	srv := harness.Start(t, harness.Options{Env: map[string]string{"SECRET_KEY_BASE": ""}})
	secretFile := filepath.Join(srv.DataDir, "secret_key_base")
	if _, err := os.Stat(secretFile); err != nil {
		t.Fatalf("no generated secret: %v", err)
	}
	createUser(t, srv.CLI, "ann@example.com")
	must(t, srv.CLI, "", "app", "create", "--type", "forward_auth", "--name", "MeTube", "--domain", "metube.example.com")
	var key struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(must(t, srv.CLI, "", "app", "apikey", "create", "--slug", "metube", "--owner", "ann@example.com", "--json")), &key); err != nil || key.Key == "" {
		t.Fatalf("apikey create: %v", err)
	}
	if code := verifyWithKey(t, srv, key.Key); code != http.StatusOK {
		t.Fatalf("the API key before the move: %d, want 200", code)
	}
	backup := filepath.Join(t.TempDir(), "clinch.bak")
	must(t, srv.CLI, "", "backup", "--out", backup)
	secret, err := os.ReadFile(secretFile)
	if err != nil {
		t.Fatal(err)
	}

	o := harness.Prepare(t, harness.Options{
		DataDir: filepath.Join(t.TempDir(), "new"),
		Env:     map[string]string{"SECRET_KEY_BASE": ""},
	})
	must(t, stopped(o), "", "restore", "--in", backup)

	// Forgot the secret: Clinch refuses to start and says why, rather than
	// serving with keys it cannot read.
	_, errOut, code := harness.CLI(t, o, "", "serve", "--listen", "127.0.0.1:"+strconv.Itoa(harness.FreePort(t)))
	if code != 1 || !strings.Contains(errOut, "SECRET_KEY_BASE") {
		t.Fatalf("serving the restored store without its secret: exit %d, stderr %q; want 1 naming SECRET_KEY_BASE", code, errOut)
	}

	// Copy the old secret file over the one that start generated.
	if err := os.WriteFile(filepath.Join(o.DataDir, "secret_key_base"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	moved := harness.Start(t, o)
	if code := verifyWithKey(t, moved, key.Key); code != http.StatusOK {
		t.Errorf("the API key after the move: %d, want 200", code)
	}
	harness.SignIn(t, harness.NewClient(), moved, "ann@example.com", password, "")
}

// verifyWithKey asks /api/verify, as Caddy would, about a request to
// metube.example.com carrying the API key; it returns the status.
func verifyWithKey(t *testing.T, srv *harness.Server, key string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/verify", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "metube.example.com")
	req.Header.Set("X-Forwarded-Uri", "/")
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, _ := harness.Do(t, harness.NewClient(), req)
	return resp.StatusCode
}
