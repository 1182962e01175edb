package control_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/control"
)

// Allowlists hold group ids, yet the admin commands show names, and a
// deleted group's name made again does not come back on them.
func TestGroupDelete_RecreatedNameDoesNotRegrant(t *testing.T) {
	env := appEnv(t)
	mustRun(t, env, "group create --name staff")
	mustRun(t, env, "group create --name family")
	mustRun(t, env, "app create --type forward_auth --name Wiki --domain wiki.example.com --group staff --group family")
	mustRun(t, env, "app create --type forward_auth --name Vault --domain vault.example.com --group staff")
	mustRun(t, env, "app create --type forward_auth --name Photos --domain photos.example.com")
	mustRun(t, env, "app update --slug photos --group family --group staff")
	groupsOf := func() map[string][]string {
		t.Helper()
		var apps []control.AppJSON
		if err := json.Unmarshal([]byte(mustRun(t, env, "app list --json")), &apps); err != nil {
			t.Fatal(err)
		}
		m := map[string][]string{}
		for _, a := range apps {
			m[a.Slug] = a.AllowedGroups
		}
		return m
	}
	if got := groupsOf()["photos"]; !slices.Equal(got, []string{"family", "staff"}) {
		t.Fatalf("photos allows %v, want [family staff] (names, sorted)", got)
	}
	out := mustRun(t, env, "group delete --name staff")
	for _, want := range []string{"deleted group staff", "no longer allowed at: photos, vault, wiki", "app vault allowed no other group and is now inactive", "--slug vault --group GROUP --active=true"} {
		if !strings.Contains(out, want) {
			t.Errorf("group delete said:\n%s\nwant it to say %q", out, want)
		}
	}
	mustRun(t, env, "group create --name staff")
	want := map[string][]string{"wiki": {"family"}, "photos": {"family"}, "vault": {}}
	got := groupsOf()
	for slug, w := range want {
		if !slices.Equal(got[slug], w) {
			t.Errorf("%s allows %v after staff was deleted and made again, want %v", slug, got[slug], w)
		}
	}
	if list := mustRun(t, env, "app list"); !strings.Contains(list, "vault") || !strings.Contains(list, "false") {
		t.Errorf("app list does not show vault inactive:\n%s", list)
	}
	if _, errOut, code := run(t, env, "app update --slug wiki --group ghosts"); code != 1 || !strings.Contains(errOut, `"ghosts" does not exist`) {
		t.Errorf("update with an unknown group: exit %d %q", code, errOut)
	}
}
