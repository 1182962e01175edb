package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// `clinch user create` returning 0 means the user is on disk: a crash right
// after it loses nothing.
func TestUserCreateSurvivesKill(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	const email = "kill@example.com"
	createUser(t, srv.CLI, email, "--name", "Kill Test", "--username", "killer")
	srv.Kill(t)
	srv.Restart(t)

	u, ok := findUser(listUsers(t, srv.CLI), email)
	if !ok {
		t.Fatalf("after SIGKILL and restart, %s is missing", email)
	}
	if u.Username != "killer" || u.DisplayName != "Kill Test" || u.Status != "active" {
		t.Errorf("after restart the user is %+v", u)
	}
	c := harness.NewClient()
	harness.SignIn(t, c, srv, "killer", password, "") // by username
	home(t, c, srv, email)
}

// A backup taken while serving restores into a new data directory with
// every user and group, and people can sign in there.
func TestBackupRestore(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	must(t, srv.CLI, "", "group", "create", "--name", "family", "--description", "Our family")
	must(t, srv.CLI, "", "group", "create", "--name", "Admins", "--claims", `{"role":"admin"}`)
	must(t, srv.CLI, "", "group", "create", "--name", "empty")
	createUser(t, srv.CLI, "alice@example.com", "--admin", "--name", "Alice", "--group", "admins", "--group", "family")
	createUser(t, srv.CLI, "bob@example.com", "--username", "bob", "--group", "family")
	must(t, srv.CLI, "", "user", "create", "--email", "carol@example.com") // no password yet
	must(t, srv.CLI, "", "user", "disable", "--email", "bob@example.com")
	must(t, srv.CLI, "", "user", "enable", "--email", "bob@example.com")
	c := harness.NewClient()
	harness.SignIn(t, c, srv, "alice@example.com", password, "")

	wantUsers, wantGroups := listUsers(t, srv.CLI), listGroups(t, srv.CLI)
	if len(wantUsers) != 3 || len(wantGroups) != 3 {
		t.Fatalf("set-up made users %+v and groups %+v", wantUsers, wantGroups)
	}

	file := filepath.Join(t.TempDir(), "clinch.backup")
	must(t, srv.CLI, "", "backup", "--out", file)
	if fi, err := os.Stat(file); err != nil || fi.Size() == 0 {
		t.Fatalf("backup file: %v (size %v)", err, fi)
	}
	// Serving goes on: the backup did not stop or lock the server.
	home(t, c, srv, "alice@example.com")

	// Restoring over a live data directory is refused and changes nothing.
	if _, errOut, code := srv.CLI(t, "", "restore", "--in", file); code != 1 {
		t.Errorf("restore into the serving data dir: exit %d, want 1 (stderr %q)", code, errOut)
	}

	// The new installation keeps the same SECRET_KEY_BASE, as an operator
	// moving hosts would.
	restored := harness.Prepare(t, harness.Options{
		DataDir: filepath.Join(t.TempDir(), "restored"),
		Env:     map[string]string{"SECRET_KEY_BASE": srv.Options().Env["SECRET_KEY_BASE"]},
	})
	must(t, stopped(restored), "", "restore", "--in", file)
	// A second restore into the now non-empty dir is refused.
	if _, errOut, code := harness.CLI(t, restored, "", "restore", "--in", file); code != 1 {
		t.Errorf("restore into a non-empty data dir: exit %d, want 1 (stderr %q)", code, errOut)
	} else if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 0 || errOut == "" {
		t.Errorf("restore failure should be one line on stderr, got %q", errOut)
	}

	srv2 := harness.Start(t, restored)
	gotUsers, gotGroups := listUsers(t, srv2.CLI), listGroups(t, srv2.CLI)
	if !slices.EqualFunc(wantUsers, gotUsers, sameUser) {
		t.Errorf("restored users differ:\n got  %+v\n want %+v", gotUsers, wantUsers)
	}
	if !slices.EqualFunc(wantGroups, gotGroups, sameGroup) {
		t.Errorf("restored groups differ:\n got  %+v\n want %+v", gotGroups, wantGroups)
	}
	c2 := harness.NewClient()
	harness.SignIn(t, c2, srv2, "bob", password, "")
	home(t, c2, srv2, "bob@example.com")
	// The wizard stays closed on a restored install.
	if resp, _ := harness.Get(t, c2, srv2.URL+"/signup"); resp.StatusCode != 404 {
		t.Errorf("GET /signup on the restored install: %s, want 404", resp.Status)
	}
}

func sameUser(a, b user) bool {
	return a.ID == b.ID && a.Email == b.Email && a.Username == b.Username &&
		a.DisplayName == b.DisplayName && a.Admin == b.Admin && a.Status == b.Status &&
		a.CreatedAt == b.CreatedAt && slices.Equal(sorted(a.Groups), sorted(b.Groups))
}

