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
	Reauth      int64 // clinch_reauth: unix time the session must be newer than
	// raw is every parameter, for the sign-in return URL and the consent
	// form.
	raw url.Values
}

func (a *authRequest) prompt(v string) bool { return slices.Contains(a.Prompt, v) }

// parseAuthorize checks an authorization request's syntax. It returns the
// request even with an error, with ClientID and RedirectURI set when they
// were each given once, so the caller can tell whether the error may be
// sent to the redirect URI (only after both are known good) or must be
// shown on a page.
func parseAuthorize(q url.Values) (*authRequest, *Error) {
	a := &authRequest{MaxAge: -1, raw: q}
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
	if s := q.Get(reauthParam); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return a, oerr(ErrInvalidRequest, reauthParam+" is not valid")
		}
		a.Reauth = n
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
	p.authorize(w, r, q, "")
}

// serveConsent takes the consent form (CSRF-checked by the middleware): the
// original request's parameters and the person's decision.
func (p *Provider) serveConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.page(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	q := url.Values{}
	for k, v := range r.PostForm {
		if k != web.CSRFField && k != "decision" {
			q[k] = v
		}
	}
	decision := r.PostForm.Get("decision")
	if decision != "allow" && decision != "deny" {
		p.page(w, r, http.StatusBadRequest, "Invalid request", "Choose Allow or Deny.")
		return
	}
	p.authorize(w, r, q, decision)
}

// authorize runs the authorization request; decision is "" for a request
// from the client, or the consent form's "allow" or "deny".
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request, q url.Values, decision string) {
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
	if perr != nil {
		p.redirectError(w, r, req, perr)
		return
	}
	if !slices.Contains(app.GrantTypes, auth.GrantAuthorizationCode) {
		p.redirectError(w, r, req, oerr(ErrUnauthorizedClient, "this client may not use the authorization code flow"))
		return
	}
	if req.Challenge == "" && (app.Public || app.RequirePKCE) {
		p.redirectError(w, r, req, oerr(ErrInvalidRequest, "code_challenge (PKCE, S256) is required for this client"))
		return
	}
	if decision == "deny" {
		p.redirectError(w, r, req, oerr(ErrAccessDenied, "the user denied the request"))
		return
	}

	now := p.now()
	sess, user := p.currentUser(ctx, r)
	fresh := sess != nil && req.Reauth > 0 && now.Sub(time.Unix(req.Reauth, 0)) < reauthWindow &&
		sess.CreatedAt.Unix() >= req.Reauth
	needLogin := sess == nil
	if sess != nil && !fresh {
		if req.prompt("login") || req.MaxAge >= 0 && now.Sub(sess.CreatedAt) > time.Duration(req.MaxAge)*time.Second {
			needLogin = true
		}
	}
	if needLogin {
		if req.prompt("none") {
			p.redirectError(w, r, req, oerr(ErrLoginRequired, "the user is not signed in"))
			return
		}
		if sess != nil && req.Reauth > 0 {
			// They were sent to sign in again and came back with the old
			// session: say so rather than loop.
			p.redirectError(w, r, req, oerr(ErrLoginRequired, "re-authentication did not happen"))
			return
		}
		back := url.Values{}
		for k, v := range q {
			back[k] = v
		}
		if req.prompt("login") || req.MaxAge >= 0 {
			back.Set(reauthParam, strconv.FormatInt(now.Unix(), 10))
		}
		rd := p.site.URL(PathAuthorize + "?" + back.Encode())
		http.Redirect(w, r, p.site.URL("/signin?rd="+url.QueryEscape(rd)), http.StatusSeeOther)
		return
	}

	groups, err := p.auth.UserGroups(ctx, user.ID)
	if err != nil {
		p.log.Error("authorize: groups", "err", err)
		p.page(w, r, http.StatusInternalServerError, "Something went wrong", "Try again in a moment.")
		return
	}
	if !app.Allows(groupNames(groups)) {
		if req.prompt("none") {
			p.redirectError(w, r, req, oerr(ErrAccessDenied, "the user may not use this application"))
			return
		}
		p.page(w, r, http.StatusForbidden, "You do not have permission",
			"Your account ("+user.Email+") is not allowed to use "+app.Name+". Ask an administrator to add you to one of its groups.")
		return
	}

	if !app.SkipConsent && decision != "allow" && (req.prompt("consent") || !p.hasConsent(ctx, user.ID, app.ID, req.Scopes)) {
		if req.prompt("none") {
			p.redirectError(w, r, req, oerr(ErrConsentRequired, "the user has not allowed this application yet"))
			return
		}
		p.consentPage(w, r, app, user, req)
		return
	}
	if decision == "allow" {
		if err := p.saveConsent(ctx, user.ID, app.ID, req.Scopes); err != nil {
			p.log.Error("authorize: save consent", "err", err)
			p.redirectError(w, r, req, oerr(ErrServerError, ""))
			return
		}
	}

	code, hash := p.secrets.NewToken(auth.PrefixCode)
	rec := &codeRecord{
		ID: hash, GrantID: auth.NewID(), AppID: app.ID, ClientID: app.ClientID, UserID: user.ID,
		SessionID: sess.ID, RedirectURI: req.RedirectURI, Challenge: req.Challenge,
		Scopes: req.Scopes, Nonce: req.Nonce, AuthTime: sess.CreatedAt, ACR: sess.ACR, AMR: sess.AMR,
		ExpiresAt: now.Add(codeTTL),
	}
	if err := p.store.Update(ctx, func(t *kv.Txn) error { return p.codes.Put(t, rec, codeTTL) }); err != nil {
		p.log.Error("authorize: store code", "err", err)
		p.redirectError(w, r, req, oerr(ErrServerError, ""))
		return
	}
	p.m.codes.Inc()
	v := url.Values{"code": {code}, "iss": {p.issuer}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	p.redirect(w, r, req.RedirectURI, v)
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

func groupNames(gs []*auth.Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.Name
	}
	return out
}

// redirectError sends an authorization error to the (already validated)
// redirect URI with state and iss (RFC 9207).
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, e *Error) {
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
