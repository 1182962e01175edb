package forward

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// faParam is the query parameter that carries an fa_token.
const faParam = "fa_token"

// resolve finds who is asking; the first credential present wins:
//
//  1. Authorization: Bearer — an API key or an OIDC access token; a bearer
//     that is not valid is final (401), it never falls back to the cookie;
//     at an app with BasicAuth, Authorization: Basic likewise (see basic);
//     elsewhere Basic credentials are ignored,
//  2. a valid clinch_session cookie,
//  3. an fa_token in the proxied URL's query or in /api/verify's own (a
//     token for another host, or a used one, is skipped and not consumed).
//
// An unknown credential leaves no trace: nothing is cached or written.
func (v *Verifier) resolve(ctx context.Context, r *http.Request, t Target, app *fwdApp) (Caller, error) {
	now := v.auth.Now()
	if authz := r.Header.Get("Authorization"); authz != "" {
		if scheme, tok, ok := strings.Cut(authz, " "); ok {
			switch {
			case strings.EqualFold(scheme, "Bearer"):
				return v.bearer(ctx, strings.TrimSpace(tok), now)
			case strings.EqualFold(scheme, "Basic") && app.BasicAuth:
				return v.basic(ctx, r, app, authz, now)
			}
		}
	}
	// A valid session always wins over an fa_token: a link with somebody
	// else's token, opened in a signed-in browser, must not make the
	// browser act as that somebody. The token is then left unused.
	if tok := sessionCookie(r.Header); auth.HasPrefix(tok, auth.PrefixSessionToken) {
		c, err := v.session(ctx, v.secrets.Hash(tok), now)
		if err != nil || c.cred != nil && c.user != nil {
			if err == nil {
				v.burnOwnFATokens(ctx, r, t, c.sid)
			}
			return c, err
		}
	}
	for _, raw := range [2]string{t.URL.RawQuery, r.URL.RawQuery} {
		if !strings.Contains(raw, faParam) {
			continue
		}
		for _, tok := range faTokens(raw) {
			sid, err := v.auth.ConsumeFAToken(ctx, tok, t.Host)
			if err != nil {
				return Caller{}, err
			}
			if sid == "" {
				continue
			}
			c, err := v.session(ctx, sid, now)
			if err != nil || c.cred != nil {
				c.via = viaFAToken
				return c, err
			}
		}
	}
	return Caller{}, nil
}

// burnOwnFATokens uses up the fa_tokens in the request that belong to the
// caller's own session: the session did the work, and a token left in the
// address bar would let whoever copies the address in. Tokens of other
// sessions are left alone, for their own browser.
func (v *Verifier) burnOwnFATokens(ctx context.Context, r *http.Request, t Target, sessionID string) {
	for _, raw := range [2]string{t.URL.RawQuery, r.URL.RawQuery} {
		if !strings.Contains(raw, faParam) {
			continue
		}
		for _, tok := range faTokens(raw) {
			if _, err := v.auth.ConsumeFATokenOf(ctx, tok, t.Host, sessionID); err != nil {
				v.log.Warn("verify: use up fa_token", "err", err)
			}
		}
	}
}

// sessionCookie finds the clinch_session cookie without parsing every
// other cookie the browser sends for the app's domain (r.Cookie would
// allocate them all on each verify request).
func sessionCookie(h http.Header) string {
	const name = web.SessionCookie + "="
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			if v, ok := strings.CutPrefix(part, name); ok {
				if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}

// faTokens returns the fa_token values in a raw query.
func faTokens(raw string) []string {
	var out []string
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if val, ok := strings.CutPrefix(part, faParam+"="); ok {
			if v, err := url.QueryUnescape(val); err == nil && auth.HasPrefix(v, auth.PrefixFAToken) {
				out = append(out, v)
			}
		}
	}
	return out
}

// session resolves a session by id (its token's hash), from the session
// table or the store.
func (v *Verifier) session(ctx context.Context, id string, now time.Time) (Caller, error) {
	key, keyed := sessionKey(id)
	held := false
	if keyed {
		var h sessionHit
		var ok bool
		if h, ok, held = v.sessions.get(&key, now); ok {
			user := h.ident
			if user == nil {
				var err error
				if user, err = v.sessionUser(ctx, h.user, h.userID); err != nil || user == nil {
					return Caller{}, err
				}
			}
			if h.touch {
				v.touchSession(id, now)
			}
			return Caller{via: viaSession, cred: h.cred, user: user, sid: id}, nil
		}
	}
	// One read for the session and, unless cached, its user and groups.
	gen := v.sessions.generation()
	asked := false
	sess, u, groups, err := v.auth.SessionIdentity(ctx, id, func(uid string) bool {
		asked = v.sessions.userOf(uid) == nil
		return asked
	})
	if errors.Is(err, auth.ErrNotFound) {
		if held {
			v.sessions.drop(&key)
		}
		return Caller{}, nil
	}
	if err != nil {
		return Caller{}, err
	}
	var user, fresh *identity
	switch {
	case u != nil:
		user = newIdentity(u, groups)
		fresh = user
	case asked:
		return Caller{}, nil // the session's user is gone
	default:
		if user = v.sessions.userOf(sess.UserID); user == nil {
			// Changed since the read: read the user alone.
			if user, err = v.identity(ctx, sess.UserID); err != nil || user == nil {
				return Caller{}, err
			}
		}
	}
	last := sess.LastActiveAt
	due := now.Sub(last) >= touchEvery
	if due {
		last = now
	}
	if keyed {
		v.sessions.put(gen, []sessionEntry{{key: key, userID: sess.UserID, acr: sess.ACR, expires: sess.ExpiresAt, lastActive: last}}, fresh, now, true)
	}
	if due {
		v.touchSession(id, now)
	}
	return Caller{via: viaSession, cred: &cred{kind: credSession, id: id, userID: sess.UserID, acr: sess.ACR, expires: sess.ExpiresAt}, user: user, sid: id}, nil
}

