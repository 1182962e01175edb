package ui

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// Managing passkeys from the signed-in pages: /account/passkeys lists a
// user's passkeys (created, last used, last address and device) and
// renames, deletes and adds them. Adding one runs a WebAuthn ceremony
// through /static/passkey.js: it posts the user's current password to
// /account/passkeys/begin, which checks it (a session alone cannot add a
// passkey) and answers with options bound to the session, and posts the
// browser's answer in the page's form.

// passkeysPath is the passkeys page.
const passkeysPath = "/account/passkeys"

// registerPasskeys adds the passkey routes to mux.
func (h *Handler) registerPasskeys(mux *http.ServeMux) {
	mux.HandleFunc("GET "+passkeysPath, h.passkeys)
	mux.HandleFunc("POST "+passkeysPath+"/begin", h.passkeyRegisterBegin)
	mux.HandleFunc("POST "+passkeysPath, h.passkeyRegister)
	mux.HandleFunc("POST "+passkeysPath+"/{id}/rename", h.passkeyRename)
	mux.HandleFunc("POST "+passkeysPath+"/{id}/delete", h.passkeyDelete)
	mux.HandleFunc("POST /signin/passkey/begin", h.passkeySignInBegin)
	mux.HandleFunc("POST /signin/passkey", h.passkeySignIn)
	mux.HandleFunc("POST "+pathSecondFactorPasskey+"/begin", h.secondFactorPasskeyBegin)
	mux.HandleFunc("POST "+pathSecondFactorPasskey, h.secondFactorPasskey)
}

// passkeyNotice is the message after a change, named by ?done= so a
// reload does not post again.
func passkeyNotice(done string) string {
	switch done {
	case "added":
		return "Passkey added. You can now sign in with it, without your password."
	case "renamed":
		return "Passkey renamed."
	case "deleted":
		return "Passkey deleted. It no longer signs you in."
	}
	return ""
}

func (h *Handler) passkeys(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, "/signin?rd="+passkeysPath, http.StatusSeeOther)
		return
	}
	h.renderPasskeys(w, r, http.StatusOK, u, &page{Notice: passkeyNotice(r.URL.Query().Get("done"))})
}

// renderPasskeys draws the passkeys page for u with p's message.
func (h *Handler) renderPasskeys(w http.ResponseWriter, r *http.Request, status int, u *auth.User, p *page) {
	ps, err := h.auth.UserPasskeys(r.Context(), u.ID)
	if err != nil {
		web.Logger(r, h.log).Error("list passkeys", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	p.Title, p.User, p.Passkeys = "Passkeys", u, ps
	p.PasskeysOn, p.Script = h.auth.PasskeysEnabled(), h.jsURL
	h.render(w, r, status, "passkeys", p)
}

// maxBeginBytes bounds the JSON body of a begin request: {"password": …}
// with a password of at most auth.MaxPasswordLen bytes, escaped.
const maxBeginBytes = 1 << 10

// beginRequest is the JSON body passkey.js sends to a begin URL. Only
// adding a passkey reads it: the user's current password, so that a
// session cookie alone cannot add one.
type beginRequest struct {
	Password string `json:"password"`
}

func (h *Handler) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.CurrentUser(r)
	if !ok {
		writeJSONError(w, http.StatusUnauthorized, "You are signed out. Sign in again, then add the passkey.")
		return
	}
	var in beginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBeginBytes)).Decode(&in); err != nil {
		writeJSONError(w, http.StatusBadRequest, "Clinch could not read the request. Reload the page and try again.")
		return
	}
	ch, err := h.auth.BeginPasskeyRegistration(r.Context(), u, sess, in.Password, web.ClientIP(r, h.trusted))
	switch {
	case errors.Is(err, auth.ErrPasswordRequired):
		writeJSONError(w, http.StatusBadRequest, "Enter your current password to add a passkey.")
		return
	case errors.Is(err, auth.ErrInvalidCredentials):
		web.Logger(r, h.log).Info("passkey registration refused", "user_id", u.ID, "reason", "wrong password")
		writeJSONError(w, http.StatusUnauthorized, "That password is not right. Enter your current password to add a passkey.")
		return
	case err != nil:
		h.beginFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ch)
}

