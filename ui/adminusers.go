package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// The users list and the making of users:
//
//	GET  /admin/users?q=…&after=…   one page of users, found by email, username or name
//	GET  /admin/users/new           the forms to invite or create a user
//	POST /admin/users/new           create a user with a password
//	POST /admin/users/invite        invite a user (mailed, or the link shown when no mail)
//
// One user's page and its actions are in adminuser.go.
const (
	pathAdminUsers = pathAdmin + "/users"
	// usersPerPage is the list's page size.
	usersPerPage = 50
)

// usersView is the users list.
type usersView struct {
	Search string
	Users  []*auth.User
	// Next is the link to the next page; "" on the last. First is the
	// link back to the first page, when this is not it.
	Next, First string
}

func (h *Handler) adminUsers(w http.ResponseWriter, r *http.Request, me *auth.User) {
	q := r.URL.Query()
	search := strings.TrimSpace(q.Get("q"))
	if len(search) > 200 {
		search = search[:200]
	}
	after := q.Get("after")
	res, err := h.auth.FindUsers(r.Context(), auth.UserQuery{Search: search, After: after, Limit: usersPerPage})
	if err != nil {
		h.adminInternalError(w, r, "list users", err)
		return
	}
	v := &usersView{Search: search, Users: res.Users}
	if res.Next != "" {
		v.Next = usersListURL(search, res.Next)
	}
	if after != "" {
		v.First = usersListURL(search, "")
	}
	h.renderAdmin(w, r, http.StatusOK, "users", tabUsers, me, &page{Title: "Users", Admin: v, Notice: notice(r)})
}

// usersListURL is the link to a page of the users list.
func usersListURL(search, after string) string {
	v := url.Values{}
	if search != "" {
		v.Set("q", search)
	}
	if after != "" {
		v.Set("after", after)
	}
	if len(v) == 0 {
		return pathAdminUsers
	}
	return pathAdminUsers + "?" + v.Encode()
}

// newUserView is the page with the invite and create forms.
type newUserView struct {
	// Form is what was typed, shown again after an error; Invite says
	// which of the two forms it was.
	Form   userForm
	Invite bool
	Groups []groupChoice
	MailOn bool
	// Link is the invitation link, shown when no mail is configured.
	Link    string
	Invited *auth.User
}

// userForm is the fields of a user as typed into a form.
type userForm struct {
	Email, Name, Username, Claims string
	Admin                         bool
	Groups                        []string
}

// userFields is what the userfields partial shows: the form's id
// prefix, the values, the group checkboxes, and whether to show the
// values (only in the form that was sent).
type userFields struct {
	ID     string
	Form   userForm
	Groups []groupChoice
	Filled bool
}

// groupChoice is one group checkbox.
type groupChoice struct {
	Name    string
	Checked bool
}

// readUserForm reads the user fields of a posted form.
func readUserForm(r *http.Request) userForm {
	return userForm{
		Email:    strings.TrimSpace(r.PostFormValue("email")),
		Name:     strings.TrimSpace(r.PostFormValue("name")),
		Username: strings.TrimSpace(r.PostFormValue("username")),
		Claims:   r.PostFormValue("claims"),
		Admin:    r.PostFormValue("admin") == "on",
		Groups:   r.PostForm["group"],
	}
}

// groupChoices lists every group, checking those in checked.
func (h *Handler) groupChoices(ctx context.Context, checked []string) ([]groupChoice, error) {
	gs, err := h.auth.Groups(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]groupChoice, 0, len(gs))
	for _, g := range gs {
		c := false
		for _, n := range checked {
			if strings.EqualFold(strings.TrimSpace(n), g.Name) {
				c = true
			}
		}
		out = append(out, groupChoice{Name: g.Name, Checked: c})
	}
	return out, nil
}

func (h *Handler) newUserPage(w http.ResponseWriter, r *http.Request, me *auth.User, status int, v *newUserView, errMsg string) {
	gs, err := h.groupChoices(r.Context(), v.Form.Groups)
	if err != nil {
		h.adminInternalError(w, r, "list groups", err)
		return
	}
	v.Groups, v.MailOn = gs, h.mailDelivers()
	h.renderAdmin(w, r, status, "usernew", tabUsers, me, &page{Title: "New user", Admin: v, Error: errMsg,
		MinPassword: auth.MinPasswordLen, MaxPassword: auth.MaxPasswordLen})
}

func (h *Handler) adminNewUser(w http.ResponseWriter, r *http.Request, me *auth.User) {
	h.newUserPage(w, r, me, http.StatusOK, &newUserView{}, "")
}

// adminCreateUser is POST /admin/users/new: a user with a password,
// active at once.
func (h *Handler) adminCreateUser(w http.ResponseWriter, r *http.Request, me *auth.User) {
	f := readUserForm(r)
	password := r.PostFormValue("password")
	v := &newUserView{Form: f}
	if password == "" {
		h.newUserPage(w, r, me, http.StatusBadRequest, v, "Enter a password for the new user, or invite them instead: they then choose their own.")
		return
	}
	if err := auth.CheckPassword(password); err != nil {
		h.newUserPage(w, r, me, http.StatusBadRequest, v, userError(err))
		return
	}
	u, err := h.auth.CreateUser(r.Context(), auth.NewUser{
		Email: f.Email, DisplayName: f.Name, Username: f.Username, Password: password,
		Admin: f.Admin, Groups: f.Groups, Claims: f.Claims,
	})
	if err != nil {
		if msg := userError(err); msg != "" {
			h.newUserPage(w, r, me, http.StatusBadRequest, v, msg)
			return
		}
		h.adminInternalError(w, r, "create user", err)
		return
	}
	web.Logger(r, h.log).Info("admin created a user", "admin_id", me.ID, "user_id", u.ID)
	http.Redirect(w, r, userPath(u)+"?done=created", http.StatusSeeOther)
}

