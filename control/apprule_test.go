package control_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/control"
)

func TestAppRuleCommands(t *testing.T) {
	env := appEnv(t)
	mustRun(t, env, "group create --name staff")
	mustRun(t, env, "group create --name admins")
	mustRun(t, env, "app create --type forward_auth --name Wiki --domain wiki.example.com --group staff")
	mustRun(t, env, "app rule add --slug wiki --path /api/ --policy bypass")
	out := mustRun(t, env, "app rule add --slug wiki --path /admin --policy groups --group admins --method get --method POST --network 10.0.0.0/8 --json")
	var added control.RuleJSON
	if err := json.Unmarshal([]byte(out), &added); err != nil {
		t.Fatal(err)
	}
	if added.Position != 2 || added.Path != "/admin" || !slices.Equal(added.Groups, []string{"admins"}) ||
		!slices.Equal(added.Methods, []string{"GET", "POST"}) || !slices.Equal(added.Networks, []string{"10.0.0.0/8"}) {
		t.Errorf("added %+v", added)
	}
	mustRun(t, env, "app rule add --slug wiki --path /private --policy deny --position 1")

	var rules []control.RuleJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "app rule list --slug wiki --json")), &rules); err != nil {
		t.Fatal(err)
	}
	paths := func(rs []control.RuleJSON) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Path)
		}
		return out
	}
	if got := paths(rules); !slices.Equal(got, []string{"/private", "/api", "/admin"}) {
		t.Fatalf("list = %v", got)
	}
	text := mustRun(t, env, "app rule list --slug wiki")
	for _, want := range []string{"/private", "deny", "bypass", "admins", "10.0.0.0/8", "(no rule matches)", "groups staff"} {
		if !strings.Contains(text, want) {
			t.Errorf("list lacks %q:\n%s", want, text)
		}
	}

	mustRun(t, env, "app rule move --slug wiki --id "+added.ID+" --to 1")
	var apps []control.AppJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "app list --json")), &apps); err != nil {
		t.Fatal(err)
	}
	if len(apps) != 1 || !slices.Equal(paths(apps[0].Rules), []string{"/admin", "/private", "/api"}) {
		t.Fatalf("app list rules = %+v", apps)
	}
	mustRun(t, env, "app rule remove --slug wiki --position 2")
	mustRun(t, env, "app rule remove --slug wiki --id "+added.ID)
	if err := json.Unmarshal([]byte(mustRun(t, env, "app rule list --slug wiki --json")), &rules); err != nil {
		t.Fatal(err)
	}
	if got := paths(rules); !slices.Equal(got, []string{"/api"}) {
		t.Fatalf("after removes: %v", got)
	}

	// Deleting a rule's only group says the rule now denies.
	mustRun(t, env, "app rule add --slug wiki --path /ops --policy groups --group admins")
	if out := mustRun(t, env, "group delete --name admins"); !strings.Contains(out, "now denies") {
		t.Errorf("group delete said:\n%s", out)
	}
	if err := json.Unmarshal([]byte(mustRun(t, env, "app rule list --slug wiki --json")), &rules); err != nil {
		t.Fatal(err)
	}
	if rules[1].Policy != "deny" || len(rules[1].Groups) != 0 {
		t.Errorf("rule after its group was deleted: %+v", rules[1])
	}
}

func TestAppRuleCommands_Errors(t *testing.T) {
	env := appEnv(t)
	mustRun(t, env, "app create --type forward_auth --name Wiki --domain wiki.example.com")
	tests := []struct {
		args string
		exit int
		want string // in stderr
	}{
		{"app rule add --slug wiki --path /a", 2, "--policy"},
		{"app rule add --slug wiki --path a --policy deny", 1, "rule path"},
		{"app rule add --slug wiki --path /a/../b --policy deny", 1, "rule path"},
		{"app rule add --slug wiki --path /a --policy allow", 1, "rule policy"},
		{"app rule add --slug wiki --path /a --policy groups", 1, "rule group"},
		{"app rule add --slug wiki --path /a --policy groups --group ghosts", 1, "rule group"},
		{"app rule add --slug wiki --path /a --policy deny --method GE/T", 1, "rule method"},
		{"app rule add --slug wiki --path /a --policy deny --network 10.0.0.0/40", 1, "rule network"},
		{"app rule add --slug nope --path /a --policy deny", 1, "not found"},
		{"app rule remove --slug wiki", 2, "--id or --position"},
		{"app rule remove --slug wiki --id x --position 1", 2, "--id or --position"},
		{"app rule remove --slug wiki --position 1", 1, "rule position"},
		{"app rule move --slug wiki --id x", 2, "--to"},
		{"app rule move --slug wiki --id x --to 1", 1, "not found"},
	}
	for _, tt := range tests {
		_, errOut, code := run(t, env, tt.args)
		if code != tt.exit || !strings.Contains(errOut, tt.want) {
			t.Errorf("clinch %s: exit %d %q, want %d with %q", tt.args, code, errOut, tt.exit, tt.want)
		}
	}
}
