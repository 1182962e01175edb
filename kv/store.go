// Package kv is Clinch's storage layer: one Badger database in the data
// directory, spoken to through small transactions, typed collections with
// unique indexes, and TTLs on everything that expires.
//
// Domain packages never import Badger; they see Store, Txn and Collection.
// The contract is deliberately small (get, put with TTL, delete, prefix scan,
// transaction) so that a second engine can implement it later.
package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Sentinel errors. Callers check them with errors.Is.
var (
	ErrNotFound = errors.New("kv: not found")
	ErrConflict = errors.New("kv: unique value already taken")
	ErrLocked   = errors.New("kv: data directory is in use by another process")
	ErrNotEmpty = errors.New("kv: restore target is not empty")
	ErrClosed   = errors.New("kv: store is closed")
	// ErrTxnConflict: concurrent transactions kept changing what this one
	// read, through every retry. Nothing was written; it is safe to try
	// again later.
	ErrTxnConflict = errors.New("kv: transaction kept conflicting with concurrent writes")
)

// Retries of a conflicting transaction: up to maxCommitAttempts runs, each
// after a random pause below min(2^attempt, 64) ms. Thirty contenders on
// one key all get through well within the limit.
const (
	maxCommitAttempts = 20
	maxRetryDelay     = 64 * time.Millisecond
)

