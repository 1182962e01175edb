package control

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// UserCreate is the input of CreateUser.
type UserCreate struct {
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	Username string   `json:"username"`
	Admin    bool     `json:"admin"`
	Groups   []string `json:"groups"`
	// Password: none leaves the user awaiting an invitation.
	Password string          `json:"password"`
	Claims   json.RawMessage `json:"claims"`
}

// CreateUser makes a user, in the named groups.
func (env *Env) CreateUser(ctx context.Context, in UserCreate) (UserJSON, error) {
	if strings.TrimSpace(in.Email) == "" {
		return UserJSON{}, required("email")
	}
	// Named groups must exist: a typo is the input's mistake, not a
	// missing record.
	if _, err := env.Auth.GroupIDsByName(ctx, in.Groups); err != nil {
		return UserJSON{}, aliasFields(err, "group", "groups")
	}
	u, err := env.Auth.CreateUser(ctx, auth.NewUser{
		Email: in.Email, Username: in.Username, DisplayName: in.Name, Password: in.Password,
		Admin: in.Admin, Groups: in.Groups, Claims: string(in.Claims),
	})
	if err != nil {
		return UserJSON{}, err
	}
	return userJSON(u, normalizedGroups(in.Groups)), nil
}

// UserQuery selects a page of users, ordered by email.
type UserQuery struct {
	// Search matches a part of the email, username or name, in any case.
	Search string
	// Cursor is a page's Next: the page after it. "" is the first.
	Cursor string
	// Limit is the page size: 0 means DefaultPageSize, at most MaxPageSize.
	Limit int
	// All returns every match on one page (the CLI's list).
	All bool
}

// Page sizes of the user list.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// UserPage is one page of users.
type UserPage struct {
	Users []UserJSON `json:"users"`
	// Next is the Cursor of the next page; "" on the last one.
	Next string `json:"next,omitempty"`
}

// ListUsers returns the users matching q, one page at a time. The cursor
// is the last email of the page before, so a page stays right when users
// are added or removed between requests.
func (env *Env) ListUsers(ctx context.Context, q UserQuery) (UserPage, error) {
	limit := q.Limit
	switch {
	case q.All:
		limit = -1
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return UserPage{}, &FieldError{Field: "limit", Reason: "must be between 1 and 500"}
	}
	after := ""
	if q.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(b) == 0 {
			return UserPage{}, &FieldError{Field: "cursor", Reason: "is not a cursor a previous page gave"}
		}
		after = string(b)
	}
	users, err := env.Auth.Users(ctx) // sorted by email
	if err != nil {
		return UserPage{}, err
	}
	member, err := memberships(ctx, env)
	if err != nil {
		return UserPage{}, err
	}
	search := strings.ToLower(strings.TrimSpace(q.Search))
	page := UserPage{Users: []UserJSON{}}
	for _, u := range users {
		if after != "" && u.Email <= after {
			continue
		}
		if search != "" && !strings.Contains(u.Email, search) && !strings.Contains(u.Username, search) &&
			!strings.Contains(strings.ToLower(u.DisplayName), search) {
			continue
		}
		if limit >= 0 && len(page.Users) == limit {
			page.Next = base64.RawURLEncoding.EncodeToString([]byte(page.Users[len(page.Users)-1].Email))
			break
		}
		page.Users = append(page.Users, userJSON(u, member[u.ID]))
	}
	return page, nil
}

// memberships maps user ids to the names of their groups.
func memberships(ctx context.Context, env *Env) (map[string][]string, error) {
	groups, err := env.Auth.Groups(ctx)
	if err != nil {
		return nil, err
	}
	member := map[string][]string{}
	for _, g := range groups {
		for _, id := range g.Members {
			member[id] = append(member[id], g.Name)
		}
	}
	return member, nil
}

// user finds a user by id, or by email when ref has an '@'.
func (env *Env) user(ctx context.Context, ref string) (*auth.User, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, required("email")
	}
	if strings.Contains(ref, "@") {
		return env.Auth.UserByEmail(ctx, ref)
	}
	return env.Auth.User(ctx, ref)
}

