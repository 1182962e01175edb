package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// UserUpdate is a change to a user's profile; nil fields stay as they are.
type UserUpdate struct {
	Email       *string
	Username    *string
	DisplayName *string
	Admin       *bool
	Claims      *string
}

// UpdateUser applies in to the user with the email, in one transaction: an
// address or username another user holds is ErrConflict and nothing is
// written; taking admin away from the last active admin is ErrLastAdmin.
func (s *Service) UpdateUser(ctx context.Context, email string, in UserUpdate) (*User, error) {
	var newEmail, username, name string
	var claims []byte
	var err error
	if in.Email != nil {
		if newEmail, err = NormalizeEmail(*in.Email); err != nil {
			return nil, err
		}
	}
	if in.Username != nil {
		if username, err = NormalizeUsername(*in.Username); err != nil {
			return nil, err
		}
	}
	if in.DisplayName != nil {
		if name = strings.TrimSpace(*in.DisplayName); len(name) > 200 {
			return nil, invalid("name", "is longer than 200 characters")
		}
	}
	if in.Claims != nil {
		if claims, err = NormalizeClaims(*in.Claims); err != nil {
			return nil, err
		}
	}
	return s.updateUser(ctx, audit.UserUpdated, email, func(t *kv.Txn, u *User) error {
		if in.Email != nil && newEmail != u.Email {
			if _, err := s.users.GetBy(t, kv.PrefixUserByEmail, newEmail); err == nil {
				return fmt.Errorf("user with email %s: %w", newEmail, ErrConflict)
			}
			u.Email = newEmail
		}
		if in.Username != nil && username != u.Username {
			if username != "" {
				if _, err := s.users.GetBy(t, kv.PrefixUserByUsername, username); err == nil {
					return fmt.Errorf("user with username %s: %w", username, ErrConflict)
				}
			}
			u.Username = username
		}
		if in.DisplayName != nil {
			u.DisplayName = name
		}
		if in.Admin != nil && !*in.Admin && u.Admin && u.Status == StatusActive {
			if err := s.ensureOtherAdmin(t, u.ID); err != nil {
				return err
			}
		}
		if in.Admin != nil {
			u.Admin = *in.Admin
		}
		if in.Claims != nil {
			u.Claims = claims
		}
		return nil
	})
}
