package e2e

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// Several devices signing in to one account at once all get in: none is
// answered 500 because their writes met in the store.
func TestSignIn_ConcurrentSignInsNeverAnswer500(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	createUser(t, srv.CLI, "ann@example.com")
	// Two rounds of ten use up, and stay within, the address limit (20 per
	// 3 minutes) and the free attempts of the account (10).
	const rounds, parallel = 2, 10
	for r := range rounds {
		status := make([]int, parallel)
		bodies := make([]string, parallel)
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Go(func() {
				resp, body := harness.TrySignIn(t, harness.NewClient(), srv, "ann@example.com", password, "")
				status[i], bodies[i] = resp.StatusCode, body
			})
		}
		wg.Wait()
		for i, code := range status {
			if code != http.StatusSeeOther {
				t.Errorf("round %d, sign-in %d: %d, want 303\n%s", r+1, i+1, code, harness.Text(bodies[i]))
			}
		}
	}
	if log := srv.Log(t); strings.Contains(log, "ERROR") {
		t.Errorf("concurrent sign-ins logged an error:\n%s", log)
	}
}

// A 70,000-byte login (and a 60,000-byte one, under the body cap) is
// refused as a client mistake, never 500, and neither it nor a hex dump of
// it reaches the log.
func TestSignIn_HugeLoginIsRefusedNot500(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	createUser(t, srv.CLI, "ann@example.com")
	// 70,000 bytes is the reviewer's request, now stopped by the 64 KiB
	// body cap; 60,000 bytes fits under the cap and reaches the sign-in
	// itself, which refuses a login over 254 bytes and says so.
	for _, n := range []int{70000, 60000} {
		huge := strings.Repeat("hugelogin", n/9)
		resp, body := harness.TrySignIn(t, harness.NewClient(), srv, huge, "wrong password", "")
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusSeeOther {
			t.Fatalf("%d-byte login: %s, want a 4xx refusal\n%.500s", n, resp.Status, harness.Text(body))
		}
		if n == 60000 && (resp.StatusCode != http.StatusBadRequest || !strings.Contains(harness.Text(body), "longer than 254 characters")) {
			t.Errorf("%d-byte login: %s, want 400 saying the login is longer than 254 characters\n%.500s", n, resp.Status, harness.Text(body))
		}
		for _, c := range resp.Cookies() {
			if c.Name == "clinch_session" && c.Value != "" {
				t.Errorf("a refused sign-in set a session cookie")
			}
		}
	}
	log := srv.Log(t)
	// Badger's error for an oversized key carries a hexdump of it.
	for _, leak := range []string{"hugelogin", hex.EncodeToString([]byte("hugelogi")), "68 75 67 65 6c 6f 67 69"} {
		if strings.Contains(log, leak) {
			t.Fatalf("the log holds the login (%q):\n%.2000s", leak, log)
		}
	}
	if strings.Contains(log, "ERROR") {
		t.Errorf("a too-long login logged an error:\n%.2000s", log)
	}
	// The server is fine, and the account was not charged for it.
	harness.SignIn(t, harness.NewClient(), srv, "ann@example.com", password, "")
}

// A password typed into the login box is stored nowhere: not in the data
// directory, not in a backup, not in the log.
func TestSignIn_PasswordTypedAsLoginIsNotStored(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	createUser(t, srv.CLI, "ann@example.com")
	const typed = "Tr0ub4dor&3-typed-as-login"
	resp, body := harness.TrySignIn(t, harness.NewClient(), srv, typed, "whatever", "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sign-in as a password: %s, want 401\n%s", resp.Status, harness.Text(body))
	}
	backup := filepath.Join(t.TempDir(), "clinch.backup")
	must(t, srv.CLI, "", "backup", "--out", backup)
	srv.Stop(t) // flush everything to the data directory
	needles := [][]byte{[]byte(typed), []byte(strings.ToLower(typed))}
	check := func(what string, b []byte) {
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds the login typed at sign-in", what)
			}
		}
	}
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	check("the backup", b)
	check("the log", []byte(srv.Log(t)))
	err = filepath.WalkDir(srv.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		check("data file "+d.Name(), b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
