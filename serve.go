package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/clinchsso/clinch/adminapi"
	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/config"
	"github.com/clinchsso/clinch/control"
	"github.com/clinchsso/clinch/fastpath"
	"github.com/clinchsso/clinch/forward"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/mail/outbox"
	"github.com/clinchsso/clinch/metrics"
	"github.com/clinchsso/clinch/oidc"
	"github.com/clinchsso/clinch/ui"
	"github.com/clinchsso/clinch/web"
)

// app is the set of services over one open store, shared by the server and
// by admin commands run without a server.
type app struct {
	cfg   *config.Config
	log   *slog.Logger
	store *kv.Store
	auth  *auth.Service
	keys  *oidc.Keys
	// secrets are the keys derived from SECRET_KEY_BASE.
	secrets *auth.Secrets
	// grants revokes OIDC tokens (clinch user tokens revoke).
	grants *oidc.Grants
	// audit is the audit trail; metrics counts its events (and, when
	// serving, everything else).
	audit   *audit.Log
	metrics *metrics.Metrics
}

func openApp(ctx context.Context, cfg *config.Config, logw io.Writer) (*app, error) {
	log := cfg.Logger(logw)
	if err := checkSecretKept(cfg); err != nil {
		return nil, err
	}
	generated, err := cfg.EnsureSecret()
	if err != nil {
		return nil, err
	}
	if generated {
		log.Warn("SECRET_KEY_BASE is not set: generated one and kept it in the data directory; back it up with your data, or set SECRET_KEY_BASE", "file", filepath.Join(cfg.DataDir, secretFile))
	}
	secrets, err := auth.NewSecrets(cfg.SecretKeyBase)
	if err != nil {
		return nil, err
	}
	store, err := kv.Open(ctx, cfg.DataDir, kv.Options{Logger: log})
	if err != nil {
		if errors.Is(err, kv.ErrLocked) {
			return nil, fmt.Errorf("%w (is another clinch serving it without its control socket?)", err)
		}
		return nil, err
	}
	m := metrics.New()
	auditLog, err := audit.New(audit.Config{Store: store, Retention: cfg.AuditRetention, Logger: log,
		Count: func(k audit.Kind) { m.AuditEvent(string(k)) }})
	if err != nil {
		store.Close()
		return nil, err
	}
	svc, err := auth.New(auth.Config{
		Store: store, Secrets: secrets, Logger: log, BcryptCost: cfg.BcryptCost,
		Passkeys: auth.PasskeyConfig{RPID: cfg.WebAuthnRPID, Origin: web.Origin(cfg.Host)},
		Audit:    auditLog,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	keys, err := oidc.NewKeys(ctx, store, secrets, cfg.OIDCPrivateKey)
	if err != nil {
		store.Close()
		return nil, err
	}
	if kid := keys.RetiredPEM(); kid != "" {
		log.Warn("OIDC_PRIVATE_KEY was rotated away and is not used; the current signing key stays active. Remove it from the environment, or set a new key", "kid", kid, "active_kid", keys.ActiveKID())
	}
	// Whether serving or running one admin command, signing a user out
	// everywhere and deactivating a client end their OIDC tokens too.
	grants := oidc.NewGrants(store)
	grants.Attach(svc)
	return &app{cfg: cfg, log: log, store: store, auth: svc, keys: keys, grants: grants, secrets: secrets, audit: auditLog, metrics: m}, nil
}

// controlEnv is what admin commands run against. box is the running
// server's mail queue, nil when the command runs in the CLI's own process:
// there an invitation is sent at once, so the admin sees the outcome.
func (a *app) controlEnv(box *outbox.Outbox) *control.Env {
	host := a.cfg.Host
	env := &control.Env{Auth: a.auth, Store: a.store, Keys: a.keys, Tokens: a.grants, Audit: a.audit,
		ResetLink:  func(token string) string { return ui.ResetURL(host, token) },
		InviteLink: func(token string) string { return ui.InvitationURL(host, token) }}
	if box != nil {
		env.Mail = box
	}
	if s := newSMTP(a.cfg.SMTP); s != nil {
		var send ui.Mailer = s
		if box != nil {
			send = box
		}
		env.SendInvite = func(ctx context.Context, u *auth.User, link string) error {
			msg, err := ui.InvitationMail(u, link)
			if err != nil {
				return err
			}
			return send.Send(ctx, msg)
		}
	}
	return env
}

func (a *app) Close() error { return a.store.Close() }

// serve runs the HTTP server and the control socket until ctx ends.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(os.LookupEnv, args, stderr)
	if errors.Is(err, config.ErrHelp) {
		fmt.Fprint(stdout, config.Usage())
		return 0
	}
	var ue *config.UsageError
	if errors.As(err, &ue) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "clinch:", err)
		return 1
	}
	a, err := openApp(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "clinch:", err)
		return 1
	}
	defer a.Close()
	if err := a.serve(ctx); err != nil {
		a.log.Error("server stopped", "err", err)
		return 1
	}
	return 0
}

