package forward

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// basicTTL is how long a verified Basic credential is kept: WebDAV clients
// send it on every request, and a password check costs a bcrypt
// comparison. Any change to the user, the key or the apps evicts it sooner.
const basicTTL = 60 * time.Second

// maxBasicLen bounds the Authorization header a Basic check looks at.
const maxBasicLen = 4096

// basic resolves HTTP Basic credentials at an app that accepts them
// (App.BasicAuth): "username:app-password", where the app password is an
// API key of this app owned by the user named, or, where the app allows
// it, the account password (through auth.CheckPassword's limits). A
// verified result is cached for basicTTL under the HMAC of the app and the
// whole header; a failure is never cached, so each guess pays the limits
// again. Whatever it returns is viaBasic: a refusal is a Caller without
// cred.
func (v *Verifier) basic(ctx context.Context, r *http.Request, app *fwdApp, authz string, now time.Time) (Caller, error) {
	c := Caller{via: viaBasic}
	if len(authz) > maxBasicLen {
		return c, nil
	}
	key := v.secrets.Hash("basic\x00" + app.ID + "\x00" + authz)
	cr, user := v.cache.get(key)
	if cr != nil && cr.kind == credBasic {
		if !cr.valid(now) {
			v.cache.drop(key)
			return c, nil
		}
	} else {
		gen := v.cache.generation()
		login, pw, ok := r.BasicAuth()
		if !ok || login == "" || pw == "" {
			return c, nil
		}
		var err error
		if auth.HasPrefix(pw, auth.PrefixAPIKey) {
			cr, err = v.appPassword(ctx, app, login, pw, key, now)
		} else if app.BasicAuthPassword {
			cr, err = v.accountPassword(ctx, r, app, login, pw, key, now)
		}
		if err != nil || cr == nil {
			return c, err
		}
		v.cache.put(gen, cr, now)
		user = nil
	}
	if user == nil {
		var err error
		if user, err = v.identity(ctx, cr.userID); err != nil || user == nil {
			return c, err
		}
	}
	v.touched(cr, now)
	c.cred, c.user = cr, user
	return c, nil
}

// appPassword checks an API key given as a Basic password: it must be a
// live key of this app, owned by a user whose username or email is login.
func (v *Verifier) appPassword(ctx context.Context, app *fwdApp, login, tok, key string, now time.Time) (*cred, error) {
	k, err := v.auth.APIKeyByToken(ctx, tok)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if k.AppID != app.ID || k.UserID == "" {
		return nil, nil
	}
	u, err := v.auth.User(ctx, k.UserID)
	if errors.Is(err, auth.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !auth.IsLoginOf(u, login) {
		return nil, nil
	}
	exp := now.Add(basicTTL)
	if !k.ExpiresAt.IsZero() && k.ExpiresAt.Before(exp) {
		exp = k.ExpiresAt
	}
	cr := &cred{kind: credBasic, id: key, userID: u.ID, appID: app.ID, keyID: k.ID, expires: exp}
	cr.lastTouch.Store(k.LastUsedAt.UnixNano())
	return cr, nil
}

// accountPassword checks the account password through the sign-in limits.
// A user who has or needs a second factor is refused: Basic cannot carry
// it.
func (v *Verifier) accountPassword(ctx context.Context, r *http.Request, app *fwdApp, login, pw, key string, now time.Time) (*cred, error) {
	u, err := v.auth.CheckPassword(ctx, login, pw, v.limitAddr(r))
	var rl *auth.RateLimitError
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrInvalidCredentials):
		return nil, nil
	case errors.Is(err, auth.ErrPasswordNotEnough):
		v.log.Info("verify: Basic password refused; the account has or needs a second factor and must use an app password", "app", app.Slug)
		return nil, nil
	case errors.As(err, &rl):
		v.log.Info("verify: Basic password attempt rate-limited", "app", app.Slug, "scope", rl.Scope)
		return nil, nil
	default:
		return nil, err
	}
	return &cred{kind: credBasic, id: key, userID: u.ID, appID: app.ID, acr: auth.ACRPassword, expires: now.Add(basicTTL)}, nil
}

// limitAddr is the address password attempts count against: the client's
// when a trusted proxy says it, otherwise the proxy's own.
func (v *Verifier) limitAddr(r *http.Request) string {
	if a := clientAddr(r, v.trusted); a.IsValid() {
		return a.String()
	}
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// basicChallenge is the WWW-Authenticate value for an app: its name as the
// realm, quoted (RFC 9110 quoted-string), without control characters.
func basicChallenge(name string) []string {
	name = headerValue(name)
	name = strings.ReplaceAll(name, `\`, `\\`)
	name = strings.ReplaceAll(name, `"`, `\"`)
	return []string{`Basic realm="` + name + `", charset="UTF-8"`}
}

// basicRefusal reports whether outcome o, for a caller who came via, is
// answered with a Basic challenge at an app with BasicAuth: every refusal
// of Basic credentials, and "sign in" for a caller without a valid
// session (never a redirect there). A browser session keeps its own
// answers (403, the step-up), and bearer credentials their 401 Bearer.
func basicRefusal(o outcome, via via) bool {
	switch o {
	case outAllowed, outBypass, outNoApp, outBadRequest, outError:
		return false
	case outSignIn:
		return via != viaBearer
	}
	return via == viaBasic
}
