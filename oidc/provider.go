// Package oidc is Clinch's OAuth 2.0 and OpenID Connect provider:
// discovery, JWKS, authorize (code flow with PKCE and consent), token
// (authorization_code, refresh_token, client_credentials), userinfo,
// revocation, introspection and RP-initiated logout.
//
// Codes, access and refresh tokens are opaque 256-bit secrets stored only as
// their HMAC, with the store's TTL. ID tokens are RS256 JWTs signed by the
// keys in package oidc/keys.
package oidc

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/metrics"
	"github.com/clinchsso/clinch/oidc/keys"
	"github.com/clinchsso/clinch/web"
)

// Endpoint paths.
const (
	PathDiscovery        = "/.well-known/openid-configuration"
	PathASMetadata       = "/.well-known/oauth-authorization-server"
	PathJWKS             = "/.well-known/jwks.json"
	PathAuthorize        = "/oauth/authorize"
	PathConsent          = "/oauth/consent"
	PathResume           = "/oauth/authorize/resume"
	PathEndSessionDone   = "/oauth/end_session/confirm"
	PathToken            = "/oauth/token"
	PathUserinfo         = "/oauth/userinfo"
	PathRevoke           = "/oauth/revoke"
	PathIntrospect       = "/oauth/introspect"
	PathEndSession       = "/oauth/end_session"
	codeTTL              = 10 * time.Minute
	maxParamLen          = 2048
	wwwAuthenticateBasic = `Basic realm="clinch", charset="UTF-8"`
)

// CSRFExempt are the paths relying parties and resource servers POST to
// from outside the browser (or, for authorize and end_session, from another
// site's page, which does no more than the GET). Every other POST here, the
// consent form included, carries the CSRF token.
var CSRFExempt = []string{PathAuthorize, PathToken, PathUserinfo, PathRevoke, PathIntrospect, PathEndSession}

// Keys is the signing key set (see package oidc/keys).
type Keys = keys.Set

// NewKeys opens the signing keys: the OIDC_PRIVATE_KEY PEM when given, else
// a key generated once and kept encrypted in the store.
func NewKeys(ctx context.Context, store *kv.Store, secrets *auth.Secrets, pem []byte) (*Keys, error) {
	return keys.Open(ctx, keys.Config{Store: store, Secrets: secrets, PEM: pem, MaxTokenTTL: auth.MaxIDTokenTTL})
}

// Config wires a Provider.
type Config struct {
	Auth *auth.Service
	// Store keeps codes, tokens, grants, consents and pending requests.
	Store *kv.Store
	// Secrets hash every token and seal the signing keys.
	Secrets *auth.Secrets
	Site    web.Site
	// Keys signs ID tokens; nil opens them from the store (generated key).
	Keys   *Keys
	Logger *slog.Logger
	// Metrics may be nil (tests).
	Metrics *metrics.Metrics
	// RenderError draws an error page in the site's style; nil uses the
	// provider's own page.
	RenderError web.ErrorFunc
}

// Provider is the OIDC provider.
type Provider struct {
	auth      *auth.Service
	secrets   *auth.Secrets
	store     *kv.Store
	site      web.Site
	keys      *Keys
	log       *slog.Logger
	issuer    string
	render    web.ErrorFunc
	pages     *template.Template
	m         *providerMetrics
	now       func() time.Time
	discovery []byte

	codes    *kv.Collection[codeRecord]
	access   *kv.Collection[accessRecord]
	refresh  *kv.Collection[refreshRecord]
	grants   *kv.Collection[grantRecord]
	consents *kv.Collection[consentRecord]
	pending  *kv.Collection[pendingAuthz]

	backchannel *backchannel
}

//go:embed templates/*.html
var templateFS embed.FS

// New builds the provider.
func New(cfg Config) (*Provider, error) {
	if cfg.Auth == nil || cfg.Store == nil || cfg.Secrets == nil || cfg.Site.Host == nil {
		return nil, errors.New("oidc: Auth, Store, Secrets and Site are required")
	}
	p := &Provider{
		auth: cfg.Auth, secrets: cfg.Secrets, store: cfg.Store, site: cfg.Site,
		keys: cfg.Keys, log: cfg.Logger, render: cfg.RenderError, now: cfg.Auth.Now,
		issuer: cfg.Site.URL(""),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.keys == nil {
		ks, err := keys.Open(context.Background(), keys.Config{
			Store: p.store, Secrets: p.secrets, Logger: p.log, Now: p.now, MaxTokenTTL: auth.MaxIDTokenTTL,
		})
		if err != nil {
			return nil, err
		}
		p.keys = ks
	}
	t, err := template.New("").Funcs(template.FuncMap{}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p.pages = t
	var reg prometheus.Registerer
	if cfg.Metrics != nil {
		reg = cfg.Metrics.Registry
	}
	p.m = newMetrics(reg)
	p.codes = kv.NewCollection(kv.PrefixOAuthCode, func(r *codeRecord) string { return r.ID })
	p.access = kv.NewCollection(kv.PrefixOAuthAccess, func(r *accessRecord) string { return r.ID })
	p.refresh = kv.NewCollection(kv.PrefixOAuthRefresh, func(r *refreshRecord) string { return r.ID })
	p.grants = kv.NewCollection(kv.PrefixOAuthGrant, func(r *grantRecord) string { return r.ID })
	p.pending = kv.NewCollection(kv.PrefixOAuthPending, func(r *pendingAuthz) string { return r.ID })
	p.consents = kv.NewCollection(kv.PrefixOAuthConsent, func(r *consentRecord) string { return r.UserID + "/" + r.AppID })
	if p.discovery, err = p.discoveryDocument(); err != nil {
		return nil, err
	}
	cfg.Auth.OnUserDelete(p.deleteUserRecords)
	p.backchannel = newBackchannel(p)
	cfg.Auth.Subscribe(p.backchannel.onChange)
	return p, nil
}

// Close stops the back-channel logout deliveries still under way.
func (p *Provider) Close() { p.backchannel.close() }

// Keys returns the signing keys.
func (p *Provider) Keys() *Keys { return p.keys }

// Register mounts the endpoints on mux.
func (p *Provider) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathDiscovery, p.serveDiscovery)
	mux.HandleFunc("GET "+PathASMetadata, p.serveDiscovery)
	mux.HandleFunc("GET "+PathJWKS, p.serveJWKS)
	mux.HandleFunc("GET "+PathAuthorize, p.serveAuthorize)
	mux.HandleFunc("POST "+PathAuthorize, p.serveAuthorize)
	mux.HandleFunc("POST "+PathConsent, p.serveConsent)
	mux.HandleFunc("GET "+PathResume, p.serveResume)
	mux.HandleFunc("POST "+PathEndSessionDone, p.serveEndSessionConfirm)
	mux.HandleFunc("POST "+PathToken, p.serveToken)
	mux.HandleFunc("GET "+PathUserinfo, p.serveUserinfo)
	mux.HandleFunc("POST "+PathUserinfo, p.serveUserinfo)
	mux.HandleFunc("POST "+PathRevoke, p.serveRevoke)
	mux.HandleFunc("POST "+PathIntrospect, p.serveIntrospect)
	mux.HandleFunc("GET "+PathEndSession, p.serveEndSession)
	mux.HandleFunc("POST "+PathEndSession, p.serveEndSession)
}

// Rotate adds a new active signing key; see keys.Set.Rotate.
func (p *Provider) Rotate(ctx context.Context) (string, error) { return p.keys.Rotate(ctx) }
