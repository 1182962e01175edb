package oidc

import (
	"context"

	"github.com/clinchsso/clinch/auth"
)

// previewScopes are every scope that releases claims: the preview shows
// the most an app can learn about a user.
var previewScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups}

// PreviewClaims are the claims the ID token and userinfo of app would carry
// for user when the client asks for every scope (openid, profile, email,
// groups), by the same merge the token endpoint uses. It reads only: sub
// is left out, since a pairwise subject is made at the user's first sign-in
// to the app and a preview must not write one.
func (p *Provider) PreviewClaims(ctx context.Context, app *auth.App, user *auth.User) (map[string]any, error) {
	claims, _, err := p.identityClaims(ctx, app, user, previewScopes)
	return claims, err
}
