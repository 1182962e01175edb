package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// One user's admin page and what can be done there:
//
//	GET  /admin/users/{id}                         the user: edit form, state, second factors, sessions, apps
//	POST /admin/users/{id}                         save name, email, username, admin, groups, custom claims
//	GET|POST /admin/users/{id}/disable             disable (confirmed): signed out everywhere
//	POST /admin/users/{id}/enable                  enable
//	GET|POST /admin/users/{id}/delete              delete (confirmed)
//	POST /admin/users/{id}/second-factor           require a second factor, or lift the user's own requirement
//	GET|POST /admin/users/{id}/reset-second-factors remove every second factor (confirmed)
//	POST /admin/users/{id}/sessions/{sid}/end      end one session
//	POST /admin/users/{id}/sessions/end            end every session
//	POST /admin/users/{id}/grants/revoke           end the OIDC grants at one app (app=ID)
//	POST /admin/users/{id}/app-claims              set the claims at one OIDC app (app=slug)
//	POST /admin/users/{id}/invite                  a new invitation link (pending users)

// userView is one user's page.
type userView struct {
	U *auth.User
	// Form is what the edit form shows: the user, or what was typed
	// when saving failed.
	Form     userForm
	Groups   []groupChoice
	Factors  *auth.SecondFactorStatus
	Sessions []*auth.Session
	Grants   []grantView
	// OIDC is false when there is no OIDC provider to ask about grants.
	OIDC      bool
	AppClaims []appClaimsView
	// ClaimsApp is the app whose claims form failed, so it shows what
	// was typed.
	ClaimsApp string
	MailOn    bool
	// Link is a fresh invitation link, shown once when no mail is
	// configured.
	Link string
	Self bool // the admin is looking at their own account
}

// grantView is the grants of one app.
type grantView struct {
	AppID, AppName string
	Scopes         []string
	Since          time.Time
	Count          int
}

// appClaimsView is one OIDC app's claims form.
type appClaimsView struct {
	Slug, Name, Claims string
}

// formOf is the edit form showing u as it is.
func formOf(u *auth.User, groups []*auth.Group) userForm {
	f := userForm{Email: u.Email, Name: u.DisplayName, Username: u.Username, Admin: u.Admin, Claims: prettyClaims(u.Claims)}
	for _, g := range groups {
		f.Groups = append(f.Groups, g.Name)
	}
	return f
}

