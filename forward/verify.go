// Package forward answers reverse proxies' ForwardAuth questions on
// /api/verify: Caddy's forward_auth, Traefik's forwardAuth and nginx's
// auth_request ask, for every request to a protected app, whether to let it
// through and as whom.
//
// A verify request is answered in four steps, each its own piece: the
// Target (where the proxied request goes, from the proxy's headers), the
// app (the host matched against forward_auth apps, compiled in memory), the
// Caller (a bearer API key or access token, or HTTP Basic at apps that
// take it, then the session cookie, then an fa_token), and decide, a pure
// function. The credentials and users behind a
// decision are cached in memory by token hash and evicted the moment the
// auth service announces a change, so a revoked session is refused on the
// very next request and a cached hit reads nothing from the store.
//
// Cookies: /api/verify never sets one. After sign-in the browser holds the
// clinch_session cookie for CLINCH_COOKIE_DOMAIN (by default the registrable
// domain of CLINCH_HOST), which covers every app host under it; the fa_token
// appended to the return URL only lets the first request through before the
// browser sends that cookie. A proxy also drops the verify answer's
// Set-Cookie on success (Caddy and Traefik copy only the named headers), so
// an app outside the cookie domain would sign the user in on every visit:
// put protected apps under Clinch's cookie domain, as Authelia requires.
package forward

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/metrics"
	"github.com/clinchsso/clinch/web"
)

// Path is where proxies send their questions.
const Path = "/api/verify"

// StepUpPath is the page that takes a signed-in person through the second
// factor an app requires, then back to rd (served by ui).
const StepUpPath = "/signin/step-up"

// AccessTokens resolves OIDC access tokens; the oidc provider implements
// it. ResolveAccessToken returns an error matching auth.ErrNotFound for a
// token that is unknown, expired, revoked, or whose client or user may no
// longer be used. Revocations must be announced with
// auth.Change{Kind: auth.ChangeToken, TokenHash: Secrets.Hash(token)} (or
// with UserID and no TokenHash for all of a user's tokens); app changes
// (auth.ChangeApps) drop every cached token.
type AccessTokens interface {
	ResolveAccessToken(ctx context.Context, token string) (*auth.AccessToken, error)
}

// Config wires a Verifier.
type Config struct {
	Auth *auth.Service
	// Secrets hash the credentials presented, to find them in the cache.
	Secrets *auth.Secrets
	Site    web.Site
	// Metrics may be nil (tests); the collectors are then not exported.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Tokens resolves OIDC access tokens; nil refuses every bearer token
	// that is not an API key.
	Tokens AccessTokens
	// TrustedProxies are the proxies (CLINCH_TRUSTED_PROXIES) whose
	// X-Forwarded-For says who the client is; access rules that name
	// networks need the proxy that asks /api/verify among them.
	TrustedProxies []*net.IPNet
	// CacheBytes bounds the credential cache (CLINCH_CACHE_MB); 0 means
	// DefaultCacheBytes.
	CacheBytes int64
	// SessionsLoaded, when set, is called once the live sessions of the
	// store have been loaded into memory after the start, with how many.
	SessionsLoaded func(n int)
}

// touchEvery is how often activity on one credential is written.
const touchEvery = time.Minute

// Verifier is the /api/verify handler.
type Verifier struct {
	auth    *auth.Service
	secrets *auth.Secrets
	site    web.Site
	log     *slog.Logger
	m       *verifyMetrics
	tokens  AccessTokens
	trusted []netip.Prefix
	cache   *cache // API keys, access tokens, Basic
	// sessions holds the sessions, most of what verify sees (sessions.go).
	sessions *sessionTable
	page     *template.Template
	// failures counts refused credentials per client address.
	failures *failures

	appsGen atomic.Uint64
	apps    atomic.Pointer[appTable]
	appsMu  sync.Mutex // one rebuild at a time

	touches chan touch
	stop    chan struct{}
	done    chan struct{}
	loaded  chan struct{} // closed when loadSessions returns
	onLoad  func(n int)
	closeMu sync.Once
}

