package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// PrefixClientSecret marks an OIDC client secret.
const PrefixClientSecret = "ccs_"

// OIDC token lifetimes: defaults and the ranges an admin may choose from.
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	DefaultIDTokenTTL      = time.Hour

	MinAccessTokenTTL  = 5 * time.Minute
	MaxAccessTokenTTL  = 24 * time.Hour
	MinRefreshTokenTTL = 24 * time.Hour
	MaxRefreshTokenTTL = 90 * 24 * time.Hour
	MinIDTokenTTL      = 5 * time.Minute
	MaxIDTokenTTL      = 24 * time.Hour
)

// Grant types an OIDC app may use.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// AppInput is what an admin gives to create an application. Fields that do
// not apply to the type are ignored.
type AppInput struct {
	Name string
	// Slug defaults to Slugify(Name), made unique with a numeric suffix.
	Slug   string
	Type   AppType
	Active *bool // nil = active
	// AllowedGroups are group names, looked up when the app is stored
	// (App.AllowedGroupIDs keeps their ids); none = every active user.
	AllowedGroups []string
	Claims        string // JSON object
	Metadata      map[string]string
	LaunchURL     string
	// RequireSecondFactor admits only sessions with acr "2".
	RequireSecondFactor bool

	// forward_auth
	Domain  string
	Headers *HeaderConfig // nil = DefaultHeaders
	// AcceptTokensFrom are OIDC app ids whose access tokens are accepted.
	AcceptTokensFrom []string
	// BasicAuth and BasicAuthPassword: see App.
	BasicAuth, BasicAuthPassword bool

	// oidc
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string
	Public                 bool
	// RequirePKCE: nil means true, as OAuth 2.1 asks of every new
	// client; public clients always require it.
	RequirePKCE        *bool
	SkipConsent        bool
	ClientID           string // "" = generated
	AccessTokenTTL     time.Duration
	RefreshTokenTTL    time.Duration
	IDTokenTTL         time.Duration
	GrantTypes         []string // nil = authorization_code, refresh_token
	AlwaysIssueRefresh bool
}

// CreateApp validates and stores a new application. For a confidential OIDC
// client it returns the client secret, which is shown this once: only its
// HMAC is kept.
func (s *Service) CreateApp(ctx context.Context, in AppInput) (*App, string, error) {
	now := s.now().UTC()
	a := &App{
		ID: NewID(), Name: in.Name, Slug: in.Slug, Type: in.Type, Active: true,
		Metadata: in.Metadata,
		Domain:   in.Domain, Headers: in.Headers, AcceptTokensFrom: in.AcceptTokensFrom,
		ClientID: in.ClientID, Public: in.Public, SkipConsent: in.SkipConsent,
		RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs,
		BackchannelLogoutURI: in.BackchannelLogoutURI, LaunchURL: in.LaunchURL,
		RequireSecondFactor: in.RequireSecondFactor,
		BasicAuth:           in.BasicAuth, BasicAuthPassword: in.BasicAuthPassword,
		AccessTokenTTL: Duration(in.AccessTokenTTL), RefreshTokenTTL: Duration(in.RefreshTokenTTL),
		IDTokenTTL: Duration(in.IDTokenTTL), GrantTypes: in.GrantTypes,
		AlwaysIssueRefresh: in.AlwaysIssueRefresh,
		RequirePKCE:        in.RequirePKCE == nil || *in.RequirePKCE,
		CreatedAt:          now, UpdatedAt: now,
	}
	if in.Active != nil {
		a.Active = *in.Active
	}
	claims, err := NormalizeClaims(in.Claims)
	if err != nil {
		return nil, "", err
	}
	a.Claims = claims
	a.Name = strings.TrimSpace(a.Name)
	if a.Slug == "" && a.Name != "" {
		a.Slug = Slugify(a.Name)
		if a.Slug == "" {
			return nil, "", invalid("slug", "cannot be made from the name; give one with letters or digits")
		}
	}
	generatedSlug := in.Slug == ""
	var secret string
	if a.Type == AppOIDC {
		if a.ClientID == "" {
			a.ClientID = NewID()
		}
		if !a.Public {
			var hash string
			secret, hash = s.secrets.NewToken(PrefixClientSecret)
			a.SecretHash = []byte(hash)
		}
	}
	slug := a.Slug
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		// A conflicting transaction runs again: start from the input.
		a.Slug = slug
		ids, err := s.groupIDsByName(t, in.AllowedGroups)
		if err != nil {
			return err
		}
		a.AllowedGroupIDs = ids
		if generatedSlug {
			if err := s.uniqueSlug(t, a); err != nil {
				return err
			}
		}
		if err := s.validateApp(t, a); err != nil {
			return err
		}
		return s.putApp(t, a)
	})
	if err != nil {
		return nil, "", err
	}
	s.Notify(Change{Kind: ChangeApps})
	s.Audit(ctx, audit.Event{Kind: audit.AppCreated, App: a.Slug, After: appSnapshot(a)})
	return a, secret, nil
}

