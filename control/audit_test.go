package control_test

import (
	"bufio"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/control"
	"github.com/clinchsso/clinch/kv/kvtest"
)

func auditEnv(t *testing.T) *control.Env {
	t.Helper()
	sec, err := auth.NewSecrets([]byte(strings.Repeat("c", 32)))
	if err != nil {
		t.Fatal(err)
	}
	st := kvtest.Open(t)
	l, err := audit.New(audit.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(auth.Config{Store: st, Secrets: sec, BcryptCost: 4, Audit: l})
	if err != nil {
		t.Fatal(err)
	}
	return &control.Env{Auth: svc, Store: st, Audit: l}
}

func exportLines(t *testing.T, out string) []audit.Event {
	t.Helper()
	var es []audit.Event
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e audit.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		es = append(es, e)
	}
	return es
}

func TestAuditCommands_CLIChangeRecordsBeforeAndAfter(t *testing.T) {
	env := auditEnv(t)
	mustRun(t, env, "user create --email admin@example.com --admin")
	mustRun(t, env, "user create --email dan@example.com")
	mustRun(t, env, "user disable --email dan@example.com")

	es := exportLines(t, mustRun(t, env, "audit export --user dan@example.com --kind user.updated"))
	if len(es) != 1 {
		t.Fatalf("%d events, want the one disable", len(es))
	}
	e := es[0]
	if e.Actor != audit.ActorCLI || e.Email != "dan@example.com" {
		t.Errorf("recorded %+v: want actor cli and dan", e)
	}
	var before, after struct{ Status string }
	if err := json.Unmarshal(e.Before, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(e.After, &after); err != nil {
		t.Fatal(err)
	}
	if before.Status != "pending_invitation" || after.Status != "disabled" {
		t.Errorf("status %q → %q, want pending_invitation → disabled", before.Status, after.Status)
	}
	// An access rule is a change of its app, with the rules before and
	// after.
	mustRun(t, env, "app create --type forward_auth --name Wiki --domain wiki.example.com")
	mustRun(t, env, "app rule add --slug wiki --path /api/ --policy bypass")
	es = exportLines(t, mustRun(t, env, "audit export --kind app.updated"))
	if len(es) != 1 || es[0].App != "wiki" || es[0].Actor != audit.ActorCLI ||
		strings.Contains(string(es[0].Before), `"rules"`) || !strings.Contains(string(es[0].After), `"path":"/api"`) || !strings.Contains(string(es[0].After), `"policy":"bypass"`) {
		t.Errorf("rule add recorded as %+v\nbefore %s\nafter %s", es, es[0].Before, es[0].After)
	}
}

func TestAuditCommands_ListFiltersAndPages(t *testing.T) {
	env := auditEnv(t)
	for _, e := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		mustRun(t, env, "user create --email "+e)
	}
	mustRun(t, env, "group create --name staff")

	out := mustRun(t, env, "audit list --kind user.created --limit 2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "c@example.com") || !strings.Contains(lines[2], "b@example.com") || !strings.HasPrefix(lines[3], "more: --cursor ") {
		t.Fatalf("first page:\n%s", out)
	}
	cursor := strings.TrimPrefix(lines[3], "more: --cursor ")
	out = mustRun(t, env, "audit list --kind user.created --limit 2 --cursor "+cursor)
	if !strings.Contains(out, "a@example.com") || strings.Contains(out, "b@example.com") || strings.Contains(out, "more:") {
		t.Errorf("second page:\n%s", out)
	}

	var page struct {
		Events []audit.Event `json:"events"`
		Next   string        `json:"next"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "audit list --json --since 1h")), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 4 || page.Events[0].Kind != audit.GroupCreated || page.Next != "" {
		t.Errorf("json page: %+v", page)
	}
	if out := mustRun(t, env, "audit list --until 1h"); strings.TrimSpace(out) != "no events" {
		t.Errorf("events older than an hour:\n%s", out)
	}

	for _, bad := range []string{"audit list --kind nope", "audit list --since yesterday", "audit list --limit 0", "audit list --cursor zzz"} {
		if _, errOut, code := run(t, env, bad); code != 2 {
			t.Errorf("clinch %s: exit %d (%s), want a usage error", bad, code, errOut)
		}
	}
	if _, errOut, code := run(t, env, "audit list --user nobody@example.com"); code != 1 || !strings.Contains(errOut, "user id") {
		t.Errorf("unknown user: exit %d: %s", code, errOut)
	}
	if _, _, code := control.Exec(context.Background(), &control.Env{Auth: env.Auth}, []string{"audit", "list"}); code != 1 {
		t.Errorf("no audit trail: exit %d, want 1", code)
	}
}