// adminInviteUser is POST /admin/users/invite: a pending user and a
// link to choose a password, mailed when mail is configured, shown on the
// page otherwise.
func (h *Handler) adminInviteUser(w http.ResponseWriter, r *http.Request, me *auth.User) {
	f := readUserForm(r)
	v := &newUserView{Form: f, Invite: true}
	tok, u, _, err := h.auth.Invite(r.Context(), auth.NewUser{
		Email: f.Email, DisplayName: f.Name, Username: f.Username,
		Admin: f.Admin, Groups: f.Groups, Claims: f.Claims,
	})
	if errors.Is(err, auth.ErrNotInvitable) {
		h.newUserPage(w, r, me, http.StatusConflict, v, "A user with that email already has an account; invitations are for new users and users who have not accepted one yet.")
		return
	}
	if err != nil {
		if msg := userError(err); msg != "" {
			h.newUserPage(w, r, me, http.StatusBadRequest, v, msg)
			return
		}
		h.adminInternalError(w, r, "invite user", err)
		return
	}
	web.Logger(r, h.log).Info("admin invited a user", "admin_id", me.ID, "user_id", u.ID)
	link := InvitationURL(h.site.Host, tok)
	if h.sendInvitation(r, u, link) {
		http.Redirect(w, r, userPath(u)+"?done=invited", http.StatusSeeOther)
		return
	}
	// No mail: the link is shown once, on this answer, never put in a URL.
	h.newUserPage(w, r, me, http.StatusOK, &newUserView{Link: link, Invited: u}, "")
}

// sendInvitation queues the mail that carries link to u and reports
// true, or reports false when no SMTP server is configured or the mail
// cannot be queued (the page then shows the link instead; the admin has it
// right there, so it is not written to the log as well).
func (h *Handler) sendInvitation(r *http.Request, u *auth.User, link string) bool {
	if !h.mailDelivers() {
		return false
	}
	log := web.Logger(r, h.log)
	msg, err := InvitationMail(u, link)
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), sendTimeout)
		err = h.mailer.Send(ctx, msg)
		cancel()
	}
	if err != nil {
		log.Error("invitation mail not queued; the page shows the link", "user_id", u.ID, "err", err)
		return false
	}
	log.Info("invitation mail queued", "user_id", u.ID)
	return true
}

// userError is the sentence for a refused user change, or "" when err is
// not the admin's to fix.
func userError(err error) string {
	var inv *auth.InvalidError
	switch {
	case errors.As(err, &inv):
		return fieldLabel(inv.Field) + " " + inv.Reason + "."
	case errors.Is(err, auth.ErrConflict):
		return "Another user already has that email or username."
	case errors.Is(err, auth.ErrLastAdmin):
		return "This is the last active admin: make another user an admin first, or Clinch would have none."
	case errors.Is(err, auth.ErrNotFound):
		// A group named in the form was deleted meanwhile.
		return "Something the form names no longer exists (" + err.Error() + "). Reload the page and try again."
	}
	return ""
}

// userPath is the admin page of u.
func userPath(u *auth.User) string { return pathAdminUsers + "/" + url.PathEscape(u.ID) }

// notices are the messages a redirect after a change shows, by the code
// in its done= parameter: a fixed list, so a link cannot put words on
// an admin page.
var notices = map[string]string{
	"created":        "The user was created.",
	"invited":        "The invitation was sent by mail.",
	"saved":          "Saved.",
	"disabled":       "The user was disabled and signed out everywhere.",
	"enabled":        "The user was enabled.",
	"deleted":        "The user was deleted.",
	"required":       "A second factor is now required of this user.",
	"not-required":   "This user's own second-factor requirement was lifted (a group may still require one).",
	"factors-reset":  "The user's second factors were removed and they were signed out; they set up a new one at their next sign-in if one is required.",
	"session-ended":  "The session was ended.",
	"sessions-ended": "Every session of the user was ended.",
	"grants-revoked": "The application's access was revoked.",
	"claims-saved":   "The application claims were saved.",
	"group-created":  "The group was created.",
	"group-deleted":  "The group was deleted.",
	"member-added":   "The member was added.",
	"member-removed": "The member was removed.",
	"signed-out-all": "Everyone was signed out.",
	"password-set":   "The password was set and the user signed out everywhere.",
	"invite-resent":  "A new invitation was sent by mail; the old link no longer works.",
}

// notice is the message named by the request's done= parameter, or "".
func notice(r *http.Request) string {
	done := r.URL.Query().Get("done")
	// A group saved with its second-factor requirement turned on says
	// how many members it signed out; only the number comes from the URL.
	if n, ok := strings.CutPrefix(done, "saved-signed-out-"); ok {
		if k, err := strconv.Atoi(n); err == nil && k > 0 {
			return "Saved. " + plural(k, "member without a second factor was", "members without a second factor were") +
				" signed out; they set one up at their next sign-in."
		}
	}
	return notices[done]
}