// uniqueSlug appends -2, -3, ... to a generated slug until no app holds it.
func (s *Service) uniqueSlug(t *kv.Txn, a *App) error {
	base := a.Slug
	for i := 2; ; i++ {
		_, err := s.apps.GetBy(t, kv.PrefixAppBySlug, a.Slug)
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if i > 1000 {
			return fmt.Errorf("app slug %s: %w", base, ErrConflict)
		}
		suffix := "-" + strconv.Itoa(i)
		a.Slug = strings.TrimRight(base[:min(len(base), 64-len(suffix))], "-") + suffix
	}
}

func (s *Service) putApp(t *kv.Txn, a *App) error {
	err := s.apps.Put(t, a, 0)
	if errors.Is(err, kv.ErrConflict) {
		if strings.Contains(err.Error(), string(kv.PrefixAppByClientID)) {
			return fmt.Errorf("app with client_id %s: %w", a.ClientID, ErrConflict)
		}
		return fmt.Errorf("app with slug %s: %w", a.Slug, ErrConflict)
	}
	return err
}

var clientIDRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

// validateApp normalises a in place and checks every rule for its type. It
// reads the store to check groups exist and domains are not taken twice.
func (s *Service) validateApp(t *kv.Txn, a *App) error {
	a.Name = strings.TrimSpace(a.Name)
	if a.Name == "" {
		return invalid("name", "is required")
	}
	if len(a.Name) > 200 {
		return invalid("name", "is longer than 200 characters")
	}
	if hasControl(a.Name) {
		return invalid("name", "may not contain control characters")
	}
	if a.LaunchURL != "" {
		n, err := checkWebURL(a.LaunchURL)
		if err != nil {
			return invalid("launch_url", fmt.Sprintf("%q %s", a.LaunchURL, err.Error()))
		}
		a.LaunchURL = n
	}
	a.Slug = strings.ToLower(strings.TrimSpace(a.Slug))
	if !slugRE.MatchString(a.Slug) {
		return invalid("slug", "may contain only lower-case letters, digits and '-' (up to 64, not starting or ending with '-')")
	}
	for _, id := range a.AllowedGroupIDs {
		if _, err := s.groups.Get(t, id); err != nil {
			if errors.Is(err, kv.ErrNotFound) {
				return invalid("group", "an allowed group no longer exists; choose the groups again")
			}
			return err
		}
	}
	a.AllowedGroupIDs = slices.Compact(slices.Sorted(slices.Values(a.AllowedGroupIDs)))
	if len(a.AllowedGroupIDs) == 0 {
		a.AllowedGroupIDs = nil
	}
	for k, v := range a.Metadata {
		if k == "" || hasControl(k) || hasControl(v) || len(k) > 100 || len(v) > 1000 {
			return invalid("metadata", "keys and values must be short and free of control characters")
		}
	}
	switch a.Type {
	case AppForwardAuth:
		return s.validateForwardAuth(t, a)
	case AppOIDC:
		return validateOIDC(a)
	case "":
		return invalid("type", "is required: forward_auth or oidc")
	default:
		return invalid("type", fmt.Sprintf("%q is not one of forward_auth, oidc", a.Type))
	}
}

