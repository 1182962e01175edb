package keys

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv/kvtest"
)

// A store checked against another installation's SECRET_KEY_BASE (a
// restore with the wrong secret) is recognised without changing it.
func TestCheckSecret_OtherInstallationsSecretIsRecognised(t *testing.T) {
	ctx := context.Background()
	store := kvtest.Open(t)
	if _, err := Open(ctx, Config{Store: store, Secrets: testSecrets(t)}); err != nil {
		t.Fatal(err)
	}
	if n, err := CheckSecret(ctx, store, testSecrets(t)); err != nil || n != 1 {
		t.Fatalf("right secret: %d keys, %v", n, err)
	}
	other, _ := auth.NewSecrets([]byte(strings.Repeat("o", 64)))
	if _, err := CheckSecret(ctx, store, other); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("other secret: %v, want ErrWrongSecret", err)
	}
	if n, err := CheckSecret(ctx, kvtest.Open(t), other); err != nil || n != 0 {
		t.Fatalf("empty store: %d, %v", n, err)
	}
}
