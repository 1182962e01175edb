package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// AppCreate is the input of CreateApp. Fields that do not apply to the
// type are ignored.
type AppCreate struct {
	Type auth.AppType `json:"type"` // forward_auth or oidc
	Name string       `json:"name"`
	// Slug defaults to one made from the name.
	Slug   string `json:"slug"`
	Active *bool  `json:"active"` // absent: true
	// AllowedGroups are group names; none admits every active user.
	AllowedGroups       []string          `json:"allowed_groups"`
	Claims              json.RawMessage   `json:"claims"`
	Metadata            map[string]string `json:"metadata"`
	LaunchURL           string            `json:"launch_url"`
	RequireSecondFactor bool              `json:"require_second_factor"`

	// forward_auth
	Domain string `json:"domain"`
	// Headers rename the identity headers: keys user, email, name, groups,
	// admin; a blank name turns one off. Absent keys keep the defaults.
	Headers map[string]string `json:"headers"`
	// AcceptTokensFrom are OIDC app slugs whose access tokens are accepted.
	AcceptTokensFrom  []string `json:"accept_tokens_from"`
	BasicAuth         bool     `json:"basic_auth"`
	BasicAuthPassword bool     `json:"basic_auth_password"`

	// oidc
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri"`
	Public                 bool     `json:"public"`
	RequirePKCE            *bool    `json:"require_pkce"` // absent: true
	SkipConsent            bool     `json:"skip_consent"`
	ClientID               string   `json:"client_id"`
	// TTLs like "1h" or "30d"; "" is the default.
	AccessTokenTTL     string   `json:"access_token_ttl"`
	RefreshTokenTTL    string   `json:"refresh_token_ttl"`
	IDTokenTTL         string   `json:"id_token_ttl"`
	GrantTypes         []string `json:"grant_types"`
	AlwaysIssueRefresh bool     `json:"always_issue_refresh"`
}

// ListApps returns every application.
func (env *Env) ListApps(ctx context.Context) ([]AppJSON, error) {
	apps, err := env.Auth.Apps(ctx)
	if err != nil {
		return nil, err
	}
	r := appRefs(ctx, env)
	js := make([]AppJSON, 0, len(apps))
	for _, a := range apps {
		js = append(js, appJSON(a, "", r))
	}
	return js, nil
}

// GetApp returns the application with the slug.
func (env *Env) GetApp(ctx context.Context, slug string) (AppJSON, error) {
	if strings.TrimSpace(slug) == "" {
		return AppJSON{}, required("slug")
	}
	a, err := env.Auth.AppBySlug(ctx, slug)
	if err != nil {
		return AppJSON{}, err
	}
	return appJSON(a, "", appRefs(ctx, env)), nil
}

// CreateApp makes an application. A confidential OIDC client's secret is
// in the result (ClientSecret) this once; only its HMAC is kept.
func (env *Env) CreateApp(ctx context.Context, in AppCreate) (AppJSON, error) {
	if in.Type == "" {
		return AppJSON{}, required("type")
	}
	if strings.TrimSpace(in.Name) == "" {
		return AppJSON{}, required("name")
	}
	if in.Public && in.RequirePKCE != nil && !*in.RequirePKCE {
		return AppJSON{}, &FieldError{Field: "require_pkce", Reason: "cannot be false: a public client always requires PKCE"}
	}
	a := auth.AppInput{
		Name: in.Name, Slug: in.Slug, Type: in.Type, Active: in.Active,
		AllowedGroups: in.AllowedGroups, Claims: string(in.Claims), Domain: in.Domain,
		RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
		LaunchURL: in.LaunchURL, BackchannelLogoutURI: in.BackchannelLogoutURI, RequireSecondFactor: in.RequireSecondFactor,
		BasicAuth: in.BasicAuth, BasicAuthPassword: in.BasicAuthPassword,
		Public: in.Public, SkipConsent: in.SkipConsent, ClientID: in.ClientID, GrantTypes: in.GrantTypes,
		RequirePKCE: in.RequirePKCE, AlwaysIssueRefresh: in.AlwaysIssueRefresh,
		Metadata: mergeMetadata(nil, in.Metadata),
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return AppJSON{}, err
	}
	var err error
	if a.AcceptTokensFrom, err = clientIDs(ctx, env, in.AcceptTokensFrom); err != nil {
		return AppJSON{}, err
	}
	if len(in.Headers) > 0 {
		h, err := applyHeaders(auth.DefaultHeaders(), in.Headers)
		if err != nil {
			return AppJSON{}, err
		}
		a.Headers = &h
	}
	if a.AccessTokenTTL, err = parseTTL("access_token_ttl", in.AccessTokenTTL); err != nil {
		return AppJSON{}, err
	}
	if a.RefreshTokenTTL, err = parseTTL("refresh_token_ttl", in.RefreshTokenTTL); err != nil {
		return AppJSON{}, err
	}
	if a.IDTokenTTL, err = parseTTL("id_token_ttl", in.IDTokenTTL); err != nil {
		return AppJSON{}, err
	}
	app, secret, err := env.Auth.CreateApp(ctx, a)
	if err != nil {
		return AppJSON{}, aliasFields(err, appFieldAliases...)
	}
	return appJSON(app, secret, appRefs(ctx, env)), nil
}

