package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/clinchsso/clinch/auth"
)

// Made by Debian's argon2 command:
// echo -n "correct horse" | argon2 saltsaltsalt -id -t 2 -m 12 -p 2 -e
const importArgon2id = "$argon2id$v=19$m=4096,t=2,p=2$c2FsdHNhbHRzYWx0$/GmN2HRmQrDFSXa5NjpkLY7lq//MFakv677SjLQm8yA"

func bcryptOf(t *testing.T, pw string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func storedHash(t *testing.T, s *auth.Service, email string) string {
	t.Helper()
	u, err := s.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return string(u.PasswordHash)
}

// An imported argon2id or bcrypt hash signs in as it is, and the first
// successful sign-in replaces it with bcrypt at the configured cost (4 in
// these tests); a wrong password changes nothing.
func TestImportUser_SignInRehashesToBcrypt(t *testing.T) {
	tests := []struct{ name, hash string }{
		{"argon2id", importArgon2id},
		{"bcrypt $2y$ at another cost", "$2y$" + bcryptOf(t, "correct horse", 5)[4:]},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := newService(t)
			email := "ann@example.com"
			if _, err := s.ImportUser(ctx, auth.ImportedUser{Username: "ann", Email: email, PasswordHash: tt.hash}, false); err != nil {
				t.Fatal(err)
			}
			ip := "10.1.0." + string(rune('1'+i))
			if err := signIn(s, "ann", "wrong horse", ip); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
			if got := storedHash(t, s, email); got != tt.hash {
				t.Fatal("a failed sign-in changed the stored hash")
			}
			if err := signIn(s, "ann", "correct horse", ip); err != nil {
				t.Fatalf("sign-in with the imported hash: %v", err)
			}
			h := storedHash(t, s, email)
			if c, err := bcrypt.Cost([]byte(h)); err != nil || c != 4 || !strings.HasPrefix(h, "$2a$") {
				t.Fatalf("after sign-in the hash is %.7s... (cost %d, %v), want bcrypt at cost 4", h, c, err)
			}
			if err := signIn(s, email, "correct horse", ip); err != nil {
				t.Fatalf("second sign-in, on the rehashed password: %v", err)
			}
		})
	}
}

