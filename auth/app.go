package auth

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"
)

// AppType says how an application authenticates its users.
type AppType string

const (
	AppOIDC        AppType = "oidc"
	AppForwardAuth AppType = "forward_auth"
)

// App is an application behind Clinch: an OIDC client or a forward-auth
// protected host.
type App struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Slug   string  `json:"slug"`
	Type   AppType `json:"type"`
	Active bool    `json:"active"`
	// AllowedGroupIDs are the ids of the groups whose members may use the
	// app, sorted; none means every active user. Ids, not names, so a
	// group deleted and made again under its old name is not allowed by
	// its old entries. Every id names an existing group: deleting a group
	// removes it here in the same transaction.
	AllowedGroupIDs []string          `json:"allowed_group_ids,omitempty"`
	Claims          json.RawMessage   `json:"claims,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`

	// RequireSecondFactor admits only sessions made with a second factor
	// (acr "2"); others are taken through the step-up first.
	RequireSecondFactor bool `json:"require_second_factor,omitempty"`
	// LaunchURL is where the home page sends a person to open the app;
	// forward_auth apps without one link to their domain.
	LaunchURL string `json:"launch_url,omitempty"`

	// forward_auth
	Domain  string        `json:"domain,omitempty"` // "app.example.com" or "*.example.com"
	Headers *HeaderConfig `json:"headers,omitempty"`
	// AcceptTokensFrom lists the OIDC apps (by id) whose access tokens
	// /api/verify accepts as Bearer credentials here; none by default.
	AcceptTokensFrom []string `json:"accept_tokens_from,omitempty"`
	// Rules are tried in order before AllowedGroupIDs; the first that
	// matches the request decides (see AccessRule).
	Rules []AccessRule `json:"rules,omitempty"`
	// BasicAuth lets /api/verify accept HTTP Basic credentials here
	// (WebDAV, CalDAV, git): username and an app password (an API key of
	// this app owned by that user). Refusals are then 401 with a Basic
	// challenge, never a redirect.
	BasicAuth bool `json:"basic_auth,omitempty"`
	// BasicAuthPassword also accepts the account password over Basic, for
	// users without a second factor. Needs BasicAuth.
	BasicAuthPassword bool `json:"basic_auth_password,omitempty"`

	// oidc
	ClientID               string   `json:"client_id,omitempty"`
	SecretHash             []byte   `json:"secret_hash,omitempty"`
	Public                 bool     `json:"public,omitempty"`
	RedirectURIs           []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// BackchannelLogoutURI receives a signed logout_token when a session
	// that used this client ends (OIDC Back-Channel Logout 1.0).
	BackchannelLogoutURI string `json:"backchannel_logout_uri,omitempty"`
	// RequirePKCE refuses an authorization request without a
	// code_challenge. New apps have it unless made with it off; apps
	// stored before it became the default keep what they had.
	RequirePKCE     bool     `json:"require_pkce,omitempty"`
	SkipConsent     bool     `json:"skip_consent,omitempty"`
	AccessTokenTTL  Duration `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL Duration `json:"refresh_token_ttl,omitempty"`
	IDTokenTTL      Duration `json:"id_token_ttl,omitempty"`
	GrantTypes      []string `json:"grant_types,omitempty"`
	// AlwaysIssueRefresh issues a refresh token even without offline_access.
	AlwaysIssueRefresh bool `json:"always_issue_refresh,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// HeaderConfig names the response headers /api/verify sends on 200. A blank
// name turns that header off.
type HeaderConfig struct {
	User   string `json:"user"`
	Email  string `json:"email"`
	Name   string `json:"name"`
	Groups string `json:"groups"`
	// Admin carries "true" or "false": whether the user is a Clinch
	// admin (empty for a service identity).
	Admin string `json:"admin"`
}

// DefaultHeaders are Authelia's names, which most proxied apps understand,
// and Remote-Admin.
func DefaultHeaders() HeaderConfig {
	return HeaderConfig{User: "Remote-User", Email: "Remote-Email", Name: "Remote-Name", Groups: "Remote-Groups", Admin: "Remote-Admin"}
}

// UnmarshalJSON reads a header config; one stored before the admin header
// existed (no "admin" key) gets its default name, so every app overwrites
// a Remote-Admin a client sends. A blank "admin" stays off.
func (h *HeaderConfig) UnmarshalJSON(b []byte) error {
	type plain HeaderConfig
	p := plain{Admin: DefaultHeaders().Admin}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*h = HeaderConfig(p)
	return nil
}

// EffectiveHeaders is the app's header config, or the defaults.
func (a *App) EffectiveHeaders() HeaderConfig {
	if a.Headers == nil {
		return DefaultHeaders()
	}
	return *a.Headers
}

// Duration is a time.Duration that reads and writes as "1h30m" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Matches reports whether the app's domain pattern covers host (no port).
// "*" matches exactly one DNS label.
func (a *App) Matches(host string) bool { return DomainMatches(a.Domain, host) }

// Allows reports whether a member of the groups with the ids may use the
// app: an app with no allowed groups admits every active user; otherwise
// the user must be in one of them. Inactive apps admit nobody.
func (a *App) Allows(groupIDs []string) bool {
	if !a.Active {
		return false
	}
	if len(a.AllowedGroupIDs) == 0 {
		return true
	}
	for _, id := range groupIDs {
		if slices.Contains(a.AllowedGroupIDs, id) {
			return true
		}
	}
	return false
}

// ACRSecondFactor is the acr of a session made with a second factor (a
// password and a one-time code, or a user-verified passkey).
const ACRSecondFactor = "2"

// SecondFactorDone reports whether a session with this acr satisfies an
// app that requires a second factor.
func SecondFactorDone(acr string) bool { return acr == ACRSecondFactor }

// CanUse is the one rule for "may this user use this app", asked by
// /api/verify, authorize, token refresh, userinfo and introspection alike:
// the app is active, the user is active, and the user is in one of the
// app's allowed groups (an app without any admits every active user).
// groupIDs are the ids of the user's groups (GroupIDs of UserGroups), never
// their names.
func CanUse(app *App, status Status, groupIDs []string) bool {
	return app != nil && status == StatusActive && app.Allows(groupIDs)
}

// GroupIDs returns the ids of the groups, in order, for CanUse.
func GroupIDs(gs []*Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.ID
	}
	return out
}

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)

// Slugify makes a URL-safe slug from a name.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimRight(b.String(), "-")
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], "-")
	}
	return s
}

// APIKey is a long-lived bearer credential for one app, owned by a user or,
// with no UserID, by the app itself as a service identity.
type APIKey struct {
	ID         string    `json:"id"` // HMAC of the key
	Name       string    `json:"name,omitempty"`
	AppID      string    `json:"app_id"`
	UserID     string    `json:"user_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	// Public identifier shown in lists so a key can be revoked without
	// knowing it: the first characters of its hash.
	Prefix string `json:"prefix"`
}
