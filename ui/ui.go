// Package ui serves Clinch's own pages: the first-run wizard, sign-in and
// sign-out, the signed-in home page with the user's sessions, health checks
// and the embedded static files. Pages are html/template with no
// JavaScript; every form carries the CSRF token.
package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/metrics"
	"github.com/clinchsso/clinch/web"
)

//go:embed templates/*.html templates/admin/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config wires a Handler.
type Config struct {
	Auth    *auth.Service
	Site    web.Site
	Logger  *slog.Logger
	Metrics *metrics.Metrics // optional
	// TrustedProxies are the proxies whose X-Forwarded-For is believed.
	TrustedProxies []*net.IPNet
	// ReturnTo decides a return URL on another host than CLINCH_HOST after
	// sign-in: it gives the URL to redirect to and true only for hosts an
	// application covers. Nil follows no other host.
	ReturnTo func(ctx context.Context, u *url.URL, sess *auth.Session) (string, bool)
	// SetupCode is the one-time code (NewSetupCode) the first-run wizard
	// asks for from browsers not on this machine; "" refuses them.
	SetupCode string
	// Covers reports whether a return URL on another host belongs to an
	// application, so the sign-in page may let its form end there (CSP
	// form-action). Nil: none does.
	Covers func(ctx context.Context, u *url.URL) bool
	// Ready reports whether the store is open, for /readyz; nil: always.
	Ready func() bool
	// Pending describes the sign-in step of a pending authorization (the
	// authz parameter the OIDC provider sends to /signin) for the browser
	// r; false when there is none. Nil: no OIDC provider.
	Pending func(r *http.Request, id string) (*Continuation, bool)
	// Mailer queues password-reset, sign-in link, invitation and security
	// mails; nil: no mail at all, and the forgot-password page says to ask
	// an administrator.
	Mailer Mailer
	// MailToLog: Mailer writes each message to the server's log, because
	// no SMTP server is configured. Reset links and security mails still
	// go to it (the administrator reads the log and can pass a link on, and
	// the forgot-password page says so), but what only helps when the
	// person reads the mail themselves stays off: sign-in links by mail,
	// mailed invitations (the admin is shown the link instead) and email
	// changes (the new address cannot be proved).
	MailToLog bool
	// MagicLinks: people may ask for a sign-in link by mail (when Mailer
	// delivers mail); see magiclink.go.
	MagicLinks bool
	// ConnectedApps lists and revokes the OIDC apps a user let in, for
	// the account page; nil: it shows none.
	ConnectedApps ConnectedApps
	// MailStatus tells the admin dashboard about mail that did not go
	// out; nil: it says nothing about the queue.
	MailStatus MailStatusFunc

	// ClaimsPreview gives the claims an OIDC app's ID token and userinfo
	// would carry for a user (every scope), for the admin's preview. Nil:
	// the preview shows none.
	ClaimsPreview func(ctx context.Context, app *auth.App, user *auth.User) (map[string]any, error)
	// HeadersPreview gives the identity headers /api/verify would send
	// for a user at a forward_auth app. Nil: the preview shows none.
	HeadersPreview func(app *auth.App, user *auth.User, groups []*auth.Group) http.Header
	// Grants lists and ends users' OIDC grants for the admin user page;
	// nil: no OIDC provider, and the page shows none.
	Grants Grants
	// Audit is the audit trail the admin pages show; nil: none.
	Audit AuditLog
}

// Grants is what the admin pages need of the OIDC provider's grants.
type Grants interface {
	// UserGrants lists the user's live grants.
	UserGrants(ctx context.Context, userID string) ([]Grant, error)
	// RevokeUser ends the user's grants at the app, or at every app when
	// appID is "", and says how many ended.
	RevokeUser(ctx context.Context, userID, appID string) (int, error)
}

// Grant is one OIDC grant: an application the user signed in to.
type Grant struct {
	AppID     string
	Scopes    []string
	CreatedAt time.Time
}

// authzParam carries a pending authorization's id through sign-in.
const authzParam = "authz"

