package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/clinchsso/clinch/kv"
)

// What a signed-in person changes about themselves on the account page.
// Each change that matters for security asks for the current password,
// checked and counted like a sign-in, so that a session cookie alone
// (a browser left open, a stolen cookie) is not enough.

// MaxNameLen is the longest display name, in bytes.
const MaxNameLen = 200

// SetName changes the display name of the user with the id; "" clears it
// (pages then call the person by username or email).
func (s *Service) SetName(ctx context.Context, userID, name string) (*User, error) {
	name = strings.TrimSpace(name)
	if len(name) > MaxNameLen {
		return nil, invalid("name", fmt.Sprintf("is longer than %d characters", MaxNameLen))
	}
	var u *User
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		if u, err = s.users.Get(t, userID); err != nil {
			return mapKV(err, "user")
		}
		u.DisplayName = name
		u.UpdatedAt = s.now().UTC()
		return mapKV(s.users.Put(t, u, 0), "user")
	})
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: u.ID})
	return u, nil
}

// PasswordChange is the input to ChangePassword.
type PasswordChange struct {
	// Session is the browser asking; it stays signed in.
	Session *Session
	Current string
	New     string
	IP      string
}

// ChangePassword sets a signed-in user's password after checking their
// current one (ErrPasswordRequired, ErrInvalidCredentials or a
// *RateLimitError, counted like a sign-in). The new one follows
// CheckPassword (*InvalidError, nothing counted). In one transaction it
// ends every OTHER session of the user and, through the sign-out hooks,
// their OIDC grants, as "sign out everywhere" does; the asking session
// stays. It returns the ids of the sessions it ended.
func (s *Service) ChangePassword(ctx context.Context, in PasswordChange) ([]string, error) {
	if in.Session == nil {
		return nil, fmt.Errorf("password change: session: %w", ErrNotFound)
	}
	if err := CheckPassword(in.New); err != nil {
		return nil, err
	}
	if err := s.confirmPassword(ctx, in.Session.UserID, in.Current, in.IP); err != nil {
		return nil, err
	}
	h, err := s.hashPassword(in.New)
	if err != nil {
		return nil, err
	}
	var u *User
	var ended []string
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		if u, err = s.users.Get(t, in.Session.UserID); err != nil {
			return mapKV(err, "user")
		}
		if u.Status != StatusActive {
			return fmt.Errorf("password change: user: %w", ErrNotFound)
		}
		// The asking session must still be live: one ended meanwhile (by
		// another device's "sign out") changes nothing.
		live, err := s.sessions.Get(t, in.Session.ID)
		if err != nil || live.UserID != u.ID || !s.now().Before(live.ExpiresAt) {
			return fmt.Errorf("password change: session: %w", ErrNotFound)
		}
		u.PasswordHash = h
		u.PasswordVersion++
		u.UpdatedAt = s.now().UTC()
		if ended, err = s.deleteUserSessionsExcept(t, u.ID, in.Session.ID); err != nil {
			return err
		}
		return mapKV(s.users.Put(t, u, 0), "user")
	})
	if errors.Is(err, kv.ErrTxnConflict) {
		// Another change of this user at the same moment: refused, and
		// said to be tried again, rather than half done.
		return nil, &RateLimitError{RetryAfter: busyRetry, Scope: ScopeAccount}
	}
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: u.ID, EndedSessions: ended})
	s.announce(ctx, EventPasswordChanged, u.ID, u, "")
	return ended, nil
}