type touch struct {
	kind credKind
	id   string
	at   time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

// New returns a Verifier and starts its background writer; Close stops it.
func New(cfg Config) (*Verifier, error) {
	if cfg.Auth == nil || cfg.Secrets == nil || cfg.Site.Host == nil {
		return nil, errors.New("forward: Auth, Secrets and Site are required")
	}
	page, err := template.ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("forward: templates: %w", err)
	}
	budget := cfg.CacheBytes
	if budget <= 0 {
		budget = DefaultCacheBytes
	}
	var reg prometheus.Registerer = prometheus.NewRegistry()
	if cfg.Metrics != nil {
		reg = cfg.Metrics.Registry
	}
	sessions := newSessionTable(budget - budget/16)
	m, err := newVerifyMetrics(reg, sessions)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		auth: cfg.Auth, secrets: cfg.Secrets, site: cfg.Site, log: cfg.Logger, m: m, tokens: cfg.Tokens,
		cache: newCache(budget / 16), sessions: sessions, page: page, failures: newFailures(),
		touches: make(chan touch, 1024),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		loaded:  make(chan struct{}),
		onLoad:  cfg.SessionsLoaded,
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	for _, n := range cfg.TrustedProxies {
		p, err := ipNetPrefix(n)
		if err != nil {
			return nil, fmt.Errorf("forward: trusted proxies: %w", err)
		}
		v.trusted = append(v.trusted, p)
	}
	// Generation 1 is "never built": the first request builds the table.
	v.appsGen.Store(1)
	cfg.Auth.Subscribe(v.onChange)
	go v.writer()
	go v.loadSessions()
	return v, nil
}

// Register mounts /api/verify for every method a proxy may use: Caddy and
// Traefik ask with GET, nginx's subrequest may carry the original method.
// (A method-less pattern would conflict with the pages' "GET /".)
func (v *Verifier) Register(mux *http.ServeMux) {
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH"} {
		mux.Handle(m+" "+Path, v)
	}
}

// Close stops the background writer after writing what it holds.
func (v *Verifier) Close() error {
	v.closeMu.Do(func() {
		close(v.stop)
		<-v.done
		<-v.loaded
	})
	return nil
}

func (v *Verifier) onChange(c auth.Change) {
	if c.Kind == auth.ChangeApps {
		v.appsGen.Add(1)
	}
	v.cache.evict(c)
	v.sessions.evict(c)
}

// table returns the compiled apps, rebuilding them after a change.
func (v *Verifier) table(ctx context.Context) (*appTable, error) {
	gen := v.appsGen.Load()
	if t := v.apps.Load(); t != nil && t.gen == gen {
		return t, nil
	}
	v.appsMu.Lock()
	defer v.appsMu.Unlock()
	gen = v.appsGen.Load()
	if t := v.apps.Load(); t != nil && t.gen == gen {
		return t, nil
	}
	apps, err := v.auth.Apps(ctx)
	if err != nil {
		return nil, fmt.Errorf("forward: load apps: %w", err)
	}
	t := compileApps(gen, apps)
	// A change during the read bumped appsGen; the table is then stale on
	// arrival and the next request rebuilds it.
	v.apps.Store(t)
	return t, nil
}

// ServeHTTP answers one verify request.
func (v *Verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	o := v.serve(w, r)
	v.m.observe(o, time.Since(start))
}

