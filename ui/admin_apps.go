package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// The admin's application pages (issue 10), with the access rules of
// forward_auth apps (issue 11). Every change goes through the auth
// service's operations that `clinch app …` uses; a refused change shows
// the form again with the reason next to the field and writes nothing.
//
//	GET  /admin/apps                              both kinds, with links to make one
//	GET  /admin/apps/new?type=oidc|forward_auth   the form for a new app
//	POST /admin/apps/new                          create; an OIDC client's secret is shown once
//	GET  /admin/apps/{slug}                       settings form, API keys, rules, preview
//	POST /admin/apps/{slug}                       save the settings
//	GET|POST /admin/apps/{slug}/delete            confirm, then delete (with its API keys)
//	GET|POST /admin/apps/{slug}/secret            confirm, then a new client secret, shown once
//	POST /admin/apps/{slug}/keys                  a new API key, shown once
//	GET|POST /admin/apps/{slug}/keys/{id}/revoke  confirm, then revoke
//	POST /admin/apps/{slug}/rules                 add an access rule
//	POST /admin/apps/{slug}/rules/{id}/move       move it to position "to"
//	GET|POST /admin/apps/{slug}/rules/{id}/remove confirm, then remove
const pathAdminApps = "/admin/apps"

func (h *Handler) registerAdminApps(mux *http.ServeMux) {
	mux.Handle("GET "+pathAdminApps, h.adminPage(h.adminApps))
	mux.Handle("GET "+pathAdminApps+"/new", h.adminPage(h.adminAppNewForm))
	mux.Handle("POST "+pathAdminApps+"/new", h.adminPage(h.adminAppCreate))
	mux.Handle("GET "+pathAdminApps+"/{slug}", h.adminPage(h.adminApp))
	mux.Handle("POST "+pathAdminApps+"/{slug}", h.adminPage(h.adminAppUpdate))
	mux.Handle("GET "+pathAdminApps+"/{slug}/delete", h.adminPage(h.adminAppDeleteForm))
	mux.Handle("POST "+pathAdminApps+"/{slug}/delete", h.adminPage(h.adminAppDelete))
	mux.Handle("GET "+pathAdminApps+"/{slug}/secret", h.adminPage(h.adminAppSecretForm))
	mux.Handle("POST "+pathAdminApps+"/{slug}/secret", h.adminPage(h.adminAppSecret))
	mux.Handle("POST "+pathAdminApps+"/{slug}/keys", h.adminPage(h.adminAppKeyCreate))
	mux.Handle("GET "+pathAdminApps+"/{slug}/keys/{id}/revoke", h.adminPage(h.adminAppKeyRevokeForm))
	mux.Handle("POST "+pathAdminApps+"/{slug}/keys/{id}/revoke", h.adminPage(h.adminAppKeyRevoke))
	mux.Handle("POST "+pathAdminApps+"/{slug}/rules", h.adminPage(h.adminAppRuleAdd))
	mux.Handle("POST "+pathAdminApps+"/{slug}/rules/{id}/move", h.adminPage(h.adminAppRuleMove))
	mux.Handle("GET "+pathAdminApps+"/{slug}/rules/{id}/remove", h.adminPage(h.adminAppRuleRemoveForm))
	mux.Handle("POST "+pathAdminApps+"/{slug}/rules/{id}/remove", h.adminPage(h.adminAppRuleRemove))
}

// appsView is what the application templates read.
type appsView struct {
	*page
	Apps []appRow // the list

	App  *auth.App // the app of the page
	Form *appForm  // its settings as the form shows them
	// Errors are the refusals by form field ("" = about the whole form).
	Errors map[string]string
	// Choices for the form: every group's name, every OIDC app's slug.
	GroupNames []string
	OIDCSlugs  []string

	Keys     []keyRow
	KeyForm  keyForm
	Rules    []ruleRow
	RuleForm ruleForm
	Fallback string // who the app admits when no rule matches
	Policies []policyChoice

	Preview *preview

	// Shown once (admin/app_once.html): the credentials just made.
	OnceTitle, ClientID, Secret, APIKey string
}

type appRow struct {
	*auth.App
	Groups string // names, or "everyone"
}

type policyChoice struct {
	Name auth.RulePolicy
	Says string
}

type keyRow struct {
	*auth.APIKey
	Owner string // email, or "" for the app itself
}

type ruleRow struct {
	auth.AccessRule
	Position int
	Groups   string
	Last     bool
}

// Err is the refusal of a form field for the template ("" when none).
func (v *appsView) Err(field string) string { return v.Errors[field] }

func (h *Handler) appsView(me *auth.User, title string) *appsView {
	return &appsView{page: &page{Title: title, User: me, AdminTab: tabApps}, Errors: map[string]string{}}
}

// renderApps renders the admin page templates/admin/<name>.html. The
// application pages read more than page holds, so v embeds the page
// (rather than riding in page.Admin): the layout and the admin navigation
// find their fields on it all the same.
func (h *Handler) renderApps(w http.ResponseWriter, r *http.Request, status int, name string, v *appsView) {
	if len(v.Errors) > 0 {
		v.page.Error = v.Errors[""]
		if v.page.Error == "" {
			v.page.Error = "Nothing was saved: see the fields marked below."
		}
	}
	h.renderData(w, r, status, adminTemplate(name), v.page, v)
}