func (env *Env) userOut(ctx context.Context, u *auth.User) (UserJSON, error) {
	gs, err := env.Auth.UserGroups(ctx, u.ID)
	if err != nil {
		return UserJSON{}, err
	}
	names := make([]string, 0, len(gs))
	for _, g := range gs {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	return userJSON(u, names), nil
}

// GetUser returns the user with the id (or email).
func (env *Env) GetUser(ctx context.Context, ref string) (UserJSON, error) {
	u, err := env.user(ctx, ref)
	if err != nil {
		return UserJSON{}, err
	}
	return env.userOut(ctx, u)
}

// UserUpdate is the input of UpdateUser; absent fields stay as they are.
type UserUpdate struct {
	Email    *string `json:"email"`
	Name     *string `json:"name"`
	Username *string `json:"username"`
	Admin    *bool   `json:"admin"`
	// Claims replaces the custom claims; {} or null clears them.
	Claims json.RawMessage `json:"claims"`
}

// UpdateUser changes the profile of the user with the id (or email).
func (env *Env) UpdateUser(ctx context.Context, ref string, in UserUpdate) (UserJSON, error) {
	u, err := env.user(ctx, ref)
	if err != nil {
		return UserJSON{}, err
	}
	up := auth.UserUpdate{Email: in.Email, Username: in.Username, DisplayName: in.Name, Admin: in.Admin}
	if in.Claims != nil {
		c := string(in.Claims)
		up.Claims = &c
	}
	if u, err = env.Auth.UpdateUser(ctx, u.Email, up); err != nil {
		return UserJSON{}, err
	}
	return env.userOut(ctx, u)
}

// SetUserEnabled enables or disables the user; disabling ends their
// sessions.
func (env *Env) SetUserEnabled(ctx context.Context, ref string, enabled bool) (UserJSON, error) {
	u, err := env.user(ctx, ref)
	if err != nil {
		return UserJSON{}, err
	}
	st := auth.StatusDisabled
	if enabled {
		st = auth.StatusActive
	}
	if u, err = env.Auth.SetStatus(ctx, u.Email, st); err != nil {
		return UserJSON{}, err
	}
	return env.userOut(ctx, u)
}

// DeleteUser removes the user with the id (or email) and returns their
// email.
func (env *Env) DeleteUser(ctx context.Context, ref string) (string, error) {
	u, err := env.user(ctx, ref)
	if err != nil {
		return "", err
	}
	return u.Email, env.Auth.DeleteUser(ctx, u.Email)
}

// SessionJSON is the shape of a session. Its id is the HMAC of the cookie,
// which names the session without being able to sign anyone in.
type SessionJSON struct {
	ID           string    `json:"id"`
	UserID       string    `json:"user_id"`
	IP           string    `json:"ip"`
	Device       string    `json:"device"`
	ACR          string    `json:"acr"`
	Remember     bool      `json:"remember"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	LastActiveAt time.Time `json:"last_active_at"`
}

// UserSessions lists the live sessions of the user, newest first.
func (env *Env) UserSessions(ctx context.Context, ref string) ([]SessionJSON, error) {
	u, err := env.user(ctx, ref)
	if err != nil {
		return nil, err
	}
	ss, err := env.Auth.UserSessions(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]SessionJSON, 0, len(ss))
	for _, s := range ss {
		out = append(out, SessionJSON{ID: s.ID, UserID: s.UserID, IP: s.IP, Device: s.Device, ACR: s.ACR, Remember: s.Remember,
			CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, LastActiveAt: s.LastActiveAt})
	}
	return out, nil
}

// Revoked says how many sessions a revocation ended.
type Revoked struct {
	Email    string `json:"email"`
	Sessions int    `json:"sessions"`
}

// RevokeUserSessions signs the user out everywhere (their OIDC tokens end
// too).
func (env *Env) RevokeUserSessions(ctx context.Context, ref string) (Revoked, error) {
	u, err := env.user(ctx, ref)
	if err != nil {
		return Revoked{}, err
	}
	n, err := env.Auth.RevokeSessions(ctx, u.Email)
	return Revoked{Email: u.Email, Sessions: n}, err
}

// RevokeSession ends one session by id; userRef, when set, must own it.
func (env *Env) RevokeSession(ctx context.Context, userRef, id string) error {
	if strings.TrimSpace(id) == "" {
		return required("id")
	}
	owner := ""
	if userRef != "" {
		u, err := env.user(ctx, userRef)
		if err != nil {
			return err
		}
		owner = u.ID
	}
	return env.Auth.EndSession(ctx, id, owner)
}
