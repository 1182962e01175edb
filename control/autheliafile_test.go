package control

import (
	"slices"
	"strings"
	"testing"
)

func TestParseAutheliaUsers(t *testing.T) {
	const hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$/GmN2HRmQrDFSXa5NjpkLY7lq//MFakv677SjLQm8yA"
	type want struct {
		name, email, display string
		groups               []string
		disabled             bool
		err                  string
	}
	tests := []struct {
		name    string
		yaml    string
		want    []want
		wantErr string
	}{
		{
			name: "Authelia's example, with fields Clinch ignores",
			yaml: `
users:
  john:
    disabled: false
    displayname: "John Doe"
    password: "` + hash + `"
    email: john.doe@authelia.com
    groups:
      - admins
      - dev
    given_name: John
    extra:
      shoe_size: 42
  harry:
    displayname: "Harry Potter"
    password: "` + hash + `"
    email: harry.potter@authelia.com
    disabled: true
`,
			want: []want{
				{name: "harry", email: "harry.potter@authelia.com", display: "Harry Potter", disabled: true},
				{name: "john", email: "john.doe@authelia.com", display: "John Doe", groups: []string{"admins", "dev"}},
			},
		},
		{
			name: "a user without an email, one whose groups are not a list",
			yaml: "users:\n  a:\n    password: x\n  b:\n    email: b@example.com\n    groups: dev\n  c:\n    email: c@example.com\n",
			want: []want{
				{name: "a", err: "no email"},
				{name: "b", err: "entry does not decode"},
				{name: "c", email: "c@example.com"},
			},
		},
		{
			name: "an email or username twice (case aside) refuses every holder",
			yaml: "users:\n  a:\n    email: same@example.com\n  b:\n    email: SAME@example.com\n  Cee:\n    email: c@example.com\n  cee:\n    email: c2@example.com\n  d:\n    email: d@example.com\n",
			want: []want{
				{name: "Cee", err: "username is also used by another user in the file (cee)"},
				{name: "a", err: "email is also used by another user in the file (b)"},
				{name: "b", err: "email is also used by another user in the file (a)"},
				{name: "cee", err: "username is also used"},
				{name: "d", email: "d@example.com"},
			},
		},
		{name: "not YAML", yaml: "users: [\n", wantErr: "not valid YAML"},
		{name: "a key twice", yaml: "users:\n  a:\n    email: a@example.com\n  a:\n    email: b@example.com\n", wantErr: "not valid YAML"},
		{name: "no users mapping", yaml: "people:\n  a: {}\n", wantErr: "no users: mapping"},
		{name: "users is a list", yaml: "users:\n  - a\n", wantErr: "not valid YAML"},
		{name: "empty users", yaml: "users: {}\n", want: []want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAutheliaUsers([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parse = %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Name != w.name {
					t.Errorf("entry %d is %q, want %q", i, g.Name, w.name)
				}
				if w.err != "" {
					if g.Err == nil || !strings.Contains(g.Err.Error(), w.err) {
						t.Errorf("%s: err %v, want %q", w.name, g.Err, w.err)
					}
					continue
				}
				u := g.User
				if g.Err != nil || u.Email != w.email || u.DisplayName != w.display || u.Disabled != w.disabled || !slices.Equal(u.Groups, w.groups) || u.Username != w.name {
					t.Errorf("%s: %+v (err %v), want %+v", w.name, u, g.Err, w)
				}
			}
		})
	}
}

func TestInFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
		ok   bool
	}{
		{[]string{"--in", "f.yml"}, "f.yml", true},
		{[]string{"--dry-run", "-in", "f.yml"}, "f.yml", true},
		{[]string{"--in=f.yml", "--json"}, "f.yml", true},
		{[]string{"-in=-"}, "-", true},
		{[]string{"--dry-run"}, "", false},
		{[]string{"--in"}, "", false},
		{[]string{"--", "--in", "f.yml"}, "", false},
		{[]string{"--input", "f.yml"}, "", false},
	}
	for _, tt := range tests {
		got, ok := inFlag(tt.args)
		if got != tt.want || ok != tt.ok {
			t.Errorf("inFlag(%q) = %q, %v; want %q, %v", tt.args, got, ok, tt.want, tt.ok)
		}
	}
}