func (a *app) serve(ctx context.Context) error {
	cfg, log := a.cfg, a.log
	site := web.NewSite(cfg.Host, cfg.CookieDomain, cfg.ForceSSL)
	m := a.metrics
	kinds := make([]string, 0, len(audit.Kinds()))
	for _, k := range audit.Kinds() {
		kinds = append(kinds, string(k))
	}
	m.AuditKinds(kinds...)
	// Counting reads every session in the store (a second and the store's
	// pages back in RSS with a million): one count a minute answers every
	// scrape in it.
	var (
		countMu   sync.Mutex
		countedAt time.Time
		counted   float64
	)
	m.SetActiveSessions(func() float64 {
		countMu.Lock()
		defer countMu.Unlock()
		if time.Since(countedAt) < time.Minute {
			return counted
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if n, err := a.auth.CountActiveSessions(ctx); err == nil {
			counted, countedAt = float64(n), time.Now()
		}
		return counted
	})

	// The provider draws its error pages with the site's look, and the
	// pages ask the provider about pending authorizations: pages is bound
	// late, once it exists (the provider renders nothing before serving).
	var pages *ui.Handler
	provider, err := oidc.New(oidc.Config{
		Auth: a.auth, Store: a.store, Secrets: a.secrets, Site: site, Logger: log, Metrics: m, Keys: a.keys,
		RenderError: func(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
			pages.RenderError(w, r, status, title, msg)
		},
	})
	if err != nil {
		return err
	}
	defer provider.Close()

	verifier, err := forward.New(forward.Config{Auth: a.auth, Secrets: a.secrets, Site: site, Metrics: m, Logger: log, Tokens: provider, TrustedProxies: cfg.TrustedProxies, CacheBytes: int64(cfg.CacheMB) << 20,
		SessionsLoaded: func(n int) {
			if n < 100_000 {
				return
			}
			// Loading read a large part of the store: its pages are mapped
			// into Clinch and the decoding left garbage of about that size.
			// Both are given back now rather than counted in RSS for good.
			released, err := a.store.ReleaseMappedPages()
			if err != nil {
				log.Warn("release the store's mapped pages", "err", err)
			}
			debug.FreeOSMemory()
			log.Info("memory given back after loading sessions", "mapped_mib", released>>20)
		}})
	if err != nil {
		return err
	}
	defer verifier.Close()

	// While no account exists, the wizard asks browsers on other machines
	// for a code that only the log shows; it lives in memory only.
	needSetup, err := a.auth.NeedsSetup(ctx)
	if err != nil {
		return err
	}
	setupCode := ""
	if needSetup {
		setupCode = ui.NewSetupCode()
	}
	box, err := newOutbox(ctx, cfg.SMTP, a.store, a.secrets, log, m)
	if err != nil {
		return err
	}
	m.SetMailQueueDepth(func() float64 { return float64(box.Depth()) })
	// The worker stops after the pages' last background mail is queued
	// and before the store closes (the deferred a.Close in serve).
	workCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() { box.Run(workCtx); close(workerDone) }()
	defer func() {
		box.Close()
		stopWorker()
		// A delivery in flight when the server stops stays queued for the
		// next start; the wait is bounded for a mail server that hangs.
		select {
		case <-workerDone:
		case <-time.After(10 * time.Second):
			log.Warn("mail worker still busy at shutdown; its message stays queued")
		}
	}()
	// Without SMTP the queue's delivery is the log: the pages still hand
	// it reset links and security mails, for the administrator to pass
	// on, and say so; sign-in links by mail and email changes stay off.
	if !cfg.SMTP.Configured() {
		log.Info("mail is off (no SMTP_ADDRESS): reset links and security mails are written to this log, `clinch user invite` prints the invitation link, and sign-in links by mail and email changes are off")
	}
	pages, err = ui.New(ui.Config{
		Auth: a.auth, Site: site, Logger: log, Metrics: m, Ready: a.store.Ready, SetupCode: setupCode, Mailer: box, MailToLog: !cfg.SMTP.Configured(), MagicLinks: cfg.MagicLinks, Grants: adminGrants{a.grants}, Audit: a.audit,
		ConnectedApps: connectedApps{auth: a.auth, grants: a.grants}, MailStatus: box.Status,
		TrustedProxies: cfg.TrustedProxies, ReturnTo: verifier.ReturnTo, Covers: verifier.Covers,
		ClaimsPreview: provider.PreviewClaims, HeadersPreview: forward.PreviewHeaders,
		Pending: func(r *http.Request, id string) (*ui.Continuation, bool) {
			step, err := provider.SignInStep(r, id)
			if err != nil {
				if !errors.Is(err, oidc.ErrNoPending) {
					log.Error("sign-in: pending authorization", "err", err)
				}
				return nil, false
			}
			return &ui.Continuation{
				AppName: step.AppName, Reauth: step.Reauth, Continue: step.Continue,
				FormAction: []string{step.FormAction},
			}, true
		},
	})
	if err != nil {
		return err
	}

	// Every change of how a person signs in is mailed to them, however it
	// was made (pages, sign-in, the admin commands over the socket).
	a.auth.OnSecurityEvent(pages.SecurityMail)
	// The JSON admin API runs the same operations as the control socket.
	api, err := adminapi.New(adminapi.Config{Env: a.controlEnv(box), Tokens: a.auth, Logger: log, TrustedProxies: cfg.TrustedProxies})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	pages.Register(mux)
	api.Register(mux)
	verifier.Register(mux)
	provider.Register(mux)
	if cfg.MetricsListen == "" {
		mux.Handle("GET /metrics", m.Handler())
	}

	// Every body is capped (forms and token requests are small): a request
	// cannot make Clinch buffer megabytes before it is even checked. The cap
	// wraps the whole chain: http.MaxBytesHandler passes on a copy of the
	// request, and inside m.Middleware the mux would set the route pattern
	// on that copy, leaving every route "unmatched" in the metrics.
	chain := http.MaxBytesHandler(web.Chain(mux,
		web.RequestID,
		auditOrigin(cfg.TrustedProxies),
		web.Recover(log, pages.RenderError),
		web.SecurityHeaders(site),
		// The admin API takes bearer tokens only, never the session
		// cookie, so a browser cannot be made to call it: no CSRF check.
		web.CSRF(site, append(web.CSRFExempt{forward.Path, adminapi.Prefix}, oidc.CSRFExempt...), pages.RenderError, log),
		// Innermost: it reads the route pattern the mux sets on the request.
		m.Middleware,
	), web.MaxFormBytes)
	// /api/verify is answered before the page middleware: the proxy calls it
	// on every request, it keeps its own metrics and headers, and request
	// ids, CSP and CSRF cost it a third of its throughput (testing/load).
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == forward.Path {
			verifier.ServeHTTP(w, r)
			return
		}
		chain.ServeHTTP(w, r)
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	if cfg.MetricsListen != "" {
		stop, err := startMetrics(cfg.MetricsListen, m.Handler(), log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	cln, err := control.Listen(cfg.DataDir)
	if err != nil {
		ln.Close()
		return err
	}
	ctl := &control.Server{Env: a.controlEnv(box), Backup: a.store.Backup, Logger: log}
	go ctl.Serve(ctx, cln)

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Said before the first request is answered, so whoever sees Clinch
	// ready also finds these lines in the log.
	log.Info("clinch is serving", "url", cfg.Host.String(), "listen", ln.Addr().String(), "data_dir", cfg.DataDir)
	warnPlainHTTP(log, site)
	if !a.auth.PasskeysEnabled() {
		log.Info("passkeys are off: CLINCH_HOST is an IP address, and WebAuthn needs a domain name; give Clinch a name (or set CLINCH_WEBAUTHN_RP_ID)", "url", cfg.Host.String())
	}
	if needSetup {
		// The one line that prints the setup code, deliberately; at warn,
		// so CLINCH_LOG_LEVEL=warn still shows it.
		log.Warn("no users yet: open the first-run wizard to create the admin account; from another machine it asks for this setup code",
			"url", site.URL("/signup"), "setup_code", setupCode)
	}
	// Connections that ask only for /api/verify, as proxies' are, are
	// answered by the fast path; any other request moves its connection
	// to srv (fastpath's package comment says why and how).
	front := &fastpath.Server{Path: forward.Path, Handler: verifier, HTTP: srv, Logger: log}
	errc := make(chan error, 1)
	go func() { errc <- front.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = front.Shutdown(sctx)
	pages.WaitMail(sctx)
	os.Remove(control.SocketPath(cfg.DataDir))
	return err
}

// auditOrigin puts the client's address into the request's context, where
// the audit trail finds it for every event a request records (the pages
// add who is signed in where they know it).
func auditOrigin(trusted []*net.IPNet) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			o := audit.OriginOf(r.Context())
			o.IP = web.ClientIP(r, trusted)
			next.ServeHTTP(w, r.WithContext(audit.WithOrigin(r.Context(), o)))
		})
	}
}

