package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/clinchsso/clinch/kv"
)

// ImportedUser is an account taken over from another server (Authelia's
// users file, say).
type ImportedUser struct {
	Username     string
	Email        string
	DisplayName  string
	PasswordHash string // see CheckImportedHash
	Groups       []string
	Disabled     bool
}

// ImportAction is what ImportUser did, or would do, to one user.
type ImportAction string

const (
	ImportCreated   ImportAction = "created"
	ImportUpdated   ImportAction = "updated"
	ImportUnchanged ImportAction = "unchanged"
)

// ImportResult says what ImportUser did: the action, the user's email and
// what changed ("display name", "group +dev", "group dev created", ...), in
// a fixed order.
type ImportResult struct {
	Action  ImportAction
	Email   string
	Changes []string
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// ImportUser creates or updates one user from another server, in one
// transaction. The user is found by email or by username (both naming
// different users is refused). A new user gets everything from in. An
// existing user gets the email, username and display name from in, joins
// in's groups (missing groups are created; other memberships are kept),
// is disabled when in.Disabled (an import never enables anyone), and
// takes the password hash only when they have no password yet: a password
// already set in Clinch, or an imported one since rehashed, is kept, which
// makes a second import of the same file change nothing. Admin rights,
// claims and second factors are never touched.
//
// With dryRun the same work is done in a transaction that is then thrown
// away: the result says what would change, and nothing is written.
func (s *Service) ImportUser(ctx context.Context, in ImportedUser, dryRun bool) (*ImportResult, error) {
	want, err := normalizeImported(in)
	if err != nil {
		return nil, err
	}
	var res *ImportResult
	var uid string
	var ended []string
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		res, uid, ended, err = s.importUser(t, want)
		if err != nil {
			return err
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	if res.Action != ImportUnchanged {
		s.Notify(Change{Kind: ChangeUser, UserID: uid, EndedSessions: ended})
		s.Notify(Change{Kind: ChangeGroups})
	}
	return res, nil
}

// normalizeImported checks and normalises every field before any store
// access.
func normalizeImported(in ImportedUser) (ImportedUser, error) {
	var err error
	out := in
	if out.Email, err = NormalizeEmail(in.Email); err != nil {
		return out, err
	}
	if out.Username, err = NormalizeUsername(in.Username); err != nil {
		return out, err
	}
	out.DisplayName = strings.TrimSpace(in.DisplayName)
	if len(out.DisplayName) > 200 {
		return out, invalid("name", "is longer than 200 characters")
	}
	if err := CheckImportedHash(in.PasswordHash); err != nil {
		return out, err
	}
	out.Groups = nil
	for _, g := range in.Groups {
		n, err := NormalizeGroupName(g)
		if err != nil {
			return out, fmt.Errorf("group %q: %w", g, err)
		}
		if !slices.Contains(out.Groups, n) {
			out.Groups = append(out.Groups, n)
		}
	}
	slices.Sort(out.Groups)
	return out, nil
}

// importUser does ImportUser's work inside t.
func (s *Service) importUser(t *kv.Txn, in ImportedUser) (res *ImportResult, uid string, ended []string, err error) {
	u, err := s.importMatch(t, in)
	if err != nil {
		return nil, "", nil, err
	}
	res = &ImportResult{Email: in.Email}
	for _, g := range in.Groups {
		created, err := s.ensureGroup(t, g)
		if err != nil {
			return nil, "", nil, err
		}
		if created {
			res.Changes = append(res.Changes, "group "+g+" created")
		}
	}
	if u == nil {
		u, err = s.importNew(t, in)
		if err != nil {
			return nil, "", nil, err
		}
		res.Action = ImportCreated
		return res, u.ID, nil, nil
	}
	changes, ended, err := s.importExisting(t, u, in)
	if err != nil {
		return nil, "", nil, err
	}
	res.Changes = append(res.Changes, changes...)
	res.Action = ImportUnchanged
	if len(res.Changes) > 0 {
		res.Action = ImportUpdated
	}
	return res, u.ID, ended, nil
}

// importMatch finds the user in names by email or username; nil when
// neither exists.
func (s *Service) importMatch(t *kv.Txn, in ImportedUser) (*User, error) {
	byEmail, err := s.users.GetBy(t, kv.PrefixUserByEmail, in.Email)
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return nil, err
	}
	var byName *User
	if in.Username != "" {
		byName, err = s.users.GetBy(t, kv.PrefixUserByUsername, in.Username)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return nil, err
		}
	}
	if byEmail != nil && byName != nil && byEmail.ID != byName.ID {
		return nil, fmt.Errorf("email %s belongs to one user and username %s to another: %w", in.Email, in.Username, ErrConflict)
	}
	if byEmail != nil {
		return byEmail, nil
	}
	return byName, nil
}

