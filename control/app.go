package control

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// AppJSON is the stable shape of an application in `--json` output. The
// client secret appears only in the output of create and secret rotate.
type AppJSON struct {
	ID                     string             `json:"id"`
	Name                   string             `json:"name"`
	Slug                   string             `json:"slug"`
	Type                   auth.AppType       `json:"type"`
	Active                 bool               `json:"active"`
	AllowedGroups          []string           `json:"allowed_groups"`
	Claims                 json.RawMessage    `json:"claims"`
	Metadata               map[string]string  `json:"metadata"`
	Domain                 string             `json:"domain,omitempty"`
	Headers                *auth.HeaderConfig `json:"headers,omitempty"`
	ClientID               string             `json:"client_id,omitempty"`
	ClientSecret           string             `json:"client_secret,omitempty"`
	Public                 bool               `json:"public,omitempty"`
	RedirectURIs           []string           `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs []string           `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI   string             `json:"backchannel_logout_uri,omitempty"`
	LaunchURL              string             `json:"launch_url,omitempty"`
	RequireSecondFactor    bool               `json:"require_second_factor,omitempty"`
	BasicAuth              bool               `json:"basic_auth,omitempty"`
	BasicAuthPassword      bool               `json:"basic_auth_password,omitempty"`
	AcceptTokensFrom       []string           `json:"accept_tokens_from,omitempty"` // OIDC app slugs
	RequirePKCE            bool               `json:"require_pkce,omitempty"`
	AlwaysIssueRefresh     bool               `json:"always_issue_refresh,omitempty"`
	SkipConsent            bool               `json:"skip_consent,omitempty"`
	AccessTokenTTL         string             `json:"access_token_ttl,omitempty"`
	RefreshTokenTTL        string             `json:"refresh_token_ttl,omitempty"`
	IDTokenTTL             string             `json:"id_token_ttl,omitempty"`
	GrantTypes             []string           `json:"grant_types,omitempty"`
	Rules                  []RuleJSON         `json:"rules,omitempty"`
	CreatedAt              time.Time          `json:"created_at"`
	UpdatedAt              time.Time          `json:"updated_at"`
}

// refs name what apps refer to by id: app ids to slugs, group ids to
// names.
type refs struct {
	slugs, groups map[string]string
}

// appRefs reads the names for showing references; a failed read shows
// fewer names, never an error.
func appRefs(ctx context.Context, env *Env) refs {
	r := refs{slugs: map[string]string{}, groups: map[string]string{}}
	if apps, err := env.Auth.Apps(ctx); err == nil {
		for _, a := range apps {
			r.slugs[a.ID] = a.Slug
		}
	}
	if gs, err := env.Auth.GroupNames(ctx); err == nil {
		r.groups = gs
	}
	return r
}

