package kv_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/clinchsso/clinch/kv"
)

// openAtSchema1 makes a store holding raw records as schema 1 wrote them,
// closes it, and opens it again so the pending migrations run.
func openAtSchema1(t *testing.T, records map[string]string) *kv.Store {
	return openAtSchema(t, "1", records)
}

// openAtSchema is openAtSchema1 for any older schema.
func openAtSchema(t *testing.T, schema string, records map[string]string) *kv.Store {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := kv.Open(ctx, dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx *kv.Txn) error {
		for k, v := range records {
			if err := tx.Set([]byte(k), []byte(v), 0); err != nil {
				return err
			}
		}
		return tx.Set(kv.PrefixMeta.Key("schema"), []byte(schema), 0)
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	s, err = kv.Open(ctx, dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if v, _ := s.SchemaVersionOf(ctx); v != kv.SchemaVersion {
		t.Fatalf("schema %d after open, want %d", v, kv.SchemaVersion)
	}
	return s
}

// Schema 1 kept group names in app allowlists; schema 2 keeps ids, so a
// group deleted and made again by name is not allowed by old entries. A
// name whose group is gone is dropped, and an app left with none is
// deactivated instead of being opened to every user.
func TestMigration_AppAllowlistsByGroupID(t *testing.T) {
	s := openAtSchema1(t, map[string]string{
		"group/G1":              `{"id":"G1","name":"staff"}`,
		"idx/group/name/staff":  "G1",
		"group/G2":              `{"id":"G2","name":"family"}`,
		"idx/group/name/family": "G2",
		"app/wiki":              `{"id":"wiki","slug":"wiki","active":true,"allowed_groups":["staff","gone","family"],"service_groups_apply":true,"metadata":{"team":"ops"}}`,
		"app/vault":             `{"id":"vault","slug":"vault","active":true,"allowed_groups":["gone"]}`,
		"app/open":              `{"id":"open","slug":"open","active":true}`,
		"app/off":               `{"id":"off","slug":"off","active":false,"allowed_groups":["staff"]}`,
		"idx/app/slug/wiki":     "wiki",
		"user/U1":               `{"id":"U1","email":"a@example.com","allowed_groups":["not","an","app"]}`,
	})
	type app struct {
		Active        *bool             `json:"active"`
		IDs           []string          `json:"allowed_group_ids"`
		Names         []string          `json:"allowed_groups"`
		ServiceGroups *bool             `json:"service_groups_apply"`
		Metadata      map[string]string `json:"metadata"`
	}
	read := func(key string) (app, string) {
		t.Helper()
		var raw []byte
		err := s.View(context.Background(), func(tx *kv.Txn) error { var err error; raw, err = tx.Get([]byte(key)); return err })
		if err != nil {
			t.Fatal(err)
		}
		var a app
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		return a, string(raw)
	}
	tests := []struct {
		key    string
		ids    string
		active bool
	}{
		{"app/wiki", `["G1","G2"]`, true},
		{"app/vault", `null`, false},
		{"app/open", `null`, true},
		{"app/off", `["G1"]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			a, raw := read(tt.key)
			ids, _ := json.Marshal(a.IDs)
			if string(ids) != tt.ids || a.Active == nil || *a.Active != tt.active || a.Names != nil || a.ServiceGroups != nil {
				t.Errorf("migrated to %s; want allowed_group_ids %s, active %v, no allowed_groups or service_groups_apply", raw, tt.ids, tt.active)
			}
		})
	}
	if a, raw := read("app/wiki"); a.Metadata["team"] != "ops" {
		t.Errorf("other fields lost: %s", raw)
	}
	// Only apps are touched.
	if _, raw := read("user/U1"); raw != `{"id":"U1","email":"a@example.com","allowed_groups":["not","an","app"]}` {
		t.Errorf("a user record changed: %s", raw)
	}
}

// Schema 3 indexes group membership by user (idx/group/member/<user
// id>/<group id>), so verify reads a user's groups without reading every
// group. A store written by schema 2 gains the index for every member.
func TestMigration_GroupMembershipIndex(t *testing.T) {
	s := openAtSchema(t, "2", map[string]string{
		"group/G1":              `{"id":"G1","name":"staff","members":["U1","U2"]}`,
		"idx/group/name/staff":  "G1",
		"group/G2":              `{"id":"G2","name":"family","members":["U2"]}`,
		"idx/group/name/family": "G2",
		"group/G3":              `{"id":"G3","name":"empty"}`,
		"idx/group/name/empty":  "G3",
		"user/U1":               `{"id":"U1","email":"a@example.com"}`,
		"user/U2":               `{"id":"U2","email":"b@example.com"}`,
	})
	var got []string
	err := s.View(context.Background(), func(tx *kv.Txn) error {
		return tx.Scan([]byte(kv.PrefixGroupByMember), func(k, _ []byte) error {
			got = append(got, string(k[len(kv.PrefixGroupByMember):]))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"U1/G1", "U2/G1", "U2/G2"}
	if !slices.Equal(got, want) {
		t.Errorf("membership index %q, want %q", got, want)
	}
}
