package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/web"
)

// logoutRequest is an RP-initiated logout request, checked.
type logoutRequest struct {
	app    *auth.App // nil when neither client_id nor a hint names one
	target string    // registered post_logout_redirect_uri, or ""
	state  string
	sub    string // from the id_token_hint
	sid    string
}

// parseLogout reads and checks an end_session request. It returns a
// message for the person when the request cannot be honoured.
func (p *Provider) parseLogout(ctx context.Context, q url.Values) (*logoutRequest, string) {
	lr := &logoutRequest{state: q.Get("state")}
	var aud string
	if hint := q.Get("id_token_hint"); hint != "" {
		// An expired ID token is still a good hint (RP-Initiated Logout
		// §2): what it names is checked against live sessions below.
		payload, err := p.keys.Verify(hint)
		var c struct {
			Iss string `json:"iss"`
			Aud any    `json:"aud"`
			Sub string `json:"sub"`
			Sid string `json:"sid"`
		}
		if err != nil || json.Unmarshal(payload, &c) != nil || c.Iss != p.issuer {
			return nil, "The id_token_hint is not a token Clinch issued."
		}
		switch a := c.Aud.(type) {
		case string:
			aud = a
		case []any:
			if len(a) == 1 {
				aud, _ = a[0].(string)
			}
		}
		lr.sub, lr.sid = c.Sub, c.Sid
	}
	clientID := q.Get("client_id")
	if clientID != "" && aud != "" && clientID != aud {
		return nil, "client_id does not match the id_token_hint."
	}
	if clientID == "" {
		clientID = aud
	}
	if clientID != "" {
		lr.app, _ = p.clientApp(ctx, clientID)
	}
	if plr := q.Get("post_logout_redirect_uri"); plr != "" {
		if lr.app == nil || !slices.Contains(lr.app.PostLogoutRedirectURIs, plr) {
			return nil, "The application asked to return to an address that is not registered for it after sign-out."
		}
		lr.target = plr
	}
	return lr, ""
}

// serveEndSession is RP-initiated logout (OpenID Connect RP-Initiated
// Logout 1.0). An id_token_hint for a live session ends that session,
// also when the relying party calls from its server without the browser's
// cookie (oauth2-proxy's --backend-logout-url, Immich): holding an ID
// token of that session is the proof. The browser then goes to the
// registered post_logout_redirect_uri without a question. A browser signed
// in with a session the request does not name is asked first.
func (p *Provider) serveEndSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q, err := authorizeParams(w, r)
	if err != nil || checkForm(q) != nil {
		p.page(w, r, http.StatusBadRequest, "Invalid request", "The sign-out request could not be read.")
		return
	}
	lr, msg := p.parseLogout(ctx, q)
	if lr == nil {
		p.page(w, r, http.StatusBadRequest, "Invalid request", msg)
		return
	}
	ended := ""
	if lr.app != nil && lr.sub != "" && lr.sid != "" {
		ended = p.endHintedSession(ctx, lr.app, lr.sub, lr.sid)
	}
	sess, _ := p.currentUser(ctx, r)
	if sess != nil && sess.ID != ended {
		p.confirmLogoutPage(w, r, lr)
		return
	}
	if web.SessionToken(r) != "" {
		p.site.ClearSession(w)
	}
	p.loggedOut(w, r, lr)
}

// endHintedSession ends the session an ID token names (by its pairwise
// sub at app and its sid) and returns its id, or "" when it is gone.
func (p *Provider) endHintedSession(ctx context.Context, app *auth.App, sub, sid string) string {
	var userID string
	_ = p.store.View(ctx, func(t *kv.Txn) error {
		userID, _ = p.lookupSubject(t, app.ID, sub)
		return nil
	})
	if userID == "" {
		return ""
	}
	ss, err := p.auth.UserSessions(ctx, userID)
	if err != nil {
		p.log.Error("end session: list sessions", "err", err)
		return ""
	}
	for _, s := range ss {
		if p.sessionID(s.ID) != sid {
			continue
		}
		if err := p.auth.EndSession(ctx, s.ID, userID); err != nil && !errors.Is(err, auth.ErrNotFound) {
			p.log.Error("end session", "err", err)
			return ""
		}
		p.log.Info("session ended by relying party", "client_id", app.ClientID, "user_id", userID)
		return s.ID
	}
	return ""
}

// confirmLogoutPage asks the person before signing them out. The form
// posts to PathEndSessionDone, which the CSRF middleware checks; its
// answer may redirect to the registered post-logout URI, so form-action
// allows that origin.
func (p *Provider) confirmLogoutPage(w http.ResponseWriter, r *http.Request, lr *logoutRequest) {
	clientID, appName := "", ""
	if lr.app != nil {
		clientID, appName = lr.app.ClientID, lr.app.Name
	}
	if lr.target != "" {
		w.Header().Set("Content-Security-Policy", web.CSP(formOrigin(lr.target)))
	}
	w.Header().Set("Cache-Control", "no-store")
	p.execute(w, http.StatusOK, "signout.html", map[string]any{
		"CSRFField": web.CSRFField, "CSRF": web.CSRFToken(r), "Action": PathEndSessionDone,
		"ClientID": clientID, "App": appName, "Target": lr.target, "State": lr.state,
	})
}

// serveEndSessionConfirm is the confirmation form's POST: it ends the
// browser's session and returns to the (again checked) post-logout URI.
func (p *Provider) serveEndSessionConfirm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil || checkForm(r.PostForm) != nil {
		p.page(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	q := url.Values{}
	for _, k := range []string{"client_id", "post_logout_redirect_uri", "state"} {
		if v := r.PostForm.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	lr, msg := p.parseLogout(ctx, q)
	if lr == nil {
		p.page(w, r, http.StatusBadRequest, "Invalid request", msg)
		return
	}
	if sess, _ := p.currentUser(ctx, r); sess != nil {
		if err := p.auth.EndSession(ctx, sess.ID, sess.UserID); err != nil && !errors.Is(err, auth.ErrNotFound) {
			p.log.Error("end session", "err", err)
			p.page(w, r, http.StatusInternalServerError, "Something went wrong", "You are still signed in. Try again in a moment.")
			return
		}
	}
	p.site.ClearSession(w)
	p.loggedOut(w, r, lr)
}

// loggedOut finishes a logout: to the post-logout URI with state, or a page.
func (p *Provider) loggedOut(w http.ResponseWriter, r *http.Request, lr *logoutRequest) {
	if lr.target == "" {
		p.page(w, r, http.StatusOK, "Signed out", "You are signed out of Clinch.")
		return
	}
	v := url.Values{}
	if lr.state != "" {
		v.Set("state", lr.state)
	}
	p.redirect(w, r, lr.target, v)
}
