package adminapi

import (
	"net/http"

	"github.com/clinchsso/clinch/control"
)

// GET /api/admin/apps
func (a *API) listApps(w http.ResponseWriter, r *http.Request) error {
	apps, err := a.env.ListApps(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apps)
	return nil
}

// POST /api/admin/apps: an OIDC client's secret is in this answer only.
func (a *API) createApp(w http.ResponseWriter, r *http.Request) error {
	var in control.AppCreate
	if err := decode(r, &in); err != nil {
		return err
	}
	app, err := a.env.CreateApp(r.Context(), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, app)
	return nil
}

// GET /api/admin/apps/{slug}
func (a *API) getApp(w http.ResponseWriter, r *http.Request) error {
	app, err := a.env.GetApp(r.Context(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, app)
	return nil
}

// PATCH /api/admin/apps/{slug}
func (a *API) updateApp(w http.ResponseWriter, r *http.Request) error {
	var in control.AppUpdate
	if err := decode(r, &in); err != nil {
		return err
	}
	app, err := a.env.UpdateApp(r.Context(), r.PathValue("slug"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, app)
	return nil
}

// DELETE /api/admin/apps/{slug}: its API keys go with it.
func (a *API) deleteApp(w http.ResponseWriter, r *http.Request) error {
	if err := a.env.DeleteApp(r.Context(), r.PathValue("slug")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /api/admin/apps/{slug}/keys
func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := a.env.ListAPIKeys(r.Context(), r.PathValue("slug"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ks)
	return nil
}

// POST /api/admin/apps/{slug}/keys: the key is in this answer only.
func (a *API) createKey(w http.ResponseWriter, r *http.Request) error {
	var in control.APIKeyCreate
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := a.env.CreateAPIKey(r.Context(), r.PathValue("slug"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, k)
	return nil
}

// DELETE /api/admin/apps/{slug}/keys/{id}: id is the key's id or listed
// prefix.
func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := a.env.RevokeAPIKey(r.Context(), r.PathValue("slug"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
