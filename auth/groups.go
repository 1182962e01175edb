package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// CreateGroup stores a new group.
func (s *Service) CreateGroup(ctx context.Context, name, description, claims string) (*Group, error) {
	n, err := NormalizeGroupName(name)
	if err != nil {
		return nil, err
	}
	c, err := NormalizeClaims(claims)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	g := &Group{ID: NewID(), Name: n, Description: strings.TrimSpace(description), Claims: c, CreatedAt: now, UpdatedAt: now}
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		return mapKV(s.saveGroup(t, g), "group "+n)
	})
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeGroups})
	s.Audit(ctx, audit.Event{Kind: audit.GroupCreated, Detail: map[string]string{"group": g.Name}, After: groupSnapshot(g)})
	return g, nil
}

// Groups lists every group, ordered by name.
func (s *Service) Groups(ctx context.Context) ([]*Group, error) {
	var out []*Group
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		out, err = s.groups.All(t)
		return err
	})
	slices.SortFunc(out, func(a, b *Group) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

// Group returns a group by name.
func (s *Service) Group(ctx context.Context, name string) (*Group, error) {
	n, err := NormalizeGroupName(name)
	if err != nil {
		return nil, err
	}
	var g *Group
	err = s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		g, err = s.groups.GetBy(t, kv.PrefixGroupByName, n)
		return err
	})
	return g, mapKV(err, "group "+n)
}

// UserGroups returns the groups the user belongs to, ordered by name.
func (s *Service) UserGroups(ctx context.Context, userID string) ([]*Group, error) {
	var out []*Group
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		out, err = s.userGroups(t, userID)
		return err
	})
	return out, err
}

func (s *Service) userGroups(t *kv.Txn, userID string) ([]*Group, error) {
	var out []*Group
	if userID == "" {
		return nil, nil
	}
	prefix := kv.PrefixGroupByMember.Key(userID + "/")
	var ids []string
	err := t.Scan(prefix, func(k, _ []byte) error {
		ids = append(ids, string(k[len(prefix):]))
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		g, err := s.groups.Get(t, id)
		if errors.Is(err, kv.ErrNotFound) {
			continue // cannot happen while saveGroup is the only writer
		}
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *Group) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// saveGroup writes g and, in the same transaction, the membership index
// (user id → group ids) for the members it gained and lost. Every write of
// a group goes through here or removeGroup, so the index never disagrees
// with the member lists.
func (s *Service) saveGroup(t *kv.Txn, g *Group) error {
	old, err := s.groups.Get(t, g.ID)
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	was := map[string]bool{}
	if old != nil {
		for _, id := range old.Members {
			was[id] = true
		}
	}
	for _, id := range g.Members {
		if was[id] {
			delete(was, id)
			continue
		}
		if err := t.Set(kv.PrefixGroupByMember.Key(id+"/"+g.ID), nil, 0); err != nil {
			return err
		}
	}
	for id := range was {
		if err := t.Delete(kv.PrefixGroupByMember.Key(id + "/" + g.ID)); err != nil {
			return err
		}
	}
	return s.groups.Put(t, g, 0)
}

// removeGroup deletes g and its members' index entries.
func (s *Service) removeGroup(t *kv.Txn, g *Group) error {
	old, err := s.groups.Get(t, g.ID)
	if err != nil {
		return err
	}
	for _, id := range old.Members {
		if err := t.Delete(kv.PrefixGroupByMember.Key(id + "/" + g.ID)); err != nil {
			return err
		}
	}
	return s.groups.Delete(t, g.ID)
}

func (s *Service) addMember(t *kv.Txn, group, userID string) error {
	_, err := s.addMemberChanged(t, group, userID)
	return err
}

// addMemberChanged is addMember, reporting whether the user was not a
// member before.
func (s *Service) addMemberChanged(t *kv.Txn, group, userID string) (bool, error) {
	n, err := NormalizeGroupName(group)
	if err != nil {
		return false, err
	}
	g, err := s.groups.GetBy(t, kv.PrefixGroupByName, n)
	if err != nil {
		return false, mapKV(err, "group "+n)
	}
	i, ok := slices.BinarySearch(g.Members, userID)
	if ok {
		return false, nil
	}
	g.Members = slices.Insert(g.Members, i, userID)
	g.UpdatedAt = s.now().UTC()
	return true, s.saveGroup(t, g)
}

// AddToGroup adds the user with the email to the group.
func (s *Service) AddToGroup(ctx context.Context, group, email string) error {
	return s.changeMembership(ctx, group, email, true)
}

// RemoveFromGroup removes the user with the email from the group.
func (s *Service) RemoveFromGroup(ctx context.Context, group, email string) error {
	return s.changeMembership(ctx, group, email, false)
}

func (s *Service) changeMembership(ctx context.Context, group, email string, add bool) error {
	e, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	var uid, gname string
	var ended []string
	changed := false
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		ended, changed = nil, false
		u, err := s.userByEmail(t, e)
		if err != nil {
			return err
		}
		uid = u.ID
		n, err := NormalizeGroupName(group)
		if err != nil {
			return err
		}
		gname = n
		if add {
			if changed, err = s.addMemberChanged(t, n, u.ID); err != nil {
				return err
			}
			// Joining a group that requires a second factor, without
			// one, signs the user out: their next sign-in sets one up.
			g, err := s.groups.GetBy(t, kv.PrefixGroupByName, n)
			if err != nil {
				return mapKV(err, "group "+n)
			}
			ended, err = s.endIfLacking(t, u.ID, g.RequireSecondFactor)
			return err
		}
		g, err := s.groups.GetBy(t, kv.PrefixGroupByName, n)
		if err != nil {
			return mapKV(err, "group "+n)
		}
		i, ok := slices.BinarySearch(g.Members, u.ID)
		if !ok {
			return nil
		}
		g.Members = slices.Delete(g.Members, i, i+1)
		g.UpdatedAt = s.now().UTC()
		changed = true
		return s.saveGroup(t, g)
	})
	if err != nil {
		return err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: uid, EndedSessions: ended})
	s.Notify(Change{Kind: ChangeGroups})
	if changed {
		ev := audit.Event{Kind: audit.GroupUpdated, Subject: uid, Email: e, Detail: map[string]string{"group": gname, "member": "removed"}}
		if add {
			ev.Detail["member"] = "added"
		}
		if len(ended) > 0 {
			ev.Detail["sessions_ended"] = strconv.Itoa(len(ended))
		}
		s.Audit(ctx, ev)
	}
	return nil
}

