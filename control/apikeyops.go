package control

import (
	"context"
	"strings"
)

// APIKeyCreate is the input of CreateAPIKey.
type APIKeyCreate struct {
	Name string `json:"name"`
	// Owner is the email of the user the key acts as; "" is the app itself.
	Owner string `json:"owner"`
	// Expires is a lifetime like "90d" or "12h"; "" never expires.
	Expires string `json:"expires"`
}

// CreateAPIKey makes a bearer key for the forward_auth app with the slug.
// The key is in the result (Key) this once; only its HMAC is kept.
func (env *Env) CreateAPIKey(ctx context.Context, slug string, in APIKeyCreate) (APIKeyJSON, error) {
	if strings.TrimSpace(slug) == "" {
		return APIKeyJSON{}, required("slug")
	}
	ttl, err := parseTTL("expires", in.Expires)
	if err != nil {
		return APIKeyJSON{}, err
	}
	tok, k, err := env.Auth.CreateAPIKey(ctx, slug, in.Owner, in.Name, ttl)
	if err != nil {
		return APIKeyJSON{}, err
	}
	return apiKeyJSON(k, strings.ToLower(slug), strings.ToLower(strings.TrimSpace(in.Owner)), tok), nil
}

// ListAPIKeys lists the live keys of the app with the slug.
func (env *Env) ListAPIKeys(ctx context.Context, slug string) ([]APIKeyJSON, error) {
	if strings.TrimSpace(slug) == "" {
		return nil, required("slug")
	}
	keys, err := env.Auth.APIKeys(ctx, slug)
	if err != nil {
		return nil, err
	}
	emails, err := userEmails(ctx, env)
	if err != nil {
		return nil, err
	}
	js := make([]APIKeyJSON, 0, len(keys))
	for _, k := range keys {
		js = append(js, apiKeyJSON(k, strings.ToLower(slug), emails[k.UserID], ""))
	}
	return js, nil
}

// RevokeAPIKey deletes a key of the app by its id or listed prefix.
func (env *Env) RevokeAPIKey(ctx context.Context, slug, id string) error {
	if strings.TrimSpace(slug) == "" {
		return required("slug")
	}
	return env.Auth.RevokeAPIKey(ctx, slug, id)
}