func (s *Service) validateForwardAuth(t *kv.Txn, a *App) error {
	d, err := NormalizeDomain(a.Domain)
	if err != nil {
		return err
	}
	a.Domain = d
	err = validateRules(a.Rules, func(id string) (bool, error) {
		_, err := s.groups.Get(t, id)
		if errors.Is(err, kv.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return err
	}
	if len(a.Rules) == 0 {
		a.Rules = nil
	}
	if a.BasicAuthPassword && !a.BasicAuth {
		return invalid("basic_auth_password", "needs basic_auth")
	}
	a.AcceptTokensFrom = slices.Compact(slices.Sorted(slices.Values(a.AcceptTokensFrom)))
	for _, id := range a.AcceptTokensFrom {
		c, err := s.apps.Get(t, id)
		if errors.Is(err, kv.ErrNotFound) || err == nil && c.Type != AppOIDC {
			return invalid("accept_tokens_from", fmt.Sprintf("%q is not an OIDC application", id))
		}
		if err != nil {
			return err
		}
	}
	if a.Headers != nil {
		h := *a.Headers
		seen := map[string]bool{}
		for _, f := range []struct {
			field string
			name  *string
		}{{"header user", &h.User}, {"header email", &h.Email}, {"header name", &h.Name}, {"header groups", &h.Groups}, {"header admin", &h.Admin}} {
			*f.name = strings.TrimSpace(*f.name)
			if *f.name == "" {
				continue
			}
			if !validHeaderName(*f.name) {
				return invalid(f.field, fmt.Sprintf("%q is not a valid HTTP header name", *f.name))
			}
			canon := strings.ToLower(*f.name)
			if reservedHeader(canon) {
				return invalid(f.field, fmt.Sprintf("%q is reserved by HTTP or the proxy", *f.name))
			}
			if seen[canon] {
				return invalid(f.field, fmt.Sprintf("%q is used twice", *f.name))
			}
			seen[canon] = true
		}
		a.Headers = &h
	}
	// OIDC fields mean nothing here; drop them so a list never shows them.
	a.ClientID, a.SecretHash, a.Public, a.RequirePKCE = "", nil, false, false
	a.RedirectURIs, a.PostLogoutRedirectURIs, a.GrantTypes = nil, nil, nil
	a.BackchannelLogoutURI = ""
	a.AccessTokenTTL, a.RefreshTokenTTL, a.IDTokenTTL = 0, 0, 0
	// Two apps with one pattern would make the decision for a host depend on
	// which was read first.
	return s.apps.Each(t, func(o *App) error {
		if o.ID != a.ID && o.Type == AppForwardAuth && o.Domain == a.Domain {
			return fmt.Errorf("app %s already covers %s: %w", o.Slug, a.Domain, ErrConflict)
		}
		return nil
	})
}

// validHeaderName reports whether s is an RFC 9110 token, as header names
// must be.
func validHeaderName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// reservedHeader refuses names that would break the request the proxy
// forwards (framing, hop-by-hop, cookies) if Clinch set them.
func reservedHeader(lower string) bool {
	switch lower {
	case "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
		"te", "trailer", "cookie", "set-cookie", "authorization", "location", "www-authenticate",
		"proxy-authorization", "proxy-authenticate", "content-type":
		return true
	}
	return strings.HasPrefix(lower, "x-forwarded-") || strings.HasPrefix(lower, "x-original-")
}

func validateOIDC(a *App) error {
	if len(a.Rules) > 0 {
		return invalid("rules", "apply only to forward_auth apps")
	}
	a.Domain, a.Headers, a.AcceptTokensFrom = "", nil, nil
	a.BasicAuth, a.BasicAuthPassword = false, false
	if !clientIDRE.MatchString(a.ClientID) {
		return invalid("client_id", "may contain only letters, digits and . _ ~ - (up to 128)")
	}
	if a.Public {
		a.SecretHash = nil
		a.RequirePKCE = true
	}
	if len(a.RedirectURIs) == 0 && !slices.Equal(a.GrantTypes, []string{GrantClientCredentials}) {
		return invalid("redirect_uri", "at least one is required")
	}
	for i, u := range a.RedirectURIs {
		n, err := checkRedirectURI(u)
		if err != nil {
			return invalid("redirect_uri", fmt.Sprintf("%q %s", u, err.Error()))
		}
		a.RedirectURIs[i] = n
	}
	for i, u := range a.PostLogoutRedirectURIs {
		n, err := checkRedirectURI(u)
		if err != nil {
			return invalid("post_logout_redirect_uri", fmt.Sprintf("%q %s", u, err.Error()))
		}
		a.PostLogoutRedirectURIs[i] = n
	}
	a.RedirectURIs = slices.Compact(a.RedirectURIs)
	if a.BackchannelLogoutURI != "" {
		n, err := checkWebURL(a.BackchannelLogoutURI)
		if err != nil {
			return invalid("backchannel_logout_uri", fmt.Sprintf("%q %s", a.BackchannelLogoutURI, err.Error()))
		}
		a.BackchannelLogoutURI = n
	}
	for _, d := range []struct {
		field       string
		v           *Duration
		def, lo, hi time.Duration
	}{
		{"access_token_ttl", &a.AccessTokenTTL, DefaultAccessTokenTTL, MinAccessTokenTTL, MaxAccessTokenTTL},
		{"refresh_token_ttl", &a.RefreshTokenTTL, DefaultRefreshTokenTTL, MinRefreshTokenTTL, MaxRefreshTokenTTL},
		{"id_token_ttl", &a.IDTokenTTL, DefaultIDTokenTTL, MinIDTokenTTL, MaxIDTokenTTL},
	} {
		if *d.v == 0 {
			*d.v = Duration(d.def)
		}
		if v := time.Duration(*d.v); v < d.lo || v > d.hi {
			return invalid(d.field, fmt.Sprintf("must be between %s and %s; got %s", fmtDur(d.lo), fmtDur(d.hi), fmtDur(v)))
		}
	}
	if len(a.GrantTypes) == 0 {
		a.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	gs := slices.Clone(a.GrantTypes)
	slices.Sort(gs)
	a.GrantTypes = slices.Compact(gs)
	for _, g := range a.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken:
		case GrantClientCredentials:
			if a.Public {
				return invalid("grant_types", "client_credentials needs a confidential client (a public client has no secret)")
			}
		default:
			return invalid("grant_types", fmt.Sprintf("%q is not one of authorization_code, refresh_token, client_credentials", g))
		}
	}
	return nil
}

// checkRedirectURI requires an absolute URI compared exactly later: no
// fragment, no wildcard, no userinfo. http(s) needs a host; other schemes
// must be private-use ones with a dot (com.example.app:/cb, RFC 8252).
func checkRedirectURI(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || hasControl(raw) || strings.ContainsAny(raw, " \\*") {
		return "", errors.New("must be an absolute URI without spaces, backslashes or wildcards")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return "", errors.New("must be an absolute URI (with a scheme)")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", errors.New("may not have a fragment")
	}
	if u.User != nil {
		return "", errors.New("may not contain user info")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return "", errors.New("needs a host")
		}
	case "javascript", "data", "file", "vbscript", "blob":
		return "", errors.New("has a forbidden scheme")
	default:
		if !strings.Contains(u.Scheme, ".") {
			return "", errors.New("must be http(s) or a private-use scheme like com.example.app")
		}
	}
	return raw, nil
}