// GroupDeletion says what deleting a group changed besides the group.
type GroupDeletion struct {
	Group *Group
	// Apps are the slugs of the apps whose allowlists named the group.
	Apps []string
	// Deactivated are those of them that allowed no other group: rather
	// than admit every active user, they now admit nobody until an admin
	// gives them groups again and reactivates them.
	Deactivated []string
	// DeniedRules are "slug rule-id" for the access rules that named the
	// group and no other: they now deny rather than admit more people.
	DeniedRules []string
}

// DeleteGroup removes a group and, in the same transaction, its id from
// every app's allowlist, so a group made later under the same name is not
// allowed by them. An app left without allowed groups is deactivated.
func (s *Service) DeleteGroup(ctx context.Context, name string) (*GroupDeletion, error) {
	n, err := NormalizeGroupName(name)
	if err != nil {
		return nil, err
	}
	var res GroupDeletion
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		res = GroupDeletion{}
		g, err := s.groups.GetBy(t, kv.PrefixGroupByName, n)
		if err != nil {
			return mapKV(err, "group "+n)
		}
		res.Group = g
		apps, err := s.apps.All(t)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		for _, a := range apps {
			rulesChanged, denied := dropRuleGroup(a.Rules, g.ID)
			for _, id := range denied {
				res.DeniedRules = append(res.DeniedRules, a.Slug+" "+id)
			}
			i := slices.Index(a.AllowedGroupIDs, g.ID)
			if i < 0 {
				if rulesChanged {
					res.Apps = append(res.Apps, a.Slug)
					a.UpdatedAt = now
					if err := s.apps.Put(t, a, 0); err != nil {
						return err
					}
				}
				continue
			}
			a.AllowedGroupIDs = slices.Delete(a.AllowedGroupIDs, i, i+1)
			res.Apps = append(res.Apps, a.Slug)
			if len(a.AllowedGroupIDs) == 0 {
				a.AllowedGroupIDs = nil
				if a.Active {
					a.Active = false
					res.Deactivated = append(res.Deactivated, a.Slug)
				}
			}
			a.UpdatedAt = now
			if err := s.apps.Put(t, a, 0); err != nil {
				return err
			}
		}
		return s.removeGroup(t, g)
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(res.Apps)
	slices.Sort(res.Deactivated)
	slices.Sort(res.DeniedRules)
	s.Notify(Change{Kind: ChangeGroups})
	if len(res.Apps) > 0 {
		s.Notify(Change{Kind: ChangeApps})
	}
	e := audit.Event{Kind: audit.GroupDeleted, Detail: map[string]string{"group": res.Group.Name}, Before: groupSnapshot(res.Group)}
	for k, v := range map[string][]string{"apps_changed": res.Apps, "apps_deactivated": res.Deactivated, "rules_denied": res.DeniedRules} {
		if len(v) > 0 {
			e.Detail[k] = strings.Join(v, ",")
		}
	}
	s.Audit(ctx, e)
	return &res, nil
}

// GroupIDsByName returns the ids of the named groups, in order. A name that
// is not a group is an *InvalidError for "group". Allowlists hold these
// ids; whoever stores them checks again that they exist, in the same
// transaction (UpdateApp does).
func (s *Service) GroupIDsByName(ctx context.Context, names []string) ([]string, error) {
	var ids []string
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		ids, err = s.groupIDsByName(t, names)
		return err
	})
	return ids, err
}

func (s *Service) groupIDsByName(t *kv.Txn, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(names))
	for _, name := range names {
		n, err := NormalizeGroupName(name)
		if err != nil {
			return nil, invalid("group", fmt.Sprintf("%q is not a valid group name", name))
		}
		g, err := s.groups.GetBy(t, kv.PrefixGroupByName, n)
		if errors.Is(err, kv.ErrNotFound) {
			return nil, invalid("group", fmt.Sprintf("%q does not exist; create it first", n))
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, g.ID)
	}
	return ids, nil
}

// GroupNames maps the ids of every group to their names, for showing
// allowlists.
func (s *Service) GroupNames(ctx context.Context) (map[string]string, error) {
	gs, err := s.Groups(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(gs))
	for _, g := range gs {
		m[g.ID] = g.Name
	}
	return m, nil
}
