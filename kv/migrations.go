package kv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// migrations returns the ordered steps applied at start-up; step From=n
// moves the store from schema n to n+1. Version 1 is the first layout.
//
// A step works on the stored JSON itself, not on the domain types (kv
// imports no domain package), and names the fields it touches.
func migrations() []Migration {
	return []Migration{
		{From: 1, Name: "app allowlists by group id", Run: appAllowlistsByGroupID},
		{From: 2, Name: "group membership index", Run: groupMembershipIndex},
	}
}

// appAllowlistsByGroupID rewrites every app's "allowed_groups" (group
// names) as "allowed_group_ids" (the ids those names have now), so that a
// group deleted and made again under the same name is no longer allowed by
// its old entries. A name that no longer names a group is dropped; an app
// whose names are all gone is deactivated ("active": false), because with
// no allowed groups it would otherwise admit every active user, where it
// admitted nobody before. It also drops "service_groups_apply", which
// nothing ever read.
func appAllowlistsByGroupID(t *Txn) error {
	groups := map[string]string{} // name → id
	err := t.Scan([]byte(PrefixGroupByName), func(k, v []byte) error {
		groups[string(k[len(PrefixGroupByName):])] = string(v)
		return nil
	})
	if err != nil {
		return err
	}
	type rewrite struct{ key, val []byte }
	var out []rewrite
	err = t.Scan([]byte(PrefixApp), func(k, v []byte) error {
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		changed := false
		if _, ok := rec["service_groups_apply"]; ok {
			delete(rec, "service_groups_apply")
			changed = true
		}
		if raw, ok := rec["allowed_groups"]; ok {
			var names []string
			if err := json.Unmarshal(raw, &names); err != nil {
				return fmt.Errorf("%s: allowed_groups: %w", k, err)
			}
			delete(rec, "allowed_groups")
			changed = true
			var ids []string
			for _, n := range names {
				if id, ok := groups[n]; ok {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
			ids = slices.Compact(ids)
			switch {
			case len(ids) > 0:
				b, err := json.Marshal(ids)
				if err != nil {
					return err
				}
				rec["allowed_group_ids"] = b
			case len(names) > 0:
				rec["active"] = json.RawMessage("false")
			}
		}
		if !changed {
			return nil
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, rewrite{key: bytes.Clone(k), val: b})
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range out {
		if err := t.Set(r.key, r.val, 0); err != nil {
			return err
		}
	}
	return nil
}

// groupMembershipIndex writes PrefixGroupByMember "<user id>/<group id>"
// for every member of every group (a group's "members" holds user ids), so
// a user's groups are found without reading every group.
func groupMembershipIndex(t *Txn) error {
	var keys [][]byte
	err := t.Scan([]byte(PrefixGroup), func(k, v []byte) error {
		var g struct {
			ID      string   `json:"id"`
			Members []string `json:"members"`
		}
		if err := json.Unmarshal(v, &g); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if g.ID == "" {
			g.ID = string(k[len(PrefixGroup):])
		}
		for _, uid := range g.Members {
			if uid != "" {
				keys = append(keys, PrefixGroupByMember.Key(uid+"/"+g.ID))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := t.Set(k, nil, 0); err != nil {
			return err
		}
	}
	return nil
}