// prettyClaims indents stored (compact) claims JSON for a textarea.
func prettyClaims(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// adminTarget finds the user named by the {id} path value; on failure it
// has answered (404 or 500).
func (h *Handler) adminTarget(w http.ResponseWriter, r *http.Request) (*auth.User, bool) {
	u, err := h.auth.User(r.Context(), r.PathValue("id"))
	if errors.Is(err, auth.ErrNotFound) {
		h.RenderError(w, r, http.StatusNotFound, "No such user", "There is no user at this address; they may have been deleted.")
		return nil, false
	}
	if err != nil {
		h.adminInternalError(w, r, "load user", err)
		return nil, false
	}
	return u, true
}

// userPage renders u's page; v may carry a form to show again, a
// failed claims form, or an invitation link.
func (h *Handler) userPage(w http.ResponseWriter, r *http.Request, me, u *auth.User, status int, v *userView, p *page) {
	ctx := r.Context()
	groups, err := h.auth.UserGroups(ctx, u.ID)
	if err != nil {
		h.adminInternalError(w, r, "user groups", err)
		return
	}
	if v.U == nil {
		v.Form = formOf(u, groups)
	}
	v.U, v.Self, v.MailOn, v.OIDC = u, u.ID == me.ID, h.mailDelivers(), h.grants != nil
	if v.Groups, err = h.groupChoices(ctx, v.Form.Groups); err != nil {
		h.adminInternalError(w, r, "list groups", err)
		return
	}
	if v.Factors, err = h.auth.SecondFactorStatus(ctx, u.ID); err != nil {
		h.adminInternalError(w, r, "second factors", err)
		return
	}
	if v.Sessions, err = h.auth.UserSessions(ctx, u.ID); err != nil {
		h.adminInternalError(w, r, "user sessions", err)
		return
	}
	apps, err := h.auth.Apps(ctx)
	if err != nil {
		h.adminInternalError(w, r, "list apps", err)
		return
	}
	names := map[string]string{}
	for _, a := range apps {
		names[a.ID] = a.Name
	}
	if h.grants != nil {
		gs, err := h.grants.UserGrants(ctx, u.ID)
		if err != nil {
			h.adminInternalError(w, r, "user grants", err)
			return
		}
		v.Grants = groupGrants(gs, names)
	}
	for _, a := range apps {
		if a.Type != auth.AppOIDC {
			continue
		}
		ac := appClaimsView{Slug: a.Slug, Name: a.Name}
		if a.Slug == v.ClaimsApp {
			ac.Claims = r.PostFormValue("claims")
		} else {
			c, err := h.auth.UserAppClaims(ctx, u.ID, a.ID)
			if err != nil {
				h.adminInternalError(w, r, "app claims", err)
				return
			}
			ac.Claims = prettyClaims(c)
		}
		v.AppClaims = append(v.AppClaims, ac)
	}
	p.Title, p.Admin = u.Email, v
	if p.Notice == "" {
		p.Notice = notice(r)
	}
	h.renderAdmin(w, r, status, "user", tabUsers, me, p)
}

// groupGrants folds grants into one entry per app, newest app first.
func groupGrants(gs []Grant, names map[string]string) []grantView {
	var out []grantView
	for _, g := range gs {
		i := slices.IndexFunc(out, func(v grantView) bool { return v.AppID == g.AppID })
		if i < 0 {
			name := names[g.AppID]
			if name == "" {
				name = "(deleted application)"
			}
			out = append(out, grantView{AppID: g.AppID, AppName: name, Since: g.CreatedAt})
			i = len(out) - 1
		}
		v := &out[i]
		v.Count++
		if g.CreatedAt.Before(v.Since) {
			v.Since = g.CreatedAt
		}
		for _, s := range g.Scopes {
			if !slices.Contains(v.Scopes, s) {
				v.Scopes = append(v.Scopes, s)
			}
		}
	}
	return out
}

func (h *Handler) adminUser(w http.ResponseWriter, r *http.Request, me *auth.User) {
	if u, ok := h.adminTarget(w, r); ok {
		h.userPage(w, r, me, u, http.StatusOK, &userView{}, &page{})
	}
}

// adminSaveUser is POST /admin/users/{id}: every field of the edit form
// in one transaction; a mistake anywhere saves nothing and shows the
// form again as it was typed, with the problem named.
func (h *Handler) adminSaveUser(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	f := readUserForm(r)
	groups := f.Groups
	if groups == nil {
		groups = []string{}
	}
	saved, err := h.auth.UpdateUser(r.Context(), u.Email, auth.UserUpdate{
		Email: &f.Email, Username: &f.Username, DisplayName: &f.Name, Admin: &f.Admin, Claims: &f.Claims, Groups: &groups,
	})
	if err != nil {
		if msg := userError(err); msg != "" {
			h.userPage(w, r, me, u, http.StatusBadRequest, &userView{U: u, Form: f}, &page{Error: msg})
			return
		}
		h.adminInternalError(w, r, "save user", err)
		return
	}
	web.Logger(r, h.log).Info("admin changed a user", "admin_id", me.ID, "user_id", saved.ID)
	if saved.ID == me.ID && !saved.Admin {
		// They gave up admin: the admin pages are closed to them now.
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, userPath(saved)+"?done=saved", http.StatusSeeOther)
}

func (h *Handler) adminDisableUserForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	lines := []string{u.Name() + " can no longer sign in, and is signed out of Clinch and of every application at once.", "You can enable the account again later; nothing else is removed."}
	if u.ID == me.ID {
		lines = append(lines, "This is your own account: you will be signed out too.")
	}
	h.confirmPage(w, r, tabUsers, me, &confirmation{
		Heading: "Disable " + u.Email + "?", Lines: lines,
		Action: userPath(u) + "/disable", Button: "Disable the user", Cancel: userPath(u),
	})
}

func (h *Handler) adminDisableUser(w http.ResponseWriter, r *http.Request, me *auth.User) {
	h.setStatus(w, r, me, auth.StatusDisabled, "disabled")
}

func (h *Handler) adminEnableUser(w http.ResponseWriter, r *http.Request, me *auth.User) {
	h.setStatus(w, r, me, auth.StatusActive, "enabled")
}

