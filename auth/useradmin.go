package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// The admin pages' view of users: a page of users found by a search, and
// one edit of many fields at once.

// UserQuery asks for one page of users, ordered by email.
type UserQuery struct {
	// Search, when set, keeps the users whose email, username or display
	// name contains it (case-insensitive).
	Search string
	// After is the cursor: the email of the last user of the page before
	// ("" for the first page).
	After string
	// Limit is the page size (default and maximum MaxUserPage).
	Limit int
}

// MaxUserPage is the most users one page holds.
const MaxUserPage = 100

// UserPage is one page of users.
type UserPage struct {
	Users []*User
	// Next is the cursor of the next page; "" on the last page.
	Next string
}

// FindUsers returns one page of users. Without a search it walks the
// email index from the cursor, so a page costs its own size however many
// users there are. A search reads every user record once, in one pass
// over the store, and decodes only the records whose raw bytes contain
// the search text.
func (s *Service) FindUsers(ctx context.Context, q UserQuery) (*UserPage, error) {
	if q.Limit <= 0 || q.Limit > MaxUserPage {
		q.Limit = MaxUserPage
	}
	after := strings.ToLower(q.After)
	needle := strings.ToLower(strings.TrimSpace(q.Search))
	if needle != "" {
		return s.searchUsers(ctx, needle, after, q.Limit)
	}
	p := &UserPage{}
	err := s.store.View(ctx, func(t *kv.Txn) error {
		p.Users, p.Next = nil, ""
		return s.users.EachBy(t, kv.PrefixUserByEmail, after, func(u *User) error {
			if len(p.Users) == q.Limit {
				// One more exists: the page is full and has a next one.
				p.Next = p.Users[len(p.Users)-1].Email
				return kv.ErrStop
			}
			p.Users = append(p.Users, u)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Service) searchUsers(ctx context.Context, needle, after string, limit int) (*UserPage, error) {
	// The raw JSON holds the fields searched as they are, except for
	// characters JSON escapes; a needle with one of those skips the
	// cheap test.
	raw := []byte(needle)
	quick := !strings.ContainsAny(needle, "<>&\\\"") && !strings.ContainsFunc(needle, func(r rune) bool { return r < 0x20 })
	var found []*User
	err := s.store.View(ctx, func(t *kv.Txn) error {
		found = nil
		return t.Scan([]byte(kv.PrefixUser), func(_, v []byte) error {
			if quick && !bytes.Contains(bytes.ToLower(v), raw) {
				return nil
			}
			u := new(User)
			if err := json.Unmarshal(v, u); err != nil {
				return fmt.Errorf("auth: decode user: %w", err)
			}
			if u.Email > after && u.matches(needle) {
				found = append(found, u)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(found, func(a, b *User) int { return strings.Compare(a.Email, b.Email) })
	p := &UserPage{Users: found}
	if len(found) > limit {
		p.Users = found[:limit:limit]
		p.Next = p.Users[limit-1].Email
	}
	return p, nil
}

// UserByLogin returns the user with the email or username login.
func (s *Service) UserByLogin(ctx context.Context, login string) (*User, error) {
	var u *User
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		u, err = s.userByLogin(t, strings.ToLower(strings.TrimSpace(login)))
		return err
	})
	return u, mapKV(err, "user")
}

// matches reports whether the lower-case needle is in the user's email,
// username or display name.
func (u *User) matches(needle string) bool {
	return strings.Contains(u.Email, needle) || strings.Contains(u.Username, needle) ||
		strings.Contains(strings.ToLower(u.DisplayName), needle)
}

// UserUpdate changes a user; nil fields stay as they are.
type UserUpdate struct {
	Email       *string
	Username    *string
	DisplayName *string
	Admin       *bool
	Claims      *string
	// Groups, when not nil, is the whole new set of group names.
	Groups *[]string
}

// UpdateUser applies in to the user with the email, in one transaction:
// either every field changes or none does. Taking admin away from the
// last active admin is refused (ErrLastAdmin). Joining a group that
// requires a second factor, without one, ends the user's sessions as
// AddToGroup does.
func (s *Service) UpdateUser(ctx context.Context, email string, in UserUpdate) (*User, error) {
	var newEmail, newUsername string
	var claims []byte
	var err error
	if in.Email != nil {
		if newEmail, err = NormalizeEmail(*in.Email); err != nil {
			return nil, err
		}
	}
	if in.Username != nil {
		if newUsername, err = NormalizeUsername(*in.Username); err != nil {
			return nil, err
		}
	}
	if in.DisplayName != nil && len(strings.TrimSpace(*in.DisplayName)) > 200 {
		return nil, invalid("name", "is longer than 200 characters")
	}
	if in.Claims != nil {
		if claims, err = NormalizeClaims(*in.Claims); err != nil {
			return nil, err
		}
	}
	var groups []string
	if in.Groups != nil {
		for _, g := range *in.Groups {
			n, err := NormalizeGroupName(g)
			if err != nil {
				return nil, invalid("groups", fmt.Sprintf("%q is not a group name", g))
			}
			if !slices.Contains(groups, n) {
				groups = append(groups, n)
			}
		}
	}
	var joined, left []string
	oldEmail := ""
	u, err := s.updateUserEndingAs(ctx, audit.UserUpdated, email, func(t *kv.Txn, u *User) ([]string, error) {
		if in.Email != nil && newEmail != u.Email {
			if _, err := s.users.GetBy(t, kv.PrefixUserByEmail, newEmail); err == nil {
				return nil, fmt.Errorf("user with email %s: %w", newEmail, ErrConflict)
			}
			oldEmail, u.Email = u.Email, newEmail
		}
		if in.Username != nil && newUsername != u.Username {
			if newUsername != "" {
				if _, err := s.users.GetBy(t, kv.PrefixUserByUsername, newUsername); err == nil {
					return nil, fmt.Errorf("user with username %s: %w", newUsername, ErrConflict)
				}
			}
			u.Username = newUsername
		}
		if in.DisplayName != nil {
			u.DisplayName = strings.TrimSpace(*in.DisplayName)
		}
		if in.Claims != nil {
			u.Claims = claims
		}
		if in.Admin != nil && u.Admin && !*in.Admin && u.Status == StatusActive {
			if err := s.ensureOtherAdmin(t, u.ID); err != nil {
				return nil, err
			}
		}
		if in.Admin != nil {
			u.Admin = *in.Admin
		}
		if in.Groups == nil {
			return nil, nil
		}
		var err error
		joined, left, err = s.setGroups(t, u.ID, groups)
		if err != nil {
			return nil, err
		}
		strict, err := s.requiresSecondFactor(t, joined)
		if err != nil {
			return nil, err
		}
		return s.endIfLacking(t, u.ID, strict)
	})
	if err != nil {
		return nil, err
	}
	if in.Groups != nil {
		s.Notify(Change{Kind: ChangeGroups})
	}
	// An admin's change of address is told to both addresses, as the
	// person's own change is: a hijack by a rogue admin is not silent.
	if oldEmail != "" {
		s.announceEvent(SecurityEvent{Kind: EventEmailChanged, User: u, OldEmail: oldEmail, At: s.now().UTC()})
	}
	// Membership is recorded as the groups' change, as `clinch group
	// add|remove` records it.
	for _, g := range joined {
		s.Audit(ctx, audit.Event{Kind: audit.GroupUpdated, Subject: u.ID, Email: u.Email, Detail: map[string]string{"group": g, "member": "added"}})
	}
	for _, g := range left {
		s.Audit(ctx, audit.Event{Kind: audit.GroupUpdated, Subject: u.ID, Email: u.Email, Detail: map[string]string{"group": g, "member": "removed"}})
	}
	return u, nil
}

// setGroups makes the user a member of exactly the named groups and
// returns the groups joined and left.
func (s *Service) setGroups(t *kv.Txn, userID string, names []string) (joined, left []string, err error) {
	all, err := s.groups.All(t)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range names {
		if !slices.ContainsFunc(all, func(g *Group) bool { return g.Name == n }) {
			return nil, nil, fmt.Errorf("group %s: %w", n, ErrNotFound)
		}
	}
	now := s.now().UTC()
	for _, g := range all {
		want := slices.Contains(names, g.Name)
		i, is := slices.BinarySearch(g.Members, userID)
		switch {
		case want && !is:
			g.Members = slices.Insert(g.Members, i, userID)
			joined = append(joined, g.Name)
		case !want && is:
			g.Members = slices.Delete(g.Members, i, i+1)
			left = append(left, g.Name)
		default:
			continue
		}
		g.UpdatedAt = now
		if err := s.saveGroup(t, g); err != nil {
			return nil, nil, err
		}
	}
	return joined, left, nil
}

// requiresSecondFactor reports whether one of the named groups requires a
// second factor.
func (s *Service) requiresSecondFactor(t *kv.Txn, names []string) (bool, error) {
	for _, n := range names {
		g, err := s.groups.GetBy(t, kv.PrefixGroupByName, n)
		if err != nil {
			return false, mapKV(err, "group "+n)
		}
		if g.RequireSecondFactor {
			return true, nil
		}
	}
	return false, nil
}