// sessionUser reads the user of a cached session (their identity was
// dropped by a change) and keeps it in the user's row.
func (v *Verifier) sessionUser(ctx context.Context, row uint32, userID string) (*identity, error) {
	gen := v.sessions.generation()
	id, err := v.readIdentity(ctx, userID)
	if id != nil {
		v.sessions.setIdent(gen, row, id)
	}
	return id, err
}

// readIdentity reads a user's projection from the store; a user who is
// gone is nil.
func (v *Verifier) readIdentity(ctx context.Context, userID string) (*identity, error) {
	u, err := v.auth.User(ctx, userID)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	groups, err := v.auth.UserGroups(ctx, userID)
	if err != nil {
		return nil, err
	}
	return newIdentity(u, groups), nil
}

// touchSession queues an activity write for a session; a full queue drops
// it, and the session's next request after touchEvery tries again.
func (v *Verifier) touchSession(id string, now time.Time) {
	select {
	case v.touches <- touch{kind: credSession, id: id, at: now}:
	default:
	}
}

// identity returns the user's projection, reading it when not cached. A
// user who is gone is nil.
func (v *Verifier) identity(ctx context.Context, userID string) (*identity, error) {
	if id := v.cache.user(userID); id != nil {
		return id, nil
	}
	gen := v.cache.generation()
	id, err := v.readIdentity(ctx, userID)
	if id != nil {
		v.cache.putUser(gen, id)
	}
	return id, err
}

// bearer resolves an API key or an OIDC access token. Whatever it returns
// is viaBearer: an invalid token is a Caller without cred.
func (v *Verifier) bearer(ctx context.Context, tok string, now time.Time) (Caller, error) {
	c := Caller{via: viaBearer}
	if tok == "" || len(tok) > 4096 {
		return c, nil
	}
	key := v.secrets.Hash(tok)
	cr, user := v.cache.get(key)
	if cr != nil && (cr.kind == credAPIKey || cr.kind == credAccessToken) {
		if !cr.valid(now) {
			v.cache.drop(key)
			return c, nil
		}
	} else {
		gen := v.cache.generation()
		var err error
		if auth.HasPrefix(tok, auth.PrefixAPIKey) {
			cr, err = v.apiKey(ctx, tok)
		} else {
			cr, err = v.accessToken(ctx, tok, key)
		}
		if err != nil || cr == nil {
			return c, err
		}
		v.cache.put(gen, cr, now)
		user = nil
	}
	if cr.userID != "" && user == nil {
		var err error
		if user, err = v.identity(ctx, cr.userID); err != nil {
			return c, err
		}
		if user == nil {
			return c, nil
		}
	}
	v.touched(cr, now)
	c.cred, c.user = cr, user
	return c, nil
}

func (v *Verifier) apiKey(ctx context.Context, tok string) (*cred, error) {
	k, err := v.auth.APIKeyByToken(ctx, tok)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cr := &cred{kind: credAPIKey, id: k.ID, userID: k.UserID, appID: k.AppID, expires: k.ExpiresAt}
	cr.lastTouch.Store(k.LastUsedAt.UnixNano())
	return cr, nil
}

func (v *Verifier) accessToken(ctx context.Context, tok, key string) (*cred, error) {
	if v.tokens == nil {
		return nil, nil
	}
	p, err := v.tokens.ResolveAccessToken(ctx, tok)
	if err != nil {
		if !errors.Is(err, auth.ErrNotFound) {
			// Fail closed, but say why: the token store is not answering.
			v.log.Warn("verify: access token lookup", "err", err)
		}
		return nil, nil
	}
	if p == nil || p.ExpiresAt.IsZero() || p.Client == nil {
		return nil, nil
	}
	cr := &cred{kind: credAccessToken, id: key, userID: p.UserID, client: p.Client, expires: p.ExpiresAt}
	if p.UserID == "" {
		cr.service = headerValue(p.Client.Slug)
	}
	return cr, nil
}
