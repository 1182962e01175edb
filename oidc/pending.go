package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/clinchsso/clinch/kv"
)

// A pending authorization is an authorization request that needs the
// person: a sign-in, a re-authentication or a consent. It is kept on the
// server under a random id, and the sign-in and consent pages carry only
// that id, so nothing a client or a page sends can change the request or
// claim that a step happened.
type pendingAuthz struct {
	ID          string   `json:"id"`
	Browser     string   `json:"browser"` // HMAC of the clinch_authz cookie
	AppID       string   `json:"app_id"`
	ClientID    string   `json:"client_id"`
	RedirectURI string   `json:"redirect_uri"`
	State       string   `json:"state,omitempty"`
	Nonce       string   `json:"nonce,omitempty"`
	Challenge   string   `json:"challenge,omitempty"`
	Scopes      []string `json:"scopes"`
	Prompt      []string `json:"prompt,omitempty"`
	MaxAge      int      `json:"max_age"` // -1: not given
	// SecondFactor: the code may only go to a session made with a second
	// factor (acr_values=2, or the app requires it).
	SecondFactor bool      `json:"second_factor,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// ConsentUser is the user the consent page was shown to; a decision
	// from anybody else's session is not theirs to make.
	ConsentUser string `json:"consent_user,omitempty"`
}

func (a *pendingAuthz) prompt(v string) bool { return slices.Contains(a.Prompt, v) }

const (
	// pendingTTL bounds how long a person may take to sign in and decide.
	pendingTTL = 30 * time.Minute
	// browserCookie binds pending authorizations to the browser that
	// started them, so an id seen in a log or a shoulder-surfed URL is of
	// no use elsewhere.
	browserCookie = "clinch_authz"
	// PendingParam names the pending authorization on the sign-in page.
	PendingParam = "authz"
	// StepUpPath is the page (served by ui) that takes a signed-in person
	// through a second factor and back to the pending authorization.
	StepUpPath = "/signin/step-up"
)

// ErrNoPending is returned for an unknown, expired, finished or foreign
// pending authorization.
var ErrNoPending = errors.New("oidc: no such pending authorization")

func randomID() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// bindBrowser returns the HMAC of the browser's clinch_authz cookie,
// setting a new cookie when there is none.
func (p *Provider) bindBrowser(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) == 32 {
		return p.secrets.Hash(c.Value)
	}
	v := randomID()
	http.SetCookie(w, &http.Cookie{
		Name: browserCookie, Value: v, Path: "/", HttpOnly: true,
		Secure: p.site.Secure, SameSite: http.SameSiteLaxMode,
	})
	return p.secrets.Hash(v)
}

// browserOf returns the HMAC of the browser's clinch_authz cookie, or "".
func (p *Provider) browserOf(r *http.Request) string {
	if c, err := r.Cookie(browserCookie); err == nil && len(c.Value) == 32 {
		return p.secrets.Hash(c.Value)
	}
	return ""
}

func (p *Provider) savePending(ctx context.Context, a *pendingAuthz) error {
	ttl := pendingTTL - p.now().Sub(a.CreatedAt)
	if ttl < time.Second {
		return ErrNoPending
	}
	return p.store.Update(ctx, func(t *kv.Txn) error { return p.pending.Put(t, a, ttl) })
}

// loadPending returns the pending authorization id of the browser r.
func (p *Provider) loadPending(ctx context.Context, r *http.Request, id string) (*pendingAuthz, error) {
	browser := p.browserOf(r)
	if id == "" || len(id) > 64 || browser == "" {
		return nil, ErrNoPending
	}
	var a *pendingAuthz
	err := p.store.View(ctx, func(t *kv.Txn) error {
		var err error
		a, err = p.pending.Get(t, id)
		return err
	})
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrNoPending
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(a.Browser), []byte(browser)) != 1 || p.now().Sub(a.CreatedAt) > pendingTTL {
		return nil, ErrNoPending
	}
	return a, nil
}

func (p *Provider) dropPending(ctx context.Context, id string) {
	err := p.store.Update(ctx, func(t *kv.Txn) error { return p.pending.Delete(t, id) })
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		p.log.Warn("oidc: drop pending authorization", "err", err)
	}
}
