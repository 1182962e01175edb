package auth

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/clinchsso/clinch/kv"
)

// User-app claims are custom claims one user has at one OIDC app; they win
// over group and user claims in that app's ID tokens. Stored under
// claims/userapp/<user id>/<app id>.

func userAppClaimsKey(userID, appID string) []byte {
	return kv.PrefixUserAppClaims.Key(userID + "/" + appID)
}

// SetUserAppClaims replaces the custom claims of the user with the email at
// the app with the slug; an empty object removes them.
func (s *Service) SetUserAppClaims(ctx context.Context, email, appSlug, claims string) error {
	e, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	c, err := NormalizeClaims(claims)
	if err != nil {
		return err
	}
	var uid string
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		u, err := s.userByEmail(t, e)
		if err != nil {
			return err
		}
		a, err := s.apps.GetBy(t, kv.PrefixAppBySlug, strings.ToLower(appSlug))
		if err != nil {
			return mapKV(err, "app "+appSlug)
		}
		if a.Type != AppOIDC {
			return invalid("app", "is not an OIDC app; claims apply to ID tokens")
		}
		uid = u.ID
		if len(c) == 0 {
			return t.Delete(userAppClaimsKey(u.ID, a.ID))
		}
		return t.Set(userAppClaimsKey(u.ID, a.ID), c, 0)
	})
	if err != nil {
		return err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: uid})
	return nil
}

// UserAppClaims returns the user's custom claims at the app (by ids), or
// nil.
func (s *Service) UserAppClaims(ctx context.Context, userID, appID string) (json.RawMessage, error) {
	var out json.RawMessage
	err := s.store.View(ctx, func(t *kv.Txn) error {
		b, err := t.Get(userAppClaimsKey(userID, appID))
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		out = b
		return err
	})
	return out, err
}