// adminFail logs err and shows the error page: 404 for a missing app, key or
// rule, 500 otherwise.
func (h *Handler) adminFail(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, auth.ErrNotFound) {
		h.RenderError(w, r, http.StatusNotFound, "Not found", "There is no such application, key or rule (any more).")
		return
	}
	web.Logger(r, h.log).Error("admin apps: "+what, "err", err)
	h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Nothing was changed. Please try again.")
}

// ---- list ----

func (h *Handler) adminApps(w http.ResponseWriter, r *http.Request, me *auth.User) {
	ctx := r.Context()
	apps, err := h.auth.Apps(ctx)
	if err != nil {
		h.adminFail(w, r, "list", err)
		return
	}
	names, err := h.auth.GroupNames(ctx)
	if err != nil {
		h.adminFail(w, r, "group names", err)
		return
	}
	v := h.appsView(me, "Applications")
	for _, a := range apps {
		v.Apps = append(v.Apps, appRow{App: a, Groups: groupList(names, a.AllowedGroupIDs, "everyone")})
	}
	h.renderApps(w, r, http.StatusOK, "apps", v)
}

// groupList names the groups with the ids, sorted, or none when there are
// none. An id without a name shows as itself, so a list never looks more
// open than the app is.
func groupList(names map[string]string, ids []string, none string) string {
	if len(ids) == 0 {
		return none
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if n, ok := names[id]; ok {
			out = append(out, n)
		} else {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// ---- the settings form ----

// appForm is an app's settings as the form spells them: lists one a line,
// lifetimes like 1h or 30d, groups and OIDC apps by name.
type appForm struct {
	Type                auth.AppType
	Name, Slug          string
	Active              bool
	Groups              []string
	Claims, Metadata    string
	LaunchURL           string
	RequireSecondFactor bool

	// forward_auth
	Domain                                string
	HUser, HEmail, HName, HGroups, HAdmin string
	AcceptTokensFrom                      []string
	BasicAuth, BasicAuthPassword          bool

	// oidc
	ClientID                         string
	Public, RequirePKCE, SkipConsent bool
	AlwaysIssueRefresh               bool
	RedirectURIs, PostLogoutURIs     string
	BackchannelLogoutURI             string
	AccessTTL, RefreshTTL, IDTTL     string
	GrantTypes                       []string

	// shown, never posted
	HasSecret            bool
	CreatedAt, UpdatedAt time.Time
}

// For the template.
func (f *appForm) OIDC() bool               { return f.Type == auth.AppOIDC }
func (f *appForm) InGroup(name string) bool { return slices.Contains(f.Groups, name) }
func (f *appForm) Accepts(slug string) bool { return slices.Contains(f.AcceptTokensFrom, slug) }
func (f *appForm) Grants(g string) bool     { return slices.Contains(f.GrantTypes, g) }

// GrantChoices are the grant types an OIDC app may use.
func (f *appForm) GrantChoices() []string {
	return []string{auth.GrantAuthorizationCode, auth.GrantRefreshToken, auth.GrantClientCredentials}
}

// newAppForm is the form for a new app of the type, with the defaults the
// CLI has.
func newAppForm(typ auth.AppType) *appForm {
	h := auth.DefaultHeaders()
	return &appForm{
		Type: typ, Active: true, RequirePKCE: true,
		HUser: h.User, HEmail: h.Email, HName: h.Name, HGroups: h.Groups, HAdmin: h.Admin,
		AccessTTL: fmtLifetime(auth.DefaultAccessTokenTTL), RefreshTTL: fmtLifetime(auth.DefaultRefreshTokenTTL),
		IDTTL:      fmtLifetime(auth.DefaultIDTokenTTL),
		GrantTypes: []string{auth.GrantAuthorizationCode, auth.GrantRefreshToken},
	}
}

// appFormOf is the form showing a; names maps group ids to names, slugs app
// ids to slugs.
func appFormOf(a *auth.App, names, slugs map[string]string) *appForm {
	h := a.EffectiveHeaders()
	f := &appForm{
		Type: a.Type, Name: a.Name, Slug: a.Slug, Active: a.Active,
		LaunchURL: a.LaunchURL, RequireSecondFactor: a.RequireSecondFactor,
		Domain: a.Domain, HUser: h.User, HEmail: h.Email, HName: h.Name, HGroups: h.Groups, HAdmin: h.Admin,
		BasicAuth: a.BasicAuth, BasicAuthPassword: a.BasicAuthPassword,
		ClientID: a.ClientID, Public: a.Public, RequirePKCE: a.RequirePKCE, SkipConsent: a.SkipConsent,
		AlwaysIssueRefresh: a.AlwaysIssueRefresh,
		RedirectURIs:       strings.Join(a.RedirectURIs, "\n"), PostLogoutURIs: strings.Join(a.PostLogoutRedirectURIs, "\n"),
		BackchannelLogoutURI: a.BackchannelLogoutURI, GrantTypes: slices.Clone(a.GrantTypes),
		HasSecret: len(a.SecretHash) > 0, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
	if a.Type == auth.AppOIDC {
		f.AccessTTL, f.RefreshTTL, f.IDTTL = fmtLifetime(time.Duration(a.AccessTokenTTL)), fmtLifetime(time.Duration(a.RefreshTokenTTL)), fmtLifetime(time.Duration(a.IDTokenTTL))
	}
	for _, id := range a.AllowedGroupIDs {
		if n, ok := names[id]; ok {
			f.Groups = append(f.Groups, n)
		}
	}
	for _, id := range a.AcceptTokensFrom {
		if s, ok := slugs[id]; ok {
			f.AcceptTokensFrom = append(f.AcceptTokensFrom, s)
		}
	}
	if len(a.Claims) > 0 && string(a.Claims) != "{}" {
		f.Claims = string(a.Claims)
	}
	keys := make([]string, 0, len(a.Metadata))
	for k := range a.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var md []string
	for _, k := range keys {
		md = append(md, k+"="+a.Metadata[k])
	}
	f.Metadata = strings.Join(md, "\n")
	return f
}

// readAppForm reads a posted form of an app of the type.
func readAppForm(r *http.Request, typ auth.AppType) *appForm {
	_ = r.ParseForm()
	v := func(k string) string { return strings.TrimSpace(r.PostForm.Get(k)) }
	on := func(k string) bool { return r.PostForm.Get(k) != "" }
	return &appForm{
		Type: typ, Name: v("name"), Slug: v("slug"), Active: on("active"),
		Groups: r.PostForm["group"], Claims: v("claims"), Metadata: r.PostForm.Get("metadata"),
		LaunchURL: v("launch_url"), RequireSecondFactor: on("require_second_factor"),
		Domain: v("domain"), HUser: v("header_user"), HEmail: v("header_email"), HName: v("header_name"),
		HGroups: v("header_groups"), HAdmin: v("header_admin"),
		AcceptTokensFrom: r.PostForm["accept_tokens_from"], BasicAuth: on("basic_auth"), BasicAuthPassword: on("basic_auth_password"),
		ClientID: v("client_id"), Public: on("public"), RequirePKCE: on("require_pkce"), SkipConsent: on("skip_consent"),
		AlwaysIssueRefresh: on("always_issue_refresh"),
		RedirectURIs:       r.PostForm.Get("redirect_uri"), PostLogoutURIs: r.PostForm.Get("post_logout_redirect_uri"),
		BackchannelLogoutURI: v("backchannel_logout_uri"),
		AccessTTL:            v("access_token_ttl"), RefreshTTL: v("refresh_token_ttl"), IDTTL: v("id_token_ttl"),
		GrantTypes: r.PostForm["grant_types"],
	}
}

// lines splits a text area into its non-blank lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// parsed is what of a form needs reading before the service sees it.
type parsed struct {
	metadata                     map[string]string
	accessTTL, refreshTTL, idTTL time.Duration
	accept                       []string // OIDC app ids
}

// parse checks what the service cannot (the spelling of lifetimes,
// metadata lines, OIDC app slugs); errs gets the refusals by field.
func (f *appForm) parse(ids map[string]string, errs map[string]string) parsed {
	var p parsed
	for _, l := range lines(f.Metadata) {
		k, val, ok := strings.Cut(l, "=")
		if k = strings.TrimSpace(k); !ok || k == "" {
			errs["metadata"] = fmt.Sprintf("%q is not key=value", l)
			break
		}
		if val = strings.TrimSpace(val); val == "" {
			continue // as in the CLI, a blank value is no entry
		}
		if p.metadata == nil {
			p.metadata = map[string]string{}
		}
		p.metadata[k] = val
	}
	if f.Type == auth.AppOIDC {
		for _, t := range []struct {
			field, s string
			dst      *time.Duration
		}{{"access_token_ttl", f.AccessTTL, &p.accessTTL}, {"refresh_token_ttl", f.RefreshTTL, &p.refreshTTL}, {"id_token_ttl", f.IDTTL, &p.idTTL}} {
			d, err := auth.ParseLifetime(t.s)
			if err != nil {
				errs[t.field] = err.Error()
			}
			*t.dst = d
		}
		if f.Public && !f.RequirePKCE {
			errs["require_pkce"] = "A public client always requires PKCE."
		}
	}
	if f.Type == auth.AppForwardAuth {
		for _, s := range f.AcceptTokensFrom {
			id, ok := ids[s]
			if !ok {
				errs["accept_tokens_from"] = fmt.Sprintf("%q is not an OIDC app", s)
				break
			}
			p.accept = append(p.accept, id)
		}
	}
	return p
}

func (f *appForm) headers() *auth.HeaderConfig {
	return &auth.HeaderConfig{User: f.HUser, Email: f.HEmail, Name: f.HName, Groups: f.HGroups, Admin: f.HAdmin}
}

// apply sets a's settings from the form (for an update); groupIDs are the
// ids of f.Groups.
func (f *appForm) apply(a *auth.App, p parsed, groupIDs []string) error {
	claims, err := auth.NormalizeClaims(f.Claims)
	if err != nil {
		return err
	}
	a.Name, a.Slug, a.Active, a.Claims, a.Metadata = f.Name, f.Slug, f.Active, claims, p.metadata
	a.AllowedGroupIDs, a.LaunchURL, a.RequireSecondFactor = groupIDs, f.LaunchURL, f.RequireSecondFactor
	switch a.Type {
	case auth.AppForwardAuth:
		a.Domain, a.Headers, a.AcceptTokensFrom = f.Domain, f.headers(), p.accept
		a.BasicAuth, a.BasicAuthPassword = f.BasicAuth, f.BasicAuthPassword
	case auth.AppOIDC:
		a.Public, a.RequirePKCE, a.SkipConsent, a.AlwaysIssueRefresh = f.Public, f.RequirePKCE, f.SkipConsent, f.AlwaysIssueRefresh
		a.RedirectURIs, a.PostLogoutRedirectURIs = lines(f.RedirectURIs), lines(f.PostLogoutURIs)
		a.BackchannelLogoutURI, a.GrantTypes = f.BackchannelLogoutURI, f.GrantTypes
		a.AccessTokenTTL, a.RefreshTokenTTL, a.IDTokenTTL = auth.Duration(p.accessTTL), auth.Duration(p.refreshTTL), auth.Duration(p.idTTL)
	}
	return nil
}

// input is the form as a new app.
func (f *appForm) input(p parsed) auth.AppInput {
	active, pkce := f.Active, f.RequirePKCE
	in := auth.AppInput{
		Name: f.Name, Slug: f.Slug, Type: f.Type, Active: &active, AllowedGroups: f.Groups,
		Claims: f.Claims, Metadata: p.metadata, LaunchURL: f.LaunchURL, RequireSecondFactor: f.RequireSecondFactor,
	}
	switch f.Type {
	case auth.AppForwardAuth:
		in.Domain, in.Headers, in.AcceptTokensFrom = f.Domain, f.headers(), p.accept
		in.BasicAuth, in.BasicAuthPassword = f.BasicAuth, f.BasicAuthPassword
	case auth.AppOIDC:
		in.ClientID, in.Public, in.RequirePKCE, in.SkipConsent, in.AlwaysIssueRefresh = f.ClientID, f.Public, &pkce, f.SkipConsent, f.AlwaysIssueRefresh
		in.RedirectURIs, in.PostLogoutRedirectURIs = lines(f.RedirectURIs), lines(f.PostLogoutURIs)
		in.BackchannelLogoutURI, in.GrantTypes = f.BackchannelLogoutURI, f.GrantTypes
		in.AccessTokenTTL, in.RefreshTokenTTL, in.IDTokenTTL = p.accessTTL, p.refreshTTL, p.idTTL
	}
	return in
}

// fmtLifetime spells a lifetime as the form reads it back: whole days as
// "30d", else like "1h" or "90m".
func fmtLifetime(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// formField is the form field a service refusal is about ("" for the
// whole form).
func formField(err error) (string, string, bool) {
	var ie *auth.InvalidError
	if !errors.As(err, &ie) {
		return "", "", false
	}
	f := strings.ReplaceAll(ie.Field, " ", "_")
	switch f {
	case "name", "slug", "launch_url", "claims", "metadata", "domain", "client_id", "redirect_uri",
		"post_logout_redirect_uri", "backchannel_logout_uri", "access_token_ttl", "refresh_token_ttl",
		"id_token_ttl", "grant_types", "accept_tokens_from", "basic_auth_password",
		"header_user", "header_email", "header_name", "header_groups", "header_admin",
		"rule_path", "rule_method", "rule_network", "rule_policy", "rule_group", "rule_position",
		"expires", "owner", "email":
	case "group":
		f = "groups"
	default:
		f = ""
	}
	return f, appFieldLabel(ie.Field) + sep(ie.Reason) + ie.Reason + ".", true
}

// appFieldLabel names a service field as the form does.
func appFieldLabel(field string) string {
	switch field {
	case "redirect_uri":
		return "Redirect URI"
	case "post_logout_redirect_uri":
		return "Post-logout redirect URI"
	case "backchannel_logout_uri":
		return "Back-channel logout URI"
	case "launch_url":
		return "Launch URL"
	case "client_id":
		return "Client id"
	case "access_token_ttl", "refresh_token_ttl", "id_token_ttl":
		return upperFirst(strings.ReplaceAll(strings.TrimSuffix(field, "ttl"), "_", " ")) + "lifetime"
	case "basic_auth_password":
		return "Accepting the account password"
	case "accept_tokens_from":
		return "Accepting tokens"
	case "header user", "header email", "header name", "header groups", "header admin":
		return "The header"
	case "rule path", "rule method", "rule network", "rule policy", "rule group", "rule position":
		return "The " + strings.TrimPrefix(field, "rule ")
	case "group":
		return "A group"
	}
	return upperFirst(strings.ReplaceAll(field, "_", " "))
}

// sep joins a label and a reason: "Name is required", but "Redirect URI:
// \"x\" may not have a fragment".
func sep(reason string) string {
	for _, w := range []string{"is ", "must ", "may ", "has ", "needs ", "are ", "cannot ", "apply ", "matches "} {
		if strings.HasPrefix(reason, w) {
			return " "
		}
	}
	return ": "
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// refused files a service refusal the admin can fix under its field and
// reports whether err was one; a conflict (a slug, client id or domain
// another app has) goes at the top.
func refused(err error, errs map[string]string) bool {
	if f, msg, ok := formField(err); ok {
		errs[f] = msg
		return true
	}
	if errors.Is(err, auth.ErrConflict) {
		errs[""] = upperFirst(err.Error()) + "."
		return true
	}
	return false
}

// formChoices fills the form's choices: every group and OIDC app.
func (h *Handler) formChoices(ctx context.Context, v *appsView) (names, slugIDs map[string]string, err error) {
	names, err = h.auth.GroupNames(ctx)
	if err != nil {
		return nil, nil, err
	}
	v.GroupNames, v.OIDCSlugs = nil, nil
	for _, n := range names {
		v.GroupNames = append(v.GroupNames, n)
	}
	slices.Sort(v.GroupNames)
	apps, err := h.auth.Apps(ctx)
	if err != nil {
		return nil, nil, err
	}
	slugIDs = map[string]string{}
	for _, a := range apps {
		if a.Type == auth.AppOIDC {
			v.OIDCSlugs = append(v.OIDCSlugs, a.Slug)
			slugIDs[a.Slug] = a.ID
		}
	}
	return names, slugIDs, nil
}

func appType(s string) (auth.AppType, bool) {
	switch t := auth.AppType(s); t {
	case auth.AppOIDC, auth.AppForwardAuth:
		return t, true
	}
	return "", false
}

func (h *Handler) adminAppNewForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	typ, ok := appType(r.URL.Query().Get("type"))
	if !ok {
		http.Redirect(w, r, pathAdminApps, http.StatusSeeOther)
		return
	}
	v := h.appsView(me, "New application")
	if _, _, err := h.formChoices(r.Context(), v); err != nil {
		h.adminFail(w, r, "form choices", err)
		return
	}
	v.Form = newAppForm(typ)
	h.renderApps(w, r, http.StatusOK, "app", v)
}

func (h *Handler) adminAppCreate(w http.ResponseWriter, r *http.Request, me *auth.User) {
	ctx := r.Context()
	typ, ok := appType(r.PostFormValue("type"))
	if !ok {
		h.RenderError(w, r, http.StatusBadRequest, "Not an application type", "Choose an OIDC or a forward_auth application.")
		return
	}
	v := h.appsView(me, "New application")
	_, slugIDs, err := h.formChoices(ctx, v)
	if err != nil {
		h.adminFail(w, r, "form choices", err)
		return
	}
	v.Form = readAppForm(r, typ)
	p := v.Form.parse(slugIDs, v.Errors)
	if len(v.Errors) == 0 {
		var a *auth.App
		var secret string
		a, secret, err = h.auth.CreateApp(ctx, v.Form.input(p))
		switch {
		case err == nil:
			web.Logger(r, h.log).Info("admin created an app", "admin", me.ID, "app", a.Slug, "type", a.Type)
			if a.Type == auth.AppOIDC {
				h.showOnce(w, r, me, a, "Application created", a.ClientID, secret, "")
				return
			}
			http.Redirect(w, r, pathAdminApps+"/"+a.Slug, http.StatusSeeOther)
			return
		case !refused(err, v.Errors):
			h.adminFail(w, r, "create", err)
			return
		}
	}
	h.renderApps(w, r, http.StatusBadRequest, "app", v)
}

// showOnce shows credentials just made. The page is never cached
// (render's no-store) and nothing links back to it: the secret is not
// kept, so it cannot be shown again.
func (h *Handler) showOnce(w http.ResponseWriter, r *http.Request, me *auth.User, a *auth.App, title, clientID, secret, key string) {
	v := h.appsView(me, title)
	v.App, v.OnceTitle, v.ClientID, v.Secret, v.APIKey = a, title, clientID, secret, key
	h.renderApps(w, r, http.StatusOK, "app_once", v)
}

// ---- one app ----

// appPage fills v for the app page of a: the form (unless v has one, as
// after a refused save), the keys, rules and choices.
func (h *Handler) appPage(ctx context.Context, v *appsView, a *auth.App) error {
	names, _, err := h.formChoices(ctx, v)
	if err != nil {
		return err
	}
	v.App = a
	v.Title = a.Name
	if v.Form == nil {
		apps, err := h.auth.Apps(ctx)
		if err != nil {
			return err
		}
		slugs := map[string]string{}
		for _, o := range apps {
			slugs[o.ID] = o.Slug
		}
		v.Form = appFormOf(a, names, slugs)
	}
	v.Form.HasSecret = len(a.SecretHash) > 0
	if a.Type != auth.AppForwardAuth {
		return nil
	}
	keys, err := h.auth.APIKeys(ctx, a.Slug)
	if err != nil {
		return err
	}
	for _, k := range keys {
		row := keyRow{APIKey: k}
		if k.UserID != "" {
			if u, err := h.auth.User(ctx, k.UserID); err == nil {
				row.Owner = u.Email
			} else {
				row.Owner = "(a deleted user)"
			}
		}
		v.Keys = append(v.Keys, row)
	}
	for i, ru := range a.Rules {
		v.Rules = append(v.Rules, ruleRow{AccessRule: ru, Position: i + 1, Groups: groupList(names, ru.GroupIDs, ""), Last: i == len(a.Rules)-1})
	}
	v.Fallback = "every active user"
	if len(a.AllowedGroupIDs) > 0 {
		v.Fallback = "members of " + groupList(names, a.AllowedGroupIDs, "")
	}
	v.Policies = []policyChoice{
		{auth.PolicyBypass, "no sign-in needed; the identity headers are sent empty"},
		{auth.PolicySignedIn, "every active signed-in user"},
		{auth.PolicyGroups, "members of the groups checked below"},
		{auth.PolicySecondFactor, "signed in with a second factor (members of the groups below, or of the app's)"},
		{auth.PolicyDeny, "nobody"},
	}
	if v.RuleForm.Policy == "" {
		v.RuleForm.Policy = auth.PolicySignedIn
	}
	return nil
}

func (h *Handler) renderApp(w http.ResponseWriter, r *http.Request, status int, v *appsView, a *auth.App) {
	if err := h.appPage(r.Context(), v, a); err != nil {
		h.adminFail(w, r, "app page", err)
		return
	}
	h.renderApps(w, r, status, "app", v)
}

func (h *Handler) adminApp(w http.ResponseWriter, r *http.Request, me *auth.User) {
	a, err := h.auth.AppBySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		h.adminFail(w, r, "read app", err)
		return
	}
	v := h.appsView(me, a.Name)
	if r.URL.Query().Get("saved") != "" {
		v.Notice = "Saved."
	}
	if login := strings.TrimSpace(r.URL.Query().Get("preview")); login != "" {
		v.Preview = h.preview(r, a, login)
	}
	h.renderApp(w, r, http.StatusOK, v, a)
}

func (h *Handler) adminAppUpdate(w http.ResponseWriter, r *http.Request, me *auth.User) {
	ctx := r.Context()
	cur, err := h.auth.AppBySlug(ctx, r.PathValue("slug"))
	if err != nil {
		h.adminFail(w, r, "read app", err)
		return
	}
	v := h.appsView(me, cur.Name)
	_, slugIDs, err := h.formChoices(ctx, v)
	if err != nil {
		h.adminFail(w, r, "form choices", err)
		return
	}
	v.Form = readAppForm(r, cur.Type)
	v.Form.ClientID = cur.ClientID // shown, never changed here
	p := v.Form.parse(slugIDs, v.Errors)
	var groupIDs []string
	if len(v.Errors) == 0 {
		groupIDs, err = h.auth.GroupIDsByName(ctx, v.Form.Groups)
		if err != nil && !refused(err, v.Errors) {
			h.adminFail(w, r, "groups", err)
			return
		}
	}
	if len(v.Errors) == 0 {
		var a *auth.App
		a, err = h.auth.UpdateApp(ctx, cur.Slug, func(a *auth.App) error { return v.Form.apply(a, p, groupIDs) })
		switch {
		case err == nil:
			web.Logger(r, h.log).Info("admin changed an app", "admin", me.ID, "app", a.Slug)
			http.Redirect(w, r, pathAdminApps+"/"+a.Slug+"?saved=1", http.StatusSeeOther)
			return
		case !refused(err, v.Errors):
			h.adminFail(w, r, "update", err)
			return
		}
	}
	// The page shows the app as stored, with the refused form.
	h.renderApp(w, r, http.StatusBadRequest, v, cur)
}

// ---- delete, secret ----

func (h *Handler) adminAppDeleteForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	a, err := h.auth.AppBySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		h.adminFail(w, r, "read app", err)
		return
	}
	detail := "Everyone signed in to it loses access at once: its tokens stop working."
	if a.Type == auth.AppForwardAuth {
		detail = "Its API keys and access rules are deleted too, and the proxy refuses every request to " + a.Domain + "."
	}
	h.confirmPage(w, r, tabApps, me, &confirmation{
		Heading: "Delete " + a.Name + "?", Lines: []string{detail},
		Action: pathAdminApps + "/" + a.Slug + "/delete", Button: "Delete the application", Cancel: pathAdminApps + "/" + a.Slug,
	})
}

func (h *Handler) adminAppDelete(w http.ResponseWriter, r *http.Request, me *auth.User) {
	slug := r.PathValue("slug")
	if err := h.auth.DeleteApp(r.Context(), slug); err != nil {
		h.adminFail(w, r, "delete", err)
		return
	}
	web.Logger(r, h.log).Info("admin deleted an app", "admin", me.ID, "app", slug)
	http.Redirect(w, r, pathAdminApps, http.StatusSeeOther)
}

func (h *Handler) adminAppSecretForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	a, err := h.auth.AppBySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		h.adminFail(w, r, "read app", err)
		return
	}
	h.confirmPage(w, r, tabApps, me, &confirmation{
		Heading: "Make a new client secret for " + a.Name + "?",
		Lines:   []string{"The current secret stops working at once: the application cannot sign anyone in until it has the new one."},
		Action:  pathAdminApps + "/" + a.Slug + "/secret", Button: "Make a new secret", Cancel: pathAdminApps + "/" + a.Slug,
	})
}

