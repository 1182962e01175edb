package kv

import (
	"context"
	"testing"
)

func TestMigrate_RunsPendingStepsOnce(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A store as schema 1 left it.
	if err := s.Update(ctx, func(tx *Txn) error { return tx.Set(schemaKey, []byte("1"), 0) }); err != nil {
		t.Fatal(err)
	}
	runs := map[int]int{}
	migs := []Migration{
		{From: 1, Name: "one", Run: func(tx *Txn) error { runs[1]++; return tx.Set([]byte("m/1"), []byte("x"), 0) }},
		{From: 2, Name: "two", Run: func(tx *Txn) error { runs[2]++; return tx.Set([]byte("m/2"), []byte("x"), 0) }},
	}
	for range 2 {
		if err := s.migrate(ctx, migs, 3); err != nil {
			t.Fatal(err)
		}
	}
	if runs[1] != 1 || runs[2] != 1 {
		t.Fatalf("runs = %v, want each step once", runs)
	}
	if v, _ := s.SchemaVersionOf(ctx); v != 3 {
		t.Fatalf("schema = %d, want 3", v)
	}
	if err := s.migrate(ctx, migs, 5); err == nil {
		t.Fatal("missing step 3→4 was not reported")
	}
}
