package oidc

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/web"
)

// authRequest is a parsed authorization request (OIDC Core §3.1.2.1).
type authRequest struct {
	ClientID    string
	RedirectURI string
	State       string
	Nonce       string
	Scopes      []string
	Prompt      []string
	MaxAge      int // -1: not given
	Challenge   string
	// WantSecondFactor: acr_values asked for "2".
	WantSecondFactor bool
}

func (a *authRequest) prompt(v string) bool { return slices.Contains(a.Prompt, v) }

// parseAuthorize checks an authorization request's syntax. It returns the
// request even with an error, with ClientID and RedirectURI set when they
// were each given once, so the caller can tell whether the error may be
// sent to the redirect URI (only after both are known good) or must be
// shown on a page.
func parseAuthorize(q url.Values) (*authRequest, *Error) {
	a := &authRequest{MaxAge: -1}
	single := func(k string) string {
		if v := q[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	a.ClientID, a.RedirectURI = single("client_id"), single("redirect_uri")
	a.State = single("state")
	// RFC 6749 §3.1: parameters must not be repeated. An attacker who
	// can add a parameter to the URL must not be able to make one part of
	// the code read the first value and another part the second.
	for k, v := range q {
		if len(v) > 1 {
			return a, oerr(ErrInvalidRequest, "parameter "+k+" is repeated")
		}
		if len(v[0]) > maxParamLen {
			return a, oerr(ErrInvalidRequest, "parameter "+k+" is too long")
		}
	}
	if a.ClientID == "" {
		return a, oerr(ErrInvalidRequest, "client_id is missing")
	}
	if a.RedirectURI == "" {
		return a, oerr(ErrInvalidRequest, "redirect_uri is missing")
	}
	if q.Has("request") {
		return a, oerr(ErrRequestNotSupported, "request objects are not supported")
	}
	if q.Has("request_uri") {
		return a, oerr(ErrRequestURINotSupported, "request_uri is not supported")
	}
	// OIDC Core §5.5: claims asked for individually. Discovery says
	// claims_parameter_supported false; refusing it tells the client its
	// request would not be honoured, instead of ignoring it silently.
	if q.Has("claims") {
		return a, oerr(ErrInvalidRequest, "the claims parameter is not supported; ask for claims with scope")
	}
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return a, oerr(ErrInvalidRequest, "response_type is missing")
	default:
		return a, oerr(ErrUnsupportedResponseType, "only response_type=code is supported")
	}
	if m := q.Get("response_mode"); m != "" && m != "query" {
		return a, oerr(ErrInvalidRequest, "only response_mode=query is supported")
	}
	a.Scopes = parseScopes(q.Get("scope"))
	a.Nonce = q.Get("nonce")
	for _, v := range strings.Fields(q.Get("prompt")) {
		switch v {
		case "none", "login", "consent":
			if !slices.Contains(a.Prompt, v) {
				a.Prompt = append(a.Prompt, v)
			}
		}
		// Other values (select_account, create) are ignored, as OIDC
		// allows; discovery lists the ones that mean something here.
	}
	if a.prompt("none") && len(a.Prompt) > 1 {
		return a, oerr(ErrInvalidRequest, "prompt=none cannot be combined with other values")
	}
	if s := q.Get("max_age"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return a, oerr(ErrInvalidRequest, "max_age must be a non-negative integer")
		}
		a.MaxAge = n
	}
	// acr_values is a list of preferences (OIDC Core §3.1.2.1); asking for
	// "2" at all is taken as requiring it, so an app that wants a second
	// factor gets one or an error, never a password-only session.
	for _, v := range strings.Fields(q.Get("acr_values")) {
		if v == auth.ACRSecondFactor {
			a.WantSecondFactor = true
		}
	}
	ch, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case ch == "" && method != "":
		return a, oerr(ErrInvalidRequest, "code_challenge_method without code_challenge")
	case ch != "" && method != "S256":
		// A missing method means "plain" (RFC 7636 §4.3), which gives no
		// protection against a stolen code; it is refused, not upgraded.
		return a, oerr(ErrInvalidRequest, "code_challenge_method must be S256; plain is not allowed")
	case ch != "":
		if b, err := base64.RawURLEncoding.DecodeString(ch); err != nil || len(b) != 32 {
			return a, oerr(ErrInvalidRequest, "code_challenge is not a base64url SHA-256 value")
		}
		a.Challenge = ch
	}
	return a, nil
}