func (h *Handler) adminAppSecret(w http.ResponseWriter, r *http.Request, me *auth.User) {
	ctx := r.Context()
	secret, err := h.auth.RotateAppSecret(ctx, r.PathValue("slug"))
	var ie *auth.InvalidError
	if errors.As(err, &ie) {
		h.RenderError(w, r, http.StatusBadRequest, "No secret to make", "Only confidential OIDC clients have a client secret.")
		return
	}
	if err != nil {
		h.adminFail(w, r, "rotate secret", err)
		return
	}
	a, err := h.auth.AppBySlug(ctx, r.PathValue("slug"))
	if err != nil {
		h.adminFail(w, r, "read app", err)
		return
	}
	web.Logger(r, h.log).Info("admin made a new client secret", "admin", me.ID, "app", a.Slug)
	h.showOnce(w, r, me, a, "New client secret", a.ClientID, secret, "")
}

// ---- API keys ----

type keyForm struct{ Name, Owner, Expires string }

func (h *Handler) adminAppKeyCreate(w http.ResponseWriter, r *http.Request, me *auth.User) {
	ctx := r.Context()
	a, err := h.auth.AppBySlug(ctx, r.PathValue("slug"))
	if err != nil {
		h.adminFail(w, r, "read app", err)
		return
	}
	v := h.appsView(me, a.Name)
	v.KeyForm = keyForm{Name: strings.TrimSpace(r.PostFormValue("name")), Owner: strings.TrimSpace(r.PostFormValue("owner")), Expires: strings.TrimSpace(r.PostFormValue("expires"))}
	ttl, err := auth.ParseLifetime(v.KeyForm.Expires)
	if err != nil {
		v.Errors["expires"] = err.Error()
	} else {
		var tok string
		var k *auth.APIKey
		tok, k, err = h.auth.CreateAPIKey(ctx, a.Slug, v.KeyForm.Owner, v.KeyForm.Name, ttl)
		switch {
		case err == nil:
			web.Logger(r, h.log).Info("admin made an API key", "admin", me.ID, "app", a.Slug, "key", k.Prefix)
			h.showOnce(w, r, me, a, "New API key", "", "", tok)
			return
		case errors.Is(err, auth.ErrNotFound) && v.KeyForm.Owner != "":
			v.Errors["owner"] = "No user has this email."
		case refused(err, v.Errors):
			for from, to := range map[string]string{"email": "owner", "name": "name_key"} {
				if msg, ok := v.Errors[from]; ok {
					delete(v.Errors, from)
					v.Errors[to] = msg
				}
			}
		default:
			h.adminFail(w, r, "create API key", err)
			return
		}
	}
	h.renderApp(w, r, http.StatusBadRequest, v, a)
}

