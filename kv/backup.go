package kv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	badger "github.com/dgraph-io/badger/v4"
)

// Backup writes a consistent snapshot of the whole store to w while it keeps
// serving.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := s.db.Backup(w, 0); err != nil {
		return fmt.Errorf("kv: backup: %w", err)
	}
	return nil
}

// CheckEmpty returns an error matching ErrNotEmpty unless dir is missing or
// holds nothing but entries named in keep.
func CheckEmpty(dir string, keep ...string) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("kv: restore: %w", err)
	}
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			return fmt.Errorf("%w: %s", ErrNotEmpty, dir)
		}
	}
	return nil
}

// HasStore reports whether dir holds a store (a Badger manifest).
func HasStore(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, badger.ManifestFilename))
	return err == nil
}

// Inspect loads a backup taken with Backup into a store in memory, with
// migrations run, so that it can be checked before anything is written to
// disk. The caller closes it. It holds the whole backup in memory, which
// for Clinch's stores is megabytes.
func Inspect(ctx context.Context, r io.Reader) (*Store, error) {
	db, err := badger.Open(badgerOptions("", Options{InMemory: true}))
	if err != nil {
		return nil, fmt.Errorf("kv: inspect: %w", err)
	}
	if err := db.Load(&frames{r: r}, 64); err != nil {
		db.Close()
		return nil, fmt.Errorf("kv: inspect: not a Clinch backup, or a damaged one: %w", err)
	}
	s := &Store{db: db}
	v, err := s.SchemaVersionOf(ctx)
	if err == nil && v == 0 {
		err = errors.New("no schema version")
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("kv: inspect: not a Clinch backup: %w", err)
	}
	if err := s.migrate(ctx, migrations(), SchemaVersion); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Restore loads a backup taken with Backup into dir, which must be missing
// or hold nothing but the entries named in keep (a secret file put there
// first, say). The store is closed again afterwards.
func Restore(ctx context.Context, dir string, r io.Reader, o Options, keep ...string) error {
	if err := CheckEmpty(dir, keep...); err != nil {
		return err
	}
	if err := secure(dir, o.Logger); err != nil {
		return err
	}
	db, err := badger.Open(badgerOptions(dir, o))
	if err != nil {
		return fmt.Errorf("kv: restore: %w", err)
	}
	if err := db.Load(&frames{r: r}, 64); err != nil {
		db.Close()
		// Leave nothing half-restored behind.
		removeContents(dir, keep)
		return fmt.Errorf("kv: restore: %w", err)
	}
	if err := db.Sync(); err != nil {
		db.Close()
		return fmt.Errorf("kv: restore: %w", err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("kv: restore: %w", err)
	}
	// Run migrations so a backup from an older version opens cleanly.
	st, err := Open(ctx, dir, o)
	if err != nil {
		return err
	}
	return st.Close()
}

func removeContents(dir string, keep []string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !slices.Contains(keep, e.Name()) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// maxFrame is the longest frame a backup may declare. Badger's backups
// are written in batches of about 100 MiB at most; Clinch's are far
// smaller.
const maxFrame = 256 << 20

// frames guards Badger's Load against a file that is not a backup. A
// backup is frames of [uint64 little-endian length][that many bytes], and
// Load allocates whatever length a frame claims (eight bytes of text
// claim exabytes, and panic). frames passes the stream through and fails
// on a frame longer than maxFrame before Load sees its length.
type frames struct {
	r    io.Reader
	hdr  [8]byte
	nh   int    // header bytes read of the next frame
	left uint64 // body bytes left in the current frame
	err  error
}

func (f *frames) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if f.left == 0 { // at a header: never hand out its bytes unchecked
		p = p[:min(len(p), 8-f.nh)]
		n, err := f.r.Read(p)
		copy(f.hdr[f.nh:], p[:n])
		f.nh += n
		if f.nh < 8 {
			return n, err
		}
		f.nh, f.left = 0, binary.LittleEndian.Uint64(f.hdr[:])
		if f.left > maxFrame {
			f.err = fmt.Errorf("a frame of %d bytes: not a backup", f.left)
			return 0, f.err
		}
		return n, err
	}
	if uint64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.r.Read(p)
	f.left -= uint64(n)
	return n, err
}
