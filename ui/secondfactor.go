package ui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/metrics"
	"github.com/clinchsso/clinch/web"
)

// The sign-in steps after the password (see signin.go).
const (
	pathSecondFactor = "/signin/second-factor"
	pathSetupTOTP    = "/signin/setup-totp"
	// PathStepUp is where a signed-in browser is sent for a second factor
	// (see stepUp).
	PathStepUp = "/signin/step-up"
)

// pendingAt returns the browser's pending sign-in when it waits at want,
// with its user. Otherwise it answers: a sign-in at another step is sent
// to that step's page; none at all gets the sign-in form, saying why.
func (h *Handler) pendingAt(w http.ResponseWriter, r *http.Request, want auth.SignInStep) (*auth.PendingSignIn, *auth.User, bool) {
	ctx := r.Context()
	p, err := h.auth.PendingSignIn(ctx, web.SignInToken(r))
	if err == nil && p.Step != want {
		http.Redirect(w, r, stepPath(p.Step), http.StatusSeeOther)
		return nil, nil, false
	}
	var u *auth.User
	if err == nil {
		u, err = h.auth.User(ctx, p.UserID)
	}
	if err != nil {
		if !errors.Is(err, auth.ErrNoSignIn) && !errors.Is(err, auth.ErrNotFound) {
			web.Logger(r, h.log).Error("sign-in: pending sign-in", "err", err)
		}
		h.signInExpired(w, r)
		return nil, nil, false
	}
	return p, u, true
}

// signInExpired shows the sign-in form for a step whose sign-in is gone.
func (h *Handler) signInExpired(w http.ResponseWriter, r *http.Request) {
	if web.SignInToken(r) != "" {
		h.site.ClearSignIn(w)
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusBadRequest
	}
	p := &page{Error: "Your sign-in has expired (it lasts 10 minutes) or was started in another browser. Please sign in again."}
	h.render(w, r, status, "signin", h.signinPage(w, r, p, nil))
}

// codePage is the page of a code step for the pending sign-in p of u.
func (h *Handler) codePage(w http.ResponseWriter, r *http.Request, p *auth.PendingSignIn, u *auth.User) *page {
	step := h.continuation(r, p.Authz)
	h.widenFormAction(w, r, p.RD, step)
	pg := &page{Person: u, StepUp: p.StepUp, Restart: signinURL(p.RD, p.Authz)}
	if step != nil {
		pg.AppName = step.AppName
	}
	if p.Step == auth.StepSecondFactor {
		h.secondFactorChoices(r, pg, p.UserID)
	}
	return pg
}

func (h *Handler) secondFactorForm(w http.ResponseWriter, r *http.Request) {
	p, u, ok := h.pendingAt(w, r, auth.StepSecondFactor)
	if !ok {
		return
	}
	pg := h.codePage(w, r, p, u)
	pg.Title = "Two-step verification"
	h.render(w, r, http.StatusOK, "secondfactor", pg)
}

func (h *Handler) secondFactor(w http.ResponseWriter, r *http.Request) {
	p, u, ok := h.pendingAt(w, r, auth.StepSecondFactor)
	if !ok {
		return
	}
	pg := h.codePage(w, r, p, u)
	pg.Title = "Two-step verification"
	ctx := r.Context()
	ip := web.ClientIP(r, h.trusted)
	res, err := h.auth.SignInSecondFactor(ctx, web.SignInToken(r), r.PostFormValue("code"), ip)
	if err != nil {
		if status := h.codeError(w, r, pg, err, p.UserID, ip); status != 0 {
			h.render(w, r, status, "secondfactor", pg)
		}
		return
	}
	h.stepDone(w, r, res)
}

// codeError puts the message for a refused code on pg and returns the
// status to answer with; 0 when it answered itself (the sign-in is gone).
func (h *Handler) codeError(w http.ResponseWriter, r *http.Request, pg *page, err error, userID, ip string) int {
	log := web.Logger(r, h.log)
	var cf *auth.CodeFormatError
	var rl *auth.RateLimitError
	var used *auth.UsedCodeError
	switch {
	case errors.As(err, &cf):
		pg.Error = cf.Reason
		return http.StatusBadRequest
	case errors.As(err, &rl):
		h.rateLimited(w, rl)
		log.Warn("second factor rate limited", "user_id", userID, "ip", ip, "scope", rl.Scope)
		pg.Error = "Too many wrong codes. For your safety, this is paused; try again in " + humanWait(rl.RetryAfter) + "."
		return http.StatusTooManyRequests
	case errors.As(err, &used):
		h.countSignIn(metrics.SigninInvalid)
		log.Info("second factor refused: backup code used before", "user_id", userID, "ip", ip)
		pg.Error = "That backup code was already used, on " + used.At.UTC().Format("2 Jan 2006 at 15:04 UTC") + ". Each backup code works once: use another one."
		return http.StatusUnauthorized
	case errors.Is(err, auth.ErrCodeUsed):
		h.countSignIn(metrics.SigninInvalid)
		log.Info("second factor refused: code used before", "user_id", userID, "ip", ip)
		pg.Error = "That code was already used. Wait for the next code your authenticator app shows, and enter that one."
		return http.StatusUnauthorized
	case errors.Is(err, auth.ErrWrongCode):
		h.countSignIn(metrics.SigninInvalid)
		log.Info("second factor failed", "user_id", userID, "ip", ip)
		pg.Error = "That code is not right. Check the code your authenticator app shows now (it changes every 30 seconds), or use a backup code."
		return http.StatusUnauthorized
	case errors.Is(err, auth.ErrNoSignIn):
		h.signInExpired(w, r)
		return 0
	}
	h.countSignIn(metrics.SigninError)
	log.Error("second factor", "err", err)
	pg.Error = "Something went wrong on our side. Please try again."
	return http.StatusInternalServerError
}