// groupNames are the names of the allowed groups, sorted. An id without a
// group (there should be none) shows as itself rather than vanish, so a
// list never looks more open than the app is.
func (r refs) groupNames(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if n, ok := r.groups[id]; ok {
			out = append(out, n)
		} else {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func appJSON(a *auth.App, secret string, r refs) AppJSON {
	j := AppJSON{
		ID: a.ID, Name: a.Name, Slug: a.Slug, Type: a.Type, Active: a.Active,
		AllowedGroups: r.groupNames(a.AllowedGroupIDs), Claims: a.Claims, Metadata: a.Metadata,
		Domain: a.Domain, ClientID: a.ClientID, ClientSecret: secret, Public: a.Public,
		RedirectURIs: a.RedirectURIs, PostLogoutRedirectURIs: a.PostLogoutRedirectURIs,
		BackchannelLogoutURI: a.BackchannelLogoutURI, LaunchURL: a.LaunchURL, RequireSecondFactor: a.RequireSecondFactor,
		BasicAuth: a.BasicAuth, BasicAuthPassword: a.BasicAuthPassword,
		RequirePKCE: a.RequirePKCE, AlwaysIssueRefresh: a.AlwaysIssueRefresh, SkipConsent: a.SkipConsent, GrantTypes: a.GrantTypes,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
	for _, id := range a.AcceptTokensFrom {
		if slug, ok := r.slugs[id]; ok {
			j.AcceptTokensFrom = append(j.AcceptTokensFrom, slug)
		}
	}
	if len(j.Claims) == 0 {
		j.Claims = json.RawMessage("{}")
	}
	if j.Metadata == nil {
		j.Metadata = map[string]string{}
	}
	if a.Type == auth.AppForwardAuth {
		h := a.EffectiveHeaders()
		j.Headers = &h
		j.Rules = r.rulesJSON(a.Rules)
	}
	if a.Type == auth.AppOIDC {
		j.AccessTokenTTL = time.Duration(a.AccessTokenTTL).String()
		j.RefreshTokenTTL = time.Duration(a.RefreshTokenTTL).String()
		j.IDTokenTTL = time.Duration(a.IDTokenTTL).String()
	}
	return j
}

// APIKeyJSON is the stable shape of an API key; Key is set only by create.
type APIKeyJSON struct {
	ID         string     `json:"id"`
	Prefix     string     `json:"prefix"`
	Name       string     `json:"name"`
	App        string     `json:"app"`
	Owner      string     `json:"owner"` // email, or "" for the app itself
	Key        string     `json:"key,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func appCommands() []Command {
	return []Command{
		{Name: "app create", Summary: "--type forward_auth|oidc --name N [--slug S] [--domain PATTERN] [--group G]... [--header user|email|name|groups|admin=NAME]... [--redirect-uri URI]... [--public] [--json]", Run: appCreate},
		{Name: "app list", Summary: "[--json]", Run: appList},
		{Name: "app update", Summary: "--slug S [--name N] [--new-slug S] [--domain P] [--group G]... [--no-groups] [--header k=NAME]... [--active=false] [--json]", Run: appUpdate},
		{Name: "app delete", Summary: "--slug S (also deletes its API keys)", Run: appDelete},
		{Name: "app apikey create", Summary: "--slug S [--name N] [--owner EMAIL] [--expires 90d] [--json] (prints the key once)", Run: apiKeyCreate},
		{Name: "app apikey list", Summary: "--slug S [--json]", Run: apiKeyList},
		{Name: "app apikey revoke", Summary: "--slug S --id ID|PREFIX", Run: apiKeyRevoke},
		{Name: "app rule add", Summary: "--slug S --path P [--method M]... [--network CIDR]... --policy bypass|signed-in|groups|second-factor|deny [--group G]... [--position N] [--json]", Run: ruleAdd},
		{Name: "app rule list", Summary: "--slug S [--json]", Run: ruleList},
		{Name: "app rule remove", Summary: "--slug S --id ID|--position N", Run: ruleRemove},
		{Name: "app rule move", Summary: "--slug S --id ID --to N", Run: ruleMove},
		{Name: "app secret rotate", Summary: "--slug S [--json] (prints the new client secret once)", Run: appSecretRotate},
	}
}

// appFlags are the settings create and update share.
type appFlags struct {
	name, slug, domain, claims, clientID string
	launchURL, backchannel               string
	acceptTokens                         list
	groups, headers, redirects, logouts  list
	grants, metadata                     list
	public, skipConsent, active          bool
	requireSecondFactor                  bool
	basicAuth, basicAuthPassword         bool
	requirePKCE, alwaysRefresh           bool
	accessTTL, refreshTTL, idTTL         string
}

func (f *appFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "display name")
	fs.StringVar(&f.domain, "domain", "", "forward_auth: host pattern; '*' stands for one label anywhere (*.example.com, api.*.example.com)")
	fs.StringVar(&f.claims, "claims", "", "custom claims as a JSON object")
	fs.Var(&f.groups, "group", "allowed group (repeatable; none = every active user)")
	fs.Var(&f.headers, "header", "forward_auth: user|email|name|groups|admin=HEADER-NAME (blank name turns it off; repeatable)")
	fs.Var(&f.redirects, "redirect-uri", "oidc: exact redirect URI (repeatable)")
	fs.Var(&f.logouts, "post-logout-redirect-uri", "oidc: exact post-logout redirect URI (repeatable)")
	fs.Var(&f.acceptTokens, "accept-tokens-from", "forward_auth: OIDC app slugs (comma-separated or repeated) whose access tokens are accepted as Bearer credentials; \"\" accepts none")
	fs.StringVar(&f.launchURL, "launch-url", "", "URL the home page links to (forward_auth default: https://DOMAIN)")
	fs.StringVar(&f.backchannel, "backchannel-logout-uri", "", "oidc: URL that receives a logout_token when a session that used the app ends")
	fs.Var(&f.metadata, "metadata", "key=value stored with the app; blank value removes the key (repeatable)")
	fs.Var(&f.grants, "grant-type", "oidc: authorization_code, refresh_token, client_credentials (repeatable)")
	fs.BoolVar(&f.public, "public", false, "oidc: public client (no secret, PKCE required)")
	fs.BoolVar(&f.skipConsent, "skip-consent", false, "oidc: do not ask users to consent")
	fs.BoolVar(&f.requirePKCE, "require-pkce", true, "oidc: refuse authorization requests without PKCE (S256); =false only for confidential clients that cannot send it")
	fs.BoolVar(&f.alwaysRefresh, "always-issue-refresh", false, "oidc: issue a refresh token even when the client did not ask for offline_access")
	fs.BoolVar(&f.requireSecondFactor, "require-second-factor", false, "admit only sessions made with a second factor (acr 2); others are taken through it first")
	fs.BoolVar(&f.basicAuth, "basic-auth", false, "forward_auth: accept HTTP Basic (username and an app password: an API key of this app owned by that user); refusals become 401 with a Basic challenge")
	fs.BoolVar(&f.basicAuthPassword, "basic-auth-password", false, "forward_auth, with --basic-auth: also accept the account password of users without a second factor")
	fs.BoolVar(&f.active, "active", true, "whether the app admits anyone")
	fs.StringVar(&f.accessTTL, "access-token-ttl", "", "oidc: 5m-24h (default 1h)")
	fs.StringVar(&f.refreshTTL, "refresh-token-ttl", "", "oidc: 1d-90d (default 30d)")
	fs.StringVar(&f.idTTL, "id-token-ttl", "", "oidc: 5m-24h (default 1h)")
}

// clientIDs turns --accept-tokens-from slugs into the OIDC apps' ids.
func clientIDs(ctx context.Context, env *Env, vals []string) ([]string, error) {
	var ids []string
	for _, v := range vals {
		for _, slug := range strings.Split(v, ",") {
			if slug = strings.TrimSpace(slug); slug == "" {
				continue
			}
			a, err := env.Auth.AppBySlug(ctx, slug)
			if errors.Is(err, auth.ErrNotFound) || err == nil && a.Type != auth.AppOIDC {
				return nil, fmt.Errorf("--accept-tokens-from: %q is not an OIDC app", slug)
			}
			if err != nil {
				return nil, err
			}
			ids = append(ids, a.ID)
		}
	}
	return ids, nil
}

// parseHeaders applies k=NAME pairs to base.
func parseHeaders(base auth.HeaderConfig, pairs []string) (auth.HeaderConfig, error) {
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return base, usagef("--header wants key=NAME, like user=Remote-User; got %q", p)
		}
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
			return base, usagef("--header key must be user, email, name, groups or admin; got %q", k)
		}
	}
	return base, nil
}

// parseTTL reads a Go duration or a number of days ("90d"); "" is 0.
func parseTTL(flagName, s string) (time.Duration, error) {
	d, err := auth.ParseLifetime(s)
	if err != nil {
		return 0, usagef("--%s: %s", flagName, err.Error())
	}
	return d, nil
}

func appCreate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app create")
	var f appFlags
	f.register(fs)
	typ := fs.String("type", "", "forward_auth or oidc (required)")
	fs.StringVar(&f.slug, "slug", "", "URL-safe id (default: from the name)")
	fs.StringVar(&f.clientID, "client-id", "", "oidc: client id (default: generated)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *typ == "" || f.name == "" {
		return usagef("--type and --name are required")
	}
	in := auth.AppInput{
		Name: f.name, Slug: f.slug, Type: auth.AppType(*typ), Active: &f.active,
		AllowedGroups: f.groups, Claims: f.claims, Domain: f.domain,
		RedirectURIs: f.redirects, PostLogoutRedirectURIs: f.logouts,
		LaunchURL: f.launchURL, BackchannelLogoutURI: f.backchannel, RequireSecondFactor: f.requireSecondFactor,
		BasicAuth: f.basicAuth, BasicAuthPassword: f.basicAuthPassword,
		Public: f.public, SkipConsent: f.skipConsent, ClientID: f.clientID, GrantTypes: f.grants,
		RequirePKCE: &f.requirePKCE, AlwaysIssueRefresh: f.alwaysRefresh,
	}
	if f.public && !f.requirePKCE {
		return usagef("--require-pkce=false: a public client always requires PKCE")
	}
	md, err := parseMetadata(nil, f.metadata)
	if err != nil {
		return err
	}
	in.Metadata = md
	if in.AcceptTokensFrom, err = clientIDs(ctx, env, f.acceptTokens); err != nil {
		return err
	}
	if len(f.headers) > 0 {
		h, err := parseHeaders(auth.DefaultHeaders(), f.headers)
		if err != nil {
			return err
		}
		in.Headers = &h
	}
	if in.AccessTokenTTL, err = parseTTL("access-token-ttl", f.accessTTL); err != nil {
		return err
	}
	if in.RefreshTokenTTL, err = parseTTL("refresh-token-ttl", f.refreshTTL); err != nil {
		return err
	}
	if in.IDTokenTTL, err = parseTTL("id-token-ttl", f.idTTL); err != nil {
		return err
	}
	a, secret, err := env.Auth.CreateApp(ctx, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, appJSON(a, secret, appRefs(ctx, env)))
	}
	switch a.Type {
	case auth.AppForwardAuth:
		fmt.Fprintf(out, "created forward_auth app %s for %s\n", a.Slug, a.Domain)
	default:
		fmt.Fprintf(out, "created oidc app %s\nclient_id: %s\n", a.Slug, a.ClientID)
		if secret != "" {
			fmt.Fprintf(out, "client_secret: %s\n(shown once: store it now; `clinch app secret rotate` makes a new one)\n", secret)
		}
	}
	return nil
}

func appList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	apps, err := env.Auth.Apps(ctx)
	if err != nil {
		return err
	}
	r := appRefs(ctx, env)
	if *asJSON {
		js := make([]AppJSON, 0, len(apps))
		for _, a := range apps {
			js = append(js, appJSON(a, "", r))
		}
		return writeJSON(out, js)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tTYPE\tACTIVE\tDOMAIN / CLIENT ID\tGROUPS\tNAME")
	for _, a := range apps {
		where := a.Domain
		if a.Type == auth.AppOIDC {
			where = a.ClientID
		}
		groups := "(everyone)"
		if len(a.AllowedGroupIDs) > 0 {
			groups = strings.Join(r.groupNames(a.AllowedGroupIDs), ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\t%s\n", a.Slug, a.Type, a.Active, where, groups, a.Name)
	}
	return tw.Flush()
}

func appUpdate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app update")
	var f appFlags
	f.register(fs)
	fs.StringVar(&f.slug, "slug", "", "the app to change (required)")
	newSlug := fs.String("new-slug", "", "rename the slug")
	noGroups := fs.Bool("no-groups", false, "clear allowed groups (every active user)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.slug == "" {
		return usagef("--slug is required")
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["group"] && *noGroups {
		return usagef("--group and --no-groups contradict each other")
	}
	ttls := map[string]time.Duration{}
	for name, s := range map[string]string{"access-token-ttl": f.accessTTL, "refresh-token-ttl": f.refreshTTL, "id-token-ttl": f.idTTL} {
		if set[name] {
			d, err := parseTTL(name, s)
			if err != nil {
				return err
			}
			ttls[name] = d
		}
	}
	var groups []string
	if set["group"] {
		var err error
		if groups, err = env.Auth.GroupIDsByName(ctx, f.groups); err != nil {
			return err
		}
	}
	var accept []string
	if set["accept-tokens-from"] {
		var err error
		if accept, err = clientIDs(ctx, env, f.acceptTokens); err != nil {
			return err
		}
	}
	a, err := env.Auth.UpdateApp(ctx, f.slug, func(a *auth.App) error {
		if set["accept-tokens-from"] {
			a.AcceptTokensFrom = accept
		}
		if set["name"] {
			a.Name = f.name
		}
		if set["new-slug"] {
			a.Slug = *newSlug
		}
		if set["domain"] {
			a.Domain = f.domain
		}
		if set["claims"] {
			c, err := auth.NormalizeClaims(f.claims)
			if err != nil {
				return err
			}
			a.Claims = c
		}
		if set["group"] {
			a.AllowedGroupIDs = groups
		}
		if *noGroups {
			a.AllowedGroupIDs = nil
		}
		if set["header"] {
			h, err := parseHeaders(a.EffectiveHeaders(), f.headers)
			if err != nil {
				return err
			}
			a.Headers = &h
		}
		if set["active"] {
			a.Active = f.active
		}
		if set["metadata"] {
			md, err := parseMetadata(a.Metadata, f.metadata)
			if err != nil {
				return err
			}
			a.Metadata = md
		}
		if set["redirect-uri"] {
			a.RedirectURIs = f.redirects
		}
		if set["post-logout-redirect-uri"] {
			a.PostLogoutRedirectURIs = f.logouts
		}
		if set["require-second-factor"] {
			a.RequireSecondFactor = f.requireSecondFactor
		}
		if set["basic-auth"] {
			a.BasicAuth = f.basicAuth
			if !f.basicAuth && !set["basic-auth-password"] {
				a.BasicAuthPassword = false
			}
		}
		if set["basic-auth-password"] {
			a.BasicAuthPassword = f.basicAuthPassword
		}
		if set["launch-url"] {
			a.LaunchURL = f.launchURL
		}
		if set["backchannel-logout-uri"] {
			a.BackchannelLogoutURI = f.backchannel
		}
		if set["grant-type"] {
			a.GrantTypes = f.grants
		}
		if set["skip-consent"] {
			a.SkipConsent = f.skipConsent
		}
		if set["public"] {
			a.Public = f.public
		}
		if set["require-pkce"] {
			if a.Public && !f.requirePKCE {
				return usagef("--require-pkce=false: a public client always requires PKCE")
			}
			a.RequirePKCE = f.requirePKCE
		}
		if set["always-issue-refresh"] {
			a.AlwaysIssueRefresh = f.alwaysRefresh
		}
		if d, ok := ttls["access-token-ttl"]; ok {
			a.AccessTokenTTL = auth.Duration(d)
		}
		if d, ok := ttls["refresh-token-ttl"]; ok {
			a.RefreshTokenTTL = auth.Duration(d)
		}
		if d, ok := ttls["id-token-ttl"]; ok {
			a.IDTokenTTL = auth.Duration(d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, appJSON(a, "", appRefs(ctx, env)))
	}
	_, err = fmt.Fprintf(out, "updated app %s\n", a.Slug)
	return err
}

func slugFlag(name string, args []string) (string, error) {
	fs := newFlags(name)
	slug := fs.String("slug", "", "the app's slug (required)")
	if err := parse(fs, args); err != nil {
		return "", err
	}
	if *slug == "" {
		return "", usagef("--slug is required")
	}
	return *slug, nil
}

func appDelete(ctx context.Context, env *Env, args []string, out io.Writer) error {
	slug, err := slugFlag("app delete", args)
	if err != nil {
		return err
	}
	if err := env.Auth.DeleteApp(ctx, slug); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "deleted app %s and its API keys\n", slug)
	return err
}

func appSecretRotate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app secret rotate")
	slug := fs.String("slug", "", "the app's slug (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return usagef("--slug is required")
	}
	secret, err := env.Auth.RotateAppSecret(ctx, *slug)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, map[string]string{"slug": *slug, "client_secret": secret})
	}
	_, err = fmt.Fprintf(out, "client_secret: %s\n(shown once; the old secret no longer works)\n", secret)
	return err
}

func apiKeyJSON(k *auth.APIKey, slug, owner, token string) APIKeyJSON {
	j := APIKeyJSON{ID: k.ID, Prefix: k.Prefix, Name: k.Name, App: slug, Owner: owner, Key: token, CreatedAt: k.CreatedAt}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt
		j.ExpiresAt = &t
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		j.LastUsedAt = &t
	}
	return j
}

func apiKeyCreate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app apikey create")
	slug := fs.String("slug", "", "the forward_auth app (required)")
	name := fs.String("name", "", "what the key is for")
	owner := fs.String("owner", "", "email of the user it acts as (default: the app itself)")
	expires := fs.String("expires", "", "lifetime, like 90d or 12h (default: never)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return usagef("--slug is required")
	}
	ttl, err := parseTTL("expires", *expires)
	if err != nil {
		return err
	}
	tok, k, err := env.Auth.CreateAPIKey(ctx, *slug, *owner, *name, ttl)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, apiKeyJSON(k, *slug, strings.ToLower(strings.TrimSpace(*owner)), tok))
	}
	fmt.Fprintf(out, "%s\n", tok)
	fmt.Fprintf(out, "(API key %s for app %s, shown once: send it as \"Authorization: Bearer <key>\", or with --owner as the password of HTTP Basic at an app with --basic-auth)\n", k.Prefix, *slug)
	return nil
}

func apiKeyList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app apikey list")
	slug := fs.String("slug", "", "the app (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return usagef("--slug is required")
	}
	keys, err := env.Auth.APIKeys(ctx, *slug)
	if err != nil {
		return err
	}
	emails := map[string]string{}
	if users, err := env.Auth.Users(ctx); err == nil {
		for _, u := range users {
			emails[u.ID] = u.Email
		}
	}
	js := make([]APIKeyJSON, 0, len(keys))
	for _, k := range keys {
		js = append(js, apiKeyJSON(k, *slug, emails[k.UserID], ""))
	}
	if *asJSON {
		return writeJSON(out, js)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tNAME\tOWNER\tCREATED\tEXPIRES\tLAST USED")
	for _, k := range keys {
		owner := emails[k.UserID]
		if k.UserID == "" {
			owner = "(app)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Prefix, dash(k.Name), dash(owner), ts(k.CreatedAt), ts(k.ExpiresAt), ts(k.LastUsedAt))
	}
	return tw.Flush()
}

func apiKeyRevoke(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app apikey revoke")
	slug := fs.String("slug", "", "the app (required)")
	id := fs.String("id", "", "the key's id or listed prefix (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" || *id == "" {
		return usagef("--slug and --id are required")
	}
	if err := env.Auth.RevokeAPIKey(ctx, *slug, *id); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "revoked API key %s of app %s\n", *id, *slug)
	return err
}

// parseMetadata applies key=value pairs on top of cur (a blank value
// deletes the key) and returns a new map.
func parseMetadata(cur map[string]string, pairs []string) (map[string]string, error) {
	out := make(map[string]string, len(cur)+len(pairs))
	for k, v := range cur {
		out[k] = v
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("--metadata %q is not key=value", p)
		}
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