// authorizeParams returns the request's parameters: the query for GET, the
// form body for POST (OIDC Core §3.1.2.1 allows both).
func authorizeParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q, err := authorizeParams(w, r)
	if err != nil {
		p.page(w, r, http.StatusBadRequest, "Invalid request", "The sign-in request could not be read.")
		return
	}
	ctx := r.Context()
	req, perr := parseAuthorize(q)
	app, err := p.clientApp(ctx, req.ClientID)
	if err != nil {
		if !errors.Is(err, auth.ErrNotFound) {
			p.log.Error("authorize: app lookup", "err", err)
			p.page(w, r, http.StatusInternalServerError, "Something went wrong", "Try again in a moment.")
			return
		}
		p.page(w, r, http.StatusBadRequest, "Unknown application",
			"The application that sent you here is not registered with Clinch (unknown or inactive client_id).")
		return
	}
	// Exact string match, never a prefix or a pattern: anything looser
	// lets an attacker receive the code (RFC 9700 §4.1).
	if req.RedirectURI == "" || !slices.Contains(app.RedirectURIs, req.RedirectURI) {
		p.page(w, r, http.StatusBadRequest, "Invalid redirect URI",
			"The application asked to return to an address that is not registered for it, so Clinch will not send you there.")
		return
	}
	pa := &pendingAuthz{
		AppID: app.ID, ClientID: app.ClientID, RedirectURI: req.RedirectURI, State: req.State,
		Nonce: req.Nonce, Challenge: req.Challenge, Scopes: req.Scopes, Prompt: req.Prompt,
		MaxAge: req.MaxAge, SecondFactor: req.WantSecondFactor || app.RequireSecondFactor, CreatedAt: p.now(),
	}
	if perr != nil {
		p.redirectError(w, r, pa, perr)
		return
	}
	if !slices.Contains(app.GrantTypes, auth.GrantAuthorizationCode) {
		p.redirectError(w, r, pa, oerr(ErrUnauthorizedClient, "this client may not use the authorization code flow"))
		return
	}
	if req.Challenge == "" && (app.Public || app.RequirePKCE) {
		p.redirectError(w, r, pa, oerr(ErrInvalidRequest, pkceRequired(app)))
		return
	}
	p.proceed(w, r, app, pa)
}

// serveResume continues a pending authorization after sign-in.
func (p *Provider) serveResume(w http.ResponseWriter, r *http.Request) {
	pa, app, ok := p.pendingFor(w, r, r.URL.Query().Get(PendingParam))
	if !ok {
		return
	}
	p.proceed(w, r, app, pa)
}

// pendingFor loads the browser's pending authorization and its app, or
// answers with a page saying what to do and returns false.
func (p *Provider) pendingFor(w http.ResponseWriter, r *http.Request, id string) (*pendingAuthz, *auth.App, bool) {
	ctx := r.Context()
	pa, err := p.loadPending(ctx, r, id)
	if err != nil {
		if !errors.Is(err, ErrNoPending) {
			p.log.Error("authorize: load pending", "err", err)
			p.page(w, r, http.StatusInternalServerError, "Something went wrong", "Try again in a moment.")
			return nil, nil, false
		}
		p.page(w, r, http.StatusBadRequest, "Sign-in request expired",
			"This sign-in request has expired, was already used, or was started in another browser. Go back to the application and sign in again.")
		return nil, nil, false
	}
	app, err := p.clientApp(ctx, pa.ClientID)
	if err != nil || app.ID != pa.AppID || !slices.Contains(app.RedirectURIs, pa.RedirectURI) {
		p.dropPending(ctx, pa.ID)
		p.page(w, r, http.StatusBadRequest, "Unknown application",
			"The application that sent you here is no longer registered with Clinch.")
		return nil, nil, false
	}
	return pa, app, true
}

// needsLogin reports whether sess (nil: none) is not enough for the
// request: none at all, prompt=login without a sign-in since the request
// arrived, or older than max_age. A session made after the request arrived
// is always fresh enough: it is the sign-in the request asked for.
func (p *Provider) needsLogin(pa *pendingAuthz, sess *auth.Session) bool {
	if sess == nil {
		return true
	}
	if !sess.CreatedAt.Before(pa.CreatedAt) {
		return false
	}
	if pa.prompt("login") {
		return true
	}
	return pa.MaxAge >= 0 && p.now().Sub(sess.CreatedAt) > time.Duration(pa.MaxAge)*time.Second
}

