package forward

import (
	"slices"

	"github.com/clinchsso/clinch/auth"
)

// via is how the caller proved who they are.
type via uint8

const (
	viaNone via = iota
	viaFAToken
	viaBearer
	viaSession
)

// Caller is who is asking, as resolved from the request: nobody, a
// browser session (by cookie or fa_token), or a bearer credential. A bearer
// token that was presented but is not valid is viaBearer with a nil cred.
type Caller struct {
	via  via
	cred *cred
	user *identity // nil for nobody and for service identities
}

// outcome is the verdict, and the value of clinch_verify_total's label.
type outcome uint8

const (
	outAllowed    outcome = iota
	outSignIn             // nobody signed in: redirect (browsers) or 401
	outBadToken           // a bearer credential that is not valid here: 401 Bearer
	outForbidden          // signed in, not allowed: 403
	outNoApp              // no active app covers the host: 403
	outBadRequest         // the proxy did not say where the request goes: 400
	outError              // the store failed: 500
	outStepUp             // signed in without the second factor the app requires: the step-up page
	nOutcomes
)

var outcomeNames = [nOutcomes]string{
	outAllowed:    "allowed",
	outSignIn:     "unauthenticated",
	outBadToken:   "invalid_token",
	outForbidden:  "forbidden",
	outNoApp:      "no_app",
	outBadRequest: "bad_request",
	outError:      "error",
	outStepUp:     "step_up",
}

func (o outcome) String() string { return outcomeNames[o] }

// decide is the whole policy, without HTTP: fail closed at each step.
//
//   - No app for the host, or an inactive one: nobody gets in.
//   - A bearer credential must be valid, bound to this app (API keys) or
//     addressed to it (access tokens), and its user active; a service
//     identity needs nothing more. Failures are 401, never a redirect.
//   - A session's user must be active.
//   - A user must be in one of the app's allowed groups (none = everyone).
//   - A session at an app that requires a second factor must have one
//     (acr "2"), or it goes through the step-up first.
func decide(app *fwdApp, c Caller) outcome {
	if app == nil || !app.Active {
		return outNoApp
	}
	switch c.via {
	case viaBearer:
		cr := c.cred
		if cr == nil {
			return outBadToken
		}
		switch cr.kind {
		case credAPIKey:
			if cr.appID != app.ID {
				return outBadToken
			}
		case credAccessToken:
			// Only at apps that accept this client's tokens, and only while
			// the client itself may still be used by the token's user.
			if cr.client == nil || !slices.Contains(app.AcceptTokensFrom, cr.client.ID) {
				return outBadToken
			}
			if cr.userID != "" && (c.user == nil || !auth.CanUse(cr.client, c.user.status, c.user.groups)) {
				return outBadToken
			}
		default:
			return outBadToken
		}
		if cr.userID == "" {
			return outAllowed
		}
		if c.user == nil || c.user.status != auth.StatusActive {
			return outBadToken
		}
	case viaSession, viaFAToken:
		if c.cred == nil || c.user == nil || c.user.status != auth.StatusActive {
			return outSignIn
		}
	default:
		return outSignIn
	}
	if !auth.CanUse(app.App, c.user.status, c.user.groups) {
		return outForbidden
	}
	// A browser session must have been made with a second factor where the
	// app asks for one. Bearer credentials are machines' (an API key an
	// admin made, a token whose grant the OIDC side checked); they pass.
	if app.RequireSecondFactor && c.via != viaBearer && !auth.SecondFactorDone(c.cred.acr) {
		return outStepUp
	}
	return outAllowed
}