// checkWebURL accepts an absolute http or https URL: a page a browser
// opens or an endpoint Clinch calls.
func checkWebURL(raw string) (string, error) {
	n, err := checkRedirectURI(raw)
	if err != nil {
		return "", err
	}
	if s := strings.ToLower(n[:strings.IndexByte(n, ':')]); s != "http" && s != "https" {
		return "", errors.New("must be an http or https URL")
	}
	return n, nil
}

func fmtDur(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	return s
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}

// UpdateApp applies fn to the app with the slug and validates the result in
// the same transaction; nothing is written when fn or validation fails. The
// id, type, creation time and secret hash cannot be changed through fn (use
// RotateAppSecret for the secret).
func (s *Service) UpdateApp(ctx context.Context, slug string, fn func(*App) error) (*App, error) {
	var a *App
	var before json.RawMessage
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		cur, err := s.apps.GetBy(t, kv.PrefixAppBySlug, strings.ToLower(slug))
		if err != nil {
			return mapKV(err, "app "+slug)
		}
		before = appSnapshot(cur)
		a = cloneApp(cur)
		if err := fn(a); err != nil {
			return err
		}
		if a.Type != cur.Type {
			return invalid("type", "cannot change; create a new app instead")
		}
		a.ID, a.CreatedAt, a.SecretHash = cur.ID, cur.CreatedAt, cur.SecretHash
		if err := s.validateApp(t, a); err != nil {
			return err
		}
		a.UpdatedAt = s.now().UTC()
		if cur.Active && !a.Active {
			if err := s.runAppRevokeHooks(t, a); err != nil {
				return err
			}
		}
		return s.putApp(t, a)
	})
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeApps})
	s.Audit(ctx, audit.Event{Kind: audit.AppUpdated, App: a.Slug, Before: before, After: appSnapshot(a)})
	return a, nil
}

