package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

// discoveryDocument is OpenID Connect Discovery 1.0 §3 and RFC 8414 §2 in
// one: it lists exactly what this package implements.
func (p *Provider) discoveryDocument() ([]byte, error) {
	claims := []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "sid",
		"name", "preferred_username", "updated_at", "email", "email_verified", "groups"}
	doc := map[string]any{
		"issuer":                                         p.issuer,
		"authorization_endpoint":                         p.site.URL(PathAuthorize),
		"token_endpoint":                                 p.site.URL(PathToken),
		"userinfo_endpoint":                              p.site.URL(PathUserinfo),
		"jwks_uri":                                       p.site.URL(PathJWKS),
		"revocation_endpoint":                            p.site.URL(PathRevoke),
		"introspection_endpoint":                         p.site.URL(PathIntrospect),
		"end_session_endpoint":                           p.site.URL(PathEndSession),
		"scopes_supported":                               supportedScopes,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{auth.GrantAuthorizationCode, auth.GrantRefreshToken, auth.GrantClientCredentials},
		"subject_types_supported":                        []string{"pairwise"},
		"id_token_signing_alg_values_supported":          []string{"RS256"},
		"token_endpoint_auth_methods_supported":          []string{authBasic, authPost, authNone},
		"revocation_endpoint_auth_methods_supported":     []string{authBasic, authPost, authNone},
		"introspection_endpoint_auth_methods_supported":  []string{authBasic, authPost},
		"code_challenge_methods_supported":               []string{"S256"},
		"claims_supported":                               claims,
		"claim_types_supported":                          []string{"normal"},
		"prompt_values_supported":                        []string{"none", "login", "consent"},
		"acr_values_supported":                           []string{"1", "2"},
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"authorization_response_iss_parameter_supported": true,
		"backchannel_logout_supported":                   true,
		"backchannel_logout_session_supported":           true,
	}
	return json.Marshal(doc)
}

func (p *Provider) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(p.discovery)
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	b, err := p.keys.JWKS()
	if err != nil {
		p.log.Error("oidc: jwks", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short: after a rotation, relying parties must see the new key soon.
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(b)
}

// accessInfo is what a live access token stands for.
type accessInfo struct {
	rec  *accessRecord
	app  *auth.App  // the client, active
	user *auth.User // nil for client_credentials
}

// ErrTokenNotFound is returned for unknown, expired or revoked tokens, and
// for tokens whose client or user may no longer be used. It matches
// auth.ErrNotFound.
var ErrTokenNotFound = errNotFound{}

type errNotFound struct{}

func (errNotFound) Error() string        { return "oidc: token not found" }
func (errNotFound) Is(target error) bool { return target == auth.ErrNotFound }

// accessToken resolves a bearer access token and asks the one rule
// (auth.CanUse) whether it still stands: its client must be an active
// OIDC app, and its user active and allowed at that client.
func (p *Provider) accessToken(ctx context.Context, token string) (*accessInfo, error) {
	if !auth.HasPrefix(token, auth.PrefixAccessToken) {
		return nil, ErrTokenNotFound
	}
	var rec *accessRecord
	err := p.store.View(ctx, func(t *kv.Txn) error {
		var err error
		rec, err = p.access.Get(t, p.secrets.Hash(token))
		return err
	})
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrTokenNotFound
	}
	if err != nil {
		return nil, err
	}
	if !p.now().Before(rec.ExpiresAt) {
		return nil, ErrTokenNotFound
	}
	app, err := p.auth.AppByID(ctx, rec.AppID)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, ErrTokenNotFound
	}
	if err != nil {
		return nil, err
	}
	if app.Type != auth.AppOIDC || !app.Active || app.ClientID != rec.ClientID {
		return nil, ErrTokenNotFound
	}
	info := &accessInfo{rec: rec, app: app}
	if rec.UserID == "" {
		return info, nil
	}
	u, ok, err := p.canUse(ctx, app, rec.UserID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrTokenNotFound
	}
	info.user = u
	return info, nil
}

