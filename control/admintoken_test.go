package control_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/control"
	"github.com/clinchsso/clinch/kv"
)

// `clinch admin token`: the token is printed once and kept only as an
// HMAC; list never shows it; revoke by name or by listed prefix ends it.
func TestAdminTokenCommands(t *testing.T) {
	env := appEnv(t)
	ctx := context.Background()
	out := mustRun(t, env, "admin token create --name deploy --expires 90d")
	tok := strings.Fields(out)[0]
	if !strings.HasPrefix(tok, auth.PrefixAdminToken) || !strings.Contains(out, "shown once") {
		t.Fatalf("create printed:\n%s", out)
	}
	if _, err := env.Auth.AdminTokenByToken(ctx, tok); err != nil {
		t.Fatalf("the printed token is not live: %v", err)
	}
	// Nothing in the store holds the token itself.
	err := env.Store.View(ctx, func(tx *kv.Txn) error {
		return tx.Scan(nil, func(k, v []byte) error {
			if strings.Contains(string(k)+string(v), tok) {
				t.Errorf("the store holds the token under %s", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	var listed []control.AdminTokenJSON
	js := mustRun(t, env, "admin token list --json")
	if err := json.Unmarshal([]byte(js), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Name != "deploy" || listed[0].Token != "" || listed[0].ExpiresAt == nil || strings.Contains(js, tok) {
		t.Fatalf("list: %s", js)
	}
	if table := mustRun(t, env, "admin token list"); !strings.Contains(table, "deploy") || strings.Contains(table, tok) {
		t.Errorf("list table:\n%s", table)
	}
	two := strings.Fields(mustRun(t, env, "admin token create"))[0]
	tests := []struct {
		args, stderr string
		exit         int
	}{
		{"admin token create --name deploy", "already exists", 1},
		{"admin token create --name bad/name", "may contain only", 1},
		{"admin token create --expires soon", "--expires", 2},
		{"admin token revoke", "--name or --id is required", 2},
		{"admin token revoke --name deploy --id x", "give one of them", 2},
		{"admin token revoke --name nobody", "not found", 1},
	}
	for _, tt := range tests {
		_, errOut, code := run(t, env, tt.args)
		if code != tt.exit || !strings.Contains(errOut, tt.stderr) {
			t.Errorf("%s: exit %d %q, want %d containing %q", tt.args, code, errOut, tt.exit, tt.stderr)
		}
	}
	mustRun(t, env, "admin token revoke --name deploy")
	if _, err := env.Auth.AdminTokenByToken(ctx, tok); err == nil {
		t.Error("a revoked token is still live")
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "admin token list --json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 {
		t.Fatalf("after revoke: %+v", listed)
	}
	mustRun(t, env, "admin token revoke --id "+listed[0].Prefix)
	if _, err := env.Auth.AdminTokenByToken(ctx, two); err == nil {
		t.Error("a token revoked by prefix is still live")
	}
}
