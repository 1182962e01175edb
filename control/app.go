package control

import (
	"context"
	"encoding/json"
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

// headerPairs reads --header k=NAME pairs into the map applyHeaders
// takes.
func headerPairs(pairs []string) (map[string]string, error) {
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, usagef("--header wants key=NAME, like user=Remote-User; got %q", p)
		}
		m[k] = v
	}
	return m, nil
}

// metadataPairs reads --metadata key=value pairs (a blank value removes
// the key on update).
func metadataPairs(pairs []string) (map[string]string, error) {
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("--metadata %q is not key=value", p)
		}
		m[k] = v
	}
	return m, nil
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
	in := AppCreate{
		Name: f.name, Slug: f.slug, Type: auth.AppType(*typ), Active: &f.active,
		AllowedGroups: f.groups, Claims: json.RawMessage(f.claims), Domain: f.domain,
		RedirectURIs: f.redirects, PostLogoutRedirectURIs: f.logouts,
		LaunchURL: f.launchURL, BackchannelLogoutURI: f.backchannel, RequireSecondFactor: f.requireSecondFactor,
		BasicAuth: f.basicAuth, BasicAuthPassword: f.basicAuthPassword,
		Public: f.public, SkipConsent: f.skipConsent, ClientID: f.clientID, GrantTypes: f.grants,
		RequirePKCE: &f.requirePKCE, AlwaysIssueRefresh: f.alwaysRefresh, AcceptTokensFrom: f.acceptTokens,
		AccessTokenTTL: f.accessTTL, RefreshTokenTTL: f.refreshTTL, IDTokenTTL: f.idTTL,
	}
	var err error
	if in.Metadata, err = metadataPairs(f.metadata); err != nil {
		return err
	}
	if len(f.headers) > 0 {
		if in.Headers, err = headerPairs(f.headers); err != nil {
			return err
		}
	}
	a, err := env.CreateApp(ctx, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, a)
	}
	secret := a.ClientSecret
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
	if *asJSON {
		js, err := env.ListApps(ctx)
		if err != nil {
			return err
		}
		return writeJSON(out, js)
	}
	apps, err := env.Auth.Apps(ctx)
	if err != nil {
		return err
	}
	r := appRefs(ctx, env)
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
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if set["group"] && *noGroups {
		return usagef("--group and --no-groups contradict each other")
	}
	var in AppUpdate
	str := func(flag string, v *string) *string {
		if set[flag] {
			return v
		}
		return nil
	}
	boolean := func(flag string, v *bool) *bool {
		if set[flag] {
			return v
		}
		return nil
	}
	strs := func(flag string, v *list) *[]string {
		if set[flag] {
			s := []string(*v)
			return &s
		}
		return nil
	}
	in.Name, in.Slug, in.Domain = str("name", &f.name), str("new-slug", newSlug), str("domain", &f.domain)
	in.LaunchURL, in.BackchannelLogoutURI = str("launch-url", &f.launchURL), str("backchannel-logout-uri", &f.backchannel)
	in.AccessTokenTTL, in.RefreshTokenTTL, in.IDTokenTTL = str("access-token-ttl", &f.accessTTL), str("refresh-token-ttl", &f.refreshTTL), str("id-token-ttl", &f.idTTL)
	in.Active, in.RequireSecondFactor, in.SkipConsent = boolean("active", &f.active), boolean("require-second-factor", &f.requireSecondFactor), boolean("skip-consent", &f.skipConsent)
	in.Public, in.RequirePKCE, in.AlwaysIssueRefresh = boolean("public", &f.public), boolean("require-pkce", &f.requirePKCE), boolean("always-issue-refresh", &f.alwaysRefresh)
	in.BasicAuth, in.BasicAuthPassword = boolean("basic-auth", &f.basicAuth), boolean("basic-auth-password", &f.basicAuthPassword)
	in.AllowedGroups, in.AcceptTokensFrom = strs("group", &f.groups), strs("accept-tokens-from", &f.acceptTokens)
	in.RedirectURIs, in.PostLogoutRedirectURIs, in.GrantTypes = strs("redirect-uri", &f.redirects), strs("post-logout-redirect-uri", &f.logouts), strs("grant-type", &f.grants)
	if *noGroups {
		in.AllowedGroups = &[]string{}
	}
	if set["claims"] {
		in.Claims = json.RawMessage(f.claims)
	}
	var err error
	if set["header"] {
		if in.Headers, err = headerPairs(f.headers); err != nil {
			return err
		}
	}
	if set["metadata"] {
		if in.Metadata, err = metadataPairs(f.metadata); err != nil {
			return err
		}
	}
	a, err := env.UpdateApp(ctx, f.slug, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, a)
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
	if err := env.DeleteApp(ctx, slug); err != nil {
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
	var in APIKeyCreate
	fs.StringVar(&in.Name, "name", "", "what the key is for")
	fs.StringVar(&in.Owner, "owner", "", "email of the user it acts as (default: the app itself)")
	fs.StringVar(&in.Expires, "expires", "", "lifetime, like 90d or 12h (default: never)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	k, err := env.CreateAPIKey(ctx, *slug, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, k)
	}
	fmt.Fprintf(out, "%s\n", k.Key)
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
	js, err := env.ListAPIKeys(ctx, *slug)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, js)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PREFIX\tNAME\tOWNER\tCREATED\tEXPIRES\tLAST USED")
	for _, k := range js {
		owner := k.Owner
		if owner == "" {
			owner = "(app)"
		}
		expires, used := "-", "-"
		if k.ExpiresAt != nil {
			expires = ts(*k.ExpiresAt)
		}
		if k.LastUsedAt != nil {
			used = ts(*k.LastUsedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.Prefix, dash(k.Name), owner, ts(k.CreatedAt), expires, used)
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
	if err := env.RevokeAPIKey(ctx, *slug, *id); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "revoked API key %s of app %s\n", *id, *slug)
	return err
}