// proceed takes an authorization request as far as it can go: to the
// sign-in page, to the consent page, or to the client with a code. Only
// the steps that need the person store it as pending.
func (p *Provider) proceed(w http.ResponseWriter, r *http.Request, app *auth.App, pa *pendingAuthz) {
	ctx := r.Context()
	sess, user := p.currentUser(ctx, r)
	if p.needsLogin(pa, sess) {
		if pa.prompt("none") {
			p.dropPending(ctx, pa.ID)
			p.redirectError(w, r, pa, oerr(ErrLoginRequired, "the user is not signed in"))
			return
		}
		if !p.keepPending(w, r, pa) {
			return
		}
		http.Redirect(w, r, p.site.URL("/signin?"+PendingParam+"="+pa.ID), http.StatusSeeOther)
		return
	}

	_, ok, err := p.canUse(ctx, app, user.ID)
	if err != nil {
		p.log.Error("authorize: check user", "err", err)
		p.page(w, r, http.StatusInternalServerError, "Something went wrong", "Try again in a moment.")
		return
	}
	if !ok {
		p.dropPending(ctx, pa.ID)
		if pa.prompt("none") {
			p.redirectError(w, r, pa, oerr(ErrAccessDenied, "the user may not use this application"))
			return
		}
		p.page(w, r, http.StatusForbidden, "You do not have permission",
			"Your account ("+user.Email+") is not allowed to use "+app.Name+". Ask an administrator to add you to one of its groups.")
		return
	}

	if (pa.SecondFactor || app.RequireSecondFactor) && !auth.SecondFactorDone(sess.ACR) {
		// Step-up: the person proves a second factor, which makes a new
		// session with acr "2", and the request resumes with it.
		if pa.prompt("none") {
			p.dropPending(ctx, pa.ID)
			p.redirectError(w, r, pa, oerr(ErrInteractionRequired, "a second factor is required"))
			return
		}
		if !p.keepPending(w, r, pa) {
			return
		}
		http.Redirect(w, r, p.site.URL(StepUpPath+"?"+PendingParam+"="+pa.ID), http.StatusSeeOther)
		return
	}

	if !app.SkipConsent && (pa.prompt("consent") || !p.hasConsent(ctx, user.ID, app.ID, pa.Scopes)) {
		if pa.prompt("none") {
			p.dropPending(ctx, pa.ID)
			p.redirectError(w, r, pa, oerr(ErrConsentRequired, "the user has not allowed this application yet"))
			return
		}
		pa.ConsentUser = user.ID
		if !p.keepPending(w, r, pa) {
			return
		}
		p.consentPage(w, r, app, user, pa)
		return
	}
	p.issueCode(w, r, app, pa, sess)
}

// keepPending stores pa for the next step, bound to this browser, giving
// it an id the first time. It answers with an error page and returns false
// when it cannot.
func (p *Provider) keepPending(w http.ResponseWriter, r *http.Request, pa *pendingAuthz) bool {
	if pa.ID == "" {
		pa.ID = randomID()
		pa.Browser = p.bindBrowser(w, r)
	}
	if err := p.savePending(r.Context(), pa); err != nil {
		if errors.Is(err, ErrNoPending) {
			p.page(w, r, http.StatusBadRequest, "Sign-in request expired",
				"This sign-in request has expired. Go back to the application and sign in again.")
			return false
		}
		p.log.Error("authorize: store pending", "err", err)
		p.page(w, r, http.StatusInternalServerError, "Something went wrong", "Try again in a moment.")
		return false
	}
	return true
}

// issueCode ends the authorization: a code for the session, sent to the
// client's redirect URI.
func (p *Provider) issueCode(w http.ResponseWriter, r *http.Request, app *auth.App, pa *pendingAuthz, sess *auth.Session) {
	ctx := r.Context()
	now := p.now()
	code, hash := p.secrets.NewToken(auth.PrefixCode)
	rec := &codeRecord{
		ID: hash, GrantID: auth.NewID(), AppID: app.ID, ClientID: app.ClientID, UserID: sess.UserID,
		SessionID: sess.ID, RedirectURI: pa.RedirectURI, Challenge: pa.Challenge,
		Scopes: pa.Scopes, Nonce: pa.Nonce, AuthTime: sess.CreatedAt, ACR: sess.ACR, AMR: sess.AMR,
		ExpiresAt: now.Add(codeTTL),
	}
	err := p.store.Update(ctx, func(t *kv.Txn) error {
		if err := p.codes.Put(t, rec, codeTTL); err != nil {
			return err
		}
		if pa.ID != "" {
			if err := p.pending.Delete(t, pa.ID); err != nil && !errors.Is(err, kv.ErrNotFound) {
				return err
			}
		}
		return p.recordSessionApp(t, sess, app, now)
	})
	if err != nil {
		p.log.Error("authorize: store code", "err", err)
		p.redirectError(w, r, pa, oerr(ErrServerError, ""))
		return
	}
	p.m.codes.Inc()
	v := url.Values{"code": {code}, "iss": {p.issuer}}
	if pa.State != "" {
		v.Set("state", pa.State)
	}
	p.redirect(w, r, pa.RedirectURI, v)
}

