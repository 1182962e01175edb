package kv_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/kv"
)

// rssFile is the process's resident file-backed memory (RssFile).
func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	t.Fatal("no RssFile")
	return 0
}

// After a scan of the whole store, releasing the mapped pages brings the
// process's file-backed RSS back down, and every record still reads the
// same.
func TestReleaseMappedPages(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := kv.Open(ctx, dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Incompressible values, so the tables are as large as the data.
	val := make([]byte, 400)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 60000
	for i := 0; i < n; i += 1000 {
		err := s.Update(ctx, func(tx *kv.Txn) error {
			for j := i; j < i+1000; j++ {
				for k := range val {
					val[k] = byte(rng.Uint32())
				}
				key := []byte(fmt.Sprintf("rec/%08d", j))
				if err := tx.Set(key, append(bytes.Clone(key), val...), 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil { // flushes the memtables into tables
		t.Fatal(err)
	}
	if s, err = kv.Open(ctx, dir, kv.Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	scan := func() int {
		seen := 0
		err := s.View(ctx, func(tx *kv.Txn) error {
			return tx.Scan([]byte("rec/"), func(k, v []byte) error {
				if !bytes.HasPrefix(v, k) || len(v) != len(k)+400 {
					return fmt.Errorf("%s holds %.10q", k, v)
				}
				seen++
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return seen
	}
	if got := scan(); got != n {
		t.Fatalf("scanned %d, want %d", got, n)
	}
	before := rssFile(t)
	released, err := s.ReleaseMappedPages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	t.Logf("released %d KiB of mappings; RssFile %d → %d KiB", released>>10, before>>10, after>>10)
	if released == 0 || before-after < 4<<20 {
		t.Errorf("released %d bytes of mappings; RssFile %d → %d", released, before, after)
	}
	if got := scan(); got != n {
		t.Fatalf("after the release, scanned %d, want %d", got, n)
	}
}
