package kv

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// private is the permission mask a data directory and its contents must
// stay within: nothing for group or others.
const private = 0o700

// SecureDir makes dir private to its owner: it creates it (0700) when
// missing, sets an existing one to 0700 and takes the group and other bits
// off everything in it (symlinks are left alone). It returns what it
// changed, relative to dir.
//
// Fixing rather than refusing: every store written before Clinch set its
// umask has 0644 files, so a refusal would stop every upgraded server for a
// chmod that the operator would run anyway. When the modes cannot be
// changed (another owner, a read-only mount), it returns an error and the
// caller must not open the store.
func SecureDir(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, private); err != nil {
		return nil, fmt.Errorf("kv: create data dir: %w", err)
	}
	var changed []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed meanwhile (a stale socket, a Badger temp file)
		}
		if err != nil {
			return err
		}
		perm := fi.Mode().Perm()
		want := perm &^ 0o077
		if p == dir {
			want = private
		}
		if perm == want {
			return nil
		}
		if err := os.Chmod(p, want); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		changed = append(changed, rel)
		return nil
	})
	if err != nil {
		return changed, fmt.Errorf("kv: data directory %s must be private to its owner (chmod -R go-rwx %s): %w", dir, dir, err)
	}
	return changed, nil
}

// secure is SecureDir with a log line when something had to change.
func secure(dir string, log *slog.Logger) error {
	changed, err := SecureDir(dir)
	if err != nil {
		return err
	}
	if len(changed) > 0 && log != nil {
		log.Warn("the data directory was open to other local users; made it private (directory 0700, no group or other access to its files)", "dir", dir, "changed", len(changed))
	}
	return nil
}
