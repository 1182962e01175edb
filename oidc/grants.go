package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

// Grants ends what was issued to users and clients: every token of a
// user (at one app or all), of a client. It needs only the store, so the
// admin commands use it without a running server, and it hooks into the
// auth service so that "sign out everywhere" and deactivating or deleting
// a client take their tokens with them in the same transaction.
type Grants struct {
	store  *kv.Store
	grants *kv.Collection[grantRecord]
	access *kv.Collection[accessRecord]
}

// NewGrants returns the revoker over store.
func NewGrants(store *kv.Store) *Grants {
	return &Grants{
		store:  store,
		grants: kv.NewCollection(kv.PrefixOAuthGrant, func(r *grantRecord) string { return r.ID }),
		access: kv.NewCollection(kv.PrefixOAuthAccess, func(r *accessRecord) string { return r.ID }),
	}
}

// Attach registers the revocations with svc: a user's grants end with all
// their sessions, a client's tokens end when it is deactivated or deleted.
// The service's own change notices (ChangeUser, ChangeApps) then evict
// whatever caches hold.
func (g *Grants) Attach(svc *auth.Service) {
	svc.OnSignOutEverywhere(func(t *kv.Txn, userID string) error {
		_, err := g.revokeUser(t, userID, "")
		return err
	})
	svc.OnSignOutEveryone(g.revokeEveryone)
	svc.OnUserDelete(func(t *kv.Txn, userID string) error {
		_, err := g.revokeUser(t, userID, "")
		return err
	})
	svc.OnAppRevoke(func(t *kv.Txn, app *auth.App) error {
		if app.Type != auth.AppOIDC {
			return nil
		}
		_, err := g.revokeApp(t, app)
		return err
	})
}

// GrantInfo is one grant as an admin sees it: which app, since when,
// with which scopes.
type GrantInfo struct {
	ID        string
	AppID     string
	Scopes    []string
	CreatedAt time.Time
}

// UserGrants lists the user's live grants, oldest first.
func (g *Grants) UserGrants(ctx context.Context, userID string) ([]GrantInfo, error) {
	var out []GrantInfo
	err := g.store.View(ctx, func(t *kv.Txn) error {
		out = nil
		return g.grants.Each(t, func(r *grantRecord) error {
			if r.UserID == userID {
				out = append(out, GrantInfo{ID: r.ID, AppID: r.AppID, Scopes: r.Scopes, CreatedAt: r.CreatedAt})
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b GrantInfo) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// RevokeUser ends every grant of the user, or only those at the app when
// appID is set, and returns how many grants ended. The caller announces
// the change (auth.ChangeUser) so caches drop the tokens.
func (g *Grants) RevokeUser(ctx context.Context, userID, appID string) (int, error) {
	var n int
	err := g.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		n, err = g.revokeUser(t, userID, appID)
		return err
	})
	return n, err
}

func (g *Grants) revokeUser(t *kv.Txn, userID, appID string) (int, error) {
	var ids []string
	err := g.grants.Each(t, func(r *grantRecord) error {
		if r.UserID == userID && (appID == "" || r.AppID == appID) {
			ids = append(ids, r.ID)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := revokeGrant(t, id); err != nil {
			return 0, fmt.Errorf("oidc: revoke grant: %w", err)
		}
	}
	return len(ids), nil
}

// revokeEveryone ends every grant of every user ("sign out everyone").
// Client-credentials tokens belong to no person and stay.
func (g *Grants) revokeEveryone(t *kv.Txn) error {
	var ids []string
	err := g.grants.Each(t, func(r *grantRecord) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := revokeGrant(t, id); err != nil {
			return fmt.Errorf("oidc: revoke grant: %w", err)
		}
	}
	return nil
}

// revokeApp ends every grant at the app and its client_credentials tokens.
func (g *Grants) revokeApp(t *kv.Txn, app *auth.App) (int, error) {
	var ids, loose []string
	err := g.grants.Each(t, func(r *grantRecord) error {
		if r.AppID == app.ID {
			ids = append(ids, r.ID)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	err = g.access.Each(t, func(r *accessRecord) error {
		if r.AppID == app.ID && r.GrantID == "" {
			loose = append(loose, r.ID)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if _, err := revokeGrant(t, id); err != nil {
			return 0, fmt.Errorf("oidc: revoke grant: %w", err)
		}
	}
	for _, h := range loose {
		if err := t.Delete(kv.PrefixOAuthAccess.Key(h)); err != nil {
			return 0, err
		}
	}
	return len(ids) + len(loose), nil
}

// UserApp is an application a user let in: they consented to it, or it
// holds tokens of theirs (an app that skips consent), or both.
type UserApp struct {
	AppID string
	// Scopes are the scopes consented to and granted, sorted.
	Scopes []string
	// Since is the earliest consent or grant.
	Since time.Time
	// Grants counts the live grants (each a family of tokens).
	Grants int
}

// UserApps lists the applications the user let in, by app id. Grants are
// not indexed by user, so this reads them all: fine for the account page
// of a self-hosted server, not for a hot path.
func (g *Grants) UserApps(ctx context.Context, userID string) ([]UserApp, error) {
	byApp := map[string]*UserApp{}
	add := func(appID string, scopes []string, at time.Time) *UserApp {
		a := byApp[appID]
		if a == nil {
			a = &UserApp{AppID: appID, Since: at}
			byApp[appID] = a
		}
		a.Scopes = append(a.Scopes, scopes...)
		if at.Before(a.Since) {
			a.Since = at
		}
		return a
	}
	err := g.store.View(ctx, func(t *kv.Txn) error {
		prefix := kv.PrefixOAuthConsent.Key(userID + "/")
		err := t.Scan(prefix, func(k, v []byte) error {
			var c consentRecord
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("oidc: decode %s: %w", k, err)
			}
			add(c.AppID, c.Scopes, c.GrantedAt)
			return nil
		})
		if err != nil {
			return err
		}
		return g.grants.Each(t, func(r *grantRecord) error {
			if r.UserID == userID {
				add(r.AppID, r.Scopes, r.CreatedAt).Grants++
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]UserApp, 0, len(byApp))
	for _, a := range byApp {
		slices.Sort(a.Scopes)
		a.Scopes = slices.Compact(a.Scopes)
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b UserApp) int { return strings.Compare(a.AppID, b.AppID) })
	return out, nil
}

// RevokeUserApp takes back what the user gave the app, in one
// transaction: the consent (the app must ask again), and every grant with
// its access and refresh tokens. It returns how many grants ended; an app
// the user never let in is 0 and no error. The caller announces the change
// (auth.ChangeUser) so caches drop the tokens.
func (g *Grants) RevokeUserApp(ctx context.Context, userID, appID string) (int, error) {
	var n int
	err := g.store.Update(ctx, func(t *kv.Txn) error {
		if err := t.Delete(kv.PrefixOAuthConsent.Key(userID + "/" + appID)); err != nil {
			return err
		}
		var err error
		n, err = g.revokeUser(t, userID, appID)
		return err
	})
	return n, err
}
