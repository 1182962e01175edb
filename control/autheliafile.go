package control

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clinchsso/clinch/auth"
)

// autheliaUser is one entry of Authelia's file-based users database
// (authentication_backend.file). Fields Clinch has no use for (given_name,
// locale, extra, ...) are ignored.
type autheliaUser struct {
	DisplayName string   `yaml:"displayname"`
	Password    string   `yaml:"password"`
	Email       string   `yaml:"email"`
	Groups      []string `yaml:"groups"`
	Disabled    bool     `yaml:"disabled"`
}

// autheliaEntry is one user read from the file: what to import, or why it
// cannot be.
type autheliaEntry struct {
	Name string // the key under users:, as written
	User auth.ImportedUser
	Err  error
}

// parseAutheliaUsers reads a users_database.yml. A file that is not YAML,
// or has no users: mapping, is an error and nothing is imported; an entry
// that does not decode, has no email, or shares its email or username with
// another entry is returned with its Err set, so the rest still import.
// Entries come sorted by name.
func parseAutheliaUsers(data []byte) ([]autheliaEntry, error) {
	var doc struct {
		Users map[string]yaml.Node `yaml:"users"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("users file is not valid YAML: %w", err)
	}
	if doc.Users == nil {
		return nil, errors.New("users file has no users: mapping")
	}
	names := make([]string, 0, len(doc.Users))
	for name := range doc.Users {
		names = append(names, name)
	}
	slices.Sort(names)
	entries := make([]autheliaEntry, 0, len(names))
	for _, name := range names {
		node := doc.Users[name]
		entries = append(entries, autheliaEntryOf(name, &node))
	}
	refuseDuplicates(entries)
	return entries, nil
}

func autheliaEntryOf(name string, node *yaml.Node) autheliaEntry {
	e := autheliaEntry{Name: name}
	var a autheliaUser
	if err := node.Decode(&a); err != nil {
		e.Err = fmt.Errorf("entry does not decode: %w", err)
		return e
	}
	if strings.TrimSpace(a.Email) == "" {
		e.Err = errors.New("no email (Clinch needs one for every user)")
		return e
	}
	e.User = auth.ImportedUser{
		Username: name, Email: a.Email, DisplayName: a.DisplayName,
		PasswordHash: a.Password, Groups: a.Groups, Disabled: a.Disabled,
	}
	return e
}

// refuseDuplicates marks every entry whose email or username (compared as
// Clinch stores them, lower case) another entry also has: importing both
// would make one user out of two people.
func refuseDuplicates(entries []autheliaEntry) {
	emails, names := map[string][]int{}, map[string][]int{}
	for i, e := range entries {
		if e.Err != nil {
			continue
		}
		em, un := fold(e.User.Email), fold(e.User.Username)
		emails[em] = append(emails[em], i)
		names[un] = append(names[un], i)
	}
	mark := func(groups map[string][]int, what string) {
		for _, idx := range groups {
			if len(idx) < 2 {
				continue
			}
			for _, i := range idx {
				if entries[i].Err == nil {
					entries[i].Err = fmt.Errorf("%s is also used by another user in the file (%s)", what, othersOf(entries, idx, i))
				}
			}
		}
	}
	mark(emails, "email")
	mark(names, "username")
}

func fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func othersOf(entries []autheliaEntry, idx []int, self int) string {
	var out []string
	for _, i := range idx {
		if i != self {
			out = append(out, entries[i].Name)
		}
	}
	return strings.Join(out, ", ")
}