// cloneApp copies the slices and maps fn may modify, so a failed update
// leaves nothing changed in memory either.
func cloneApp(a *App) *App {
	c := *a
	c.AllowedGroupIDs = slices.Clone(a.AllowedGroupIDs)
	c.AcceptTokensFrom = slices.Clone(a.AcceptTokensFrom)
	c.Rules = slices.Clone(a.Rules)
	for i := range c.Rules {
		r := &c.Rules[i]
		r.Methods, r.Networks, r.GroupIDs = slices.Clone(r.Methods), slices.Clone(r.Networks), slices.Clone(r.GroupIDs)
	}
	c.Claims = slices.Clone(a.Claims)
	if a.Metadata != nil {
		c.Metadata = make(map[string]string, len(a.Metadata))
		for k, v := range a.Metadata {
			c.Metadata[k] = v
		}
	}
	if a.Headers != nil {
		h := *a.Headers
		c.Headers = &h
	}
	c.SecretHash = slices.Clone(a.SecretHash)
	c.RedirectURIs = slices.Clone(a.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(a.PostLogoutRedirectURIs)
	c.GrantTypes = slices.Clone(a.GrantTypes)
	return &c
}

// DeleteApp removes an app and every API key bound to it.
func (s *Service) DeleteApp(ctx context.Context, slug string) error {
	var keys []string
	var deleted *App
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		a, err := s.apps.GetBy(t, kv.PrefixAppBySlug, strings.ToLower(slug))
		if err != nil {
			return mapKV(err, "app "+slug)
		}
		deleted = cloneApp(a)
		keys = keys[:0]
		err = s.apiKeys.Each(t, func(k *APIKey) error {
			if k.AppID == a.ID {
				keys = append(keys, k.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range keys {
			if err := s.apiKeys.Delete(t, id); err != nil {
				return err
			}
		}
		if err := s.runAppRevokeHooks(t, a); err != nil {
			return err
		}
		if a.Type == AppOIDC {
			// No forward_auth app may keep accepting tokens from a client
			// that is gone (a new one could take its id only by chance,
			// but a dangling reference is a trap either way).
			err := s.apps.Each(t, func(o *App) error {
				i := slices.Index(o.AcceptTokensFrom, a.ID)
				if i < 0 {
					return nil
				}
				o.AcceptTokensFrom = slices.Delete(o.AcceptTokensFrom, i, i+1)
				o.UpdatedAt = s.now().UTC()
				return s.putApp(t, o)
			})
			if err != nil {
				return err
			}
		}
		return s.apps.Delete(t, a.ID)
	})
	if err != nil {
		return err
	}
	for _, id := range keys {
		s.Notify(Change{Kind: ChangeAPIKey, KeyID: id})
	}
	s.Notify(Change{Kind: ChangeApps})
	e := audit.Event{Kind: audit.AppDeleted, App: deleted.Slug, Before: appSnapshot(deleted)}
	if len(keys) > 0 {
		e.Detail = map[string]string{"api_keys_revoked": strconv.Itoa(len(keys))}
	}
	s.Audit(ctx, e)
	return nil
}

// OnAppRevoke registers a hook that runs inside the transaction that
// deactivates or deletes an app, so everything issued for it (OIDC tokens)
// stops working in the same commit.
func (s *Service) OnAppRevoke(fn func(t *kv.Txn, app *App) error) {
	s.mu.Lock()
	s.appRevokeHooks = append(s.appRevokeHooks, fn)
	s.mu.Unlock()
}

func (s *Service) runAppRevokeHooks(t *kv.Txn, a *App) error {
	s.mu.RLock()
	hooks := s.appRevokeHooks
	s.mu.RUnlock()
	for _, h := range hooks {
		if err := h(t, a); err != nil {
			return err
		}
	}
	return nil
}

// Apps lists every application, ordered by slug.
func (s *Service) Apps(ctx context.Context) ([]*App, error) {
	var out []*App
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		out, err = s.apps.All(t)
		return err
	})
	slices.SortFunc(out, func(a, b *App) int { return strings.Compare(a.Slug, b.Slug) })
	return out, err
}

// AppByID returns the application with the id.
func (s *Service) AppByID(ctx context.Context, id string) (*App, error) {
	var a *App
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		a, err = s.apps.Get(t, id)
		return err
	})
	if err != nil {
		return nil, mapKV(err, "app")
	}
	return a, nil
}

