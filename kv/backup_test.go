package kv_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
)

// A backup can be looked at in memory before a restore writes anything,
// large values included; something that is not a backup is refused.
func TestInspect_InMemoryBeforeAnythingIsWritten(t *testing.T) {
	ctx := context.Background()
	s, c := kvtest.Open(t), recs()
	if err := put(t, s, c, rec{ID: "1", Email: "a@x"}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("n", 64<<10) // far above the value-log threshold
	if err := s.Update(ctx, func(tx *kv.Txn) error { return tx.Set([]byte("raw/big"), []byte(big), 0) }); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	m, err := kv.Inspect(ctx, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got, err := get(t, m, c, "idx/rec/email/", "a@x"); err != nil || got.ID != "1" {
		t.Fatalf("inspected lookup = %v, %v", got, err)
	}
	var val []byte
	if err := m.View(ctx, func(tx *kv.Txn) error { var err error; val, err = tx.Get([]byte("raw/big")); return err }); err != nil || string(val) != big {
		t.Fatalf("the large value: %d bytes, %v", len(val), err)
	}
	for _, junk := range []string{"", "not a backup at all, just text"} {
		if m, err := kv.Inspect(ctx, strings.NewReader(junk)); err == nil {
			m.Close()
			t.Errorf("Inspect(%q) accepted it", junk)
		}
	}
}

// The restore target may hold the files named to keep (the secret put
// there first), nothing else.
func TestRestore_KeepsNamedFiles(t *testing.T) {
	ctx := context.Background()
	s := kvtest.Open(t)
	var buf bytes.Buffer
	if err := s.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := kv.Restore(ctx, dir, bytes.NewReader(buf.Bytes()), kv.Options{}); !errors.Is(err, kv.ErrNotEmpty) {
		t.Fatalf("restore beside an unnamed file = %v, want ErrNotEmpty", err)
	}
	if err := kv.Restore(ctx, dir, bytes.NewReader(buf.Bytes()), kv.Options{}, "secret"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "secret")); err != nil || string(b) != "s" {
		t.Fatalf("the kept file: %q, %v", b, err)
	}
	if !kv.HasStore(dir) {
		t.Error("HasStore is false after a restore")
	}
}