func (h *Handler) setStatus(w http.ResponseWriter, r *http.Request, me *auth.User, st auth.Status, done string) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	if st == auth.StatusActive && u.Status == auth.StatusPendingInvitation {
		h.userPage(w, r, me, u, http.StatusConflict, &userView{}, &page{Error: "This user has not accepted their invitation yet; they become active when they do."})
		return
	}
	if _, err := h.auth.SetStatus(r.Context(), u.Email, st); err != nil {
		if msg := userError(err); msg != "" {
			h.userPage(w, r, me, u, http.StatusConflict, &userView{}, &page{Error: msg})
			return
		}
		h.adminInternalError(w, r, "set user status", err)
		return
	}
	web.Logger(r, h.log).Info("admin set a user's status", "admin_id", me.ID, "user_id", u.ID, "status", st)
	http.Redirect(w, r, userPath(u)+"?done="+done, http.StatusSeeOther)
}

func (h *Handler) adminDeleteUserForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	h.confirmPage(w, r, tabUsers, me, &confirmation{
		Heading: "Delete " + u.Email + "?",
		Lines: []string{
			"The account goes for good: its sessions, passkeys, second factors, API keys, group memberships and every application's access.",
			"This cannot be undone. To only stop them signing in, disable the account instead.",
		},
		Action: userPath(u) + "/delete", Button: "Delete the user", Cancel: userPath(u),
	})
}

func (h *Handler) adminDeleteUser(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	if err := h.auth.DeleteUser(r.Context(), u.Email); err != nil {
		if msg := userError(err); msg != "" {
			h.userPage(w, r, me, u, http.StatusConflict, &userView{}, &page{Error: msg})
			return
		}
		h.adminInternalError(w, r, "delete user", err)
		return
	}
	web.Logger(r, h.log).Info("admin deleted a user", "admin_id", me.ID, "user_id", u.ID)
	if u.ID == me.ID {
		h.site.ClearSession(w)
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, pathAdminUsers+"?done=deleted", http.StatusSeeOther)
}

// adminRequireSecondFactor is POST /admin/users/{id}/second-factor with
// required=on or off.
func (h *Handler) adminRequireSecondFactor(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	required := r.PostFormValue("required") == "on"
	if _, _, err := h.auth.SetRequireSecondFactor(r.Context(), u.Email, required); err != nil {
		h.adminInternalError(w, r, "require second factor", err)
		return
	}
	web.Logger(r, h.log).Info("admin set a user's second-factor requirement", "admin_id", me.ID, "user_id", u.ID, "required", required)
	done := "required"
	if !required {
		done = "not-required"
	}
	http.Redirect(w, r, userPath(u)+"?done="+done, http.StatusSeeOther)
}

func (h *Handler) adminResetFactorsForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	h.confirmPage(w, r, tabUsers, me, &confirmation{
		Heading: "Reset the second factors of " + u.Email + "?",
		Lines: []string{
			"Removes their authenticator app, backup codes and passkeys, and signs them out everywhere: for someone who lost their phone or security key.",
			"If a second factor is required of them, they set up a new one right after their password at their next sign-in.",
		},
		Action: userPath(u) + "/reset-second-factors", Button: "Reset second factors", Cancel: userPath(u),
	})
}

