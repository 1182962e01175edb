// Package adminapi is Clinch's JSON admin API under /api/admin/: users,
// groups, applications, API keys and sessions, for scripts and tools. Each
// endpoint decodes its input into the same typed input the `clinch`
// command uses and calls the same control.Env operation, so the CLI and
// the API validate alike and answer alike.
//
// It is authorized by admin API tokens only (`clinch admin token create`),
// sent as "Authorization: Bearer <token>". A session cookie is never
// looked at, so a browser cannot be led into calling it (which is also why
// it is exempt from the CSRF check). Every token is an admin's: tokens are
// made only by the CLI, so a non-admin token cannot exist.
package adminapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/control"
	"github.com/clinchsso/clinch/web"
)

// Prefix is where the API is served; everything under it is exempt from
// the CSRF check and needs an admin token.
const Prefix = "/api/admin/"

// Config wires the API.
type Config struct {
	// Env runs the operations; the same Env the control socket uses.
	Env *control.Env
	// Tokens checks admin tokens; normally Env.Auth.
	Tokens Tokens
	Logger *slog.Logger
	// TrustedProxies decide which client address failures are counted
	// against.
	TrustedProxies []*net.IPNet
	// Now defaults to time.Now; tests move the clock.
	Now func() time.Time
}

// Tokens is what the API needs of auth to check a bearer token.
type Tokens interface {
	AdminTokenByToken(ctx context.Context, token string) (*auth.AdminToken, error)
	TouchAdminToken(ctx context.Context, k *auth.AdminToken) error
}

// API answers /api/admin/.
type API struct {
	env    *control.Env
	tokens Tokens
	log    *slog.Logger
	proxy  []*net.IPNet
	fails  *failures
}

// New returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Env == nil || cfg.Tokens == nil {
		return nil, errors.New("adminapi: Env and Tokens are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &API{env: cfg.Env, tokens: cfg.Tokens, log: cfg.Logger, proxy: cfg.TrustedProxies,
		fails: newFailures(cfg.Now)}, nil
}

// Register mounts the endpoints on mux.
func (a *API) Register(mux *http.ServeMux) {
	route := func(pattern string, h func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(pattern, a.authorized(h))
	}
	route("GET /api/admin/users", a.listUsers)
	route("POST /api/admin/users", a.createUser)
	route("GET /api/admin/users/{id}", a.getUser)
	route("PATCH /api/admin/users/{id}", a.updateUser)
	route("DELETE /api/admin/users/{id}", a.deleteUser)
	route("POST /api/admin/users/{id}/disable", a.setEnabled(false))
	route("POST /api/admin/users/{id}/enable", a.setEnabled(true))
	route("GET /api/admin/users/{id}/sessions", a.userSessions)
	route("DELETE /api/admin/users/{id}/sessions", a.revokeUserSessions)
	route("DELETE /api/admin/users/{id}/sessions/{sid}", a.revokeSession)
	route("DELETE /api/admin/sessions/{sid}", a.revokeSession)

	route("GET /api/admin/groups", a.listGroups)
	route("POST /api/admin/groups", a.createGroup)
	route("GET /api/admin/groups/{name}", a.getGroup)
	route("PATCH /api/admin/groups/{name}", a.updateGroup)
	route("DELETE /api/admin/groups/{name}", a.deleteGroup)
	route("PUT /api/admin/groups/{name}/members/{user}", a.setMember(true))
	route("DELETE /api/admin/groups/{name}/members/{user}", a.setMember(false))

	route("GET /api/admin/apps", a.listApps)
	route("POST /api/admin/apps", a.createApp)
	route("GET /api/admin/apps/{slug}", a.getApp)
	route("PATCH /api/admin/apps/{slug}", a.updateApp)
	route("DELETE /api/admin/apps/{slug}", a.deleteApp)
	route("GET /api/admin/apps/{slug}/keys", a.listKeys)
	route("POST /api/admin/apps/{slug}/keys", a.createKey)
	route("DELETE /api/admin/apps/{slug}/keys/{id}", a.revokeKey)

	if a.env.Audit != nil {
		route("GET /api/admin/audit", a.listAudit)
	}
	// Anything else under the prefix: 404 in JSON, but only to a caller
	// with a token, so the API's shape is not shown to strangers.
	route(Prefix, func(http.ResponseWriter, *http.Request) error {
		return errNoRoute
	})
}

var errNoRoute = errors.New("no such endpoint")

// authorized checks the bearer token before h runs, and turns h's error
// into the JSON answer.
func (a *API) authorized(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		ip := web.ClientIP(r, a.proxy)
		if wait := a.fails.blocked(ip); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
			writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "too many requests with a wrong token from this address; try again later"})
			return
		}
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="clinch admin API"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "an admin API token is required: Authorization: Bearer <token> (clinch admin token create)"})
			return
		}
		k, err := a.tokens.AdminTokenByToken(r.Context(), tok)
		if errors.Is(err, auth.ErrAdminToken) {
			a.fails.add(ip)
			// Never the token: only where it came from and what it asked.
			web.Logger(r, a.log).Warn("admin API: token refused", "ip", ip, "method", r.Method, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="clinch admin API", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, errorBody{Error: "the token is not valid: unknown, revoked or expired"})
			return
		}
		if err != nil {
			web.Logger(r, a.log).Error("admin API: token check", "err", err)
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error"})
			return
		}
		if err := a.tokens.TouchAdminToken(r.Context(), k); err != nil {
			web.Logger(r, a.log).Warn("admin API: record token use", "err", err)
		}
		// What the operation records in the audit trail names the token.
		r = r.WithContext(audit.WithOrigin(r.Context(), audit.Origin{Actor: audit.APIActor(k.Name), IP: ip}))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if err := h(sw, r); err != nil {
			a.writeError(sw, r, err)
		}
		// Changes are logged with the token that made them; reads are not,
		// so a polling script does not flood the log.
		if r.Method != http.MethodGet {
			web.Logger(r, a.log).Info("admin API", "token", k.Name, "method", r.Method, "path", r.URL.Path, "status", sw.status)
		}
	})
}

// statusWriter remembers the status written, for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