// AppBySlug returns the app with the slug.
func (s *Service) AppBySlug(ctx context.Context, slug string) (*App, error) {
	return s.appBy(ctx, kv.PrefixAppBySlug, strings.ToLower(strings.TrimSpace(slug)), "app "+slug)
}

// AppByClientID returns the OIDC app with the client id.
func (s *Service) AppByClientID(ctx context.Context, clientID string) (*App, error) {
	return s.appBy(ctx, kv.PrefixAppByClientID, clientID, "client "+clientID)
}

func (s *Service) appBy(ctx context.Context, idx kv.Prefix, val, what string) (*App, error) {
	var a *App
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		a, err = s.apps.GetBy(t, idx, val)
		return err
	})
	if err != nil {
		return nil, mapKV(err, what)
	}
	return a, nil
}

// RotateAppSecret gives a confidential OIDC client a new secret, returned
// this once; the old one stops working at once.
func (s *Service) RotateAppSecret(ctx context.Context, slug string) (string, error) {
	var secret string
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		a, err := s.apps.GetBy(t, kv.PrefixAppBySlug, strings.ToLower(slug))
		if err != nil {
			return mapKV(err, "app "+slug)
		}
		if a.Type != AppOIDC || a.Public {
			return invalid("app", "only confidential OIDC clients have a secret")
		}
		var hash string
		secret, hash = s.secrets.NewToken(PrefixClientSecret)
		a.SecretHash = []byte(hash)
		a.UpdatedAt = s.now().UTC()
		return s.apps.Put(t, a, 0)
	})
	if err != nil {
		return "", err
	}
	s.Notify(Change{Kind: ChangeApps})
	s.Audit(ctx, audit.Event{Kind: audit.AppUpdated, App: strings.ToLower(slug), Detail: map[string]string{"change": "client secret regenerated"}})
	return secret, nil
}

// CheckClientSecret reports whether secret is the app's client secret. The
// comparison is of HMACs, in constant time; public clients never match.
func (s *Service) CheckClientSecret(a *App, secret string) bool {
	if a == nil || a.Type != AppOIDC || a.Public || len(a.SecretHash) == 0 || secret == "" {
		return false
	}
	h := s.secrets.Hash(secret)
	return subtle.ConstantTimeCompare([]byte(h), a.SecretHash) == 1
}

// ---- API keys ----

// apiKeyPrefixLen is how much of a key's hash lists show to name it.
const apiKeyPrefixLen = 10

// CreateAPIKey makes a bearer key for the forward_auth app with the slug,
// owned by the user with ownerEmail or, when that is "", by the app itself
// (a service identity). ttl 0 means it never expires. The key is returned
// this once; only its HMAC is stored.
func (s *Service) CreateAPIKey(ctx context.Context, slug, ownerEmail, name string, ttl time.Duration) (string, *APIKey, error) {
	if ttl < 0 {
		return "", nil, invalid("expires", "must not be negative")
	}
	name = strings.TrimSpace(name)
	if len(name) > 200 || hasControl(name) {
		return "", nil, invalid("name", "must be at most 200 characters without control characters")
	}
	var email, appSlug string
	if ownerEmail != "" {
		e, err := NormalizeEmail(ownerEmail)
		if err != nil {
			return "", nil, err
		}
		email = e
	}
	token, hash := s.secrets.NewToken(PrefixAPIKey)
	now := s.now().UTC()
	k := &APIKey{ID: hash, Name: name, CreatedAt: now, Prefix: hash[:apiKeyPrefixLen]}
	if ttl > 0 {
		k.ExpiresAt = now.Add(ttl)
	}
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		a, err := s.apps.GetBy(t, kv.PrefixAppBySlug, strings.ToLower(slug))
		if err != nil {
			return mapKV(err, "app "+slug)
		}
		if a.Type != AppForwardAuth {
			return invalid("app", "API keys are for forward_auth apps; OIDC clients use client_credentials")
		}
		k.AppID, appSlug = a.ID, a.Slug
		if email != "" {
			u, err := s.users.GetBy(t, kv.PrefixUserByEmail, email)
			if err != nil {
				return mapKV(err, "user "+email)
			}
			k.UserID = u.ID
		}
		return s.apiKeys.Put(t, k, ttl)
	})
	if err != nil {
		return "", nil, err
	}
	s.Notify(Change{Kind: ChangeAPIKey, KeyID: k.ID})
	e := audit.Event{Kind: audit.APIKeyCreated, Subject: k.UserID, Email: email, App: appSlug, Detail: map[string]string{"key": k.Prefix, "name": k.Name}}
	if !k.ExpiresAt.IsZero() {
		e.Detail["expires"] = k.ExpiresAt.Format(time.RFC3339)
	}
	s.Audit(ctx, e)
	return token, k, nil
}