func (h *Handler) adminResetFactors(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	if _, _, err := h.auth.ResetSecondFactors(r.Context(), u.Email); err != nil {
		h.adminInternalError(w, r, "reset second factors", err)
		return
	}
	web.Logger(r, h.log).Info("admin reset a user's second factors", "admin_id", me.ID, "user_id", u.ID)
	if u.ID == me.ID {
		h.site.ClearSession(w)
		http.Redirect(w, r, signinURL(pathAdmin, ""), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, userPath(u)+"?done=factors-reset", http.StatusSeeOther)
}

// adminEndSession ends one session of the user.
func (h *Handler) adminEndSession(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	err := h.auth.EndSession(r.Context(), r.PathValue("sid"), u.ID)
	if errors.Is(err, auth.ErrNotFound) {
		// Ended already (or not the user's): the page shows what is left.
		http.Redirect(w, r, userPath(u), http.StatusSeeOther)
		return
	}
	if err != nil {
		h.adminInternalError(w, r, "end session", err)
		return
	}
	h.auth.Audit(r.Context(), audit.Event{Kind: audit.SessionRevoked, Subject: u.ID, Email: u.Email})
	web.Logger(r, h.log).Info("admin ended a session", "admin_id", me.ID, "user_id", u.ID)
	http.Redirect(w, r, userPath(u)+"?done=session-ended", http.StatusSeeOther)
}

// adminEndSessions ends every session of the user, and with them their
// OIDC grants (as `clinch user sessions revoke` does).
func (h *Handler) adminEndSessions(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	if _, err := h.auth.RevokeSessions(r.Context(), u.Email); err != nil {
		h.adminInternalError(w, r, "end sessions", err)
		return
	}
	web.Logger(r, h.log).Info("admin ended every session of a user", "admin_id", me.ID, "user_id", u.ID)
	http.Redirect(w, r, userPath(u)+"?done=sessions-ended", http.StatusSeeOther)
}

// adminRevokeGrants ends the user's OIDC grants at the app in the form.
func (h *Handler) adminRevokeGrants(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	app := r.PostFormValue("app")
	if h.grants == nil || app == "" {
		h.RenderError(w, r, http.StatusBadRequest, "Nothing to revoke", "The form named no application.")
		return
	}
	n, err := h.grants.RevokeUser(r.Context(), u.ID, app)
	if err != nil {
		h.adminInternalError(w, r, "revoke grants", err)
		return
	}
	slug := app
	if a, err := h.auth.AppByID(r.Context(), app); err == nil {
		slug = a.Slug
	}
	h.auth.Audit(r.Context(), audit.Event{Kind: audit.TokenRevoked, Subject: u.ID, Email: u.Email, App: slug,
		Detail: map[string]string{"grants_ended": strconv.Itoa(n)}})
	// Caches holding the tokens drop them.
	h.auth.Notify(auth.Change{Kind: auth.ChangeUser, UserID: u.ID})
	h.auth.Notify(auth.Change{Kind: auth.ChangeToken, UserID: u.ID})
	web.Logger(r, h.log).Info("admin revoked a user's grants", "admin_id", me.ID, "user_id", u.ID, "app_id", app)
	http.Redirect(w, r, userPath(u)+"?done=grants-revoked", http.StatusSeeOther)
}

// adminSetAppClaims sets the user's claims at one OIDC app.
func (h *Handler) adminSetAppClaims(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	slug := r.PostFormValue("app")
	err := h.auth.SetUserAppClaims(r.Context(), u.Email, slug, r.PostFormValue("claims"))
	if err != nil {
		if msg := userError(err); msg != "" {
			h.userPage(w, r, me, u, http.StatusBadRequest, &userView{ClaimsApp: slug}, &page{Error: msg})
			return
		}
		h.adminInternalError(w, r, "app claims", err)
		return
	}
	web.Logger(r, h.log).Info("admin set a user's app claims", "admin_id", me.ID, "user_id", u.ID, "app", slug)
	http.Redirect(w, r, userPath(u)+"?done=claims-saved#app-claims", http.StatusSeeOther)
}

// adminReinvite makes a new invitation link for a pending user, voiding
// the old one.
func (h *Handler) adminReinvite(w http.ResponseWriter, r *http.Request, me *auth.User) {
	u, ok := h.adminTarget(w, r)
	if !ok {
		return
	}
	tok, invited, _, err := h.auth.Invite(r.Context(), auth.NewUser{Email: u.Email})
	if errors.Is(err, auth.ErrNotInvitable) {
		h.userPage(w, r, me, u, http.StatusConflict, &userView{}, &page{Error: "This user already accepted an invitation."})
		return
	}
	if err != nil {
		h.adminInternalError(w, r, "invite user", err)
		return
	}
	u = invited
	web.Logger(r, h.log).Info("admin re-invited a user", "admin_id", me.ID, "user_id", u.ID)
	link := InvitationURL(h.site.Host, tok)
	if h.sendInvitation(r, u, link) {
		http.Redirect(w, r, userPath(u)+"?done=invite-resent", http.StatusSeeOther)
		return
	}
	h.userPage(w, r, me, u, http.StatusOK, &userView{Link: link}, &page{})
}
