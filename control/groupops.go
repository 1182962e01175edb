package control

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/clinchsso/clinch/auth"
)

// userEmails maps user ids to emails, for showing members.
func userEmails(ctx context.Context, env *Env) (map[string]string, error) {
	users, err := env.Auth.Users(ctx)
	if err != nil {
		return nil, err
	}
	emails := make(map[string]string, len(users))
	for _, u := range users {
		emails[u.ID] = u.Email
	}
	return emails, nil
}

// ListGroups returns every group with its members' emails.
func (env *Env) ListGroups(ctx context.Context) ([]GroupJSON, error) {
	groups, err := env.Auth.Groups(ctx)
	if err != nil {
		return nil, err
	}
	emails, err := userEmails(ctx, env)
	if err != nil {
		return nil, err
	}
	js := make([]GroupJSON, 0, len(groups))
	for _, g := range groups {
		js = append(js, groupJSON(g, emails))
	}
	return js, nil
}

// GetGroup returns the group with the name.
func (env *Env) GetGroup(ctx context.Context, name string) (GroupJSON, error) {
	if strings.TrimSpace(name) == "" {
		return GroupJSON{}, required("name")
	}
	g, err := env.Auth.Group(ctx, name)
	if err != nil {
		return GroupJSON{}, err
	}
	emails, err := userEmails(ctx, env)
	if err != nil {
		return GroupJSON{}, err
	}
	return groupJSON(g, emails), nil
}

// GroupCreate is the input of CreateGroup.
type GroupCreate struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Claims      json.RawMessage `json:"claims"`
}

// CreateGroup makes an empty group.
func (env *Env) CreateGroup(ctx context.Context, in GroupCreate) (GroupJSON, error) {
	if strings.TrimSpace(in.Name) == "" {
		return GroupJSON{}, required("name")
	}
	g, err := env.Auth.CreateGroup(ctx, in.Name, in.Description, string(in.Claims))
	if err != nil {
		return GroupJSON{}, err
	}
	return groupJSON(g, nil), nil
}

// GroupUpdate is the input of UpdateGroup; absent fields stay as they are.
type GroupUpdate struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	// Claims replaces the custom claims; {} or null clears them.
	Claims json.RawMessage `json:"claims"`
	// RequireSecondFactor: members without one are signed out and set one
	// up at their next sign-in.
	RequireSecondFactor *bool `json:"require_second_factor"`
}

// GroupUpdated is a group after UpdateGroup.
type GroupUpdated struct {
	GroupJSON
	// SignedOut are the members signed out because the group now requires
	// a second factor they do not have.
	SignedOut []string `json:"signed_out"`
}

// UpdateGroup changes the group with the name.
func (env *Env) UpdateGroup(ctx context.Context, name string, in GroupUpdate) (GroupUpdated, error) {
	if strings.TrimSpace(name) == "" {
		return GroupUpdated{}, required("name")
	}
	up := auth.GroupUpdate{Name: in.Name, Description: in.Description, RequireSecondFactor: in.RequireSecondFactor}
	if in.Claims != nil {
		c := string(in.Claims)
		up.Claims = &c
	}
	var res *auth.GroupUpdated
	if up == (auth.GroupUpdate{}) {
		// Nothing to change: answer with the group as it is.
		g, err := env.Auth.Group(ctx, name)
		if err != nil {
			return GroupUpdated{}, err
		}
		res = &auth.GroupUpdated{Group: g}
	} else {
		var err error
		if res, err = env.Auth.UpdateGroup(ctx, name, up); err != nil {
			return GroupUpdated{}, err
		}
	}
	emails, err := userEmails(ctx, env)
	if err != nil {
		return GroupUpdated{}, err
	}
	out := GroupUpdated{GroupJSON: groupJSON(res.Group, emails), SignedOut: res.SignedOut}
	if out.SignedOut == nil {
		out.SignedOut = []string{}
	}
	return out, nil
}

// GroupDeleted is what deleting a group changed.
type GroupDeleted struct {
	Name string `json:"name"`
	// Apps are the slugs of the apps whose allowlists named the group.
	Apps []string `json:"apps"`
	// Deactivated: apps that allowed no other group and now admit nobody.
	Deactivated []string `json:"deactivated"`
	// DeniedRules: "slug rule-id" of access rules that now deny.
	DeniedRules []string `json:"denied_rules"`
}

// DeleteGroup removes the group with the name.
func (env *Env) DeleteGroup(ctx context.Context, name string) (GroupDeleted, error) {
	if strings.TrimSpace(name) == "" {
		return GroupDeleted{}, required("name")
	}
	del, err := env.Auth.DeleteGroup(ctx, name)
	if err != nil {
		return GroupDeleted{}, err
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return GroupDeleted{Name: del.Group.Name, Apps: nonNil(del.Apps), Deactivated: nonNil(del.Deactivated), DeniedRules: nonNil(del.DeniedRules)}, nil
}

// SetGroupMember adds the user with the id (or email) to the group, or
// removes them.
func (env *Env) SetGroupMember(ctx context.Context, group, userRef string, member bool) (GroupJSON, error) {
	if strings.TrimSpace(group) == "" {
		return GroupJSON{}, required("group")
	}
	u, err := env.user(ctx, userRef)
	if err != nil {
		return GroupJSON{}, err
	}
	if member {
		err = env.Auth.AddToGroup(ctx, group, u.Email)
	} else {
		err = env.Auth.RemoveFromGroup(ctx, group, u.Email)
	}
	if err != nil {
		return GroupJSON{}, err
	}
	return env.GetGroup(ctx, group)
}
