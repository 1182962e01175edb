package auth

import (
	"context"
	"slices"
	"strings"

	"github.com/clinchsso/clinch/kv"
)

// Overview is what the admin dashboard shows: how much there is, and the
// admins an attacker with only their password could act as.
type Overview struct {
	Users, Groups, Apps, Sessions int
	// AdminsWithoutSecondFactor are the active admins with neither an
	// authenticator app nor a passkey, ordered by email.
	AdminsWithoutSecondFactor []*User
}

// Overview counts users, groups, applications and live sessions in one
// read transaction, and finds the admins without a second factor.
func (s *Service) Overview(ctx context.Context) (*Overview, error) {
	o := &Overview{}
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		if o.Groups, err = s.groups.Count(t, 0); err != nil {
			return err
		}
		if o.Apps, err = s.apps.Count(t, 0); err != nil {
			return err
		}
		if o.Sessions, err = s.sessions.Count(t, 0); err != nil {
			return err
		}
		// Users are decoded, not just counted, to find the admins.
		return s.users.Each(t, func(u *User) error {
			o.Users++
			if !u.Admin || u.Status != StatusActive {
				return nil
			}
			f, err := s.factorsIn(t, u.ID)
			if err != nil || f.has() {
				return err
			}
			pk, err := s.hasPasskey(t, u.ID)
			if err != nil || pk {
				return err
			}
			o.AdminsWithoutSecondFactor = append(o.AdminsWithoutSecondFactor, u)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(o.AdminsWithoutSecondFactor, func(a, b *User) int { return strings.Compare(a.Email, b.Email) })
	return o, nil
}
