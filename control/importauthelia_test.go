package control_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/control"
)

// echo -n "correct horse" | argon2 saltsaltsalt -id -t 2 -m 12 -p 2 -e
const usersFile = `users:
  ann:
    displayname: Ann
    password: "$argon2id$v=19$m=4096,t=2,p=2$c2FsdHNhbHRzYWx0$/GmN2HRmQrDFSXa5NjpkLY7lq//MFakv677SjLQm8yA"
    email: ann@example.com
    groups: [dev, admins]
  bob:
    displayname: Bob
    password: "$6$rounds=50000$saltsalt$abc"
    email: bob@example.com
  carl:
    password: "$argon2id$v=19$m=4096,t=2,p=2$c2FsdHNhbHRzYWx0$/GmN2HRmQrDFSXa5NjpkLY7lq//MFakv677SjLQm8yA"
`

func importRun(env *control.Env, file string, flags ...string) (string, string, int) {
	env.Stdin = []byte(file)
	return control.Exec(context.Background(), env, append([]string{"import", "authelia-users", "--in", "users.yml"}, flags...))
}

func TestImportAuthelia_TextDryRunAndIdempotency(t *testing.T) {
	env := appEnv(t)
	out, errOut, code := importRun(env, usersFile, "--dry-run")
	want := "created   ann <ann@example.com>: group admins created, group dev created\n" +
		"refused   bob <bob@example.com>: password hash is of an unsupported kind (sha512-crypt); supported: argon2id, argon2i, bcrypt. Set a password with `clinch user set-password` instead\n" +
		"refused   carl: no email (Clinch needs one for every user)\n" +
		"3 user(s): 1 created, 0 updated, 0 unchanged, 2 refused (dry run: nothing written)\n"
	if out != want || code != 1 || !strings.Contains(errOut, "2 of 3 user(s) refused; the others were checked (dry run)") {
		t.Fatalf("dry run: exit %d, stdout\n%s\nwant\n%s\nstderr %q", code, out, want, errOut)
	}
	if list := mustRun(t, env, "user list --json"); strings.TrimSpace(list) != "[]" {
		t.Fatalf("the dry run wrote users: %s", list)
	}
	if list := mustRun(t, env, "group list"); strings.Contains(list, "dev") {
		t.Fatalf("the dry run wrote groups: %s", list)
	}
	out, _, code = importRun(env, usersFile)
	if code != 1 || !strings.HasPrefix(out, "created   ann <ann@example.com>") || strings.Contains(out, "dry run") {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	out, _, _ = importRun(env, usersFile)
	if !strings.HasPrefix(out, "unchanged ann <ann@example.com>\n") || !strings.Contains(out, "0 created, 0 updated, 1 unchanged, 2 refused") {
		t.Fatalf("second import:\n%s", out)
	}
	var users []control.UserJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "user list --json")), &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Username != "ann" || users[0].DisplayName != "Ann" || !slices.Equal(users[0].Groups, []string{"admins", "dev"}) || users[0].Admin {
		t.Errorf("users after import: %+v", users)
	}
}

func TestImportAuthelia_JSON(t *testing.T) {
	env := appEnv(t)
	out, _, code := importRun(env, usersFile, "--json")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (two refused)", code)
	}
	var got control.ImportJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	if got.DryRun || len(got.Users) != 3 || got.Summary["created"] != 1 || got.Summary["refused"] != 2 || got.Summary["updated"] != 0 || got.Summary["unchanged"] != 0 {
		t.Fatalf("got %+v", got)
	}
	ann, bob := got.Users[0], got.Users[1]
	if ann.Username != "ann" || ann.Result != "created" || !slices.Equal(ann.Changes, []string{"group admins created", "group dev created"}) || ann.Reason != "" {
		t.Errorf("ann: %+v", ann)
	}
	if bob.Result != "refused" || !strings.Contains(bob.Reason, "sha512-crypt") || bob.Changes == nil {
		t.Errorf("bob: %+v", bob)
	}
	if strings.Contains(out, "$argon2id") || strings.Contains(out, "saltsalt") {
		t.Error("the output quotes a hash")
	}
}

func TestImportAuthelia_UsageAndBadFiles(t *testing.T) {
	tests := []struct {
		name, file string
		args       []string
		wantCode   int
		wantErr    string
	}{
		{"no --in", usersFile, []string{"import", "authelia-users"}, 2, "--in is required"},
		{"an argument", usersFile, []string{"import", "authelia-users", "--in", "f", "extra"}, 2, "unexpected argument"},
		{"empty file", "", []string{"import", "authelia-users", "--in", "f"}, 1, "f is empty"},
		{"not YAML", "users: [", []string{"import", "authelia-users", "--in", "f"}, 1, "not valid YAML"},
		{"no users", "x: 1\n", []string{"import", "authelia-users", "--in", "f"}, 1, "no users: mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := appEnv(t)
			env.Stdin = []byte(tt.file)
			_, errOut, code := control.Exec(context.Background(), env, tt.args)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errOut, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// The CLI reads the --in file itself (the server is handed only its
// content); other commands read nothing, --password-stdin reads stdin.
func TestInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.yml")
	if err := os.WriteFile(file, []byte(usersFile), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yml")
	if err := os.WriteFile(big, make([]byte, control.MaxInputFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		stdin   string
		want    string
		wantErr string
	}{
		{"the file", []string{"import", "authelia-users", "--dry-run", "--in", file}, "", usersFile, ""},
		{"the file, --in=", []string{"import", "authelia-users", "--in=" + file}, "", usersFile, ""},
		{"standard input", []string{"import", "authelia-users", "--in", "-"}, "from stdin", "from stdin", ""},
		{"no --in: the command says so", []string{"import", "authelia-users"}, "x", "", ""},
		{"missing file", []string{"import", "authelia-users", "--in", filepath.Join(dir, "nope")}, "", "", "no such file"},
		{"too big", []string{"import", "authelia-users", "--in", big}, "", "", "larger than 8 MiB"},
		{"password", []string{"user", "set-password", "--email", "a@example.com", "--password-stdin"}, "pw\n", "pw\n", ""},
		{"a command with no input ignores --in", []string{"user", "list", "--in", file}, "x", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := control.Input(tt.args, strings.NewReader(tt.stdin))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Input = %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("Input = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// A dry run reports a new group created once, like the import it
// previews, though each user's transaction is thrown away.
func TestImportAuthelia_DryRunMatchesTheImport(t *testing.T) {
	const file = `users:
  ann:
    password: "$argon2id$v=19$m=4096,t=2,p=2$c2FsdHNhbHRzYWx0$/GmN2HRmQrDFSXa5NjpkLY7lq//MFakv677SjLQm8yA"
    email: ann@example.com
    groups: [dev]
  bob:
    password: "$argon2id$v=19$m=4096,t=2,p=2$c2FsdHNhbHRzYWx0$/GmN2HRmQrDFSXa5NjpkLY7lq//MFakv677SjLQm8yA"
    email: bob@example.com
    groups: [dev, ops]
`
	env := appEnv(t)
	dry, _, code := importRun(env, file, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, dry)
	}
	real, _, code := importRun(env, file)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, real)
	}
	if want := strings.TrimSuffix(real, "\n") + " (dry run: nothing written)\n"; dry != want {
		t.Errorf("dry run said\n%s\nwant (the import's output)\n%s", dry, want)
	}
	if !strings.Contains(real, "created   bob <bob@example.com>: group ops created\n") {
		t.Errorf("import:\n%s", real)
	}
}
