package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
)

// mayUse asks the one access rule whether the user with the email may use
// the app with the slug now.
func mayUse(t *testing.T, s *auth.Service, email, slug string) bool {
	t.Helper()
	ctx := context.Background()
	u, err := s.UserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.AppBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := s.UserGroups(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return auth.CanUse(a, u.Status, auth.GroupIDs(gs))
}

// An app allowed "staff"; "staff" is deleted and a new group of the same
// name is made. Its members get nothing from the old allowlist: the app
// names groups by id, and the delete removed the old id from it.
func TestGroupDelete_RecreatedNameDoesNotRegrant(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	s := f.svc
	old, err := s.CreateGroup(ctx, "staff", "", "")
	if err != nil {
		t.Fatal(err)
	}
	fam, err := s.CreateGroup(ctx, "family", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Wiki", "Staff only"} {
		groups := []string{"staff", "family"}
		if name == "Staff only" {
			groups = []string{"staff"}
		}
		if _, _, err := s.CreateApp(ctx, auth.AppInput{Name: name, Type: auth.AppForwardAuth, Domain: auth.Slugify(name) + ".example.com", AllowedGroups: groups}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse", Groups: []string{"staff"}}); err != nil {
		t.Fatal(err)
	}
	if !mayUse(t, s, "ann@example.com", "wiki") {
		t.Fatal("a staff member may not use the wiki before the delete")
	}
	f.changes()
	del, err := s.DeleteGroup(ctx, "staff")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(del.Apps, []string{"staff-only", "wiki"}) || !slices.Equal(del.Deactivated, []string{"staff-only"}) {
		t.Errorf("delete changed apps %v, deactivated %v; want [staff-only wiki], [staff-only]", del.Apps, del.Deactivated)
	}
	kinds := map[auth.ChangeKind]bool{}
	for _, c := range f.changes() {
		kinds[c.Kind] = true
	}
	if !kinds[auth.ChangeApps] || !kinds[auth.ChangeGroups] {
		t.Errorf("the delete announced %v, want apps and groups changed", kinds)
	}
	if _, err := s.CreateGroup(ctx, "staff", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToGroup(ctx, "staff", "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		slug       string
		wantIDs    []string
		wantActive bool
	}{
		// Still allows family, no longer the deleted staff.
		{"wiki", []string{fam.ID}, true},
		// Its only group is gone: it admits nobody rather than everyone.
		{"staff-only", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.slug, func(t *testing.T) {
			a, err := s.AppBySlug(ctx, tt.slug)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(a.AllowedGroupIDs, old.ID) || !slices.Equal(a.AllowedGroupIDs, tt.wantIDs) || a.Active != tt.wantActive {
				t.Errorf("allowed %v, active %v; want %v, %v", a.AllowedGroupIDs, a.Active, tt.wantIDs, tt.wantActive)
			}
			if mayUse(t, s, "ann@example.com", tt.slug) {
				t.Errorf("a member of the recreated staff may use %s", tt.slug)
			}
		})
	}
}

// A group that no longer exists cannot be put on an allowlist, by name
// (create) or by id (update).
func TestAllowlist_OnlyExistingGroups(t *testing.T) {
	ctx := context.Background()
	f := newAppsFixture(t)
	s := f.svc
	g, err := s.CreateGroup(ctx, "staff", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateApp(ctx, fwdInput("Wiki", "wiki.example.com")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteGroup(ctx, "staff"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateApp(ctx, auth.AppInput{Name: "x", Type: auth.AppForwardAuth, Domain: "x.example.com", AllowedGroups: []string{"staff"}}); !isInvalid(err, "group") {
		t.Errorf("create with a deleted group's name = %v", err)
	}
	if _, err := s.UpdateApp(ctx, "wiki", func(a *auth.App) error { a.AllowedGroupIDs = []string{g.ID}; return nil }); !isInvalid(err, "group") {
		t.Errorf("update with a deleted group's id = %v", err)
	}
	if _, err := s.GroupIDsByName(ctx, []string{"staff"}); !isInvalid(err, "group") {
		t.Errorf("GroupIDsByName of a deleted group = %v", err)
	}
}

func isInvalid(err error, field string) bool {
	var ie *auth.InvalidError
	return errors.As(err, &ie) && ie.Field == field
}

// A store from before allowlists held ids (schema 1, names) opens with the
// same people allowed as before: the migration's output is what App reads.
func TestMigration_OldAllowlistKeepsItsGroups(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sec, err := auth.NewSecrets([]byte(strings.Repeat("m", 32)))
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*kv.Store, *auth.Service) {
		t.Helper()
		st, err := kv.Open(ctx, dir, kv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := auth.New(auth.Config{Store: st, Secrets: sec, BcryptCost: 4})
		if err != nil {
			t.Fatal(err)
		}
		return st, s
	}
	st, s := open()
	staff, err := s.CreateGroup(ctx, "staff", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroup(ctx, "family", "", ""); err != nil {
		t.Fatal(err)
	}
	for email, group := range map[string]string{"ann@example.com": "staff", "bob@example.com": "family"} {
		if _, err := s.CreateUser(ctx, auth.NewUser{Email: email, Password: "correct horse", Groups: []string{group}}); err != nil {
			t.Fatal(err)
		}
	}
	a, _, err := s.CreateApp(ctx, auth.AppInput{Name: "Wiki", Type: auth.AppForwardAuth, Domain: "wiki.example.com", AllowedGroups: []string{"staff"}})
	if err != nil {
		t.Fatal(err)
	}
	// Write the app back as schema 1 had it.
	err = st.Update(ctx, func(tx *kv.Txn) error {
		key := kv.PrefixApp.Key(a.ID)
		raw, err := tx.Get(key)
		if err != nil {
			return err
		}
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			return err
		}
		delete(rec, "allowed_group_ids")
		rec["allowed_groups"] = []string{"staff"}
		rec["service_groups_apply"] = true
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := tx.Set(key, b, 0); err != nil {
			return err
		}
		return tx.Set(kv.PrefixMeta.Key("schema"), []byte("1"), 0)
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	st, s = open()
	defer st.Close()
	got, err := s.AppBySlug(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.AllowedGroupIDs, []string{staff.ID}) || !got.Active {
		t.Fatalf("migrated app allows %v, active %v; want [%s], true", got.AllowedGroupIDs, got.Active, staff.ID)
	}
	if !mayUse(t, s, "ann@example.com", "wiki") || mayUse(t, s, "bob@example.com", "wiki") {
		t.Error("after the migration the wiki admits other people than staff")
	}
}

// The membership index (user → group ids) agrees with the groups' member
// lists after every kind of change: UserGroups reads the index, and the
// truth is the member lists.
func TestGroups_MembershipIndexFollowsEveryChange(t *testing.T) {
	ctx := context.Background()
	store := kvtest.Open(t)
	sec, err := auth.NewSecrets([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.New(auth.Config{Store: store, Secrets: sec, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"staff", "family", "ops"} {
		if _, err := s.CreateGroup(ctx, g, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []auth.NewUser{
		{Email: "ann@example.com", Password: "correct horse battery", Groups: []string{"staff", "ops"}},
		{Email: "bob@example.com", Password: "correct horse battery", Groups: []string{"family"}},
		{Email: "cy@example.com", Password: "correct horse battery"},
	} {
		if _, err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name string
		do   func() error
		want map[string][]string // email → group names
	}{
		{"created", func() error { return nil }, map[string][]string{
			"ann@example.com": {"ops", "staff"}, "bob@example.com": {"family"}, "cy@example.com": nil}},
		{"added", func() error { return s.AddToGroup(ctx, "staff", "cy@example.com") }, map[string][]string{
			"ann@example.com": {"ops", "staff"}, "bob@example.com": {"family"}, "cy@example.com": {"staff"}}},
		{"added twice", func() error { return s.AddToGroup(ctx, "staff", "cy@example.com") }, map[string][]string{
			"cy@example.com": {"staff"}}},
		{"removed", func() error { return s.RemoveFromGroup(ctx, "ops", "ann@example.com") }, map[string][]string{
			"ann@example.com": {"staff"}}},
		{"groups set by an admin's edit", func() error {
			gs := []string{"family", "ops"}
			_, err := s.UpdateUser(ctx, "cy@example.com", auth.UserUpdate{Groups: &gs})
			return err
		}, map[string][]string{"cy@example.com": {"family", "ops"}}},
		{"groups set back", func() error {
			gs := []string{"staff"}
			_, err := s.UpdateUser(ctx, "cy@example.com", auth.UserUpdate{Groups: &gs})
			return err
		}, map[string][]string{"cy@example.com": {"staff"}, "bob@example.com": {"family"}}},
		{"group renamed", func() error {
			n := "crew"
			_, err := s.UpdateGroup(ctx, "staff", auth.GroupUpdate{Name: &n})
			return err
		}, map[string][]string{"ann@example.com": {"crew"}, "cy@example.com": {"crew"}}},
		{"group deleted", func() error { _, err := s.DeleteGroup(ctx, "crew"); return err }, map[string][]string{
			"ann@example.com": nil, "bob@example.com": {"family"}, "cy@example.com": nil}},
		{"user deleted", func() error { return s.DeleteUser(ctx, "bob@example.com") }, nil},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for email, want := range st.want {
			u, err := s.UserByEmail(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			gs, err := s.UserGroups(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, g := range gs {
				got = append(got, g.Name)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: %s in %q, want %q", st.name, email, got, want)
			}
		}
		// No index entry points at a group that does not list the user.
		all, err := s.Groups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		members := map[string]bool{}
		for _, g := range all {
			for _, id := range g.Members {
				members[id+"/"+g.ID] = true
			}
		}
		var stray []string
		err = store.View(ctx, func(tx *kv.Txn) error {
			return tx.Scan([]byte(kv.PrefixGroupByMember), func(k, _ []byte) error {
				if e := string(k[len(kv.PrefixGroupByMember):]); !members[e] {
					stray = append(stray, e)
				}
				delete(members, string(k[len(kv.PrefixGroupByMember):]))
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(stray) > 0 || len(members) > 0 {
			t.Errorf("%s: index entries without membership %q, memberships without entry %v", st.name, stray, members)
		}
	}
}
