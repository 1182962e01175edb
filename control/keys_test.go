package control_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/control"
)

type fakeKeys struct{ n int }

func (k *fakeKeys) Rotate(context.Context) (string, error) { k.n++; return "kid-2", nil }

func TestKeysRotate(t *testing.T) {
	env := appEnv(t)
	if _, _, code := run(t, env, "keys rotate"); code != 1 {
		t.Errorf("rotate without keys: exit %d, want 1", code)
	}
	fk := &fakeKeys{}
	env.Keys = fk
	out := mustRun(t, env, "keys rotate --json")
	var v struct{ Kid string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Kid != "kid-2" || fk.n != 1 {
		t.Fatalf("out %q, rotations %d", out, fk.n)
	}
}

func TestUserClaimsSet(t *testing.T) {
	env := appEnv(t)
	mustRun(t, env, "user create --email ada@example.com")
	mustRun(t, env, "app create --type oidc --name Wiki --redirect-uri https://wiki.example.com/cb")
	exec := func(args ...string) (string, int) {
		_, errOut, code := execArgs(env, args)
		return errOut, code
	}
	if msg, code := exec("user", "claims", "set", "--email", "ada@example.com", "--app", "wiki", "--json", `{"role":"editor"}`); code != 0 {
		t.Fatalf("set: %d %s", code, msg)
	}
	u, _ := env.Auth.UserByEmail(context.Background(), "ada@example.com")
	a, _ := env.Auth.AppBySlug(context.Background(), "wiki")
	c, err := env.Auth.UserAppClaims(context.Background(), u.ID, a.ID)
	if err != nil || string(c) != `{"role":"editor"}` {
		t.Fatalf("stored %s %v", c, err)
	}
	if msg, code := exec("user", "claims", "set", "--email", "ada@example.com", "--app", "wiki", "--json", `[1]`); code != 1 || !strings.Contains(msg, "JSON object") {
		t.Errorf("non-object: %d %s", code, msg)
	}
	if _, code := exec("user", "claims", "set", "--email", "ada@example.com"); code != 2 {
		t.Errorf("missing flags: exit %d, want 2", code)
	}
	if _, code := exec("user", "claims", "set", "--email", "ada@example.com", "--app", "wiki", "--json", "{}"); code != 0 {
		t.Error("clearing failed")
	}
	if c, _ := env.Auth.UserAppClaims(context.Background(), u.ID, a.ID); c != nil {
		t.Errorf("cleared claims still %s", c)
	}
}

func execArgs(env *control.Env, args []string) (string, string, int) {
	return control.Exec(context.Background(), env, args)
}