// AppUpdate is the input of UpdateApp; absent fields stay as they are.
type AppUpdate struct {
	Name *string `json:"name"`
	// Slug renames the app's slug.
	Slug   *string `json:"slug"`
	Active *bool   `json:"active"`
	// AllowedGroups replaces the allowlist; [] admits every active user.
	AllowedGroups *[]string `json:"allowed_groups"`
	// Claims replaces the custom claims; {} or null clears them.
	Claims json.RawMessage `json:"claims"`
	// Metadata is merged in; a blank value removes the key.
	Metadata            map[string]string `json:"metadata"`
	LaunchURL           *string           `json:"launch_url"`
	RequireSecondFactor *bool             `json:"require_second_factor"`

	Domain *string `json:"domain"`
	// Headers are merged into the current names; a blank one turns that
	// header off.
	Headers           map[string]string `json:"headers"`
	AcceptTokensFrom  *[]string         `json:"accept_tokens_from"`
	BasicAuth         *bool             `json:"basic_auth"`
	BasicAuthPassword *bool             `json:"basic_auth_password"`

	RedirectURIs           *[]string `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI   *string   `json:"backchannel_logout_uri"`
	Public                 *bool     `json:"public"`
	RequirePKCE            *bool     `json:"require_pkce"`
	SkipConsent            *bool     `json:"skip_consent"`
	AccessTokenTTL         *string   `json:"access_token_ttl"`
	RefreshTokenTTL        *string   `json:"refresh_token_ttl"`
	IDTokenTTL             *string   `json:"id_token_ttl"`
	GrantTypes             *[]string `json:"grant_types"`
	AlwaysIssueRefresh     *bool     `json:"always_issue_refresh"`
}

// UpdateApp changes the application with the slug; the change is
// validated whole and written in one transaction, or not at all.
func (env *Env) UpdateApp(ctx context.Context, slug string, in AppUpdate) (AppJSON, error) {
	if strings.TrimSpace(slug) == "" {
		return AppJSON{}, required("slug")
	}
	var groups, accept []string
	if err := checkMetadata(in.Metadata); err != nil {
		return AppJSON{}, err
	}
	var err error
	if in.AllowedGroups != nil {
		if groups, err = env.Auth.GroupIDsByName(ctx, *in.AllowedGroups); err != nil {
			return AppJSON{}, aliasFields(err, appFieldAliases...)
		}
	}
	if in.AcceptTokensFrom != nil {
		if accept, err = clientIDs(ctx, env, *in.AcceptTokensFrom); err != nil {
			return AppJSON{}, err
		}
	}
	ttls := map[string]time.Duration{}
	for field, s := range map[string]*string{"access_token_ttl": in.AccessTokenTTL, "refresh_token_ttl": in.RefreshTokenTTL, "id_token_ttl": in.IDTokenTTL} {
		if s != nil {
			d, err := parseTTL(field, *s)
			if err != nil {
				return AppJSON{}, err
			}
			ttls[field] = d
		}
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setBool := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	setList := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = *v
		}
	}
	a, err := env.Auth.UpdateApp(ctx, slug, func(a *auth.App) error {
		set(&a.Name, in.Name)
		set(&a.Slug, in.Slug)
		set(&a.Domain, in.Domain)
		set(&a.LaunchURL, in.LaunchURL)
		set(&a.BackchannelLogoutURI, in.BackchannelLogoutURI)
		setBool(&a.Active, in.Active)
		setBool(&a.RequireSecondFactor, in.RequireSecondFactor)
		setBool(&a.SkipConsent, in.SkipConsent)
		setBool(&a.Public, in.Public)
		setBool(&a.AlwaysIssueRefresh, in.AlwaysIssueRefresh)
		setList(&a.RedirectURIs, in.RedirectURIs)
		setList(&a.PostLogoutRedirectURIs, in.PostLogoutRedirectURIs)
		setList(&a.GrantTypes, in.GrantTypes)
		if in.AllowedGroups != nil {
			a.AllowedGroupIDs = groups
		}
		if in.AcceptTokensFrom != nil {
			a.AcceptTokensFrom = accept
		}
		if in.Claims != nil {
			c, err := auth.NormalizeClaims(string(in.Claims))
			if err != nil {
				return err
			}
			a.Claims = c
		}
		if len(in.Headers) > 0 {
			h, err := applyHeaders(a.EffectiveHeaders(), in.Headers)
			if err != nil {
				return err
			}
			a.Headers = &h
		}
		if in.Metadata != nil {
			a.Metadata = mergeMetadata(a.Metadata, in.Metadata)
		}
		if in.BasicAuth != nil {
			a.BasicAuth = *in.BasicAuth
			// Turning Basic off turns the password option off with it,
			// unless that is set in the same change.
			if !a.BasicAuth && in.BasicAuthPassword == nil {
				a.BasicAuthPassword = false
			}
		}
		setBool(&a.BasicAuthPassword, in.BasicAuthPassword)
		if in.RequirePKCE != nil {
			if a.Public && !*in.RequirePKCE {
				return &FieldError{Field: "require_pkce", Reason: "cannot be false: a public client always requires PKCE"}
			}
			a.RequirePKCE = *in.RequirePKCE
		}
		if d, ok := ttls["access_token_ttl"]; ok {
			a.AccessTokenTTL = auth.Duration(d)
		}
		if d, ok := ttls["refresh_token_ttl"]; ok {
			a.RefreshTokenTTL = auth.Duration(d)
		}
		if d, ok := ttls["id_token_ttl"]; ok {
			a.IDTokenTTL = auth.Duration(d)
		}
		return nil
	})
	if err != nil {
		return AppJSON{}, aliasFields(err, appFieldAliases...)
	}
	return appJSON(a, "", appRefs(ctx, env)), nil
}

// appFieldAliases are auth's names for fields of AppCreate and AppUpdate
// that are named otherwise there.
var appFieldAliases = []string{"group", "allowed_groups", "redirect_uri", "redirect_uris", "post_logout_redirect_uri", "post_logout_redirect_uris"}

// DeleteApp removes the application with the slug and its API keys.
func (env *Env) DeleteApp(ctx context.Context, slug string) error {
	if strings.TrimSpace(slug) == "" {
		return required("slug")
	}
	return env.Auth.DeleteApp(ctx, slug)
}

// clientIDs turns OIDC app slugs (each may be a comma-separated list) into
// the apps' ids.
func clientIDs(ctx context.Context, env *Env, vals []string) ([]string, error) {
	var ids []string
	for _, v := range vals {
		for _, slug := range strings.Split(v, ",") {
			if slug = strings.TrimSpace(slug); slug == "" {
				continue
			}
			a, err := env.Auth.AppBySlug(ctx, slug)
			if errors.Is(err, auth.ErrNotFound) || err == nil && a.Type != auth.AppOIDC {
				return nil, &auth.InvalidError{Field: "accept_tokens_from", Reason: fmt.Sprintf("%q is not an OIDC app", slug)}
			}
			if err != nil {
				return nil, err
			}
			ids = append(ids, a.ID)
		}
	}
	return ids, nil
}

// applyHeaders renames headers of base: keys user, email, name, groups,
// admin.
func applyHeaders(base auth.HeaderConfig, names map[string]string) (auth.HeaderConfig, error) {
	for k, v := range names {
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "user":
			base.User = v
		case "email":
			base.Email = v
		case "name":
			base.Name = v
		case "groups":
			base.Groups = v
		case "admin":
			base.Admin = v
		default:
			return base, &FieldError{Field: "headers", Reason: fmt.Sprintf("key must be user, email, name, groups or admin; got %q", k)}
		}
	}
	return base, nil
}

// mergeMetadata applies changes on top of cur (a blank value deletes the
// key) and returns a new map, nil when empty.
func mergeMetadata(cur, changes map[string]string) map[string]string {
	out := make(map[string]string, len(cur)+len(changes))
	for k, v := range cur {
		out[k] = v
	}
	for k, v := range changes {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func checkMetadata(m map[string]string) error {
	for k := range m {
		if strings.TrimSpace(k) == "" {
			return &FieldError{Field: "metadata", Reason: "has a blank key"}
		}
	}
	return nil
}

// parseTTL reads a Go duration or a number of days ("90d"); "" is 0.
func parseTTL(field, s string) (time.Duration, error) {
	d, err := auth.ParseLifetime(s)
	if err != nil {
		return 0, &FieldError{Field: field, Reason: err.Error()}
	}
	return d, nil
}
