package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/clinchsso/clinch/testing/harness"
)

// argon2Hash hashes password with Debian's argon2 command (the reference
// implementation, independent of golang.org/x/crypto/argon2) in PHC form.
func argon2Hash(t *testing.T, password, salt string, params ...string) string {
	t.Helper()
	bin := harness.NeedTool(t, "argon2")
	cmd := exec.Command(bin, append([]string{salt, "-e"}, params...)...)
	cmd.Stdin = strings.NewReader(password)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("argon2 %v: %v", params, err)
	}
	h := strings.TrimSpace(string(out))
	if !strings.HasPrefix(h, "$argon2") {
		t.Fatalf("argon2 printed %q", h)
	}
	return h
}

// importedUser is the part of `user list --json` this test reads.
type importedUser struct {
	Email          string   `json:"email"`
	Username       string   `json:"username"`
	DisplayName    string   `json:"display_name"`
	Status         string   `json:"status"`
	Groups         []string `json:"groups"`
	PasswordScheme string   `json:"password_scheme"`
}

func importedUsers(t *testing.T, srv *harness.Server) map[string]importedUser {
	t.Helper()
	var us []importedUser
	if err := json.Unmarshal([]byte(must(t, srv.CLI, "", "user", "list", "--json")), &us); err != nil {
		t.Fatal(err)
	}
	m := map[string]importedUser{}
	for _, u := range us {
		m[u.Username] = u
	}
	return m
}

// Authelia's users file, with argon2id hashes made by Debian's argon2 and
// a bcrypt one, imported through the control socket of a running server:
// a dry run writes nothing, the import creates the users and their groups,
// they sign in with their Authelia passwords, which are then stored as
// bcrypt, and a second import changes nothing.
func TestImportAutheliaUsers(t *testing.T) {
	// Authelia's default argon2id profile (m=64 MiB, t=3, p=4) and a
	// lighter one.
	annHash := argon2Hash(t, password, "annsalt-0123456", "-id", "-t", "3", "-k", "65536", "-p", "4")
	beaHash := argon2Hash(t, "bea's own passphrase", "beasalt-0123456", "-id", "-t", "1", "-k", "8192", "-p", "1")
	bc, err := bcrypt.GenerateFromPassword([]byte("carl password"), 10)
	if err != nil {
		t.Fatal(err)
	}
	carlHash := "$2y$" + string(bc[4:]) // as Authelia (and PHP) write it
	file := filepath.Join(t.TempDir(), "users_database.yml")
	yml := `users:
  ann:
    displayname: "Ann Archer"
    password: "` + annHash + `"
    email: ann@example.com
    groups: [admins, dev]
  bea:
    displayname: "Bea"
    password: "` + beaHash + `"
    email: bea@example.com
    groups: [dev]
  carl:
    displayname: "Carl"
    password: "` + carlHash + `"
    email: carl@example.com
  dora:
    displayname: "Dora"
    password: "` + annHash + `"
    email: dora@example.com
    disabled: true
  ed:
    displayname: "Ed"
    password: "$6$rounds=50000$somesaltsomesalt$abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh"
    email: ed@example.com
`
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := harness.Start(t, harness.Options{})

	out, errOut, code := srv.CLI(t, "", "import", "authelia-users", "--in", file, "--dry-run")
	if code != 1 || !strings.Contains(out, "4 created, 0 updated, 0 unchanged, 1 refused (dry run: nothing written)") ||
		!strings.Contains(out, "refused   ed <ed@example.com>: password hash is of an unsupported kind (sha512-crypt)") ||
		!strings.Contains(errOut, "1 of 5 user(s) refused") {
		t.Fatalf("dry run: exit %d\nstdout:\n%s\nstderr: %s", code, out, errOut)
	}
	if us := importedUsers(t, srv); len(us) != 0 {
		t.Fatalf("the dry run wrote users: %+v", us)
	}

	out, _, code = srv.CLI(t, "", "import", "authelia-users", "--in", file)
	for _, want := range []string{
		"created   ann <ann@example.com>: group admins created, group dev created\n",
		"created   bea <bea@example.com>\n",
		"created   carl <carl@example.com>\n",
		"created   dora <dora@example.com>\n",
		"5 user(s): 4 created, 0 updated, 0 unchanged, 1 refused\n",
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Fatalf("import: exit %d, stdout lacks %q:\n%s", code, want, out)
		}
	}
	if strings.Contains(out, "$argon2") || strings.Contains(out, "$2y$") || strings.Contains(srv.Log(t), "$argon2") {
		t.Error("a hash was printed or logged")
	}
	us := importedUsers(t, srv)
	if a := us["ann"]; a.DisplayName != "Ann Archer" || a.Status != "active" || strings.Join(a.Groups, ",") != "admins,dev" || a.PasswordScheme != "argon2id" {
		t.Errorf("ann after import: %+v", a)
	}
	if c := us["carl"]; c.PasswordScheme != "bcrypt" {
		t.Errorf("carl after import: %+v", c)
	}
	if d := us["dora"]; d.Status != "disabled" {
		t.Errorf("dora after import: %+v", d)
	}
	if _, ok := us["ed"]; ok {
		t.Error("ed, refused, was stored")
	}

	signIns := []struct{ login, password string }{
		{"ann", password},
		{"bea@example.com", "bea's own passphrase"},
		{"carl", "carl password"},
	}
	for _, s := range signIns {
		harness.SignIn(t, harness.NewClient(), srv, s.login, s.password, "")
	}
	if resp, _ := harness.TrySignIn(t, harness.NewClient(), srv, "dora", password, ""); resp.StatusCode == http.StatusSeeOther {
		t.Error("dora, disabled in the file, signed in")
	}
	if resp, _ := harness.TrySignIn(t, harness.NewClient(), srv, "bea", "wrong passphrase", ""); resp.StatusCode == http.StatusSeeOther {
		t.Error("bea signed in with a wrong password")
	}
	us = importedUsers(t, srv)
	for _, name := range []string{"ann", "bea", "carl"} {
		if us[name].PasswordScheme != "bcrypt" {
			t.Errorf("%s's password after signing in is %s, want bcrypt", name, us[name].PasswordScheme)
		}
	}
	if us["dora"].PasswordScheme != "argon2id" {
		t.Errorf("dora, who never signed in, has %s", us["dora"].PasswordScheme)
	}
	// The rehashed passwords still work.
	for _, s := range signIns {
		c := harness.NewClient()
		harness.SignIn(t, c, srv, s.login, s.password, "")
	}

	// Again, this time from standard input: nothing changes, and the
	// rehashed passwords are not put back.
	out, _, code = srv.CLI(t, yml, "import", "authelia-users", "--in", "-", "--json")
	var rep struct {
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Summary["unchanged"] != 4 || rep.Summary["refused"] != 1 || rep.Summary["created"]+rep.Summary["updated"] != 0 {
		t.Fatalf("second import: exit %d, %v\n%s", code, err, out)
	}
	if us := importedUsers(t, srv); us["ann"].PasswordScheme != "bcrypt" {
		t.Errorf("the second import put ann's argon2id hash back: %s", us["ann"].PasswordScheme)
	}
}