func (v *Verifier) serve(w http.ResponseWriter, r *http.Request) outcome {
	h := w.Header()
	// The answer is about one user and one request; no cache may keep it.
	h["Cache-Control"] = noStore
	t, err := ParseTarget(r.Header)
	if err != nil {
		v.log.Debug("verify: bad target", "reason", err.Error())
		plain(w, http.StatusBadRequest, "clinch /api/verify: "+err.Error()+"\n")
		return outBadRequest
	}
	ctx := r.Context()
	// Only requests with credentials in Authorization are limited and
	// counted; the rest never look at the table.
	var failAddr netip.Addr
	scheme := authScheme(r.Header)
	if scheme != "" {
		failAddr = failKey(r, v.trusted)
		if left := v.failures.blocked(failAddr, v.auth.Now()); left > 0 {
			h["Retry-After"] = []string{strconv.Itoa(int(math.Ceil(left.Seconds())))}
			plain(w, http.StatusTooManyRequests, "too many failed attempts from this address; try again later\n")
			return outLimited
		}
	}
	tbl, err := v.table(ctx)
	if err != nil {
		return v.fail(w, err)
	}
	app := tbl.match(t.Host)
	if app == nil || !app.Active {
		v.log.Debug("verify: no active app for host", "host", t.Host)
		if scheme == "bearer" {
			// No app at all is a guess at hosts; an inactive one is the
			// admin's doing, not the client's, and is not counted.
			reason := bearerReason(app, Caller{}, outNoApp)
			if reason == reasonOtherApp {
				v.failures.fail(failAddr, v.auth.Now())
			}
			bearerRefused(w, reason)
			return outBadToken
		}
		v.forbidden(w, r, "This address is not protected by any application in Clinch.")
		return outNoApp
	}
	c, err := v.resolve(ctx, r, t, app)
	if err != nil {
		return v.fail(w, err)
	}
	var q ruleReq
	if len(app.rules.rules) > 0 {
		var addr netip.Addr
		if app.rules.needAddr {
			addr = clientAddr(r, v.trusted)
		}
		q = newRuleReq(r.Header, t, addr, app.rules.methods)
	}
	o := decide(app, q, c)
	if app.BasicAuth && basicRefusal(o, c.via) {
		o = outBasic
	}
	if c.via == viaBearer && o != outAllowed && o != outBypass {
		// Every refusal of a bearer credential is 401 with its reason:
		// API clients act on it, and a redirect or a 403 page means
		// nothing to them.
		reason := bearerReason(app, c, o)
		// Only what looks like guessing counts against the address: a
		// valid credential that the app's groups or rules refuse is not.
		if reason == reasonInvalid || reason == reasonOtherApp {
			v.failures.fail(failAddr, v.auth.Now())
		}
		bearerRefused(w, reason)
		v.log.Debug("verify: refused", "app", app.Slug, "outcome", o.String())
		return outBadToken
	}
	if o == outBasic && c.via == viaBasic {
		v.failures.fail(failAddr, v.auth.Now())
	}
	switch o {
	case outAllowed:
		v.allow(h, app, c)
		w.WriteHeader(http.StatusOK)
	case outBypass:
		blank(h, app)
		w.WriteHeader(http.StatusOK)
	case outSignIn:
		v.signIn(w, r, t, "/signin")
	case outStepUp:
		v.signIn(w, r, t, StepUpPath)
	case outBadToken:
		bearerRefused(w, reasonInvalid)
	case outBasic:
		h["Www-Authenticate"] = app.challenge
		plain(w, http.StatusUnauthorized, "credentials required for "+headerValue(app.Name)+"\n")
	case outForbidden:
		v.forbidden(w, r, "You do not have permission for "+app.Name+".")
	case outNoApp:
		v.forbidden(w, r, "This address is not protected by any application in Clinch.")
	}
	if o == outForbidden && app.rules.needAddr && !q.addr.IsValid() {
		v.log.Warn("verify: an access rule names networks but the client's address is unknown; refused. Add the proxy's address to CLINCH_TRUSTED_PROXIES and have it send X-Forwarded-For",
			"app", app.Slug, "peer", r.RemoteAddr)
	}
	if o != outAllowed && o != outBypass {
		v.log.Debug("verify: refused", "app", app.Slug, "outcome", o.String())
	}
	return o
}

var (
	noStore       = []string{"no-store"}
	bearerInvalid = []string{`Bearer realm="clinch", error="invalid_token"`}
	textPlain     = []string{"text/plain; charset=utf-8"}
	appJSON       = []string{"application/json"}
	nosniff       = []string{"nosniff"}
	emptyValue    = []string{""}
)

func plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["X-Content-Type-Options"] = nosniff
	w.WriteHeader(status)
	w.Write([]byte(msg))
}

// bearerRefused answers a refused bearer credential: 401, a Bearer
// challenge and {"error": reason}. The reasons are constants, so the body
// needs no encoder.
func bearerRefused(w http.ResponseWriter, reason string) {
	h := w.Header()
	h["Www-Authenticate"] = bearerInvalid
	h["Content-Type"] = appJSON
	h["X-Content-Type-Options"] = nosniff
	w.WriteHeader(http.StatusUnauthorized)
	w.Write([]byte(`{"error":"` + reason + `"}` + "\n"))
}

// authScheme is "bearer" or "basic" when the request carries such an
// Authorization header, else "".
func authScheme(h http.Header) string {
	v := h["Authorization"]
	if len(v) == 0 {
		return ""
	}
	scheme, _, _ := strings.Cut(v[0], " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return "bearer"
	case strings.EqualFold(scheme, "Basic"):
		return "basic"
	}
	return ""
}

func (v *Verifier) fail(w http.ResponseWriter, err error) outcome {
	v.log.Error("verify failed", "err", err)
	plain(w, http.StatusInternalServerError, "clinch could not check this request\n")
	return outError
}

