package ui

import (
	"errors"
	"net/http"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// The security page: a signed-in person's second factors. It is small on
// purpose (the full account page comes later):
//
//	GET  /account/security                the state, and the forms below
//	GET  /account/security/totp           set up an authenticator app (QR code and secret)
//	POST /account/security/totp           confirm it with a current code and the password; shows the backup codes once
//	POST /account/security/totp/disable   turn it off (password or a code)
//	POST /account/security/backup-codes   a new set of backup codes (password or a code)
const (
	pathSecurity     = "/account/security"
	pathSecurityTOTP = "/account/security/totp"
)

// signedIn returns the browser's user and session, or sends it to sign in
// and come back to the security page.
func (h *Handler) securityUser(w http.ResponseWriter, r *http.Request) (*auth.User, *auth.Session, bool) {
	u, sess, ok := h.CurrentUser(r)
	if !ok {
		http.Redirect(w, r, signinURL(pathSecurity, ""), http.StatusSeeOther)
	}
	return u, sess, ok
}

// securityPage renders the security page with a message (notice or
// error).
func (h *Handler) securityPage(w http.ResponseWriter, r *http.Request, u *auth.User, status int, pg *page) {
	st, err := h.auth.SecondFactorStatus(r.Context(), u.ID)
	if err != nil {
		web.Logger(r, h.log).Error("security page", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	pg.Title, pg.User, pg.Security = "Security", u, st
	h.render(w, r, status, "security", pg)
}

func (h *Handler) security(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.securityUser(w, r)
	if !ok {
		return
	}
	h.securityPage(w, r, u, http.StatusOK, &page{})
}

// enrolPage is the set-up page for the signed-in session.
func (h *Handler) enrolPage(w http.ResponseWriter, r *http.Request, u *auth.User, sess *auth.Session) (*page, bool) {
	secret, err := h.auth.TOTPEnrolment(r.Context(), sess)
	if errors.Is(err, auth.ErrTOTPExists) {
		http.Redirect(w, r, pathSecurity, http.StatusSeeOther)
		return nil, false
	}
	pg := &page{Title: "Set up two-step verification", User: u, Person: u, Action: pathSecurityTOTP, Restart: pathSecurity, AskPassword: true}
	if err == nil {
		err = h.totpImage(pg, u, secret)
	}
	if err != nil {
		web.Logger(r, h.log).Error("totp set-up page", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return nil, false
	}
	return pg, true
}

func (h *Handler) enrolForm(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.securityUser(w, r)
	if !ok {
		return
	}
	if pg, ok := h.enrolPage(w, r, u, sess); ok {
		h.render(w, r, http.StatusOK, "setuptotp", pg)
	}
}

func (h *Handler) enrol(w http.ResponseWriter, r *http.Request) {
	u, sess, ok := h.securityUser(w, r)
	if !ok {
		return
	}
	pg, ok := h.enrolPage(w, r, u, sess)
	if !ok {
		return
	}
	ip := web.ClientIP(r, h.trusted)
	codes, err := h.auth.ConfirmTOTPEnrolment(r.Context(), sess, r.PostFormValue("code"), r.PostFormValue("password"), ip)
	var cf *auth.CodeFormatError
	var rl *auth.RateLimitError
	switch {
	case err == nil:
		web.Logger(r, h.log).Info("totp set up", "user_id", u.ID)
		h.render(w, r, http.StatusOK, "backupcodes", &page{
			Title: "Your backup codes", User: u, BackupCodes: codes, Continue: pathSecurity, JustSetUp: true,
		})
		return
	case errors.As(err, &cf):
		pg.Error = cf.Reason
		h.render(w, r, http.StatusBadRequest, "setuptotp", pg)
	case errors.As(err, &rl):
		h.rateLimited(w, rl)
		pg.Error = "Too many attempts. Try again in " + humanWait(rl.RetryAfter) + "."
		h.render(w, r, http.StatusTooManyRequests, "setuptotp", pg)
	case errors.Is(err, auth.ErrPasswordRequired):
		pg.Error = "Enter your current password as well as the code."
		h.render(w, r, http.StatusBadRequest, "setuptotp", pg)
	case errors.Is(err, auth.ErrInvalidCredentials):
		web.Logger(r, h.log).Info("totp set-up refused", "user_id", u.ID, "reason", "wrong password")
		pg.Error = "That password is not right. Enter your current password and a new code from the app."
		h.render(w, r, http.StatusUnauthorized, "setuptotp", pg)
	case errors.Is(err, auth.ErrWrongCode):
		pg.Error = "That code is not right. Enter the 6 digits your authenticator app shows now for this account (they change every 30 seconds)."
		h.render(w, r, http.StatusUnauthorized, "setuptotp", pg)
	case errors.Is(err, auth.ErrNoEnrolment):
		h.securityPage(w, r, u, http.StatusBadRequest, &page{Error: "The set-up expired (it lasts 10 minutes). Start again."})
	case errors.Is(err, auth.ErrTOTPExists):
		h.securityPage(w, r, u, http.StatusConflict, &page{Error: "An authenticator app is already set up for your account."})
	default:
		web.Logger(r, h.log).Error("totp set-up", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
	}
}

// proof is what the person typed to confirm a change.
func (h *Handler) proof(r *http.Request) auth.Proof {
	return auth.Proof{Password: r.PostFormValue("password"), Code: r.PostFormValue("code"), IP: web.ClientIP(r, h.trusted)}
}

// proofError answers a change refused for its proof, or otherwise.
func (h *Handler) proofError(w http.ResponseWriter, r *http.Request, u *auth.User, err error) {
	var cf *auth.CodeFormatError
	var rl *auth.RateLimitError
	var used *auth.UsedCodeError
	pg := &page{}
	status := http.StatusUnauthorized
	switch {
	case errors.As(err, &cf):
		pg.Error, status = cf.Reason, http.StatusBadRequest
	case errors.As(err, &rl):
		h.rateLimited(w, rl)
		pg.Error, status = "Too many attempts. Try again in "+humanWait(rl.RetryAfter)+".", http.StatusTooManyRequests
	case errors.Is(err, auth.ErrInvalidCredentials):
		pg.Error = "That password is not right."
	case errors.As(err, &used):
		pg.Error = "That backup code was already used, on " + used.At.UTC().Format("2 Jan 2006 at 15:04 UTC") + "."
	case errors.Is(err, auth.ErrCodeUsed):
		pg.Error = "That code was already used. Wait for the next code your authenticator app shows."
	case errors.Is(err, auth.ErrWrongCode):
		pg.Error = "That code is not right."
	case errors.Is(err, auth.ErrSecondFactorRequired):
		pg.Error, status = "Your account requires two-step verification, so it cannot be turned off. Ask an administrator if you lost your phone.", http.StatusConflict
	case errors.Is(err, auth.ErrNoTOTP):
		pg.Error, status = "No authenticator app is set up.", http.StatusConflict
	default:
		web.Logger(r, h.log).Error("security change", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	web.Logger(r, h.log).Info("security change refused", "user_id", u.ID, "reason", err.Error())
	h.securityPage(w, r, u, status, pg)
}

func (h *Handler) disableTOTP(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.securityUser(w, r)
	if !ok {
		return
	}
	if err := h.auth.DisableTOTP(r.Context(), u.ID, h.proof(r)); err != nil {
		h.proofError(w, r, u, err)
		return
	}
	web.Logger(r, h.log).Info("totp turned off", "user_id", u.ID)
	h.securityPage(w, r, u, http.StatusOK, &page{Notice: "Two-step verification is off. Your authenticator app and backup codes no longer work for this account."})
}

func (h *Handler) regenerateBackupCodes(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.securityUser(w, r)
	if !ok {
		return
	}
	codes, err := h.auth.RegenerateBackupCodes(r.Context(), u.ID, h.proof(r))
	if err != nil {
		h.proofError(w, r, u, err)
		return
	}
	web.Logger(r, h.log).Info("backup codes replaced", "user_id", u.ID)
	h.render(w, r, http.StatusOK, "backupcodes", &page{Title: "Your new backup codes", User: u, BackupCodes: codes, Continue: pathSecurity})
}