func (h *Handler) findKey(r *http.Request) (*auth.App, *auth.APIKey, error) {
	ctx := r.Context()
	a, err := h.auth.AppBySlug(ctx, r.PathValue("slug"))
	if err != nil {
		return nil, nil, err
	}
	keys, err := h.auth.APIKeys(ctx, a.Slug)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		if k.Prefix == r.PathValue("id") {
			return a, k, nil
		}
	}
	return nil, nil, fmt.Errorf("API key: %w", auth.ErrNotFound)
}

func (h *Handler) adminAppKeyRevokeForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	a, k, err := h.findKey(r)
	if err != nil {
		h.adminFail(w, r, "read key", err)
		return
	}
	name := k.Prefix
	if k.Name != "" {
		name = k.Name + " (" + k.Prefix + ")"
	}
	h.confirmPage(w, r, tabApps, me, &confirmation{
		Heading: "Revoke the API key " + name + "?",
		Lines:   []string{"Requests that send it are refused from now on. This cannot be undone."},
		Action:  pathAdminApps + "/" + a.Slug + "/keys/" + url.PathEscape(k.Prefix) + "/revoke", Button: "Revoke the key",
		Cancel: pathAdminApps + "/" + a.Slug,
	})
}

func (h *Handler) adminAppKeyRevoke(w http.ResponseWriter, r *http.Request, me *auth.User) {
	a, k, err := h.findKey(r)
	if err == nil {
		err = h.auth.RevokeAPIKey(r.Context(), a.Slug, k.ID)
	}
	if err != nil {
		h.adminFail(w, r, "revoke key", err)
		return
	}
	web.Logger(r, h.log).Info("admin revoked an API key", "admin", me.ID, "app", a.Slug, "key", k.Prefix)
	http.Redirect(w, r, pathAdminApps+"/"+a.Slug+"#keys", http.StatusSeeOther)
}

