package kv

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An existing data directory (0755, files 0644 as an older Clinch left
// them) is made private when the store opens, with a log line; a symlink's
// target outside it is not touched.
func TestOpen_ExistingOpenDirIsClosed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	outside := filepath.Join(t.TempDir(), "elsewhere")
	for _, err := range []error{
		os.Mkdir(dir, 0o755),
		os.WriteFile(filepath.Join(dir, "left-behind"), nil, 0o644),
		os.WriteFile(filepath.Join(dir, "secret_key_base"), []byte("x"), 0o640),
		os.Mkdir(filepath.Join(dir, "sub"), 0o755),
		os.WriteFile(filepath.Join(dir, "sub", "f"), nil, 0o666),
		os.WriteFile(outside, nil, 0o644),
		os.Symlink(outside, filepath.Join(dir, "link")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dir, filepath.Join(dir, "sub")} {
		os.Chmod(p, 0o755) // past the test process's umask
	}
	os.Chmod(filepath.Join(dir, "sub", "f"), 0o666)
	var logs bytes.Buffer
	s, err := Open(context.Background(), dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	want := map[string]os.FileMode{
		dir:                                   0o700,
		filepath.Join(dir, "left-behind"):     0o600,
		filepath.Join(dir, "secret_key_base"): 0o600,
		filepath.Join(dir, "sub"):             0o700,
		filepath.Join(dir, "sub", "f"):        0o600,
		outside:                               0o644,
	}
	for p, m := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != m {
			t.Errorf("%s: %v, want %v", p, fi.Mode().Perm(), m)
		}
	}
	if !strings.Contains(logs.String(), "data directory") {
		t.Errorf("nothing logged:\n%s", logs.String())
	}

	// Already private: nothing to say. (What Badger wrote since is 0644
	// under this test's umask; the binary runs with umask 077.)
	if _, err := SecureDir(dir); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if s, err = Open(context.Background(), dir, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if logs.Len() != 0 {
		t.Errorf("logged on a private dir:\n%s", logs.String())
	}
}
