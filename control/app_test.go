package control_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/control"
	"github.com/clinchsso/clinch/kv/kvtest"
)

func appEnv(t *testing.T) *control.Env {
	t.Helper()
	sec, err := auth.NewSecrets([]byte(strings.Repeat("c", 32)))
	if err != nil {
		t.Fatal(err)
	}
	st := kvtest.Open(t)
	svc, err := auth.New(auth.Config{Store: st, Secrets: sec, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	return &control.Env{Auth: svc, Store: st}
}

func run(t *testing.T, env *control.Env, args string) (string, string, int) {
	t.Helper()
	return control.Exec(context.Background(), env, strings.Fields(args))
}

func mustRun(t *testing.T, env *control.Env, args string) string {
	t.Helper()
	out, errOut, code := run(t, env, args)
	if code != 0 {
		t.Fatalf("clinch %s: exit %d: %s", args, code, errOut)
	}
	return out
}

func TestAppCommands_ForwardAuth(t *testing.T) {
	env := appEnv(t)
	mustRun(t, env, "group create --name staff")
	out := mustRun(t, env, "app create --type forward_auth --name MeTube --domain metube.example.com --group staff --header email= --header user=X-User --header admin=X-Admin --json")
	var a control.AppJSON
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	if a.Slug != "metube" || a.Domain != "metube.example.com" || a.Headers == nil || a.Headers.User != "X-User" || a.Headers.Email != "" || a.Headers.Groups != "Remote-Groups" || a.Headers.Admin != "X-Admin" {
		t.Errorf("created %+v", a)
	}
	if a.ClientSecret != "" {
		t.Error("forward_auth app printed a secret")
	}
	out = mustRun(t, env, "app list")
	if !strings.Contains(out, "metube") || !strings.Contains(out, "staff") {
		t.Errorf("list:\n%s", out)
	}
	out = mustRun(t, env, "app update --slug metube --domain *.media.example.com --no-groups --active=false --header admin= --json")
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	if a.Domain != "*.media.example.com" || len(a.AllowedGroups) != 0 || a.Active || a.Headers == nil || a.Headers.Admin != "" || a.Headers.User != "X-User" {
		t.Errorf("updated %+v", a)
	}

	// API keys: printed once, listed by prefix, revoked by prefix.
	out = mustRun(t, env, "app apikey create --slug metube --name ci --expires 90d --json")
	var k control.APIKeyJSON
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.Key, auth.PrefixAPIKey) || k.ExpiresAt == nil || k.Owner != "" {
		t.Errorf("key %+v", k)
	}
	out = mustRun(t, env, "app apikey list --slug metube")
	if !strings.Contains(out, k.Prefix) || strings.Contains(out, k.Key) {
		t.Errorf("key list:\n%s", out)
	}
	mustRun(t, env, "app apikey revoke --slug metube --id "+k.Prefix)
	if out := mustRun(t, env, "app apikey list --slug metube --json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("after revoke: %s", out)
	}
	mustRun(t, env, "app delete --slug metube")
	if out := mustRun(t, env, "app list --json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("after delete: %s", out)
	}
}

func TestAppCommands_OIDC(t *testing.T) {
	env := appEnv(t)
	out := mustRun(t, env, "app create --type oidc --name Grafana --redirect-uri https://grafana.example.com/cb --refresh-token-ttl 7d")
	if !strings.Contains(out, "client_secret: "+auth.PrefixClientSecret) {
		t.Errorf("create:\n%s", out)
	}
	out = mustRun(t, env, "app secret rotate --slug grafana --json")
	var r map[string]string
	if err := json.Unmarshal([]byte(out), &r); err != nil || !strings.HasPrefix(r["client_secret"], auth.PrefixClientSecret) {
		t.Errorf("rotate: %s", out)
	}
	out = mustRun(t, env, "app list --json")
	if strings.Contains(out, r["client_secret"]) || strings.Contains(out, "secret_hash") || !strings.Contains(out, `"refresh_token_ttl": "168h0m0s"`) {
		t.Errorf("list shows secret material or wrong ttl:\n%s", out)
	}
	// New clients require PKCE and issue refresh tokens only for
	// offline_access until told otherwise.
	var a control.AppJSON
	for _, step := range []struct {
		args          string
		pkce, refresh bool
	}{
		{"app create --type oidc --name Old --redirect-uri https://old.example.com/cb --json", true, false},
		{"app update --slug old --require-pkce=false --always-issue-refresh --json", false, true},
		{"app update --slug old --name Old2 --json", false, true},
		{"app update --slug old --require-pkce --always-issue-refresh=false --json", true, false},
		{"app create --type oidc --name Legacy --redirect-uri https://legacy.example.com/cb --require-pkce=false --always-issue-refresh --json", false, true},
	} {
		out = mustRun(t, env, step.args)
		a = control.AppJSON{}
		if err := json.Unmarshal([]byte(out), &a); err != nil {
			t.Fatal(err)
		}
		if a.RequirePKCE != step.pkce || a.AlwaysIssueRefresh != step.refresh {
			t.Errorf("%s: require_pkce %v, always_issue_refresh %v; want %v, %v", step.args, a.RequirePKCE, a.AlwaysIssueRefresh, step.pkce, step.refresh)
		}
	}
}

func TestAppCommands_Errors(t *testing.T) {
	env := appEnv(t)
	tests := []struct {
		args string
		code int
		msg  string
	}{
		{"app create --name x", 2, "--type is required"},
		{"app create --type forward_auth --name x", 1, "domain is required"},
		{"app create --type forward_auth --name x --domain a.example.com --group ghosts", 1, "does not exist"},
		{"app create --type forward_auth --name x --domain a.example.com --header who=X", 2, "--header key"},
		{"app create --type oidc --name x --redirect-uri https://a.example.com/cb --access-token-ttl 1m", 1, "access_token_ttl must be between 5m and 24h"},
		{"app create --type oidc --name x --public --require-pkce=false --redirect-uri https://a.example.com/cb", 2, "a public client always requires PKCE"},
		{"app apikey create --slug nope", 1, "not found"},
		{"app apikey create --slug x --expires soon", 2, "--expires"},
		{"app delete", 2, "--slug is required"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			_, errOut, code := run(t, env, tt.args)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d %q; want %d containing %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
}

func TestAppCommands_Metadata(t *testing.T) {
	env := appEnv(t)
	out := mustRun(t, env, "app create --type forward_auth --name Grafana-API --domain api.example.com --metadata forward_auth_audience=grafana --metadata team=ops --json")
	var a control.AppJSON
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	if a.Metadata["forward_auth_audience"] != "grafana" || a.Metadata["team"] != "ops" {
		t.Fatalf("metadata after create: %v", a.Metadata)
	}
	out = mustRun(t, env, "app update --slug grafana-api --metadata team= --metadata forward_auth_audience=grafana,immich --json")
	a = control.AppJSON{}
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Metadata["team"]; ok || a.Metadata["forward_auth_audience"] != "grafana,immich" {
		t.Fatalf("metadata after update: %v", a.Metadata)
	}
	if _, _, code := run(t, env, "app update --slug grafana-api --metadata novalue"); code != 2 {
		t.Fatalf("bad --metadata exit %d, want 2", code)
	}
}

func TestAppCommands_AcceptTokensFrom(t *testing.T) {
	env := appEnv(t)
	mustRun(t, env, "app create --type oidc --name Grafana --redirect-uri https://grafana.example.com/cb")
	mustRun(t, env, "app create --type forward_auth --name Other --domain other.example.com")
	out := mustRun(t, env, "app create --type forward_auth --name API --domain api.example.com --accept-tokens-from grafana --json")
	var a control.AppJSON
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatal(err)
	}
	if len(a.AcceptTokensFrom) != 1 || a.AcceptTokensFrom[0] != "grafana" {
		t.Fatalf("accept_tokens_from after create: %v", a.AcceptTokensFrom)
	}
	for _, bad := range []string{"nope", "other"} {
		if _, errOut, code := run(t, env, "app update --slug api --accept-tokens-from "+bad); code != 1 || !strings.Contains(errOut, "not an OIDC app") {
			t.Errorf("--accept-tokens-from %s: exit %d %q", bad, code, errOut)
		}
	}
	// Deleting the client removes it from every list that names it.
	mustRun(t, env, "app delete --slug grafana")
	out = mustRun(t, env, "app list --json")
	if strings.Contains(out, "accept_tokens_from") {
		t.Fatalf("a deleted client is still accepted: %s", out)
	}
}
