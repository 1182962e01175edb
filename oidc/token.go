package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

// Client authentication methods.
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none"
)

// clientAuth is how a client identified itself at a back-channel endpoint.
type clientAuth struct {
	ID, Secret, Method string
}

// tokenRequest is a parsed token request (RFC 6749 §4.1.3, §6, §4.4).
type tokenRequest struct {
	clientAuth
	GrantType    string
	Code         string
	RedirectURI  string
	Verifier     string
	RefreshToken string
	Scope        string
	ScopeGiven   bool
}

var verifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// parseClientAuth reads client credentials from the Authorization header
// (client_secret_basic) or the body (client_secret_post, or a bare
// client_id for public clients). Using two methods at once is refused
// (RFC 6749 §2.3).
func parseClientAuth(authz string, form url.Values) (clientAuth, *Error) {
	var c clientAuth
	if authz != "" {
		scheme, cred, ok := strings.Cut(authz, " ")
		if !ok || !strings.EqualFold(scheme, "Basic") {
			return c, oerr(ErrInvalidClient, "unsupported Authorization scheme")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return c, oerr(ErrInvalidClient, "malformed Basic credentials")
		}
		id, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return c, oerr(ErrInvalidClient, "malformed Basic credentials")
		}
		// RFC 6749 §2.3.1: both parts are form-urlencoded first.
		if c.ID, err = url.QueryUnescape(id); err != nil {
			return c, oerr(ErrInvalidClient, "malformed Basic credentials")
		}
		if c.Secret, err = url.QueryUnescape(secret); err != nil {
			return c, oerr(ErrInvalidClient, "malformed Basic credentials")
		}
		if c.ID == "" {
			return c, oerr(ErrInvalidClient, "malformed Basic credentials")
		}
		c.Method = authBasic
		if form.Has("client_secret") {
			return c, oerr(ErrInvalidRequest, "use one client authentication method, not two")
		}
		if id := form.Get("client_id"); id != "" && id != c.ID {
			return c, oerr(ErrInvalidRequest, "client_id does not match the Authorization header")
		}
		return c, nil
	}
	c.ID, c.Secret = form.Get("client_id"), form.Get("client_secret")
	switch {
	case c.ID == "":
		return c, oerr(ErrInvalidClient, "client authentication is missing")
	case form.Has("client_secret"):
		c.Method = authPost
	default:
		c.Method = authNone
	}
	return c, nil
}

// checkForm refuses repeated and oversized parameters.
func checkForm(form url.Values) *Error {
	for k, v := range form {
		if len(v) > 1 {
			return oerr(ErrInvalidRequest, "parameter "+k+" is repeated")
		}
		if len(v[0]) > maxParamLen {
			return oerr(ErrInvalidRequest, "parameter "+k+" is too long")
		}
	}
	return nil
}

// parseTokenRequest checks a token request's syntax.
func parseTokenRequest(authz string, form url.Values) (*tokenRequest, *Error) {
	tr := &tokenRequest{}
	if e := checkForm(form); e != nil {
		return tr, e
	}
	c, e := parseClientAuth(authz, form)
	tr.clientAuth = c
	if e != nil {
		return tr, e
	}
	tr.GrantType = form.Get("grant_type")
	tr.Scope, tr.ScopeGiven = form.Get("scope"), form.Has("scope")
	switch tr.GrantType {
	case "":
		return tr, oerr(ErrInvalidRequest, "grant_type is missing")
	case auth.GrantAuthorizationCode:
		tr.Code, tr.RedirectURI, tr.Verifier = form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
		if tr.Code == "" {
			return tr, oerr(ErrInvalidRequest, "code is missing")
		}
		if tr.RedirectURI == "" {
			return tr, oerr(ErrInvalidRequest, "redirect_uri is missing")
		}
		if tr.Verifier != "" && !verifierRE.MatchString(tr.Verifier) {
			return tr, oerr(ErrInvalidRequest, "code_verifier must be 43 to 128 unreserved characters")
		}
	case auth.GrantRefreshToken:
		tr.RefreshToken = form.Get("refresh_token")
		if tr.RefreshToken == "" {
			return tr, oerr(ErrInvalidRequest, "refresh_token is missing")
		}
	case auth.GrantClientCredentials:
	default:
		return tr, oerr(ErrUnsupportedGrantType, "grant_type "+tr.GrantType+" is not supported")
	}
	return tr, nil
}