// Continuation is where sign-in continues for a pending authorization.
type Continuation struct {
	ID      string
	AppName string
	// Reauth: the browser is signed in, yet the application asked for a
	// fresh sign-in, so the password is asked again.
	Reauth bool
	// Continue is the same-origin URL to go to after signing in.
	Continue string
	// FormAction are CSP sources the sign-in POST may end at.
	FormAction []string
}

// Handler serves the pages.
type Handler struct {
	auth     *auth.Service
	site     web.Site
	log      *slog.Logger
	metrics  *metrics.Metrics
	trusted  []*net.IPNet
	returnTo func(context.Context, *url.URL, *auth.Session) (string, bool)
	covers   func(context.Context, *url.URL) bool
	pending  func(*http.Request, string) (*Continuation, bool)
	ready    func() bool
	mailer   Mailer
	mailLog  bool // mailer writes to the log: see Config.MailToLog
	magic    bool
	// connected: the account page's OIDC apps; may be nil.
	connected ConnectedApps
	// previews for the admin's app page (admin_apps.go)
	claimsPreview  func(context.Context, *auth.App, *auth.User) (map[string]any, error)
	headersPreview func(*auth.App, *auth.User, []*auth.Group) http.Header
	grants         Grants
	audit          AuditLog
	mailStatus     MailStatusFunc
	// sending counts the reset requests whose mail is still being made
	// or sent after the answer.
	sending sync.WaitGroup

	// setupCode is what the wizard asks of browsers on other machines.
	setupCode string

	pages  map[string]*template.Template
	static map[string]staticFile
	cssURL string
	// jsURL is Clinch's one script, passkey.js, at its versioned URL.
	jsURL string
}

type staticFile struct {
	data  []byte
	etag  string
	ctype string
}

// touchEvery coalesces "last active" writes from page views.
const touchEvery = 5 * time.Minute

