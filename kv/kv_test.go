package kv_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
)

type rec struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Nick  string `json:"nick,omitempty"`
}

func recs() *kv.Collection[rec] {
	return kv.NewCollection(kv.Prefix("rec/"), func(r *rec) string { return r.ID },
		kv.Index[rec]{Prefix: "idx/rec/email/", Value: func(r *rec) string { return r.Email }},
		kv.Index[rec]{Prefix: "idx/rec/nick/", Value: func(r *rec) string { return r.Nick }},
	)
}

func put(t *testing.T, s *kv.Store, c *kv.Collection[rec], r rec) error {
	t.Helper()
	return s.Update(context.Background(), func(tx *kv.Txn) error { return c.Put(tx, &r, 0) })
}

func get(t *testing.T, s *kv.Store, c *kv.Collection[rec], idx kv.Prefix, v string) (*rec, error) {
	t.Helper()
	var out *rec
	err := s.View(context.Background(), func(tx *kv.Txn) error {
		var err error
		out, err = c.GetBy(tx, idx, v)
		return err
	})
	return out, err
}

func TestCollection_UniqueIndex(t *testing.T) {
	s, c := kvtest.Open(t), recs()
	if err := put(t, s, c, rec{ID: "1", Email: "a@x", Nick: "a"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		r    rec
		want error
	}{
		{"same email, other record", rec{ID: "2", Email: "a@x"}, kv.ErrConflict},
		{"same nick, other record", rec{ID: "2", Email: "b@x", Nick: "a"}, kv.ErrConflict},
		{"empty nick is not indexed", rec{ID: "3", Email: "c@x"}, nil},
		{"second empty nick", rec{ID: "4", Email: "d@x"}, nil},
		{"same record keeps its own values", rec{ID: "1", Email: "a@x", Nick: "a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := put(t, s, c, tt.r)
			if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Fatalf("Put = %v, want %v", err, tt.want)
			}
		})
	}
	// A failed Put wrote nothing: record 2 does not exist.
	if err := s.View(context.Background(), func(tx *kv.Txn) error { _, err := c.Get(tx, "2"); return err }); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("record from failed put: %v", err)
	}
}

func TestCollection_IndexFollowsRecord(t *testing.T) {
	s, c := kvtest.Open(t), recs()
	if err := put(t, s, c, rec{ID: "1", Email: "old@x", Nick: "n"}); err != nil {
		t.Fatal(err)
	}
	if err := put(t, s, c, rec{ID: "1", Email: "new@x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, s, c, "idx/rec/email/", "old@x"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("old email still indexed: %v", err)
	}
	if _, err := get(t, s, c, "idx/rec/nick/", "n"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("cleared nick still indexed: %v", err)
	}
	if r, err := get(t, s, c, "idx/rec/email/", "new@x"); err != nil || r.ID != "1" {
		t.Errorf("new email lookup = %v, %v", r, err)
	}
	// The freed email can be taken by another record.
	if err := put(t, s, c, rec{ID: "2", Email: "old@x"}); err != nil {
		t.Errorf("freed email: %v", err)
	}
	err := s.Update(context.Background(), func(tx *kv.Txn) error { return c.Delete(tx, "1") })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, s, c, "idx/rec/email/", "new@x"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("deleted record still indexed: %v", err)
	}
}

func TestUpdate_ErrorWritesNothing(t *testing.T) {
	s, c := kvtest.Open(t), recs()
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx *kv.Txn) error {
		if err := c.Put(tx, &rec{ID: "1", Email: "a@x"}, 0); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	if _, err := get(t, s, c, "idx/rec/email/", "a@x"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("half-written record: %v", err)
	}
}

func TestTTL_KeyVanishes(t *testing.T) {
	s := kvtest.Open(t)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx *kv.Txn) error { return tx.Set([]byte("tmp/a"), []byte("v"), time.Second) }); err != nil {
		t.Fatal(err)
	}
	var exp time.Time
	if err := s.View(ctx, func(tx *kv.Txn) error { var err error; exp, err = tx.ExpiresAt([]byte("tmp/a")); return err }); err != nil {
		t.Fatal(err)
	}
	if exp.IsZero() {
		t.Fatal("TTL key has no expiry")
	}
	// Badger's clock has one-second resolution; wait past the expiry.
	time.Sleep(time.Until(exp) + 1100*time.Millisecond)
	err := s.View(ctx, func(tx *kv.Txn) error { _, err := tx.Get([]byte("tmp/a")); return err })
	if !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("expired key still readable: %v", err)
	}
}