// readForm parses an application/x-www-form-urlencoded POST body. Only the
// body counts: parameters in the query string are not credentials' place.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *Error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return nil, oerr(ErrInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, oerr(ErrInvalidRequest, "the body could not be read")
	}
	return r.PostForm, nil
}

// authenticateClient returns the app that c authenticates as. Confidential
// clients must prove their secret; public clients must not send one.
func (p *Provider) authenticateClient(ctx context.Context, c clientAuth) (*auth.App, *Error) {
	app, err := p.clientApp(ctx, c.ID)
	if err != nil {
		if !errors.Is(err, auth.ErrNotFound) {
			p.log.Error("oidc: client lookup", "err", err)
			return nil, oerr(ErrServerError, "")
		}
		return nil, oerr(ErrInvalidClient, "client authentication failed")
	}
	if app.Public {
		if c.Method != authNone {
			return nil, oerr(ErrInvalidClient, "a public client has no secret")
		}
		return app, nil
	}
	if c.Method == authNone || !p.auth.CheckClientSecret(app, c.Secret) {
		return nil, oerr(ErrInvalidClient, "client authentication failed")
	}
	return app, nil
}

// tokenResponse is RFC 6749 §5.1 plus id_token.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	resp, e := p.token(w, r)
	if e != nil {
		p.m.tokenErrors.WithLabelValues(e.Code).Inc()
		writeError(w, e, r.Header.Get("Authorization") != "")
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) (*tokenResponse, *Error) {
	form, e := readForm(w, r)
	if e != nil {
		return nil, e
	}
	tr, e := parseTokenRequest(r.Header.Get("Authorization"), form)
	if e != nil {
		return nil, e
	}
	ctx := r.Context()
	app, e := p.authenticateClient(ctx, tr.clientAuth)
	if e != nil {
		return nil, e
	}
	if !slices.Contains(app.GrantTypes, tr.GrantType) {
		return nil, oerr(ErrUnauthorizedClient, "this client may not use grant_type "+tr.GrantType)
	}
	var resp *tokenResponse
	switch tr.GrantType {
	case auth.GrantAuthorizationCode:
		resp, e = p.exchangeCode(ctx, app, tr)
	case auth.GrantRefreshToken:
		resp, e = p.refreshTokens(ctx, app, tr)
	case auth.GrantClientCredentials:
		resp, e = p.clientCredentials(ctx, app, tr)
	}
	if e == nil {
		p.m.tokens.WithLabelValues(tr.GrantType).Inc()
	}
	return resp, e
}

// issued is what one grant step produced.
type issued struct {
	access, refresh string
	accessRec       *accessRecord
	sub             string
}

func remaining(until, now time.Time) time.Duration {
	if d := until.Sub(now); d > time.Second {
		return d
	}
	return time.Second
}