// warnPlainHTTP says once at start when people reach Clinch over plain http
// from other machines. It still serves: a first try on a LAN address works.
func warnPlainHTTP(log *slog.Logger, site web.Site) {
	if !site.PlainHTTPOnNetwork() {
		return
	}
	if site.Secure {
		log.Warn("FORCE_SSL marks cookies Secure, but CLINCH_HOST is plain http: browsers keep no Secure cookie from an http address, so nobody can sign in there; set CLINCH_HOST to the https URL people use",
			"url", site.Host.String())
		return
	}
	log.Warn("CLINCH_HOST is plain http on a network address: passwords and session cookies travel in clear; put Clinch behind TLS and set CLINCH_HOST to its https URL (see README, \"Clinch itself behind Caddy or nginx\")",
		"url", site.Host.String())
}

// adminGrants shows the admin pages the OIDC grants in their own terms.
type adminGrants struct{ g *oidc.Grants }

func (a adminGrants) UserGrants(ctx context.Context, userID string) ([]ui.Grant, error) {
	gs, err := a.g.UserGrants(ctx, userID)
	out := make([]ui.Grant, 0, len(gs))
	for _, g := range gs {
		out = append(out, ui.Grant{AppID: g.AppID, Scopes: g.Scopes, CreatedAt: g.CreatedAt})
	}
	return out, err
}

func (a adminGrants) RevokeUser(ctx context.Context, userID, appID string) (int, error) {
	return a.g.RevokeUser(ctx, userID, appID)
}