// APIKeys lists the live keys of the app with the slug, oldest first.
func (s *Service) APIKeys(ctx context.Context, slug string) ([]*APIKey, error) {
	var out []*APIKey
	now := s.now()
	err := s.store.View(ctx, func(t *kv.Txn) error {
		a, err := s.apps.GetBy(t, kv.PrefixAppBySlug, strings.ToLower(slug))
		if err != nil {
			return mapKV(err, "app "+slug)
		}
		return s.apiKeys.Each(t, func(k *APIKey) error {
			if k.AppID == a.ID && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt)) {
				out = append(out, k)
			}
			return nil
		})
	})
	slices.SortFunc(out, func(a, b *APIKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, err
}

// RevokeAPIKey deletes a key of the app, named by its id or its listed
// prefix. An ambiguous prefix is refused.
func (s *Service) RevokeAPIKey(ctx context.Context, slug, idOrPrefix string) error {
	idOrPrefix = strings.TrimSpace(idOrPrefix)
	if idOrPrefix == "" {
		return invalid("id", "is required")
	}
	var id string
	var revoked *APIKey
	var appSlug string
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		a, err := s.apps.GetBy(t, kv.PrefixAppBySlug, strings.ToLower(slug))
		if err != nil {
			return mapKV(err, "app "+slug)
		}
		appSlug = a.Slug
		var matches []string
		err = s.apiKeys.Each(t, func(k *APIKey) error {
			if k.AppID == a.ID && (k.ID == idOrPrefix || k.Prefix == idOrPrefix) {
				matches = append(matches, k.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		switch len(matches) {
		case 0:
			return fmt.Errorf("API key %s of app %s: %w", idOrPrefix, a.Slug, ErrNotFound)
		case 1:
			id = matches[0]
			if revoked, err = s.apiKeys.Get(t, id); err != nil {
				return err
			}
			return s.apiKeys.Delete(t, id)
		default:
			return invalid("id", "matches more than one key; give the full id")
		}
	})
	if err != nil {
		return err
	}
	s.Notify(Change{Kind: ChangeAPIKey, KeyID: id})
	s.Audit(ctx, audit.Event{Kind: audit.APIKeyRevoked, Subject: revoked.UserID, App: appSlug, Detail: map[string]string{"key": revoked.Prefix, "name": revoked.Name}})
	return nil
}

// APIKeyByToken returns the live key for a bearer token, or ErrNotFound.
func (s *Service) APIKeyByToken(ctx context.Context, token string) (*APIKey, error) {
	if !HasPrefix(token, PrefixAPIKey) {
		return nil, fmt.Errorf("API key: %w", ErrNotFound)
	}
	var k *APIKey
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		k, err = s.apiKeys.Get(t, s.secrets.Hash(token))
		return err
	})
	if err != nil {
		return nil, mapKV(err, "API key")
	}
	if !k.ExpiresAt.IsZero() && !s.now().Before(k.ExpiresAt) {
		return nil, fmt.Errorf("API key: %w", ErrNotFound)
	}
	return k, nil
}

// TouchAPIKey records that the key was used. Callers coalesce: it writes.
func (s *Service) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return s.store.Update(ctx, func(t *kv.Txn) error {
		k, err := s.apiKeys.Get(t, id)
		if err != nil {
			return mapKV(err, "API key")
		}
		if !at.After(k.LastUsedAt) {
			return nil
		}
		k.LastUsedAt = at.UTC()
		var ttl time.Duration
		if !k.ExpiresAt.IsZero() {
			if ttl = k.ExpiresAt.Sub(s.now()); ttl <= 0 {
				return nil
			}
		}
		return s.apiKeys.Put(t, k, ttl)
	})
}