func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	s, c := kvtest.Open(t), recs()
	for i := range 50 {
		if err := put(t, s, c, rec{ID: strconv.Itoa(i), Email: strconv.Itoa(i) + "@x"}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := s.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if err := kv.Restore(ctx, dir, bytes.NewReader(buf.Bytes()), kv.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Restore(ctx, dir, bytes.NewReader(buf.Bytes()), kv.Options{}); !errors.Is(err, kv.ErrNotEmpty) {
		t.Fatalf("restore into non-empty dir = %v, want ErrNotEmpty", err)
	}
	r, err := kv.Open(ctx, dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := get(t, r, c, "idx/rec/email/", "42@x"); err != nil || got.ID != "42" {
		t.Fatalf("restored lookup = %v, %v", got, err)
	}
}

func TestOpen_LockedAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := kv.Open(ctx, dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Open(ctx, dir, kv.Options{}); !errors.Is(err, kv.ErrLocked) {
		t.Fatalf("second open = %v, want ErrLocked", err)
	}
	if err := put(t, s, recs(), rec{ID: "1", Email: "a@x"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = kv.Open(ctx, dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := get(t, s, recs(), "idx/rec/email/", "a@x"); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if v, _ := s.SchemaVersionOf(ctx); v != kv.SchemaVersion {
		t.Fatalf("schema = %d, want %d", v, kv.SchemaVersion)
	}
}

func TestOpen_RefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := kv.Open(ctx, dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx *kv.Txn) error {
		return tx.Set(kv.PrefixMeta.Key("schema"), []byte(strconv.Itoa(kv.SchemaVersion+1)), 0)
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	// An older binary must not write into a layout it does not know.
	if s, err := kv.Open(ctx, dir, kv.Options{}); err == nil {
		s.Close()
		t.Fatal("opening a store from a newer schema succeeded")
	}
}

// Transactions that read and write one key at once conflict; Update runs
// them again, so every increment lands and none fails.
func TestUpdate_ConflictingTransactionsAreRetried(t *testing.T) {
	ctx := context.Background()
	s := kvtest.Open(t)
	key := []byte("counter/x")
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx *kv.Txn) error {
				b, err := tx.Get(key)
				if err != nil && !errors.Is(err, kv.ErrNotFound) {
					return err
				}
				v := 0
				if b != nil {
					v, _ = strconv.Atoi(string(b))
				}
				return tx.Set(key, []byte(strconv.Itoa(v+1)), time.Hour)
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("increment %d = %v", i, err)
		}
	}
	var got []byte
	if err := s.View(ctx, func(tx *kv.Txn) error { var err error; got, err = tx.Get(key); return err }); err != nil {
		t.Fatal(err)
	}
	if string(got) != strconv.Itoa(n) {
		t.Fatalf("counter = %s, want %d", got, n)
	}
}

func TestScanReverse(t *testing.T) {
	s := kvtest.Open(t)
	ctx := context.Background()
	err := s.Update(ctx, func(tx *kv.Txn) error {
		// "b/" neighbours on both sides must never be visited.
		for _, k := range []string{"a/9", "b/1", "b/2", "b/3", "b/5", "c/0"} {
			if err := tx.Set([]byte(k), []byte(k), 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from string
		stopAt     string
		want       string
	}{
		{"from the end", "", "", "b/5 b/3 b/2 b/1"},
		{"from an existing key", "b/3", "", "b/3 b/2 b/1"},
		{"from a missing key", "b/4", "", "b/3 b/2 b/1"},
		{"from below the prefix's first key", "b/0", "", ""},
		{"stopped early", "", "b/2", "b/5 b/3 b/2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := s.View(ctx, func(tx *kv.Txn) error {
				var from []byte
				if tc.from != "" {
					from = []byte(tc.from)
				}
				return tx.ScanReverse([]byte("b/"), from, func(k, v []byte) error {
					if !bytes.Equal(k, v) {
						t.Errorf("key %s holds %s", k, v)
					}
					got = append(got, string(k))
					if string(k) == tc.stopAt {
						return kv.ErrStop
					}
					return nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("visited %q, want %q", g, tc.want)
			}
		})
	}
}
