package adminapi

import (
	"net/http"

	"github.com/clinchsso/clinch/control"
)

// GET /api/admin/groups
func (a *API) listGroups(w http.ResponseWriter, r *http.Request) error {
	gs, err := a.env.ListGroups(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gs)
	return nil
}

// POST /api/admin/groups
func (a *API) createGroup(w http.ResponseWriter, r *http.Request) error {
	var in control.GroupCreate
	if err := decode(r, &in); err != nil {
		return err
	}
	g, err := a.env.CreateGroup(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, g)
	return nil
}

// GET /api/admin/groups/{name}
func (a *API) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := a.env.GetGroup(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// PATCH /api/admin/groups/{name}
func (a *API) updateGroup(w http.ResponseWriter, r *http.Request) error {
	var in control.GroupUpdate
	if err := decode(r, &in); err != nil {
		return err
	}
	g, err := a.env.UpdateGroup(r.Context(), r.PathValue("name"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

// DELETE /api/admin/groups/{name}: answers what the deletion changed at
// the apps that named the group.
func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	del, err := a.env.DeleteGroup(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, del)
	return nil
}

// PUT and DELETE /api/admin/groups/{name}/members/{user}: user is an id
// or an email.
func (a *API) setMember(member bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		g, err := a.env.SetGroupMember(r.Context(), r.PathValue("name"), r.PathValue("user"), member)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, g)
		return nil
	}
}