func (h *Handler) passkeyRegister(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, "/signin?rd="+passkeysPath, http.StatusSeeOther)
		return
	}
	p := &page{PasskeyName: r.PostFormValue("name")}
	ceremony, resp := r.PostFormValue("ceremony"), r.PostFormValue("credential")
	if ceremony == "" || resp == "" {
		p.Error = "Your browser sent no passkey. Adding one needs JavaScript and a browser that supports passkeys."
		h.renderPasskeys(w, r, http.StatusBadRequest, u, p)
		return
	}
	log := web.Logger(r, h.log)
	pk, err := h.auth.FinishPasskeyRegistration(r.Context(), auth.PasskeyRegistration{
		User: u, Session: sess, Ceremony: ceremony, Response: []byte(resp), Name: p.PasskeyName, UserAgent: r.UserAgent(),
	})
	var inv *auth.InvalidError
	var pe *auth.PasskeyError
	switch {
	case errors.As(err, &inv):
		p.Error = "The passkey's " + inv.Field + " " + inv.Reason + "."
		h.renderPasskeys(w, r, http.StatusBadRequest, u, p)
		return
	case errors.Is(err, auth.ErrPasskeyCeremony):
		p.Error = "The passkey request expired or was started in another tab. Try again."
		h.renderPasskeys(w, r, http.StatusBadRequest, u, p)
		return
	case errors.Is(err, auth.ErrConflict):
		p.Error = "That passkey is already registered."
		h.renderPasskeys(w, r, http.StatusConflict, u, p)
		return
	case errors.As(err, &pe):
		log.Info("passkey registration refused", "user_id", u.ID, "reason", pe.Reason)
		p.Error = "Your browser's answer was not accepted, so no passkey was added. Try again."
		h.renderPasskeys(w, r, http.StatusBadRequest, u, p)
		return
	case err != nil:
		log.Error("add passkey", "err", err)
		p.Error = "Something went wrong on our side; no passkey was added. Please try again."
		h.renderPasskeys(w, r, http.StatusInternalServerError, u, p)
		return
	}
	log.Info("passkey added", "user_id", u.ID, "passkey_id", pk.ID)
	http.Redirect(w, r, passkeysPath+"?done=added", http.StatusSeeOther)
}

func (h *Handler) passkeyRename(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, "/signin?rd="+passkeysPath, http.StatusSeeOther)
		return
	}
	err := h.auth.RenamePasskey(r.Context(), u.ID, r.PathValue("id"), r.PostFormValue("name"))
	var inv *auth.InvalidError
	switch {
	case errors.Is(err, auth.ErrNotFound):
		h.passkeyNotFound(w, r)
		return
	case errors.As(err, &inv):
		h.renderPasskeys(w, r, http.StatusBadRequest, u, &page{Error: "The passkey's " + inv.Field + " " + inv.Reason + "."})
		return
	case err != nil:
		web.Logger(r, h.log).Error("rename passkey", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	http.Redirect(w, r, passkeysPath+"?done=renamed", http.StatusSeeOther)
}

func (h *Handler) passkeyDelete(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, "/signin?rd="+passkeysPath, http.StatusSeeOther)
		return
	}
	id := r.PathValue("id")
	err := h.auth.DeletePasskey(asUser(r, u), u.ID, id)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		h.passkeyNotFound(w, r)
		return
	case errors.Is(err, auth.ErrSecondFactorRequired):
		h.renderPasskeys(w, r, http.StatusConflict, u, &page{Error: "Your account must keep a second factor, and this passkey is your last one. " +
			"Add another passkey, or set up an authenticator app under Two-step verification, before you delete it."})
		return
	case err != nil:
		web.Logger(r, h.log).Error("delete passkey", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	web.Logger(r, h.log).Info("passkey deleted", "user_id", u.ID, "passkey_id", id)
	http.Redirect(w, r, passkeysPath+"?done=deleted", http.StatusSeeOther)
}

// passkeyNotFound is the one answer for a passkey that does not exist and
// for someone else's: nobody learns which ids exist.
func (h *Handler) passkeyNotFound(w http.ResponseWriter, r *http.Request) {
	h.RenderError(w, r, http.StatusNotFound, "Passkey not found", "That passkey has already been deleted or is not yours.")
}

// beginFailed answers a ceremony's begin request that auth refused.
func (h *Handler) beginFailed(w http.ResponseWriter, r *http.Request, err error) {
	var rl *auth.RateLimitError
	switch {
	case errors.As(err, &rl):
		web.Logger(r, h.log).Warn("passkey request rate limited", "ip", web.ClientIP(r, h.trusted), "scope", rl.Scope)
		setRetryAfter(w, rl.RetryAfter)
		writeJSONError(w, http.StatusTooManyRequests, "Too many passkey requests. For your safety they are paused; try again in "+humanWait(rl.RetryAfter)+".")
	case errors.Is(err, auth.ErrPasskeysOff):
		writeJSONError(w, http.StatusNotFound, "Passkeys are not available on this server.")
	default:
		web.Logger(r, h.log).Error("begin passkey ceremony", "err", err)
		writeJSONError(w, http.StatusInternalServerError, "Something went wrong on our side. Please try again.")
	}
}

// writeJSON answers with v as JSON, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

func writeJSONError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}