func (h *Handler) setupTOTPForm(w http.ResponseWriter, r *http.Request) {
	p, u, ok := h.pendingAt(w, r, auth.StepSetupTOTP)
	if !ok {
		return
	}
	pg, ok := h.setupPage(w, r, p, u)
	if ok {
		h.render(w, r, http.StatusOK, "setuptotp", pg)
	}
}

// setupPage is the TOTP set-up page of the pending sign-in: the secret
// Clinch made for it, as a QR code and as text.
func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request, p *auth.PendingSignIn, u *auth.User) (*page, bool) {
	pg := h.codePage(w, r, p, u)
	pg.Title = "Set up two-step verification"
	pg.Action = pathSetupTOTP
	pg.Required = !p.StepUp
	// A step-up began from a session, not a password: the password is
	// asked with the code (auth.SignInSetupTOTP checks it).
	pg.AskPassword = p.StepUp
	secret, err := h.auth.SetupSecret(p)
	if err == nil {
		err = h.totpImage(pg, u, secret)
	}
	if err != nil {
		web.Logger(r, h.log).Error("sign-in: totp set-up page", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please sign in again.")
		return nil, false
	}
	return pg, true
}

func (h *Handler) setupTOTP(w http.ResponseWriter, r *http.Request) {
	p, u, ok := h.pendingAt(w, r, auth.StepSetupTOTP)
	if !ok {
		return
	}
	pg, ok := h.setupPage(w, r, p, u)
	if !ok {
		return
	}
	ip := web.ClientIP(r, h.trusted)
	res, err := h.auth.SignInSetupTOTP(r.Context(), web.SignInToken(r), r.PostFormValue("code"), r.PostFormValue("password"), ip)
	if err != nil {
		if errors.Is(err, auth.ErrPasswordRequired) {
			pg.Error = "Enter your current password as well as the code."
			h.render(w, r, http.StatusBadRequest, "setuptotp", pg)
			return
		}
		if errors.Is(err, auth.ErrInvalidCredentials) {
			web.Logger(r, h.log).Info("totp set-up at step-up refused", "user_id", p.UserID, "reason", "wrong password")
			pg.Error = "That password is not right. Enter your current password and a new code from the app."
			h.render(w, r, http.StatusUnauthorized, "setuptotp", pg)
			return
		}
		if errors.Is(err, auth.ErrWrongCode) {
			pg.Error = "That code is not right. Enter the 6 digits your authenticator app shows now for this account (they change every 30 seconds)."
			h.render(w, r, http.StatusUnauthorized, "setuptotp", pg)
			return
		}
		if status := h.codeError(w, r, pg, err, p.UserID, ip); status != 0 {
			h.render(w, r, status, "setuptotp", pg)
		}
		return
	}
	web.Logger(r, h.log).Info("totp set up at sign-in", "user_id", res.User.ID)
	h.signedIn(w, r, res)
	h.render(w, r, http.StatusOK, "backupcodes", &page{
		Title: "Your backup codes", User: res.User, BackupCodes: res.BackupCodes,
		Continue: signinURL(res.RD, res.Authz), JustSetUp: true,
	})
}

// stepUp starts a second-factor step for the signed-in browser, for an
// application that requires one: GET /signin/step-up?rd=URL or
// ?authz=ID (the pending OIDC authorization). It answers with a
// redirect to the step's page (a TOTP or backup code; TOTP set-up for a
// user without a second factor); the step ends in a new session with acr
// "2" that replaces the browser's session (auth.BeginStepUp), and the
// browser goes on to rd or the authorization as after any sign-in. A
// browser that is not signed in is sent to the sign-in form with the same
// destination.
func (h *Handler) stepUp(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rd, authz := q.Get("rd"), ""
	if step := h.continuation(r, q.Get(authzParam)); step != nil {
		authz = step.ID
	}
	ctx := r.Context()
	res, err := h.auth.BeginStepUp(ctx, web.SessionToken(r), auth.StepUp{
		IP: web.ClientIP(r, h.trusted), UserAgent: r.UserAgent(), RD: rd, Authz: authz, Pending: web.SignInToken(r),
	})
	if errors.Is(err, auth.ErrNotFound) {
		http.Redirect(w, r, signinURL(rd, authz), http.StatusSeeOther)
		return
	}
	if err != nil {
		web.Logger(r, h.log).Error("step-up", "err", err)
		h.RenderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again.")
		return
	}
	h.stepDone(w, r, res)
}

// signinURL is the sign-in form for the destination. A signed-in browser
// that opens it goes straight on there, so it is also the link that takes
// a finished sign-in on from a page where a redirect cannot (the backup
// codes), and where a minted fa_token would not wait.
func signinURL(rd, authz string) string {
	switch {
	case authz != "":
		return "/signin?" + url.Values{authzParam: {authz}}.Encode()
	case rd != "":
		return "/signin?" + url.Values{"rd": {rd}}.Encode()
	}
	return "/signin"
}
