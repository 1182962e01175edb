package ui

import (
	"errors"
	"net/http"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/metrics"
	"github.com/clinchsso/clinch/web"
)

// A passkey as the second factor, on the second-factor page of a pending
// sign-in (after the password, or for a step-up): "Use your passkey"
// fetches the options for the user's passkeys from
// /signin/second-factor/passkey/begin (bound to the pending sign-in) and
// posts the answer to /signin/second-factor/passkey.

const pathSecondFactorPasskey = pathSecondFactor + "/passkey"

// secondFactorChoices says on pg which second factors the user has: a
// code form for TOTP (and its backup codes), a button for passkeys.
func (h *Handler) secondFactorChoices(r *http.Request, pg *page, userID string) {
	st, err := h.auth.SecondFactorStatus(r.Context(), userID)
	if err != nil {
		web.Logger(r, h.log).Error("sign-in: second factors", "err", err)
		pg.TOTPStep = true
		return
	}
	pg.TOTPStep = st.TOTP || st.Passkeys == 0
	if st.Passkeys > 0 && h.auth.PasskeysEnabled() {
		pg.PasskeyStep, pg.PasskeysOn, pg.Script = true, true, h.jsURL
	}
}

func (h *Handler) secondFactorPasskeyBegin(w http.ResponseWriter, r *http.Request) {
	ch, err := h.auth.BeginPasskeySecondFactor(r.Context(), web.SignInToken(r), web.ClientIP(r, h.trusted))
	switch {
	case errors.Is(err, auth.ErrNoSignIn):
		writeJSONError(w, http.StatusBadRequest, "Your sign-in has expired (it lasts 10 minutes) or was started in another browser. Please sign in again.")
	case errors.Is(err, auth.ErrNoPasskey):
		writeJSONError(w, http.StatusNotFound, "Your account has no passkey. Use a code instead.")
	case err != nil:
		h.beginFailed(w, r, err)
	default:
		writeJSON(w, http.StatusOK, ch)
	}
}

func (h *Handler) secondFactorPasskey(w http.ResponseWriter, r *http.Request) {
	p, u, ok := h.pendingAt(w, r, auth.StepSecondFactor)
	if !ok {
		return
	}
	pg := h.codePage(w, r, p, u)
	pg.Title = "Two-step verification"
	ceremony, resp := r.PostFormValue("ceremony"), r.PostFormValue("credential")
	if ceremony == "" || resp == "" {
		pg.Error = "Your browser sent no passkey. Using a passkey needs JavaScript and a browser that supports passkeys."
		h.render(w, r, http.StatusBadRequest, "secondfactor", pg)
		return
	}
	log := web.Logger(r, h.log)
	ip := web.ClientIP(r, h.trusted)
	res, err := h.auth.SignInSecondFactorPasskey(r.Context(), auth.PasskeySecondFactor{
		Token: web.SignInToken(r), Ceremony: ceremony, Response: []byte(resp), IP: ip, UserAgent: r.UserAgent(),
	})
	var rl *auth.RateLimitError
	var pe *auth.PasskeyError
	switch {
	case errors.As(err, &rl):
		h.rateLimited(w, rl)
		log.Warn("second factor rate limited", "user_id", p.UserID, "ip", ip, "scope", rl.Scope)
		pg.Error = "Too many failed attempts. For your safety, this is paused; try again in " + humanWait(rl.RetryAfter) + "."
		h.render(w, r, http.StatusTooManyRequests, "secondfactor", pg)
	case errors.Is(err, auth.ErrPasskeyCeremony):
		h.countSignIn(metrics.SigninInvalid)
		log.Info("second factor refused: no such passkey ceremony for this sign-in", "user_id", p.UserID, "ip", ip)
		pg.Error = "The passkey request expired or was started in another tab. Try again."
		h.render(w, r, http.StatusBadRequest, "secondfactor", pg)
	case errors.As(err, &pe):
		h.countSignIn(metrics.SigninInvalid)
		log.Info("second factor refused: passkey", "user_id", p.UserID, "ip", ip, "reason", pe.Reason, "passkey_id", pe.PasskeyID)
		pg.Error = "That passkey was not accepted. Use one of the passkeys of this account."
		if pg.TOTPStep {
			pg.Error = "That passkey was not accepted. Use one of the passkeys of this account, or a code."
		}
		h.render(w, r, http.StatusUnauthorized, "secondfactor", pg)
	case errors.Is(err, auth.ErrNoSignIn):
		h.signInExpired(w, r)
	case err != nil:
		h.countSignIn(metrics.SigninError)
		log.Error("second factor: passkey", "err", err)
		pg.Error = "Something went wrong on our side. Please try again."
		h.render(w, r, http.StatusInternalServerError, "secondfactor", pg)
	default:
		h.stepDone(w, r, res)
	}
}