// ---- access rules ----

type ruleForm struct {
	Path, Methods, Networks, Position string
	Policy                            auth.RulePolicy
	Groups                            []string
}

func (h *Handler) adminAppRuleAdd(w http.ResponseWriter, r *http.Request, me *auth.User) {
	ctx := r.Context()
	a, err := h.auth.AppBySlug(ctx, r.PathValue("slug"))
	if err != nil {
		h.adminFail(w, r, "read app", err)
		return
	}
	v := h.appsView(me, a.Name)
	_ = r.ParseForm()
	f := ruleForm{
		Path: strings.TrimSpace(r.PostForm.Get("path")), Methods: r.PostForm.Get("methods"), Networks: r.PostForm.Get("networks"),
		Position: strings.TrimSpace(r.PostForm.Get("position")), Policy: auth.RulePolicy(r.PostForm.Get("policy")), Groups: r.PostForm["rule_group"],
	}
	v.RuleForm = f
	pos := 0
	if f.Position != "" {
		if pos, err = strconv.Atoi(f.Position); err != nil || pos < 1 {
			v.Errors["rule_position"] = "Give a position of 1 or more, or leave it blank to add the rule last."
		}
	}
	if len(v.Errors) == 0 {
		in := auth.RuleInput{Path: f.Path, Methods: strings.Fields(strings.ReplaceAll(f.Methods, ",", " ")),
			Networks: strings.Fields(strings.ReplaceAll(f.Networks, ",", " ")), Policy: f.Policy, Groups: f.Groups}
		_, rule, err := h.auth.AddAppRule(ctx, a.Slug, in, pos)
		switch {
		case err == nil:
			web.Logger(r, h.log).Info("admin added an access rule", "admin", me.ID, "app", a.Slug, "rule", rule.ID)
			http.Redirect(w, r, pathAdminApps+"/"+a.Slug+"#rules", http.StatusSeeOther)
			return
		case !refused(err, v.Errors):
			h.adminFail(w, r, "add rule", err)
			return
		}
		// A refusal about the app as a whole (say, rules on an OIDC app)
		// belongs to the rule form.
		if msg, ok := v.Errors[""]; ok {
			delete(v.Errors, "")
			v.Errors["rule"] = msg
		}
	}
	h.renderApp(w, r, http.StatusBadRequest, v, a)
}