// SignInStep is what the sign-in page needs to know about a pending
// authorization.
type SignInStep struct {
	// AppName names the application the person is signing in to.
	AppName string
	// Reauth: the browser is signed in, but the application asked for a
	// fresh sign-in (prompt=login, max_age), so the password is asked again.
	Reauth bool
	// Continue is the same-origin URL that resumes the authorization.
	Continue string
	// FormAction is the CSP source of the client's redirect URI: the
	// sign-in POST may end there after the redirects that follow it.
	FormAction string
}

// SignInStep describes the browser's pending authorization id for the
// sign-in page; ErrNoPending when there is none.
func (p *Provider) SignInStep(r *http.Request, id string) (*SignInStep, error) {
	ctx := r.Context()
	pa, err := p.loadPending(ctx, r, id)
	if err != nil {
		return nil, err
	}
	app, err := p.clientApp(ctx, pa.ClientID)
	if err != nil || app.ID != pa.AppID {
		return nil, ErrNoPending
	}
	sess, _ := p.currentUser(ctx, r)
	return &SignInStep{
		AppName:    app.Name,
		Reauth:     sess != nil && p.needsLogin(pa, sess),
		Continue:   p.site.URL(PathResume + "?" + PendingParam + "=" + url.QueryEscape(pa.ID)),
		FormAction: formOrigin(pa.RedirectURI),
	}, nil
}

// clientApp returns the active OIDC app with the client id.
func (p *Provider) clientApp(ctx context.Context, clientID string) (*auth.App, error) {
	if clientID == "" {
		return nil, auth.ErrNotFound
	}
	app, err := p.auth.AppByClientID(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if app.Type != auth.AppOIDC || !app.Active {
		return nil, auth.ErrNotFound
	}
	return app, nil
}

// currentUser returns the signed-in session and its active user, or nils.
func (p *Provider) currentUser(ctx context.Context, r *http.Request) (*auth.Session, *auth.User) {
	tok := web.SessionToken(r)
	if tok == "" {
		return nil, nil
	}
	sess, err := p.auth.SessionByToken(ctx, tok)
	if err != nil {
		return nil, nil
	}
	u, err := p.auth.User(ctx, sess.UserID)
	if err != nil || u.Status != auth.StatusActive {
		return nil, nil
	}
	return sess, u
}

// canUse returns the user and whether they may use app now (auth.CanUse);
// a user who is gone is (nil, false, nil).
func (p *Provider) canUse(ctx context.Context, app *auth.App, userID string) (*auth.User, bool, error) {
	u, err := p.auth.User(ctx, userID)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	gs, err := p.auth.UserGroups(ctx, userID)
	if err != nil {
		return nil, false, err
	}
	return u, auth.CanUse(app, u.Status, auth.GroupIDs(gs)), nil
}

func groupNames(gs []*auth.Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Name
	}
	return out
}

// redirectError sends an authorization error to the (already validated)
// redirect URI with state and iss (RFC 9207).
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, req *pendingAuthz, e *Error) {
	p.m.authorizeErrors.WithLabelValues(e.Code).Inc()
	v := url.Values{"error": {e.Code}, "iss": {p.issuer}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	if req.State != "" {
		v.Set("state", req.State)
	}
	p.redirect(w, r, req.RedirectURI, v)
}

// redirect adds v to the registered redirect URI's query and sends the
// browser there.
func (p *Provider) redirect(w http.ResponseWriter, r *http.Request, redirectURI string, v url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		p.page(w, r, http.StatusBadRequest, "Invalid redirect URI", "The registered redirect URI cannot be used.")
		return
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	// 303 so that a POSTed consent form becomes a GET at the client.
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// pkceRequired is the error description for an authorization request
// without PKCE at a client that requires it. A confidential client that
// cannot send PKCE is an admin's decision to allow, so it says how.
func pkceRequired(app *auth.App) string {
	if app.Public {
		return "code_challenge (PKCE, S256) is required for this client"
	}
	return "code_challenge (PKCE, S256) is required for this client; if the app cannot send PKCE, an admin can allow that with: clinch app update --slug " + app.Slug + " --require-pkce=false"
}