// ensureGroup creates the group when it is missing.
func (s *Service) ensureGroup(t *kv.Txn, name string) (created bool, err error) {
	_, err = s.groups.GetBy(t, kv.PrefixGroupByName, name)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, kv.ErrNotFound) {
		return false, err
	}
	now := s.now().UTC()
	g := &Group{ID: NewID(), Name: name, CreatedAt: now, UpdatedAt: now}
	return true, mapKV(s.saveGroup(t, g), "group "+name)
}

func (s *Service) importNew(t *kv.Txn, in ImportedUser) (*User, error) {
	now := s.now().UTC()
	u := &User{
		ID: NewID(), Email: in.Email, Username: in.Username, DisplayName: in.DisplayName,
		PasswordHash: []byte(in.PasswordHash), PasswordVersion: 1,
		Status: StatusActive, CreatedAt: now, UpdatedAt: now,
	}
	if in.Disabled {
		u.Status = StatusDisabled
	}
	return u, s.insertUser(t, u, in.Groups)
}

// importExisting applies in to u and returns what changed and the
// sessions it ended.
func (s *Service) importExisting(t *kv.Txn, u *User, in ImportedUser) (changes, ended []string, err error) {
	set := func(field string, dst *string, v string) {
		if *dst != v {
			*dst = v
			changes = append(changes, field)
		}
	}
	set("email", &u.Email, in.Email)
	if in.Username != "" {
		set("username", &u.Username, in.Username)
	}
	set("display name", &u.DisplayName, in.DisplayName)
	if len(u.PasswordHash) == 0 {
		u.PasswordHash = []byte(in.PasswordHash)
		u.PasswordVersion++
		if u.Status == StatusPendingInvitation {
			u.Status = StatusActive
		}
		changes = append(changes, "password")
	}
	if in.Disabled && u.Status != StatusDisabled {
		if u.Admin && u.Status == StatusActive {
			if err := s.ensureOtherAdmin(t, u.ID); err != nil {
				return nil, nil, err
			}
		}
		u.Status = StatusDisabled
		if ended, err = s.deleteUserSessions(t, u.ID); err != nil {
			return nil, nil, err
		}
		changes = append(changes, "disabled")
	}
	for _, g := range in.Groups {
		gr, err := s.groups.GetBy(t, kv.PrefixGroupByName, g)
		if err != nil {
			return nil, nil, mapKV(err, "group "+g)
		}
		if _, ok := slices.BinarySearch(gr.Members, u.ID); ok {
			continue
		}
		if err := s.addMember(t, g, u.ID); err != nil {
			return nil, nil, err
		}
		changes = append(changes, "group +"+g)
		// Joining a group that requires a second factor, without one,
		// signs the user out, as `clinch group add` does.
		e, err := s.endIfLacking(t, u.ID, gr.RequireSecondFactor)
		if err != nil {
			return nil, nil, err
		}
		ended = append(ended, e...)
	}
	if len(changes) == 0 {
		return nil, nil, nil
	}
	u.UpdatedAt = s.now().UTC()
	if err := s.users.Put(t, u, 0); err != nil {
		return nil, nil, mapKV(err, "user")
	}
	return changes, ended, nil
}
