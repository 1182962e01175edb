package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// Groups:
//
//	GET  /admin/groups                         every group, and the form to make one
//	POST /admin/groups                         make a group
//	GET  /admin/groups/{name}                  edit form and members
//	POST /admin/groups/{name}                  save name, description, custom claims, second-factor requirement
//	POST /admin/groups/{name}/members          add a member (email or username)
//	POST /admin/groups/{name}/members/remove   remove a member (user=ID)
//	GET|POST /admin/groups/{name}/delete       delete (confirmed)
const pathAdminGroups = pathAdmin + "/groups"

// groupsView is the groups list.
type groupsView struct {
	Groups []*auth.Group
	// Form is the new-group form as typed, after an error.
	Form groupForm
}

// groupForm is a group's fields as typed.
type groupForm struct {
	Name, Description, Claims string
	RequireSecondFactor       bool
}

func readGroupForm(r *http.Request) groupForm {
	return groupForm{
		Name:                strings.TrimSpace(r.PostFormValue("name")),
		Description:         strings.TrimSpace(r.PostFormValue("description")),
		Claims:              r.PostFormValue("claims"),
		RequireSecondFactor: r.PostFormValue("require_second_factor") == "on",
	}
}

// groupPath is the admin page of the group named name.
func groupPath(name string) string { return pathAdminGroups + "/" + url.PathEscape(name) }

func (h *Handler) groupsPage(w http.ResponseWriter, r *http.Request, me *auth.User, status int, v *groupsView, errMsg string) {
	gs, err := h.auth.Groups(r.Context())
	if err != nil {
		h.adminInternalError(w, r, "list groups", err)
		return
	}
	v.Groups = gs
	h.renderAdmin(w, r, status, "groups", tabGroups, me, &page{Title: "Groups", Admin: v, Error: errMsg, Notice: notice(r)})
}

func (h *Handler) adminGroups(w http.ResponseWriter, r *http.Request, me *auth.User) {
	h.groupsPage(w, r, me, http.StatusOK, &groupsView{}, "")
}

func (h *Handler) adminCreateGroup(w http.ResponseWriter, r *http.Request, me *auth.User) {
	f := readGroupForm(r)
	g, err := h.auth.CreateGroup(r.Context(), f.Name, f.Description, f.Claims)
	if err != nil {
		if msg := groupError(err); msg != "" {
			h.groupsPage(w, r, me, http.StatusBadRequest, &groupsView{Form: f}, msg)
			return
		}
		h.adminInternalError(w, r, "create group", err)
		return
	}
	web.Logger(r, h.log).Info("admin created a group", "admin_id", me.ID, "group", g.Name)
	http.Redirect(w, r, groupPath(g.Name)+"?done=group-created", http.StatusSeeOther)
}

// groupError is the sentence for a refused group change, or "".
func groupError(err error) string {
	var inv *auth.InvalidError
	switch {
	case errors.As(err, &inv):
		label := fieldLabel(inv.Field)
		if inv.Field == "name" {
			label = "The group name"
		}
		return label + " " + inv.Reason + "."
	case errors.Is(err, auth.ErrConflict):
		return "A group with that name already exists."
	case errors.Is(err, auth.ErrNotFound):
		return "No such user or group (" + err.Error() + ")."
	}
	return ""
}

// groupView is one group's page.
type groupView struct {
	G       *auth.Group
	Form    groupForm
	Members []*auth.User
	// Member is the add-member field as typed, after an error.
	Member string
}

// adminTargetGroup finds the group named by the {name} path value; on
// failure it has answered.
func (h *Handler) adminTargetGroup(w http.ResponseWriter, r *http.Request) (*auth.Group, bool) {
	g, err := h.auth.Group(r.Context(), r.PathValue("name"))
	if errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrInvalid) {
		h.RenderError(w, r, http.StatusNotFound, "No such group", "There is no group at this address; it may have been deleted or renamed.")
		return nil, false
	}
	if err != nil {
		h.adminInternalError(w, r, "load group", err)
		return nil, false
	}
	return g, true
}

func (h *Handler) groupPage(w http.ResponseWriter, r *http.Request, me *auth.User, g *auth.Group, status int, v *groupView, p *page) {
	ctx := r.Context()
	if v.G == nil {
		v.Form = groupForm{Name: g.Name, Description: g.Description, Claims: prettyClaims(g.Claims), RequireSecondFactor: g.RequireSecondFactor}
	}
	v.G = g
	for _, id := range g.Members {
		u, err := h.auth.User(ctx, id)
		if errors.Is(err, auth.ErrNotFound) {
			continue
		}
		if err != nil {
			h.adminInternalError(w, r, "group members", err)
			return
		}
		v.Members = append(v.Members, u)
	}
	p.Title, p.Admin = "Group "+g.Name, v
	if p.Notice == "" {
		p.Notice = notice(r)
	}
	h.renderAdmin(w, r, status, "group", tabGroups, me, p)
}

