package oidc

import (
	"net/http"
	"strings"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// consentPage asks the user to allow the app the scopes. The form carries
// only the pending authorization's id and the CSRF token: the request
// itself stays on the server.
func (p *Provider) consentPage(w http.ResponseWriter, r *http.Request, app *auth.App, user *auth.User, pa *pendingAuthz) {
	var lines []scopeLine
	for _, s := range pa.Scopes {
		lines = append(lines, scopeLine{Name: s, Description: scopeText[s], Claims: scopeClaims[s]})
	}
	// The form posts here and is answered with a redirect to the client:
	// Chromium applies form-action to that redirect, so the registered
	// redirect URI's origin is allowed too (never anything from the
	// request beyond the URI already matched against the registration).
	w.Header().Set("Content-Security-Policy", web.CSP(formOrigin(pa.RedirectURI)))
	w.Header().Set("Cache-Control", "no-store")
	p.execute(w, http.StatusOK, "consent.html", map[string]any{
		"App": app.Name, "User": user.Name(), "Email": user.Email, "Scopes": lines,
		"CSRFField": web.CSRFField, "CSRF": web.CSRFToken(r), "Action": PathConsent,
		"PendingField": PendingParam, "Pending": pa.ID, "Host": hostOf(pa.RedirectURI),
	})
}

// serveConsent takes the consent form (CSRF-checked by the middleware):
// the pending authorization's id and one decision.
func (p *Provider) serveConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.page(w, r, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	// Only the form body counts, and only one decision: a decision planted
	// in the URL, or a second one, must not turn Deny into Allow.
	decisions := r.PostForm["decision"]
	if len(decisions) != 1 || r.URL.Query().Has("decision") || len(r.PostForm[PendingParam]) != 1 ||
		decisions[0] != "allow" && decisions[0] != "deny" {
		p.page(w, r, http.StatusBadRequest, "Invalid request", "Choose Allow or Deny.")
		return
	}
	pa, app, ok := p.pendingFor(w, r, r.PostForm.Get(PendingParam))
	if !ok {
		return
	}
	ctx := r.Context()
	sess, user := p.currentUser(ctx, r)
	if sess == nil || pa.ConsentUser == "" || user.ID != pa.ConsentUser || p.needsLogin(pa, sess) {
		// Signed out, or signed in as somebody else since the page was
		// shown: start over from the request rather than decide for them.
		p.proceed(w, r, app, pa)
		return
	}
	if decisions[0] == "deny" {
		p.dropPending(ctx, pa.ID)
		p.redirectError(w, r, pa, oerr(ErrAccessDenied, "the user denied the request"))
		return
	}
	if err := p.saveConsent(ctx, user.ID, app.ID, pa.Scopes); err != nil {
		p.log.Error("consent: save", "err", err)
		p.redirectError(w, r, pa, oerr(ErrServerError, ""))
		return
	}
	p.auth.Audit(ctx, audit.Event{Kind: audit.ConsentGranted, Actor: user.ID, Subject: user.ID, Email: user.Email, App: app.Slug,
		Detail: map[string]string{"scopes": strings.Join(pa.Scopes, " ")}})
	p.issueCode(w, r, app, pa, sess)
}