// issue stores a new access token (and refresh token) under the grant.
func (p *Provider) issue(t *kv.Txn, app *auth.App, g *grantRecord, scopes []string, withRefresh bool, now time.Time) (*issued, error) {
	sub, err := p.subject(t, g.UserID, app.ID)
	if err != nil {
		return nil, err
	}
	out := &issued{sub: sub}
	attl := time.Duration(app.AccessTokenTTL)
	if attl <= 0 {
		attl = auth.DefaultAccessTokenTTL
	}
	var ah string
	out.access, ah = p.secrets.NewToken(auth.PrefixAccessToken)
	out.accessRec = &accessRecord{
		ID: ah, GrantID: g.ID, AppID: app.ID, ClientID: app.ClientID, UserID: g.UserID, Subject: sub,
		Scopes: scopes, IssuedAt: now, ExpiresAt: now.Add(attl),
	}
	if err := p.access.Put(t, out.accessRec, attl); err != nil {
		return nil, err
	}
	if err := t.Set(grantTokenKey(g.ID, "a", ah), nil, attl); err != nil {
		return nil, err
	}
	gttl := attl
	if withRefresh {
		rttl := time.Duration(app.RefreshTokenTTL)
		if rttl <= 0 {
			rttl = auth.DefaultRefreshTokenTTL
		}
		var rh string
		out.refresh, rh = p.secrets.NewToken(auth.PrefixRefreshToken)
		rr := &refreshRecord{
			ID: rh, GrantID: g.ID, AppID: app.ID, ClientID: app.ClientID, UserID: g.UserID, Subject: sub,
			Scopes: scopes, IssuedAt: now, ExpiresAt: now.Add(rttl),
		}
		if err := p.refresh.Put(t, rr, rttl); err != nil {
			return nil, err
		}
		if err := t.Set(grantTokenKey(g.ID, "r", rh), nil, rttl); err != nil {
			return nil, err
		}
		gttl = max(gttl, rttl)
	}
	return out, p.grants.Put(t, g, gttl)
}

func (p *Provider) wantsRefresh(app *auth.App, scopes []string) bool {
	return slices.Contains(app.GrantTypes, auth.GrantRefreshToken) &&
		(hasScope(scopes, ScopeOfflineAccess) || app.AlwaysIssueRefresh)
}

