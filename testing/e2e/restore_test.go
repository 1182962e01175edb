package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// A backup holds the store, not SECRET_KEY_BASE. Restored without that
// secret, Clinch used to write a fresh secret_key_base into the restored
// directory and then fail to open its own signing keys, leaving a
// directory that looked restored and could never serve. Now restore (and
// a server or admin command on a restored store) refuses before writing
// anything, and says what the secret is for and where it was kept.
func TestRestore_WithoutSecretWritesNothing(t *testing.T) {
	// The old installation kept a generated secret in its data dir.
	srv := harness.Start(t, harness.Options{Env: map[string]string{"SECRET_KEY_BASE": ""}})
	createUser(t, srv.CLI, "ann@example.com")
	file := filepath.Join(t.TempDir(), "clinch.backup")
	out := must(t, srv.CLI, "", "backup", "--out", file)
	if !strings.Contains(out, "secret_key_base") || !strings.Contains(out, "SECRET_KEY_BASE") {
		t.Errorf("clinch backup does not remind that the secret is not in the backup:\n%s", out)
	}
	secret, err := os.ReadFile(filepath.Join(srv.DataDir, "secret_key_base"))
	if err != nil {
		t.Fatal(err)
	}

	newDir := func() harness.Options {
		return harness.Prepare(t, harness.Options{
			DataDir: filepath.Join(t.TempDir(), "restored"),
			Env:     map[string]string{"SECRET_KEY_BASE": ""},
		})
	}
	refused := func(o harness.Options, why string, want ...string) {
		t.Helper()
		out, errOut, code := harness.CLI(t, o, "", "restore", "--in", file)
		if code != 1 {
			t.Fatalf("%s: restore exit %d, want 1\nstdout: %s\nstderr: %s", why, code, out, errOut)
		}
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr does not say %q:\n%s", why, w, errOut)
			}
		}
		if entries, _ := os.ReadDir(o.DataDir); len(entries) > 0 {
			t.Errorf("%s: the refused restore wrote %d entries into %s", why, len(entries), o.DataDir)
		}
	}

	// No secret at all: refused, the directory not even created.
	o := newDir()
	refused(o, "no secret", "SECRET_KEY_BASE", "secret_key_base", "signing keys")
	if _, err := os.Stat(o.DataDir); !os.IsNotExist(err) {
		t.Errorf("no secret: the data dir was created (%v)", err)
	}
	// Another installation's secret: refused too.
	o = newDir()
	o.Env["SECRET_KEY_BASE"] = strings.Repeat("ab", 40)
	refused(o, "wrong secret", "SECRET_KEY_BASE")

	// With the old secret_key_base file put in the empty directory first,
	// the restore is accepted and the result serves.
	o = newDir()
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(o.DataDir, "secret_key_base"), secret, 0o600); err != nil {
		t.Fatal(err)
	}
	out = must(t, stopped(o), "", "restore", "--in", file)
	if !strings.Contains(out, "secret_key_base") {
		t.Errorf("clinch restore does not say where the secret is kept:\n%s", out)
	}
	srv2 := harness.Start(t, o)
	c := harness.NewClient()
	harness.SignIn(t, c, srv2, "ann@example.com", password, "")
	home(t, c, srv2, "ann@example.com")
	srv2.Stop(t)

	// Restored with SECRET_KEY_BASE in the environment, then started
	// without it: refused, and no new secret_key_base appears.
	o = newDir()
	o.Env["SECRET_KEY_BASE"] = strings.TrimSpace(string(secret))
	out = must(t, stopped(o), "", "restore", "--in", file)
	if !strings.Contains(out, "SECRET_KEY_BASE") {
		t.Errorf("clinch restore does not remind to keep SECRET_KEY_BASE:\n%s", out)
	}
	o.Env["SECRET_KEY_BASE"] = ""
	for _, args := range [][]string{{"serve", "--listen", "127.0.0.1:0"}, {"user", "list"}} {
		out, errOut, code := harness.CLI(t, o, "", args...)
		if code != 1 || !strings.Contains(errOut, "SECRET_KEY_BASE") {
			t.Errorf("clinch %s on a restored store without its secret: exit %d, want 1 naming SECRET_KEY_BASE\nstdout: %s\nstderr: %s", args[0], code, out, errOut)
		}
		if _, err := os.Stat(filepath.Join(o.DataDir, "secret_key_base")); !os.IsNotExist(err) {
			t.Fatalf("clinch %s wrote a new secret_key_base into the restored store (%v)", args[0], err)
		}
	}
}
