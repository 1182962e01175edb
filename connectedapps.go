package main

import (
	"context"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/oidc"
	"github.com/clinchsso/clinch/ui"
)

// connectedApps gives the account page the OIDC apps a user let in, from
// the grants, with the apps' names from auth.
type connectedApps struct {
	auth   *auth.Service
	grants *oidc.Grants
}

func (c connectedApps) UserApps(ctx context.Context, userID string) ([]ui.ConnectedApp, error) {
	ua, err := c.grants.UserApps(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]ui.ConnectedApp, 0, len(ua))
	for _, a := range ua {
		name := "An application that was deleted"
		if app, err := c.auth.AppByID(ctx, a.AppID); err == nil {
			name = app.Name
		}
		out = append(out, ui.ConnectedApp{ID: a.AppID, Name: name, Scopes: a.Scopes, Since: a.Since})
	}
	return out, nil
}

// RevokeUserApp ends the consent and grants, then tells the caches (the
// verifier's token cache) that the user's tokens changed.
func (c connectedApps) RevokeUserApp(ctx context.Context, userID, appID string) error {
	if _, err := c.grants.RevokeUserApp(ctx, userID, appID); err != nil {
		return err
	}
	c.auth.Notify(auth.Change{Kind: auth.ChangeUser, UserID: userID})
	return nil
}