func retryDelay(attempt int) time.Duration {
	ceil := min(time.Millisecond<<min(attempt, 16), maxRetryDelay)
	return rand.N(ceil) + 1
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Options tune the store. The zero value is right for a small server.
type Options struct {
	// InMemory keeps everything in memory; for tests only.
	InMemory bool
	// Logger receives Badger's warnings and errors. Nil discards them.
	Logger *slog.Logger
	// Migrations run at open when the stored schema version is older than
	// SchemaVersion. Nil means the package's own list.
	Migrations []Migration
}

// Store is an open Badger database.
type Store struct {
	db  *badger.DB
	dir string
}

func badgerOptions(dir string, o Options) badger.Options {
	bo := badger.DefaultOptions(dir)
	if o.InMemory {
		bo = badger.DefaultOptions("").WithInMemory(true)
	}
	// Clinch holds thousands of records, not billions. The defaults (64 MiB
	// memtables ×5, 256 MiB block cache, 1 GiB value log files) are sized for
	// a database server; these keep idle RSS in the tens of MiB.
	//
	// Reads are what must be cheap: /api/verify reads a session on every
	// cache miss, and with a million live sessions most requests may miss.
	// Table indexes and bloom filters stay in memory (no index cache, so
	// no cache lookup and no re-decoding before every read; about 10 bytes
	// a key). Blocks stay Snappy-compressed: uncompressed blocks saved
	// about a seventh of a miss's CPU in testing/load, but doubled the
	// pages of mapped table files a uniform read pattern keeps resident
	// (a million sessions: some 500 MiB instead of 250). The block cache
	// stays small: it would hold a few percent of a million sessions, and
	// the hot ones are in forward's cache already.
	bo = bo.
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(4).
		WithBaseTableSize(2 << 20).
		WithBaseLevelSize(8 << 20).
		WithValueLogFileSize(32 << 20).
		WithBlockCacheSize(4 << 20).
		WithIndexCacheSize(0).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithValueThreshold(1 << 10).
		WithMetricsEnabled(false).
		// Writes are synced explicitly (see Update) only when they carry
		// durable data, so sessions and rate-limit counters stay cheap.
		WithSyncWrites(false).
		WithLogger(badgerLogger{o.Logger})
	// Tables of every level the same small size: a compaction builds up
	// to 8 tables at once, each in a buffer of about three times the table
	// size, and with Badger's default (twice as large a level down) the
	// compactions after a million sessions held over 500 MiB of them.
	bo.TableSizeMultiplier = 1
	if o.InMemory {
		// Without a value log every value lives in the LSM tree, and
		// Badger refuses (or, loading a backup, panics on) values above
		// the threshold: raise it to Badger's maximum.
		bo = bo.WithValueThreshold(1 << 20)
	}
	return bo
}

// Open opens (creating if needed) the store in dir and runs pending
// migrations. It returns ErrLocked when another process holds the directory.
func Open(ctx context.Context, dir string, o Options) (*Store, error) {
	if !o.InMemory {
		if err := secure(dir, o.Logger); err != nil {
			return nil, err
		}
	}
	db, err := badger.Open(badgerOptions(dir, o))
	if err != nil {
		if isLockError(err) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("kv: open %s: %w", dir, err)
	}
	s := &Store{db: db, dir: dir}
	migs := o.Migrations
	if migs == nil {
		migs = migrations()
	}
	if err := s.migrate(ctx, migs, SchemaVersion); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func isLockError(err error) bool {
	// Badger reports a held directory lock as a wrapped string; there is no
	// sentinel to match.
	msg := err.Error()
	return strings.Contains(msg, "Cannot acquire directory lock") || strings.Contains(msg, "resource temporarily unavailable")
}

// Dir is the data directory the store lives in.
func (s *Store) Dir() string { return s.dir }

// Close flushes and closes the database.
func (s *Store) Close() error {
	if s.db.IsClosed() {
		return nil
	}
	return s.db.Close()
}

// Ready reports whether the store is open.
func (s *Store) Ready() bool { return !s.db.IsClosed() }

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(*Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.db.IsClosed() {
		return ErrClosed
	}
	return s.db.View(func(bt *badger.Txn) error {
		return fn(&Txn{t: bt})
	})
}

// Update runs fn in a read-write transaction and commits it. If fn returns an
// error nothing is written. When the transaction wrote anything durable (a
// record without TTL, or a delete), Update returns only after the write is
// synced to disk, so "ok" means it survives a crash.
//
// A transaction that read a key another one changed before it committed
// conflicts; Update then runs fn again on fresh reads, after a short random
// pause so the contenders spread out. fn must therefore have no effects
// outside the transaction other than setting its results. When the
// conflicts go on for maxCommitAttempts runs, Update gives up with an error
// matching ErrTxnConflict, having written nothing.
func (s *Store) Update(ctx context.Context, fn func(*Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.db.IsClosed() {
		return ErrClosed
	}
	for attempt := 1; ; attempt++ {
		t := &Txn{t: s.db.NewTransaction(true), write: true}
		err := fn(t)
		if err != nil {
			t.t.Discard()
			return err
		}
		err = t.t.Commit()
		if errors.Is(err, badger.ErrConflict) {
			if attempt == maxCommitAttempts {
				return fmt.Errorf("%w (%d attempts)", ErrTxnConflict, attempt)
			}
			if err := sleep(ctx, retryDelay(attempt)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("kv: commit: %w", err)
		}
		if t.durable {
			if err := s.db.Sync(); err != nil {
				return fmt.Errorf("kv: sync: %w", err)
			}
		}
		return nil
	}
}

// Txn is one transaction. It is not safe for concurrent use.
type Txn struct {
	t       *badger.Txn
	write   bool
	durable bool
}

// Get returns a copy of the value at key, or ErrNotFound.
func (t *Txn) Get(key []byte) ([]byte, error) {
	item, err := t.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("kv: get: %w", err)
	}
	return item.ValueCopy(nil)
}

// ExpiresAt returns when key expires, the zero time when it never does, or
// ErrNotFound.
func (t *Txn) ExpiresAt(key []byte) (time.Time, error) {
	item, err := t.t.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return time.Time{}, ErrNotFound
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("kv: get: %w", err)
	}
	if item.ExpiresAt() == 0 {
		return time.Time{}, nil
	}
	return time.Unix(int64(item.ExpiresAt()), 0), nil
}

// Set writes val at key. A positive ttl makes the key vanish after it; zero
// means it never expires and makes the transaction durable.
func (t *Txn) Set(key, val []byte, ttl time.Duration) error {
	e := badger.NewEntry(key, val)
	if ttl > 0 {
		// Badger's TTL has one-second resolution; round up so a key never
		// lives shorter than asked.
		e = e.WithTTL(ttl.Round(time.Second) + time.Second)
	} else if ttl < 0 {
		return fmt.Errorf("kv: negative ttl %v", ttl)
	} else {
		t.durable = true
	}
	if err := t.t.SetEntry(e); err != nil {
		return fmt.Errorf("kv: set: %w", err)
	}
	return nil
}

// Delete removes key. Deleting a missing key is not an error.
func (t *Txn) Delete(key []byte) error {
	t.durable = true
	if err := t.t.Delete(key); err != nil {
		return fmt.Errorf("kv: delete: %w", err)
	}
	return nil
}

// Scan calls fn for every key with the prefix, in key order, with the key
// (prefix included) and a value that is only valid during the call. Returning
// ErrStop from fn ends the scan early without error.
func (t *Txn) Scan(prefix []byte, fn func(key, val []byte) error) error {
	return t.ScanFrom(prefix, prefix, fn)
}

// ScanFrom is Scan starting at the first key with the prefix that is
// >= start (start includes the prefix): for pages read by cursor, so a
// page costs its own size, not the size of everything before it.
func (t *Txn) ScanFrom(prefix, start []byte, fn func(key, val []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	it := t.t.NewIterator(opts)
	defer it.Close()
	for it.Seek(start); it.Valid(); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error { return fn(item.Key(), v) })
		if errors.Is(err, ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ScanReverse calls fn for every key with the prefix that sorts at or below
// from, in descending key order, starting there: the newest-first walk over
// keys that begin with a time. An empty from starts at the last key with the
// prefix. fn's value is only valid during the call; ErrStop ends the scan
// early without error.
func (t *Txn) ScanReverse(prefix, from []byte, fn func(key, val []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = prefix
	opts.Reverse = true
	it := t.t.NewIterator(opts)
	defer it.Close()
	seek := from
	if len(seek) == 0 {
		// Every key with the prefix sorts below prefix+0xFF: keys are
		// text, and no text byte is 0xFF.
		seek = append(append([]byte{}, prefix...), 0xFF)
	}
	for it.Seek(seek); it.Valid(); it.Next() {
		item := it.Item()
		err := item.Value(func(v []byte) error { return fn(item.Key(), v) })
		if errors.Is(err, ErrStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ErrStop ends a Scan early.
var ErrStop = errors.New("kv: stop scan")

// badgerLogger forwards Badger's warnings and errors to slog and drops its
// chatty info and debug lines.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.l != nil {
		b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
	}
}
func (b badgerLogger) Warningf(f string, a ...any) {
	if b.l == nil {
		return
	}
	msg := fmt.Sprintf(f, a...)
	// Badger reports its block cache's hit ratio as a warning every
	// minute. Sessions are read by random keys, for which no block cache
	// helps (the store keeps it small on purpose), so at a million
	// sessions this would be a warning a minute about nothing to fix.
	if strings.HasPrefix(msg, "Block cache might be too small") || strings.HasPrefix(msg, "Cache life expectancy") {
		b.l.Debug(msg, "component", "badger")
		return
	}
	b.l.Warn(msg, "component", "badger")
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