func TestImportUser_CreatesEverything(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	res, err := s.ImportUser(ctx, auth.ImportedUser{
		Username: " Ann ", Email: "Ann@Example.com", DisplayName: " Ann A. ", PasswordHash: importArgon2id,
		Groups: []string{"Dev", "admins", "dev"}, Disabled: true,
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"group admins created", "group dev created"}
	if res.Action != auth.ImportCreated || res.Email != "ann@example.com" || !slices.Equal(res.Changes, want) {
		t.Errorf("result %+v, want created with %v", res, want)
	}
	u, err := s.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "ann" || u.DisplayName != "Ann A." || u.Status != auth.StatusDisabled || u.Admin || u.PasswordVersion != 1 {
		t.Errorf("stored %+v", u)
	}
	gs, err := s.UserGroups(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	if !slices.Equal(names, []string{"admins", "dev"}) {
		t.Errorf("groups %v", names)
	}
	if err := signIn(s, "ann", "correct horse", "10.2.0.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("a user disabled in the file signed in: %v", err)
	}
}

// The second import of the same users changes nothing, also after the
// imported hash was rehashed by a sign-in.
func TestImportUser_Idempotent(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	in := auth.ImportedUser{Username: "ann", Email: "ann@example.com", DisplayName: "Ann", PasswordHash: importArgon2id, Groups: []string{"dev"}}
	if res, err := s.ImportUser(ctx, in, false); err != nil || res.Action != auth.ImportCreated {
		t.Fatalf("first import: %+v, %v", res, err)
	}
	before, err := s.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := s.ImportUser(ctx, in, false); err != nil || res.Action != auth.ImportUnchanged || len(res.Changes) != 0 {
		t.Fatalf("second import: %+v, %v", res, err)
	}
	after, err := s.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdatedAt.Equal(before.UpdatedAt) || after.PasswordVersion != before.PasswordVersion {
		t.Errorf("an unchanged import rewrote the user: %+v -> %+v", before, after)
	}
	if err := signIn(s, "ann", "correct horse", "10.3.0.1"); err != nil {
		t.Fatal(err)
	}
	if res, err := s.ImportUser(ctx, in, false); err != nil || res.Action != auth.ImportUnchanged {
		t.Fatalf("import after the rehash: %+v, %v", res, err)
	}
	if h := storedHash(t, s, "ann@example.com"); !strings.HasPrefix(h, "$2a$") {
		t.Error("a re-import put the old argon2 hash back over the rehashed one")
	}
}

// A dry run reports what the real run does and writes nothing: no user,
// no group.
func TestImportUser_DryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	in := auth.ImportedUser{Username: "ann", Email: "ann@example.com", PasswordHash: importArgon2id, Groups: []string{"dev"}}
	dry, err := s.ImportUser(ctx, in, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByEmail(ctx, "ann@example.com"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("after a dry run the user is there: %v", err)
	}
	if gs, err := s.Groups(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("after a dry run groups are %v (%v)", gs, err)
	}
	real, err := s.ImportUser(ctx, in, false)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Action != real.Action || !slices.Equal(dry.Changes, real.Changes) {
		t.Errorf("dry run said %+v, the import did %+v", dry, real)
	}
	// And on an existing user.
	in.DisplayName, in.Disabled = "Ann B.", true
	if res, err := s.ImportUser(ctx, in, true); err != nil || res.Action != auth.ImportUpdated {
		t.Fatalf("dry-run update: %+v, %v", res, err)
	}
	u, err := s.UserByEmail(ctx, "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.DisplayName != "" || u.Status != auth.StatusActive {
		t.Errorf("a dry-run update wrote: %+v", u)
	}
}

// What an import changes on a user who is already there.
func TestImportUser_UpdatesExisting(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		setup       func(t *testing.T, s *auth.Service)
		in          auth.ImportedUser
		wantAction  auth.ImportAction
		wantChanges []string
		check       func(t *testing.T, u *auth.User)
	}{
		{
			name: "matched by email: names follow the file, the password set in Clinch is kept",
			setup: func(t *testing.T, s *auth.Service) {
				mustCreate(t, s, auth.NewUser{Email: "ann@example.com", Username: "annie", DisplayName: "Annie", Password: "clinch password"})
			},
			in:          auth.ImportedUser{Username: "ann", Email: "ann@example.com", DisplayName: "Ann", PasswordHash: importArgon2id},
			wantAction:  auth.ImportUpdated,
			wantChanges: []string{"username", "display name"},
			check: func(t *testing.T, u *auth.User) {
				if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte("clinch password")) != nil {
					t.Error("the password set in Clinch was replaced")
				}
			},
		},
		{
			name: "matched by username: the email follows the file",
			setup: func(t *testing.T, s *auth.Service) {
				mustCreate(t, s, auth.NewUser{Email: "old@example.com", Username: "ann", Password: "clinch password"})
			},
			in:          auth.ImportedUser{Username: "ann", Email: "ann@example.com", PasswordHash: importArgon2id},
			wantAction:  auth.ImportUpdated,
			wantChanges: []string{"email"},
		},
		{
			name: "an invited user without a password takes the imported one",
			setup: func(t *testing.T, s *auth.Service) {
				mustCreate(t, s, auth.NewUser{Email: "ann@example.com", Username: "ann"})
			},
			in:          auth.ImportedUser{Username: "ann", Email: "ann@example.com", PasswordHash: importArgon2id},
			wantAction:  auth.ImportUpdated,
			wantChanges: []string{"password"},
			check: func(t *testing.T, u *auth.User) {
				if u.Status != auth.StatusActive || string(u.PasswordHash) != importArgon2id || u.PasswordVersion != 1 {
					t.Errorf("status %s, version %d", u.Status, u.PasswordVersion)
				}
			},
		},
		{
			name: "disabled in the file disables",
			setup: func(t *testing.T, s *auth.Service) {
				mustCreate(t, s, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: "clinch password"})
			},
			in:          auth.ImportedUser{Username: "ann", Email: "ann@example.com", PasswordHash: importArgon2id, Disabled: true},
			wantAction:  auth.ImportUpdated,
			wantChanges: []string{"disabled"},
			check: func(t *testing.T, u *auth.User) {
				if u.Status != auth.StatusDisabled {
					t.Errorf("status %s", u.Status)
				}
			},
		},
		{
			name: "an import never enables a user disabled in Clinch",
			setup: func(t *testing.T, s *auth.Service) {
				mustCreate(t, s, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: "clinch password"})
				if _, err := s.SetStatus(ctx, "ann@example.com", auth.StatusDisabled); err != nil {
					t.Fatal(err)
				}
			},
			in:         auth.ImportedUser{Username: "ann", Email: "ann@example.com", PasswordHash: importArgon2id},
			wantAction: auth.ImportUnchanged,
			check: func(t *testing.T, u *auth.User) {
				if u.Status != auth.StatusDisabled {
					t.Errorf("status %s", u.Status)
				}
			},
		},
		{
			name: "groups are joined, other memberships kept",
			setup: func(t *testing.T, s *auth.Service) {
				if _, err := s.CreateGroup(ctx, "family", "", ""); err != nil {
					t.Fatal(err)
				}
				mustCreate(t, s, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: "clinch password", Groups: []string{"family"}})
			},
			in:          auth.ImportedUser{Username: "ann", Email: "ann@example.com", PasswordHash: importArgon2id, Groups: []string{"dev"}},
			wantAction:  auth.ImportUpdated,
			wantChanges: []string{"group dev created", "group +dev"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(t)
			tt.setup(t, s)
			res, err := s.ImportUser(ctx, tt.in, false)
			if err != nil {
				t.Fatal(err)
			}
			if res.Action != tt.wantAction || !slices.Equal(res.Changes, tt.wantChanges) {
				t.Fatalf("result %+v, want %s %v", res, tt.wantAction, tt.wantChanges)
			}
			u, err := s.UserByEmail(ctx, tt.in.Email)
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, u)
			}
			if tt.name == "groups are joined, other memberships kept" {
				gs, _ := s.UserGroups(ctx, u.ID)
				if len(gs) != 2 {
					t.Errorf("member of %d groups, want family and dev", len(gs))
				}
			}
			if res, err := s.ImportUser(ctx, tt.in, false); err != nil || res.Action != auth.ImportUnchanged {
				t.Errorf("again: %+v, %v; want unchanged", res, err)
			}
		})
	}
}