// New parses the templates and loads the static files.
func New(cfg Config) (*Handler, error) {
	if cfg.Auth == nil || cfg.Site.Host == nil {
		return nil, errors.New("ui: Auth and Site are required")
	}
	h := &Handler{
		auth: cfg.Auth, site: cfg.Site, log: cfg.Logger, metrics: cfg.Metrics,
		trusted: cfg.TrustedProxies, returnTo: cfg.ReturnTo, covers: cfg.Covers, pending: cfg.Pending, ready: cfg.Ready, setupCode: cfg.SetupCode, mailer: cfg.Mailer, mailLog: cfg.MailToLog, magic: cfg.MagicLinks, grants: cfg.Grants, audit: cfg.Audit,
		connected: cfg.ConnectedApps, mailStatus: cfg.MailStatus,
		claimsPreview: cfg.ClaimsPreview, headersPreview: cfg.HeadersPreview,
		pages: map[string]*template.Template{}, static: map[string]staticFile{},
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	funcs := template.FuncMap{
		"when": func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
		"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"inc":  func(i int) int { return i + 1 },
		"dec":  func(i int) int { return i - 1 },
		"has":  func(list []string, v string) bool { return slices.Contains(list, v) },
		// fields hands the user fields partial (admin pages) its data.
		"fields": func(id string, f userForm, groups []groupChoice, filled bool) userFields {
			return userFields{ID: id, Form: f, Groups: groups, Filled: filled}
		},
	}
	for _, name := range []string{"signin", "signup", "home", "error", "secondfactor", "setuptotp", "backupcodes", "security", "passkeys", "forgot", "reset", "invitation", "magic", "account", "emailchange"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	// Every admin page (templates/admin/*.html) is parsed with the layout
	// and the admin partials (templates/admin_*.html: the navigation, the
	// events table); a new page is a new file, found here.
	admin, err := fs.Glob(templateFS, "templates/admin/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui: admin templates: %w", err)
	}
	for _, f := range admin {
		name := adminTemplate(strings.TrimSuffix(path.Base(f), ".html"))
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/admin_*.html", f)
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		h.pages[name] = t
	}
	err = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := "application/octet-stream"
		switch path.Ext(p) {
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		case ".png":
			ctype = "image/png"
		case ".ico":
			ctype = "image/x-icon"
		}
		h.static[path.Base(p)] = staticFile{data: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ui: static files: %w", err)
	}
	css := h.static["clinch.css"]
	h.cssURL = "/static/clinch.css?v=" + css.etag[1:len(css.etag)-1]
	js := h.static["passkey.js"]
	h.jsURL = "/static/passkey.js?v=" + js.etag[1:len(js.etag)-1]
	return h, nil
}

// Register adds the pages to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /signup", h.signupForm)
	mux.HandleFunc("POST /signup", h.signup)
	mux.HandleFunc("GET /signin", h.signinForm)
	mux.HandleFunc("POST /signin", h.signin)
	mux.HandleFunc("GET "+pathSecondFactor, h.secondFactorForm)
	mux.HandleFunc("POST "+pathSecondFactor, h.secondFactor)
	mux.HandleFunc("GET "+pathSetupTOTP, h.setupTOTPForm)
	mux.HandleFunc("POST "+pathSetupTOTP, h.setupTOTP)
	mux.HandleFunc("GET "+PathStepUp, h.stepUp)
	mux.HandleFunc("GET "+pathSecurity, h.security)
	mux.HandleFunc("GET "+pathSecurityTOTP, h.enrolForm)
	mux.HandleFunc("POST "+pathSecurityTOTP, h.enrol)
	mux.HandleFunc("POST "+pathSecurityTOTP+"/disable", h.disableTOTP)
	mux.HandleFunc("POST "+pathSecurity+"/backup-codes", h.regenerateBackupCodes)
	mux.HandleFunc("GET "+pathForgot, h.forgotForm)
	mux.HandleFunc("POST "+pathForgot, h.forgot)
	mux.HandleFunc("GET "+pathReset, h.resetForm)
	mux.HandleFunc("POST "+pathReset, h.reset)
	mux.HandleFunc("GET "+pathInvitation, h.invitationForm)
	mux.HandleFunc("GET "+pathMagicRequest, h.magicRequestForm)
	mux.HandleFunc("POST "+pathMagicRequest, h.magicRequest)
	mux.HandleFunc("GET "+pathMagicLink, h.magicLinkForm)
	mux.HandleFunc("POST "+pathMagicLink, h.useMagicLink)
	mux.HandleFunc("POST "+pathInvitation, h.acceptInvitation)
	mux.HandleFunc("POST /signout", h.signout)
	mux.HandleFunc("GET /{$}", h.home)
	mux.HandleFunc("POST /sessions/{id}/revoke", h.revoke)
	h.registerPasskeys(mux)
	h.registerAccount(mux)
	h.registerAdmin(mux)
	mux.HandleFunc("GET /static/{file}", h.serveStatic)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	// Everything no module claims gets the 404 page rather than net/http's
	// plain text.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.RenderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	})
}

