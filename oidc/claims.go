package oidc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Scopes Clinch understands.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeGroups        = "groups"
	ScopeOfflineAccess = "offline_access"
)

// SupportedScopes are the scopes a client may ask for; others are ignored.
var supportedScopes = []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeGroups, ScopeOfflineAccess}

// scopeClaims says which claims each scope releases (for consent and
// discovery).
var scopeClaims = map[string][]string{
	ScopeOpenID:  {"sub"},
	ScopeProfile: {"name", "preferred_username", "updated_at"},
	ScopeEmail:   {"email", "email_verified"},
	ScopeGroups:  {"groups"},
}

// ReservedClaims can never be set by custom claims: they carry the token's
// protocol meaning, and letting an admin-typed JSON object change them
// would let one app's settings forge identity or replay tokens.
var reservedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "nonce", "auth_time", "acr", "amr", "azp", "at_hash",
	"nbf", "jti", "sid", "c_hash", "s_hash",
}

// IsReservedClaim reports whether custom claims may not set name.
func IsReservedClaim(name string) bool { return slices.Contains(reservedClaims, name) }

// MergeClaims layers custom claims over the standard ones, in order: each
// layer (a JSON object, or empty) overrides what came before, except that a
// reserved claim is never taken from any layer. The callers pass group
// claims (groups in name order), then the user's claims, then the user's
// claims for this app, so the most specific wins and the result does not
// depend on map order.
func MergeClaims(standard map[string]any, layers ...json.RawMessage) (map[string]any, error) {
	out := make(map[string]any, len(standard)+8)
	for k, v := range standard {
		out[k] = v
	}
	for i, l := range layers {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			return nil, fmt.Errorf("oidc: custom claims layer %d: %w", i, err)
		}
		for k, v := range m {
			if IsReservedClaim(k) {
				continue
			}
			out[k] = v
		}
	}
	return out, nil
}

// halfHash is at_hash (OIDC Core §3.1.3.6): the left half of the SHA-256 of
// the token's ASCII, base64url.
func halfHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// parseScopes splits a scope parameter, keeps the supported ones, in a
// fixed order, without duplicates.
func parseScopes(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if slices.Contains(supportedScopes, f) && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return slices.Index(supportedScopes, a) - slices.Index(supportedScopes, b)
	})
	return out
}

func hasScope(scopes []string, s string) bool { return slices.Contains(scopes, s) }