// ResolveAccessToken tells /api/verify what an access token stands for; an
// error matching auth.ErrNotFound for one that does not stand. Which
// forward_auth apps accept it is theirs to say (AcceptTokensFrom).
func (p *Provider) ResolveAccessToken(ctx context.Context, token string) (*auth.AccessToken, error) {
	info, err := p.accessToken(ctx, token)
	if err != nil {
		return nil, err
	}
	return &auth.AccessToken{UserID: info.rec.UserID, Client: info.app, ExpiresAt: info.rec.ExpiresAt}, nil
}

// bearer returns the access token from the Authorization header, or from
// the access_token form field of a POST (RFC 6750 §2.2).
func bearer(w http.ResponseWriter, r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if r.Method == http.MethodPost {
		if form, e := readFormQuiet(w, r); e == nil {
			return form.Get("access_token")
		}
	}
	return ""
}

func readFormQuiet(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

func (p *Provider) bearerError(w http.ResponseWriter, e *Error) {
	v := `Bearer realm="clinch"`
	if e.Code != "" {
		v += `, error="` + e.Code + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	writeJSON(w, e.Status, e)
}

func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := bearer(w, r)
	if tok == "" {
		p.bearerError(w, &Error{Status: http.StatusUnauthorized})
		return
	}
	info, err := p.accessToken(ctx, tok)
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		p.log.Error("oidc: userinfo token", "err", err)
		writeJSON(w, http.StatusInternalServerError, oerr(ErrServerError, ""))
		return
	}
	if err != nil || info.user == nil {
		p.bearerError(w, oerr(ErrInvalidToken, "the access token is not valid"))
		return
	}
	if !hasScope(info.rec.Scopes, ScopeOpenID) {
		p.bearerError(w, oerr(ErrInsufficientScope, "the token was not granted the openid scope"))
		return
	}
	claims, _, err := p.identityClaims(ctx, info.app, info.user, info.rec.Scopes)
	if err != nil {
		p.log.Error("oidc: userinfo claims", "err", err)
		writeJSON(w, http.StatusInternalServerError, oerr(ErrServerError, ""))
		return
	}
	claims["sub"] = info.rec.Subject
	writeJSON(w, http.StatusOK, claims)
}