func mustCreate(t *testing.T, s *auth.Service, in auth.NewUser) {
	t.Helper()
	if _, err := s.CreateUser(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

// Bad users are refused with a reason and leave nothing behind, not even
// the groups they named.
func TestImportUser_RefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	mustCreate(t, s, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: "clinch password"})
	mustCreate(t, s, auth.NewUser{Email: "bob@example.com", Username: "bob", Password: "clinch password"})
	tests := []struct {
		name    string
		in      auth.ImportedUser
		wantErr string
	}{
		{"no email", auth.ImportedUser{Username: "carl", PasswordHash: importArgon2id}, "email is required"},
		{"bad email", auth.ImportedUser{Username: "carl", Email: "carl", PasswordHash: importArgon2id}, "email is not a valid address"},
		{"bad username", auth.ImportedUser{Username: "carl@home", Email: "carl@example.com", PasswordHash: importArgon2id}, "username may contain only"},
		{"bad group", auth.ImportedUser{Username: "carl", Email: "carl@example.com", PasswordHash: importArgon2id, Groups: []string{"new", "a,b"}}, `group "a,b"`},
		{"sha512-crypt", auth.ImportedUser{Username: "carl", Email: "carl@example.com", PasswordHash: "$6$salt$abc", Groups: []string{"new"}}, "unsupported kind (sha512-crypt)"},
		{"no password", auth.ImportedUser{Username: "carl", Email: "carl@example.com"}, "hash is missing"},
		{"email and username name two users", auth.ImportedUser{Username: "bob", Email: "ann@example.com", PasswordHash: importArgon2id, Groups: []string{"new"}}, "belongs to one user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ImportUser(ctx, tt.in, false)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ImportUser = %v, want an error saying %q", err, tt.wantErr)
			}
		})
	}
	if _, err := s.UserByEmail(ctx, "carl@example.com"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("a refused user was stored: %v", err)
	}
	if gs, err := s.Groups(ctx); err != nil || len(gs) != 0 {
		t.Errorf("refused users left groups %v (%v)", gs, err)
	}
	for _, e := range []string{"ann@example.com", "bob@example.com"} {
		if u, err := s.UserByEmail(ctx, e); err != nil || u.Username != strings.TrimSuffix(e, "@example.com") {
			t.Errorf("%s after the refusals: %+v, %v", e, u, err)
		}
	}
}