func sameGroup(a, b group) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Description == b.Description &&
		slices.Equal(sorted(a.Members), sorted(b.Members))
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// The admin commands behave the same with the server running (through the
// control socket) and stopped (opening the store directly), with the
// documented exit statuses: 0 ok, 1 failure with one line on stderr, 2
// usage error.
func TestCLIExitStatuses(t *testing.T) {
	for _, mode := range []string{"stopped", "running"} {
		t.Run(mode, func(t *testing.T) {
			o := harness.Prepare(t, harness.Options{})
			run := stopped(o)
			var srv *harness.Server
			if mode == "running" {
				srv = harness.Start(t, o)
				run = srv.CLI
			}
			cases := []struct {
				name  string
				stdin string
				args  []string
				exit  int
				out   string // in stdout when exit is 0
			}{
				{"group create", "", []string{"group", "create", "--name", "Staff", "--description", "People who work here"}, 0, "staff"},
				{"create", password, []string{"user", "create", "--email", "Dana@Example.com", "--password-stdin", "--group", "staff"}, 0, "dana@example.com"},
				{"duplicate email", password, []string{"user", "create", "--email", "dana@example.com", "--password-stdin"}, 1, ""},
				{"short password", "short", []string{"user", "create", "--email", "eve@example.com", "--password-stdin"}, 1, ""},
				{"unknown user", "", []string{"user", "disable", "--email", "nobody@example.com"}, 1, ""},
				{"unknown flag", "", []string{"user", "create", "--email", "x@example.com", "--frobnicate"}, 2, ""},
				{"missing email", "", []string{"user", "create"}, 2, ""},
				{"unknown command", "", []string{"user", "teleport"}, 2, ""},
				{"unknown group", password, []string{"user", "create", "--email", "fred@example.com", "--password-stdin", "--group", "nope"}, 1, ""},
				{"group create 2", "", []string{"group", "create", "--name", "Ops"}, 0, "ops"},
				{"duplicate group", "", []string{"group", "create", "--name", "ops"}, 1, ""},
				{"add to group", "", []string{"group", "add-user", "--group", "ops", "--email", "dana@example.com"}, 0, ""},
				{"version", "", []string{"version"}, 0, ""},
			}
			for _, tc := range cases {
				out, errOut, code := run(t, tc.stdin, tc.args...)
				if code != tc.exit {
					t.Errorf("%s: clinch %s: exit %d, want %d\nstdout: %s\nstderr: %s", tc.name, strings.Join(tc.args, " "), code, tc.exit, out, errOut)
					continue
				}
				switch {
				case code == 0 && !strings.Contains(out, tc.out):
					t.Errorf("%s: stdout %q does not mention %q", tc.name, out, tc.out)
				case code == 1 && (errOut == "" || strings.Count(strings.TrimRight(errOut, "\n"), "\n") != 0):
					t.Errorf("%s: a failure prints one line on stderr, got %q", tc.name, errOut)
				case code == 2 && errOut == "":
					t.Errorf("%s: a usage error says what is wrong on stderr", tc.name)
				}
				if strings.Contains(out+errOut, password) {
					t.Errorf("%s: the password was echoed", tc.name)
				}
			}

			us := listUsers(t, run)
			if _, ok := findUser(us, "fred@example.com"); ok {
				t.Error("a failed user create (unknown group) left the user behind")
			}
			u, ok := findUser(us, "dana@example.com")
			if !ok || !slices.Equal(sorted(u.Groups), []string{"ops", "staff"}) || u.Admin {
				t.Errorf("dana after the commands: %+v (found %v), want groups [ops staff], not admin", u, ok)
			}
			if srv == nil {
				srv = harness.Start(t, o)
			}
			c := harness.NewClient()
			harness.SignIn(t, c, srv, "dana@example.com", password, "")
			home(t, c, srv, "dana@example.com")
		})
	}
}

// Bad configuration is one message naming every problem, exit status 1,
// and nothing written anywhere.
func TestBadConfiguration(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want []string // each must appear in stderr
		exit int
	}{
		{"format and host", map[string]string{"CLINCH_LOG_FORMAT": "xml", "CLINCH_HOST": "not-a-url"}, nil, []string{"CLINCH_LOG_FORMAT", "CLINCH_HOST"}, 1},
		{"serve, listen and level", map[string]string{"CLINCH_LISTEN": "nowhere", "CLINCH_LOG_LEVEL": "loud"}, []string{"serve"}, []string{"CLINCH_LISTEN", "CLINCH_LOG_LEVEL"}, 1},
		{"short secret", map[string]string{"SECRET_KEY_BASE": "short"}, []string{"serve"}, []string{"SECRET_KEY_BASE"}, 1},
		{"unknown flag", nil, []string{"serve", "--no-such-flag"}, nil, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"SECRET_KEY_BASE": ""} // would be generated into the data dir
			for k, v := range tc.env {
				env[k] = v
			}
			dir := filepath.Join(t.TempDir(), "data")
			o := harness.Prepare(t, harness.Options{DataDir: dir, Env: env})
			out, errOut, code := harness.CLI(t, o, "", tc.args...)
			if code != tc.exit {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.exit, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not name %s:\n%s", w, errOut)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the data dir was created despite the bad configuration (%v)", err)
			}
		})
	}
}
