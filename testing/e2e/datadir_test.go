package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// A data directory made by hand (mkdir gives 0755) or left by an older
// Clinch (Badger's files 0644) lets every local user read the password
// hashes and the generated secret. Clinch closes it at start, says so in
// its log, and writes nothing that others can read.
func TestDataDir_ExistingOpenDirIsClosed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	openUp(t, dir) // whatever the test process's umask made of it
	// No SECRET_KEY_BASE: Clinch generates one into the data dir.
	srv := harness.Start(t, harness.Options{DataDir: dir, Env: map[string]string{"SECRET_KEY_BASE": ""}})
	harness.SignUp(t, harness.NewClient(), srv, "ann@example.com", password)
	must(t, srv.CLI, password, "user", "create", "--email", "bob@example.com", "--password-stdin")
	mustBePrivate(t, dir, "while serving in a directory that was 0755")
	if !strings.Contains(srv.Log(t), "data directory") {
		t.Errorf("the log does not say the data directory was closed:\n%s", srv.Log(t))
	}

	// As an older version left it: everything readable by all.
	srv.Stop(t)
	openUp(t, dir)
	srv.Restart(t)
	must(t, srv.CLI, "", "user", "disable", "--email", "bob@example.com")
	mustBePrivate(t, dir, "after a restart over 0755/0644")

	// The admin commands, with the server stopped, open the store
	// themselves: same rule.
	srv.Stop(t)
	openUp(t, dir)
	must(t, stopped(srv.Options()), "", "user", "enable", "--email", "bob@example.com")
	mustBePrivate(t, dir, "after an admin command on the stopped store")
}

// openUp makes dir 0755 and every file in it 0644.
func openUp(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Chmod(p, 0o755)
		case d.Type().IsRegular():
			return os.Chmod(p, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mustBePrivate checks that dir is 0700 and that nothing in it can be read
// or written by group or others.
func mustBePrivate(t *testing.T, dir, when string) {
	t.Helper()
	var open []string
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files++
		}
		if fi.Mode().Perm()&0o077 != 0 {
			rel, _ := filepath.Rel(dir, p)
			open = append(open, rel+" "+fi.Mode().Perm().String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: the data dir is %v, want 0700", when, fi.Mode().Perm())
	}
	if files < 3 {
		t.Fatalf("%s: only %d files in the data dir; the check would prove nothing", when, files)
	}
	if len(open) > 0 {
		t.Errorf("%s: readable or writable by others:\n  %s", when, strings.Join(open, "\n  "))
	}
}
