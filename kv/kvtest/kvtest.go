// Package kvtest gives each test its own store on disk in t.TempDir().
package kvtest

import (
	"context"
	"testing"

	"github.com/clinchsso/clinch/kv"
)

// Open returns a fresh store in a temporary directory, closed when the test
// ends.
func Open(t testing.TB) *kv.Store {
	t.Helper()
	s, err := kv.Open(context.Background(), t.TempDir(), kv.Options{})
	if err != nil {
		t.Fatalf("kvtest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