// page is what every template receives; each page uses the fields it needs.
type page struct {
	Title string
	CSS   string
	CSRF  string
	User  *auth.User
	Error string

	// sign-in
	Login    string
	Remember bool
	RD       string
	Authz    string // pending authorization id
	AppName  string // the application being signed in to
	Reauth   bool   // signed in, asked to type the password again
	// sign-up
	Email, Name, Username    string
	MinPassword, MaxPassword int
	// AskSetupCode: the browser is not on Clinch's machine, so the wizard
	// wants the setup code from the log; NoSetupCode: there is none this run.
	AskSetupCode, NoSetupCode bool
	SetupCode                 string // echoed back only once it matched
	// home
	Apps     []AppLink
	Sessions []sessionView
	// passkeys (passkeys.go): on the sign-in, home and passkeys pages
	PasskeysOn  bool
	Script      string // the page's script: passkey.js, or none
	Passkeys    []*auth.Passkey
	PasskeyName string
	// TOTPStep and PasskeyStep: the second-factor page offers a code
	// form, a passkey button, or both.
	TOTPStep, PasskeyStep bool
	// NoAutofill: the page reports a failed passkey sign-in, so it does
	// not offer passkeys in the autofill again at once (an authenticator
	// that answers by itself would loop).
	NoAutofill bool
	// error
	Message string
	// admin pages (admin.go): the navigation tab that is current, and
	// the page's own data (each admin page has its own type)
	AdminTab string
	Admin    any

	// sign-in steps after the password
	Person  *auth.User // who is signing in (not signed in yet)
	StepUp  bool       // a signed-in person proving a second factor
	Restart string     // the link that starts the sign-in over
	// TOTP set-up: the secret Clinch made, as text and as a QR code
	// (data: URI), the account it is for, and where the form posts.
	TOTPSecret string
	QR         template.URL
	Account    string
	Action     string
	Required   bool // the set-up is there because a second factor is required
	// AskPassword: the form asks for the current password too (adding a
	// factor from a signed-in page, where the session alone is not
	// enough; not right after the password at sign-in).
	AskPassword bool
	// backup codes, shown once
	BackupCodes []string
	Continue    string
	JustSetUp   bool
	// security page
	Security *auth.SecondFactorStatus
	Notice   string
	// password reset: links can be asked for (mailed, or written to the
	// log for the administrator when MailLog); a link was asked for; the
	// link does not work
	MailOn, MailLog, Sent, BadLink bool
	Token                          string
	// sign-in page: the link to ask for a sign-in link by mail, when on
	MagicHref string
	// account page: the OIDC apps the user let in
	Connected []ConnectedApp
}

// AppLink is one application on the home page.
type AppLink struct {
	Name string
	URL  string
}

type sessionView struct {
	*auth.Session
	Current bool
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	h.renderData(w, r, status, name, p, p)
}

// renderData is render for a page whose template reads more than page
// holds: data embeds p, which gets the layout's fields.
func (h *Handler) renderData(w http.ResponseWriter, r *http.Request, status int, name string, p *page, data any) {
	p.CSS = h.cssURL
	p.CSRF = web.CSRFToken(r)
	var buf bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		web.Logger(r, h.log).Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	// Pages carry a CSRF token and personal data: never cache them.
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// RenderError writes an error page with the site's look; other modules use
// it for their 403 and 404 pages. It has the shape of web.ErrorFunc.
func (h *Handler) RenderError(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	u, _, _ := h.CurrentUser(r)
	h.render(w, r, status, "error", &page{Title: title, Message: message, User: u})
}

// CurrentUser returns the signed-in, active user and their session from
// the session cookie.
func (h *Handler) CurrentUser(r *http.Request) (*auth.User, *auth.Session, bool) {
	tok := web.SessionToken(r)
	if tok == "" {
		return nil, nil, false
	}
	ctx := r.Context()
	sess, err := h.auth.SessionByToken(ctx, tok)
	if err != nil {
		if !errors.Is(err, auth.ErrNotFound) {
			web.Logger(r, h.log).Error("look up session", "err", err)
		}
		return nil, nil, false
	}
	u, err := h.auth.User(ctx, sess.UserID)
	if err != nil || u.Status != auth.StatusActive {
		return nil, nil, false
	}
	if now := h.auth.Now(); now.Sub(sess.LastActiveAt) > touchEvery {
		if err := h.auth.TouchSession(ctx, sess.ID, now); err != nil && !errors.Is(err, auth.ErrNotFound) {
			web.Logger(r, h.log).Warn("record session activity", "err", err)
		}
	}
	return u, sess, true
}

func (h *Handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := h.static[r.PathValue("file")]
	if !ok {
		h.RenderError(w, r, http.StatusNotFound, "Page not found", "There is nothing at this address.")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	// Pages link the versioned URL (?v=hash), which can be kept forever.
	if v := r.URL.Query().Get("v"); v != "" && `"`+v+`"` == f.etag {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "public, max-age=300")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte("ok\n"))
}

func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.ready != nil && !h.ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("store closed\n"))
		return
	}
	w.Write([]byte("ok\n"))
}