// pkceMatches compares S256(verifier) with the stored challenge.
func pkceMatches(verifier, challenge string) bool {
	h := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(h[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

func (p *Provider) exchangeCode(ctx context.Context, app *auth.App, tr *tokenRequest) (*tokenResponse, *Error) {
	if !auth.HasPrefix(tr.Code, auth.PrefixCode) {
		return nil, oerr(ErrInvalidGrant, "the code is not valid")
	}
	hash := p.secrets.Hash(tr.Code)
	now := p.now()
	var (
		out     *issued
		code    *codeRecord
		grant   *grantRecord
		revoked []string
		e       *Error
		replay  bool
	)
	err := p.store.Update(ctx, func(t *kv.Txn) error {
		out, code, grant, revoked, e, replay = nil, nil, nil, nil, nil, false
		c, err := p.codes.Get(t, hash)
		if errors.Is(err, kv.ErrNotFound) || err == nil && !now.Before(c.ExpiresAt) {
			e = oerr(ErrInvalidGrant, "the code is not valid or has expired")
			return nil
		}
		if err != nil {
			return err
		}
		// A code is bound to the client it was issued to: another client
		// holding it (stolen from a log or a referrer) cannot redeem it.
		if c.ClientID != app.ClientID {
			e = oerr(ErrInvalidGrant, "the code was issued to another client")
			return nil
		}
		if c.Used {
			// RFC 6749 §4.1.2: a code used twice means it leaked; revoke
			// everything the first use produced.
			revoked, err = p.revokeGrant(t, c.GrantID)
			e, replay = oerr(ErrInvalidGrant, "the code was already used; the tokens issued for it are revoked"), true
			return err
		}
		if c.RedirectURI != tr.RedirectURI {
			e = oerr(ErrInvalidGrant, "redirect_uri does not match the authorization request")
			return nil
		}
		switch {
		case c.Challenge != "" && tr.Verifier == "":
			e = oerr(ErrInvalidGrant, "code_verifier is required")
			return nil
		case c.Challenge != "" && !pkceMatches(tr.Verifier, c.Challenge):
			e = oerr(ErrInvalidGrant, "code_verifier does not match the code_challenge")
			return nil
		case c.Challenge == "" && tr.Verifier != "":
			// RFC 9700 §2.1.1: a verifier for a code issued without a
			// challenge means someone stripped the challenge (downgrade).
			e = oerr(ErrInvalidGrant, "code_verifier sent but the authorization request had no code_challenge")
			return nil
		}
		c.Used = true
		if err := p.codes.Put(t, c, remaining(c.ExpiresAt, now)); err != nil {
			return err
		}
		code = c
		grant = &grantRecord{
			ID: c.GrantID, AppID: app.ID, UserID: c.UserID, SessionID: c.SessionID, Scopes: c.Scopes,
			AuthTime: c.AuthTime, ACR: c.ACR, AMR: c.AMR, CreatedAt: now,
		}
		out, err = p.issue(t, app, grant, c.Scopes, p.wantsRefresh(app, c.Scopes), now)
		return err
	})
	p.notifyRevoked(revoked)
	if err != nil {
		p.log.Error("oidc: code exchange", "err", err)
		return nil, oerr(ErrServerError, "")
	}
	if e != nil {
		if replay {
			p.log.Warn("oidc: authorization code replayed; grant revoked", "client_id", app.ClientID, "tokens_revoked", len(revoked))
		}
		return nil, e
	}
	return p.respond(ctx, app, grant, out, code.Nonce, now)
}

// respond checks the user can still use the app and builds the response
// with an ID token when openid was granted. A user who was disabled or
// left the app's groups gets nothing, and the grant is revoked.
func (p *Provider) respond(ctx context.Context, app *auth.App, g *grantRecord, out *issued, nonce string, now time.Time) (*tokenResponse, *Error) {
	user, ok, err := p.canUse(ctx, app, g.UserID)
	if err != nil {
		p.log.Error("oidc: check user", "err", err)
		return nil, oerr(ErrServerError, "")
	}
	if !ok {
		p.revokeGrantNow(ctx, g.ID)
		return nil, oerr(ErrInvalidGrant, "the user may no longer use this application")
	}
	resp := &tokenResponse{
		AccessToken: out.access, TokenType: "Bearer",
		ExpiresIn:    int64(out.accessRec.ExpiresAt.Sub(now).Seconds()),
		Scope:        strings.Join(out.accessRec.Scopes, " "),
		RefreshToken: out.refresh,
	}
	if hasScope(out.accessRec.Scopes, ScopeOpenID) {
		idt, err := p.idToken(ctx, idTokenInput{app: app, user: user, sub: out.sub, grant: g, nonce: nonce, accessToken: out.access, now: now})
		if err != nil {
			p.log.Error("oidc: id token", "err", err)
			return nil, oerr(ErrServerError, "")
		}
		resp.IDToken = idt
	}
	return resp, nil
}

func (p *Provider) revokeGrantNow(ctx context.Context, grantID string) {
	var hashes []string
	err := p.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		hashes, err = p.revokeGrant(t, grantID)
		return err
	})
	if err != nil {
		p.log.Error("oidc: revoke grant", "err", err)
	}
	p.notifyRevoked(hashes)
}

func (p *Provider) refreshTokens(ctx context.Context, app *auth.App, tr *tokenRequest) (*tokenResponse, *Error) {
	if !auth.HasPrefix(tr.RefreshToken, auth.PrefixRefreshToken) {
		return nil, oerr(ErrInvalidGrant, "the refresh token is not valid")
	}
	hash := p.secrets.Hash(tr.RefreshToken)
	now := p.now()
	var (
		out     *issued
		grant   *grantRecord
		revoked []string
		e       *Error
		stepUp  bool
	)
	err := p.store.Update(ctx, func(t *kv.Txn) error {
		out, grant, revoked, e, stepUp = nil, nil, nil, nil, false
		rt, err := p.refresh.Get(t, hash)
		if errors.Is(err, kv.ErrNotFound) || err == nil && !now.Before(rt.ExpiresAt) {
			e = oerr(ErrInvalidGrant, "the refresh token is not valid or has expired")
			return nil
		}
		if err != nil {
			return err
		}
		if rt.ClientID != app.ClientID {
			e = oerr(ErrInvalidGrant, "the refresh token was issued to another client")
			return nil
		}
		if rt.Used {
			// Rotation makes every refresh token single-use; a second use
			// means two parties hold it, so the whole family goes.
			revoked, err = p.revokeGrant(t, rt.GrantID)
			e = oerr(ErrInvalidGrant, "the refresh token was already used; its token family is revoked")
			return err
		}
		g, err := p.grants.Get(t, rt.GrantID)
		if errors.Is(err, kv.ErrNotFound) {
			e = oerr(ErrInvalidGrant, "the grant was revoked")
			return nil
		}
		if err != nil {
			return err
		}
		if app.RequireSecondFactor && !auth.SecondFactorDone(g.ACR) {
			// The app came to require a second factor after this grant
			// was made with a password alone: it ends, and the app sends
			// the person back through authorize, where the step-up is.
			stepUp = true
			revoked, err = p.revokeGrant(t, g.ID)
			e = oerr(ErrInvalidGrant, "this application now requires a second factor; sign in again")
			return err
		}
		scopes := rt.Scopes
		if tr.ScopeGiven {
			asked := strings.Fields(tr.Scope)
			for _, s := range asked {
				if !slices.Contains(rt.Scopes, s) {
					e = oerr(ErrInvalidScope, "scope "+s+" was not granted")
					return nil
				}
			}
			scopes = parseScopes(tr.Scope)
		}
		rt.Used = true
		if err := p.refresh.Put(t, rt, remaining(rt.ExpiresAt, now)); err != nil {
			return err
		}
		grant = g
		out, err = p.issue(t, app, g, scopes, true, now)
		return err
	})
	p.notifyRevoked(revoked)
	if err != nil {
		p.log.Error("oidc: refresh", "err", err)
		return nil, oerr(ErrServerError, "")
	}
	if e != nil {
		switch {
		case stepUp:
			p.log.Info("oidc: refresh refused: the app requires a second factor and the grant was made without one; grant revoked", "client_id", app.ClientID, "tokens_revoked", len(revoked))
		case len(revoked) > 0:
			p.log.Warn("oidc: refresh token replayed; family revoked", "client_id", app.ClientID, "tokens_revoked", len(revoked))
		}
		return nil, e
	}
	// The refreshed ID token keeps auth_time and has no nonce (OIDC Core
	// §12.2).
	return p.respond(ctx, app, grant, out, "", now)
}

// clientCredentials issues an access token for the app itself. No user,
// no ID token, no refresh token; the app's allowed groups do not apply.
func (p *Provider) clientCredentials(ctx context.Context, app *auth.App, tr *tokenRequest) (*tokenResponse, *Error) {
	if app.Public {
		return nil, oerr(ErrUnauthorizedClient, "public clients cannot use client_credentials")
	}
	if tr.ScopeGiven {
		for _, s := range strings.Fields(tr.Scope) {
			if slices.Contains(supportedScopes, s) {
				return nil, oerr(ErrInvalidScope, "scope "+s+" needs a user; client_credentials has none")
			}
		}
	}
	now := p.now()
	ttl := time.Duration(app.AccessTokenTTL)
	if ttl <= 0 {
		ttl = auth.DefaultAccessTokenTTL
	}
	tok, h := p.secrets.NewToken(auth.PrefixAccessToken)
	rec := &accessRecord{ID: h, AppID: app.ID, ClientID: app.ClientID, Subject: app.ClientID, IssuedAt: now, ExpiresAt: now.Add(ttl)}
	if err := p.store.Update(ctx, func(t *kv.Txn) error { return p.access.Put(t, rec, ttl) }); err != nil {
		p.log.Error("oidc: client credentials", "err", err)
		return nil, oerr(ErrServerError, "")
	}
	return &tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(ttl.Seconds())}, nil
}
