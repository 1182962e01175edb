package auth

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// Second factors from the admin's side (`clinch user totp …`, `clinch
// user mfa reset`, `clinch group update --require-second-factor`).
//
// Requiring a second factor of someone who has none ends their sessions
// (and so their OIDC grants), in the transaction that sets the
// requirement: their next sign-in takes them to TOTP set-up right after
// the password, and nothing (pages, OIDC, ForwardAuth) is reachable until
// it is done. Someone who already has a second factor keeps their
// sessions.

// SetRequireSecondFactor sets or lifts the user's own requirement. It
// returns the user and the ids of the sessions it ended.
func (s *Service) SetRequireSecondFactor(ctx context.Context, email string, required bool) (*User, []string, error) {
	var ended []string
	u, err := s.updateUserEnding(ctx, email, func(t *kv.Txn, u *User) ([]string, error) {
		u.RequireSecondFactor = required
		var err error
		ended, err = s.endIfLacking(t, u.ID, required)
		return ended, err
	})
	if err != nil {
		return nil, nil, err
	}
	return u, ended, nil
}

// endIfLacking ends every session of the user when a second factor is now
// required and they have none.
func (s *Service) endIfLacking(t *kv.Txn, userID string, required bool) ([]string, error) {
	if !required {
		return nil, nil
	}
	f, err := s.factorsIn(t, userID)
	if err != nil || f.has() {
		return nil, err
	}
	if pk, err := s.hasPasskey(t, userID); err != nil || pk {
		return nil, err
	}
	return s.deleteUserSessions(t, userID)
}

// RemoveTOTP removes the user's authenticator app and backup codes, as an
// admin: no proof is asked. While a second factor is required of the user
// it is refused (ErrSecondFactorRequired): lift the requirement, or use
// ResetSecondFactors, which also signs them out so they set up a new one
// at their next sign-in. ErrNoTOTP when there is none.
func (s *Service) RemoveTOTP(ctx context.Context, email string) (*User, error) {
	u, err := s.updateUserAs(ctx, audit.SecondFactorRemoved, email, func(t *kv.Txn, u *User) error {
		f, err := s.factorsIn(t, u.ID)
		if err != nil {
			return err
		}
		if !f.has() {
			return ErrNoTOTP
		}
		by, err := s.requirement(t, u)
		if err != nil {
			return err
		}
		if len(by) > 0 {
			return ErrSecondFactorRequired
		}
		return s.putFactors(t, &secondFactors{UserID: u.ID})
	})
	if err == nil {
		s.announce(ctx, EventTOTPRemoved, u.ID, u, "")
	}
	return u, err
}

// ResetSecondFactors removes every second factor of the user (TOTP,
// backup codes, a set-up under way) and ends all their sessions, for a
// person who lost their phone. It returns how many sessions ended.
func (s *Service) ResetSecondFactors(ctx context.Context, email string) (*User, int, error) {
	var n int
	u, err := s.updateUserEndingAs(ctx, audit.SecondFactorReset, email, func(t *kv.Txn, u *User) ([]string, error) {
		if err := s.putFactors(t, &secondFactors{UserID: u.ID}); err != nil {
			return nil, err
		}
		if err := s.deleteUserPasskeys(t, u.ID); err != nil {
			return nil, err
		}
		ended, err := s.deleteUserSessions(t, u.ID)
		n = len(ended)
		return ended, err
	})
	if err == nil {
		s.announce(ctx, EventSecondFactorsReset, u.ID, u, "")
	}
	return u, n, err
}

// GroupUpdate changes a group; nil fields stay as they are.
type GroupUpdate struct {
	Name        *string
	Description *string
	Claims      *string
	// RequireSecondFactor: every member must have a second factor.
	RequireSecondFactor *bool
}

// GroupUpdated is what UpdateGroup changed.
type GroupUpdated struct {
	Group *Group
	// SignedOut are the emails of the members signed out because the
	// group now requires a second factor and they have none.
	SignedOut []string
}

// UpdateGroup applies in to the group named name. Turning on
// RequireSecondFactor ends, in the same transaction, every session of the
// members who have no second factor.
func (s *Service) UpdateGroup(ctx context.Context, name string, in GroupUpdate) (*GroupUpdated, error) {
	n, err := NormalizeGroupName(name)
	if err != nil {
		return nil, err
	}
	var newName, claims string
	if in.Name != nil {
		if newName, err = NormalizeGroupName(*in.Name); err != nil {
			return nil, err
		}
	}
	if in.Claims != nil {
		c, err := NormalizeClaims(*in.Claims)
		if err != nil {
			return nil, err
		}
		claims = string(c)
	}
	var res GroupUpdated
	var before json.RawMessage
	ended := map[string][]string{} // user id → sessions
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		res = GroupUpdated{}
		clear(ended)
		g, err := s.groups.GetBy(t, kv.PrefixGroupByName, n)
		if err != nil {
			return mapKV(err, "group "+n)
		}
		before = groupSnapshot(g)
		if in.Name != nil {
			g.Name = newName
		}
		if in.Description != nil {
			g.Description = strings.TrimSpace(*in.Description)
		}
		if in.Claims != nil {
			g.Claims = nil
			if claims != "" {
				g.Claims = []byte(claims)
			}
		}
		turnedOn := false
		if in.RequireSecondFactor != nil {
			turnedOn = *in.RequireSecondFactor && !g.RequireSecondFactor
			g.RequireSecondFactor = *in.RequireSecondFactor
		}
		g.UpdatedAt = s.now().UTC()
		if err := s.saveGroup(t, g); err != nil {
			return mapKV(err, "group "+g.Name)
		}
		res.Group = g
		if !turnedOn {
			return nil
		}
		for _, id := range g.Members {
			ids, err := s.endIfLacking(t, id, true)
			if err != nil {
				return err
			}
			if len(ids) > 0 {
				ended[id] = ids
				if u, err := s.users.Get(t, id); err == nil {
					res.SignedOut = append(res.SignedOut, u.Email)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeGroups})
	for id, ids := range ended {
		s.Notify(Change{Kind: ChangeUser, UserID: id, EndedSessions: ids})
	}
	e := audit.Event{Kind: audit.GroupUpdated, Detail: map[string]string{"group": res.Group.Name}, Before: before, After: groupSnapshot(res.Group)}
	if len(res.SignedOut) > 0 {
		e.Detail["signed_out"] = strings.Join(res.SignedOut, ",")
	}
	s.Audit(ctx, e)
	return &res, nil
}

// deleteFactors removes the user's second-factor record, when deleting
// the user.
func (s *Service) deleteFactors(t *kv.Txn, userID string) error {
	if err := s.factors.Delete(t, userID); err != nil && !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	return nil
}