func (h *Handler) adminGroup(w http.ResponseWriter, r *http.Request, me *auth.User) {
	if g, ok := h.adminTargetGroup(w, r); ok {
		h.groupPage(w, r, me, g, http.StatusOK, &groupView{}, &page{})
	}
}

// adminSaveGroup saves the edit form in one transaction; a mistake saves
// nothing and shows the form as typed.
func (h *Handler) adminSaveGroup(w http.ResponseWriter, r *http.Request, me *auth.User) {
	g, ok := h.adminTargetGroup(w, r)
	if !ok {
		return
	}
	f := readGroupForm(r)
	res, err := h.auth.UpdateGroup(r.Context(), g.Name, auth.GroupUpdate{
		Name: &f.Name, Description: &f.Description, Claims: &f.Claims, RequireSecondFactor: &f.RequireSecondFactor,
	})
	if err != nil {
		if msg := groupError(err); msg != "" {
			h.groupPage(w, r, me, g, http.StatusBadRequest, &groupView{G: g, Form: f}, &page{Error: msg})
			return
		}
		h.adminInternalError(w, r, "save group", err)
		return
	}
	web.Logger(r, h.log).Info("admin changed a group", "admin_id", me.ID, "group", res.Group.Name, "signed_out", len(res.SignedOut))
	done := "saved"
	if len(res.SignedOut) > 0 {
		// The count is a number the server made: say it on the next page.
		done = "saved-signed-out-" + strconv.Itoa(len(res.SignedOut))
	}
	http.Redirect(w, r, groupPath(res.Group.Name)+"?done="+done, http.StatusSeeOther)
}

// adminAddMember adds the user with the email or username in the form.
func (h *Handler) adminAddMember(w http.ResponseWriter, r *http.Request, me *auth.User) {
	g, ok := h.adminTargetGroup(w, r)
	if !ok {
		return
	}
	login := strings.TrimSpace(r.PostFormValue("user"))
	u, err := h.auth.UserByLogin(r.Context(), login)
	if errors.Is(err, auth.ErrNotFound) || errors.Is(err, auth.ErrInvalid) || login == "" {
		h.groupPage(w, r, me, g, http.StatusBadRequest, &groupView{Member: login}, &page{Error: "No user has the email or username “" + login + "”."})
		return
	}
	if err == nil {
		err = h.auth.AddToGroup(r.Context(), g.Name, u.Email)
	}
	if err != nil {
		h.adminInternalError(w, r, "add member", err)
		return
	}
	web.Logger(r, h.log).Info("admin added a group member", "admin_id", me.ID, "group", g.Name, "user_id", u.ID)
	http.Redirect(w, r, groupPath(g.Name)+"?done=member-added", http.StatusSeeOther)
}

// adminRemoveMember removes the user (by id) from the group.
func (h *Handler) adminRemoveMember(w http.ResponseWriter, r *http.Request, me *auth.User) {
	g, ok := h.adminTargetGroup(w, r)
	if !ok {
		return
	}
	u, err := h.auth.User(r.Context(), r.PostFormValue("user"))
	if errors.Is(err, auth.ErrNotFound) {
		http.Redirect(w, r, groupPath(g.Name), http.StatusSeeOther)
		return
	}
	if err == nil {
		err = h.auth.RemoveFromGroup(r.Context(), g.Name, u.Email)
	}
	if err != nil {
		h.adminInternalError(w, r, "remove member", err)
		return
	}
	web.Logger(r, h.log).Info("admin removed a group member", "admin_id", me.ID, "group", g.Name, "user_id", u.ID)
	http.Redirect(w, r, groupPath(g.Name)+"?done=member-removed", http.StatusSeeOther)
}

func (h *Handler) adminDeleteGroupForm(w http.ResponseWriter, r *http.Request, me *auth.User) {
	g, ok := h.adminTargetGroup(w, r)
	if !ok {
		return
	}
	h.confirmPage(w, r, tabGroups, me, &confirmation{
		Heading: "Delete the group " + g.Name + "?",
		Lines: []string{
			"Its " + plural(len(g.Members), "member stays", "members stay") + " but leave the group, and lose what it gave them: applications that allow only this group stop admitting them.",
			"An application that allowed no other group is deactivated, rather than opened to everyone; access rules that named only this group deny.",
		},
		Action: groupPath(g.Name) + "/delete", Button: "Delete the group", Cancel: groupPath(g.Name),
	})
}

func (h *Handler) adminDeleteGroup(w http.ResponseWriter, r *http.Request, me *auth.User) {
	g, ok := h.adminTargetGroup(w, r)
	if !ok {
		return
	}
	del, err := h.auth.DeleteGroup(r.Context(), g.Name)
	if err != nil {
		h.adminInternalError(w, r, "delete group", err)
		return
	}
	web.Logger(r, h.log).Info("admin deleted a group", "admin_id", me.ID, "group", g.Name,
		"apps", len(del.Apps), "deactivated", len(del.Deactivated))
	http.Redirect(w, r, pathAdminGroups+"?done=group-deleted", http.StatusSeeOther)
}