// serveRevoke is RFC 7009. Unknown tokens and tokens of other clients are
// answered 200 like success, so the endpoint tells nothing about tokens.
func (p *Provider) serveRevoke(w http.ResponseWriter, r *http.Request) {
	form, e := readForm(w, r)
	if e == nil {
		e = checkForm(form)
	}
	var app *auth.App
	if e == nil {
		var c clientAuth
		if c, e = parseClientAuth(r.Header.Get("Authorization"), form); e == nil {
			app, e = p.authenticateClient(r.Context(), c)
		}
	}
	if e == nil && form.Get("token") == "" {
		e = oerr(ErrInvalidRequest, "token is missing")
	}
	if e != nil {
		writeError(w, e, r.Header.Get("Authorization") != "")
		return
	}
	if err := p.revokeToken(r.Context(), app, form.Get("token")); err != nil {
		p.log.Error("oidc: revoke", "err", err)
		writeError(w, oerr(ErrServerError, ""), false)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeToken revokes an access token (that token) or a refresh token (its
// whole family) issued to app.
func (p *Provider) revokeToken(ctx context.Context, app *auth.App, token string) error {
	h := p.secrets.Hash(token)
	var hashes []string
	err := p.store.Update(ctx, func(t *kv.Txn) error {
		hashes = nil
		switch {
		case auth.HasPrefix(token, auth.PrefixAccessToken):
			a, err := p.access.Get(t, h)
			if errors.Is(err, kv.ErrNotFound) {
				return nil
			}
			if err != nil || a.ClientID != app.ClientID {
				return err
			}
			if a.GrantID != "" {
				if err := t.Delete(grantTokenKey(a.GrantID, "a", h)); err != nil {
					return err
				}
			}
			hashes = []string{h}
			return p.access.Delete(t, h)
		case auth.HasPrefix(token, auth.PrefixRefreshToken):
			rt, err := p.refresh.Get(t, h)
			if errors.Is(err, kv.ErrNotFound) {
				return nil
			}
			if err != nil || rt.ClientID != app.ClientID {
				return err
			}
			hashes, err = p.revokeGrant(t, rt.GrantID)
			return err
		}
		return nil
	})
	p.notifyRevoked(hashes)
	if err == nil && len(hashes) > 0 {
		kind := "access token"
		if auth.HasPrefix(token, auth.PrefixRefreshToken) {
			kind = "refresh token and its grant"
		}
		p.auth.Audit(ctx, audit.Event{Kind: audit.TokenRevoked, Actor: "client:" + app.Slug, App: app.Slug,
			Detail: map[string]string{"token": kind, "tokens_ended": strconv.Itoa(len(hashes))}})
	}
	return err
}

// serveIntrospect is RFC 7662 for resource servers, which authenticate as
// a confidential client. Inactive covers unknown, expired and revoked.
func (p *Provider) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, e := readForm(w, r)
	if e == nil {
		e = checkForm(form)
	}
	var caller *auth.App
	if e == nil {
		var c clientAuth
		if c, e = parseClientAuth(r.Header.Get("Authorization"), form); e == nil {
			if c.Method == authNone {
				e = oerr(ErrInvalidClient, "introspection needs client authentication")
			} else {
				caller, e = p.authenticateClient(ctx, c)
			}
		}
	}
	if e == nil && form.Get("token") == "" {
		e = oerr(ErrInvalidRequest, "token is missing")
	}
	if e != nil {
		writeError(w, e, r.Header.Get("Authorization") != "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, p.introspect(ctx, caller, form.Get("token")))
}

// introspect answers for caller, which learns about its own tokens only:
// a token of another client is "active": false like an unknown one, so no
// client can probe another's tokens (the token's audience is its client).
// A token whose client or user may no longer be used is inactive too.
func (p *Provider) introspect(ctx context.Context, caller *auth.App, token string) map[string]any {
	inactive := map[string]any{"active": false}
	now := p.now()
	h := p.secrets.Hash(token)
	var (
		sub, clientID, userID string
		scopes                []string
		iat, exp              time.Time
		kind                  string
	)
	err := p.store.View(ctx, func(t *kv.Txn) error {
		switch {
		case auth.HasPrefix(token, auth.PrefixAccessToken):
			a, err := p.access.Get(t, h)
			if err != nil {
				return err
			}
			sub, clientID, userID, scopes, iat, exp, kind = a.Subject, a.ClientID, a.UserID, a.Scopes, a.IssuedAt, a.ExpiresAt, "access_token"
		case auth.HasPrefix(token, auth.PrefixRefreshToken):
			rt, err := p.refresh.Get(t, h)
			if err != nil {
				return err
			}
			if rt.Used {
				return kv.ErrNotFound
			}
			sub, clientID, userID, scopes, iat, exp, kind = rt.Subject, rt.ClientID, rt.UserID, rt.Scopes, rt.IssuedAt, rt.ExpiresAt, "refresh_token"
		default:
			return kv.ErrNotFound
		}
		return nil
	})
	if err != nil || !now.Before(exp) || caller == nil || clientID != caller.ClientID || !caller.Active {
		return inactive
	}
	out := map[string]any{
		"active": true, "scope": strings.Join(scopes, " "), "client_id": clientID, "sub": sub,
		"aud": clientID, "iss": p.issuer, "iat": iat.Unix(), "exp": exp.Unix(), "token_type": "Bearer",
	}
	if kind == "refresh_token" {
		out["token_type"] = "refresh_token"
	}
	if userID != "" {
		u, ok, err := p.canUse(ctx, caller, userID)
		if err != nil || !ok {
			return inactive
		}
		if hasScope(scopes, ScopeProfile) {
			out["username"] = u.Login()
		}
	}
	return out
}
