package ui

import (
	"errors"
	"net/http"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/metrics"
	"github.com/clinchsso/clinch/web"
)

// Signing in with a passkey alone, from the sign-in page: "Sign in with a
// passkey" (or the browser's autofill) fetches the options from
// /signin/passkey/begin, and the answer is posted with the page's rd and
// authz to /signin/passkey, which ends like a password sign-in. The
// ceremony is bound to the browser by its CSRF cookie.

func (h *Handler) passkeySignInBegin(w http.ResponseWriter, r *http.Request) {
	ch, err := h.auth.BeginPasskeySignIn(r.Context(), web.CSRFToken(r), web.ClientIP(r, h.trusted))
	if err != nil {
		h.beginFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ch)
}

func (h *Handler) passkeySignIn(w http.ResponseWriter, r *http.Request) {
	p := &page{RD: r.PostFormValue("rd"), Remember: r.PostFormValue("remember") == "1"}
	step := h.continuation(r, r.PostFormValue(authzParam))
	h.signinPage(w, r, p, step)
	p.NoAutofill = true
	ceremony, resp := r.PostFormValue("ceremony"), r.PostFormValue("credential")
	if ceremony == "" || resp == "" {
		p.Error = "Your browser sent no passkey. Signing in with a passkey needs JavaScript and a browser that supports passkeys; you can sign in with your password instead."
		h.render(w, r, http.StatusBadRequest, "signin", p)
		return
	}
	ctx := r.Context()
	log := web.Logger(r, h.log)
	ip := web.ClientIP(r, h.trusted)
	res, err := h.auth.SignInWithPasskey(ctx, auth.PasskeySignIn{
		Ceremony: ceremony, Response: []byte(resp), Binding: web.CSRFToken(r),
		IP: ip, UserAgent: r.UserAgent(), Remember: p.Remember,
		RD: p.RD, Authz: p.Authz, Previous: web.SessionToken(r), Pending: web.SignInToken(r),
	})
	var rl *auth.RateLimitError
	var pe *auth.PasskeyError
	switch {
	case errors.As(err, &rl):
		h.rateLimited(w, rl)
		log.Warn("passkey sign-in rate limited", "ip", ip, "scope", rl.Scope)
		p.Error = "Too many sign-in attempts. For your safety, sign-in is paused; try again in " + humanWait(rl.RetryAfter) + "."
		h.render(w, r, http.StatusTooManyRequests, "signin", p)
		return
	case errors.Is(err, auth.ErrPasskeyCeremony):
		h.countSignIn(metrics.SigninInvalid)
		log.Info("passkey sign-in refused: no such ceremony for this browser", "ip", ip)
		p.Error = "The passkey request expired or was started in another tab. Try again."
		h.render(w, r, http.StatusBadRequest, "signin", p)
		return
	case errors.As(err, &pe):
		// One answer whatever the cause, so nobody learns whether an
		// account or a credential exists; the log says which.
		h.countSignIn(metrics.SigninInvalid)
		log.Info("passkey sign-in refused", "ip", ip, "reason", pe.Reason, "passkey_id", pe.PasskeyID, "user_id", pe.UserID)
		p.Error = "That passkey did not sign you in. Use another passkey, or sign in with your password."
		h.render(w, r, http.StatusUnauthorized, "signin", p)
		return
	case errors.Is(err, auth.ErrPasskeysOff):
		h.RenderError(w, r, http.StatusNotFound, "Page not found", "Passkeys are not available on this server.")
		return
	case err != nil:
		h.countSignIn(metrics.SigninError)
		log.Error("passkey sign-in", "err", err)
		p.Error = "Something went wrong on our side. Please try again."
		h.render(w, r, http.StatusInternalServerError, "signin", p)
		return
	}
	h.signedIn(w, r, res)
	http.Redirect(w, r, h.destination(r, res.RD, res.Authz, res.Session), http.StatusSeeOther)
}