// allow writes the identity headers the app asked for. Nothing of the
// incoming request is reflected: each value comes from the store, already
// stripped of control characters.
func (v *Verifier) allow(h http.Header, app *fwdApp, c Caller) {
	// Every configured header is sent, empty when there is nothing to say,
	// so the proxy overwrites whatever the client sent under that name
	// (Caddy 2.6 would otherwise pass its unexpanded placeholder on).
	set := func(name string, val []string) {
		if name != "" {
			h[name] = val
		}
	}
	if c.user == nil {
		// A service identity: the app itself (API key) or the client
		// (access token) is the principal, with no email.
		svc := []string{app.slug}
		if c.cred != nil && c.cred.kind == credAccessToken && c.cred.service != "" {
			svc = []string{c.cred.service}
		}
		set(app.hUser, svc)
		set(app.hEmail, emptyValue)
		set(app.hName, svc)
		set(app.hGroups, emptyValue)
		set(app.hAdmin, emptyValue)
		return
	}
	set(app.hUser, c.user.login)
	set(app.hEmail, c.user.email)
	set(app.hName, c.user.name)
	set(app.hGroups, c.user.groupH)
	set(app.hAdmin, c.user.admin)
}

// signIn sends a caller who is not signed in to the sign-in page: browsers
// navigate there, API clients get 401, and nginx (which passes no redirect
// from auth_request) gets 401 with the address in Location for its
// `error_page 401 =302 $target` line.
func (v *Verifier) signIn(w http.ResponseWriter, r *http.Request, t Target, page string) {
	loc := v.site.URL(page + "?rd=" + urlQueryEscape(withoutFAToken(t.URL).String()))
	h := w.Header()
	switch {
	case t.Flavour == Nginx:
		h["Location"] = []string{loc}
		plain(w, http.StatusUnauthorized, "sign in at "+loc+"\n")
	case wantsHTML(r):
		h["Location"] = []string{loc}
		status := http.StatusFound
		if t.Method != http.MethodGet && t.Method != http.MethodHead {
			status = http.StatusSeeOther
		}
		w.WriteHeader(status)
	default:
		plain(w, http.StatusUnauthorized, "sign in required\n")
	}
}

// wantsHTML reports whether the request is a browser navigation: its
// Accept names text/html (fetch and curl send */*), it is not marked as
// XHR, and Sec-Fetch-Mode, when sent, is "navigate".
func wantsHTML(r *http.Request) bool {
	if r.Header.Get("X-Requested-With") != "" {
		return false
	}
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" && m != "navigate" {
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		if mt != "text/html" && mt != "application/xhtml+xml" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(strings.ToLower(params), " ", ""), "q="); ok && strings.Trim(q, "0.") == "" {
			continue // q=0: explicitly not acceptable
		}
		return true
	}
	return false
}

// forbidden answers 403: a short page for browsers, a line for others.
func (v *Verifier) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	if !wantsHTML(r) {
		plain(w, http.StatusForbidden, msg+"\n")
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/html; charset=utf-8"}
	h["X-Content-Type-Options"] = nosniff
	h["Content-Security-Policy"] = []string{"default-src 'none'; frame-ancestors 'none'; base-uri 'none'"}
	w.WriteHeader(http.StatusForbidden)
	if err := v.page.ExecuteTemplate(w, "forbidden.html", map[string]string{"Message": msg, "Home": v.site.URL("/")}); err != nil {
		v.log.Warn("verify: render 403", "err", err)
	}
}

// writer records activity in the background, so no request waits for a
// store write.
func (v *Verifier) writer() {
	defer close(v.done)
	for {
		select {
		case t := <-v.touches:
			v.write(t)
		case <-v.stop:
			for {
				select {
				case t := <-v.touches:
					v.write(t)
				default:
					return
				}
			}
		}
	}
}

// touched queues an activity write when the credential has not had one for
// a minute. A full queue drops it; a later request will try again.
func (v *Verifier) touched(cr *cred, now time.Time) {
	kind, id := cr.kind, cr.id
	switch {
	case kind == credAccessToken:
		return
	case kind == credBasic && cr.keyID == "":
		return
	case kind == credBasic:
		kind, id = credAPIKey, cr.keyID // an app password is an API key
	}
	last := cr.lastTouch.Load()
	n := now.UnixNano()
	if n-last < int64(touchEvery) || !cr.lastTouch.CompareAndSwap(last, n) {
		return
	}
	select {
	case v.touches <- touch{kind: kind, id: id, at: now}:
	default:
		cr.lastTouch.Store(last)
	}
}

// blank sends every configured identity header empty, for a bypass rule:
// the proxy then overwrites whatever the client sent under those names.
func blank(h http.Header, app *fwdApp) {
	for _, name := range [...]string{app.hUser, app.hEmail, app.hName, app.hGroups, app.hAdmin} {
		if name != "" {
			h[name] = emptyValue
		}
	}
}