func (h *Handler) adminAppRuleMove(w http.ResponseWriter, r *http.Request, me *auth.User) {
	slug, id := r.PathValue("slug"), r.PathValue("id")
	to, err := strconv.Atoi(r.PostFormValue("to"))
	if err != nil || to < 1 {
		h.RenderError(w, r, http.StatusBadRequest, "Not a position", "Move the rule with its up and down buttons.")
		return
	}
	a, err := h.auth.MoveAppRule(r.Context(), slug, id, to)
	var ie *auth.InvalidError
	if errors.As(err, &ie) {
		// The list changed meanwhile (another admin): show it again.
		http.Redirect(w, r, pathAdminApps+"/"+slug+"#rules", http.StatusSeeOther)
		return
	}
	if err != nil {
		h.adminFail(w, r, "move rule", err)
		return
	}
	web.Logger(r, h.log).Info("admin moved an access rule", "admin", me.ID, "app", a.Slug, "rule", id, "to", to)
	http.Redirect(w, r, pathAdminApps+"/"+a.Slug+"#rules", http.StatusSeeOther)
}

func (h *Handler) adminAppRuleRemoveForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	a, err := h.auth.AppBySlug(r.Context(), r.PathValue("slug"))
	if err != nil {
		h.adminFail(w, r, "read app", err)
		return
	}
	i := slices.IndexFunc(a.Rules, func(ru auth.AccessRule) bool { return ru.ID == r.PathValue("id") })
	if i < 0 {
		h.adminFail(w, r, "read rule", auth.ErrNotFound)
		return
	}
	ru := a.Rules[i]
	h.confirmPage(w, r, tabApps, me, &confirmation{
		Heading: fmt.Sprintf("Remove rule %d (%s → %s)?", i+1, ru.Path, ru.Policy),
		Lines:   []string{"Requests it matched are decided by the rules after it, or by the application's groups."},
		Action:  pathAdminApps + "/" + a.Slug + "/rules/" + url.PathEscape(ru.ID) + "/remove", Button: "Remove the rule",
		Cancel: pathAdminApps + "/" + a.Slug + "#rules",
	})
}

