package adminapi

import (
	"net/http"
	"strconv"

	"github.com/clinchsso/clinch/control"
)

// GET /api/admin/users?search=&cursor=&limit=
func (a *API) listUsers(w http.ResponseWriter, r *http.Request) error {
	q := control.UserQuery{Search: r.URL.Query().Get("search"), Cursor: r.URL.Query().Get("cursor")}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			return &inputError{status: http.StatusBadRequest, field: "limit", msg: "limit must be a number"}
		}
		q.Limit = n
	}
	page, err := a.env.ListUsers(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// POST /api/admin/users
func (a *API) createUser(w http.ResponseWriter, r *http.Request) error {
	var in control.UserCreate
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.env.CreateUser(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, u)
	return nil
}

// GET /api/admin/users/{id}: id is the user's id, or their email.
func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := a.env.GetUser(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// PATCH /api/admin/users/{id}
func (a *API) updateUser(w http.ResponseWriter, r *http.Request) error {
	var in control.UserUpdate
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := a.env.UpdateUser(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// DELETE /api/admin/users/{id}
func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.env.DeleteUser(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST /api/admin/users/{id}/disable and .../enable
func (a *API) setEnabled(enabled bool) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := a.env.SetUserEnabled(r.Context(), r.PathValue("id"), enabled)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	}
}

// GET /api/admin/users/{id}/sessions
func (a *API) userSessions(w http.ResponseWriter, r *http.Request) error {
	ss, err := a.env.UserSessions(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ss)
	return nil
}

// DELETE /api/admin/users/{id}/sessions: sign the user out everywhere.
func (a *API) revokeUserSessions(w http.ResponseWriter, r *http.Request) error {
	res, err := a.env.RevokeUserSessions(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// DELETE /api/admin/users/{id}/sessions/{sid} and /api/admin/sessions/{sid}
func (a *API) revokeSession(w http.ResponseWriter, r *http.Request) error {
	if err := a.env.RevokeSession(r.Context(), r.PathValue("id"), r.PathValue("sid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