func (h *Handler) adminAppRuleRemove(w http.ResponseWriter, r *http.Request, me *auth.User) {
	slug, id := r.PathValue("slug"), r.PathValue("id")
	a, err := h.auth.RemoveAppRule(r.Context(), slug, id, 0)
	if err != nil {
		h.adminFail(w, r, "remove rule", err)
		return
	}
	web.Logger(r, h.log).Info("admin removed an access rule", "admin", me.ID, "app", a.Slug, "rule", id)
	http.Redirect(w, r, pathAdminApps+"/"+a.Slug+"#rules", http.StatusSeeOther)
}

// ---- preview ----

// preview is what a chosen user would get from the app.
type preview struct {
	Login   string
	Error   string
	User    *auth.User
	CanUse  bool
	Why     string   // why not, or what else applies
	Claims  string   // OIDC: indented JSON
	Headers []header // forward_auth, in name order
}

type header struct{ Name, Value string }

func (h *Handler) preview(r *http.Request, a *auth.App, login string) *preview {
	ctx := r.Context()
	p := &preview{Login: login}
	u, err := h.auth.UserByEmail(ctx, login)
	if err != nil {
		if errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrInvalid) {
			p.Error = "No user has the email " + login + "."
			return p
		}
		web.Logger(r, h.log).Error("admin apps: preview user", "err", err)
		p.Error = "The user could not be read. Please try again."
		return p
	}
	p.User = u
	groups, err := h.auth.UserGroups(ctx, u.ID)
	if err != nil {
		web.Logger(r, h.log).Error("admin apps: preview groups", "err", err)
		p.Error = "The user's groups could not be read. Please try again."
		return p
	}
	p.CanUse = auth.CanUse(a, u.Status, auth.GroupIDs(groups))
	switch {
	case !a.Active:
		p.Why = "The application is inactive: it admits nobody."
	case u.Status != auth.StatusActive:
		p.Why = "The account is " + string(u.Status) + ", not active."
	case !p.CanUse:
		p.Why = "The user is in none of the application's groups."
	case a.RequireSecondFactor:
		p.Why = "The application requires a second factor: a session without one is taken through it first."
	}
	if a.Type == auth.AppForwardAuth && len(a.Rules) > 0 {
		p.Why = strings.TrimSpace(p.Why + " The access rules above decide first for the paths they match; this is the answer where none does.")
	}
	switch a.Type {
	case auth.AppOIDC:
		if h.claimsPreview == nil {
			return p
		}
		claims, err := h.claimsPreview(ctx, a, u)
		if err == nil {
			var b []byte
			if b, err = json.MarshalIndent(claims, "", "  "); err == nil {
				p.Claims = string(b)
			}
		}
		if err != nil {
			web.Logger(r, h.log).Error("admin apps: preview claims", "err", err)
			p.Error = "The claims could not be worked out. Please try again."
		}
	case auth.AppForwardAuth:
		if h.headersPreview == nil {
			return p
		}
		hd := h.headersPreview(a, u, groups)
		for name, vals := range hd {
			p.Headers = append(p.Headers, header{Name: name, Value: strings.Join(vals, ", ")})
		}
		slices.SortFunc(p.Headers, func(x, y header) int { return strings.Compare(x.Name, y.Name) })
	}
	return p
}
