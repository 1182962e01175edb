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
	viaBasic
)

// Caller is who is asking, as resolved from the request: nobody, a
// browser session (by cookie or fa_token), or a bearer credential. A bearer
// token that was presented but is not valid is viaBearer with a nil cred.
type Caller struct {
	via  via
	cred *cred
	user *identity // nil for nobody and for service identities
	sid  string    // a session's id
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
	outBypass             // a bypass rule: through without identity, identity headers blank
	outBasic              // at an app with Basic auth: 401 with a Basic challenge
	outLimited            // too many failed credentials from the client's address: 429
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
	outBypass:     "bypass",
	outBasic:      "basic_required",
	outLimited:    "rate_limited",
}

func (o outcome) String() string { return outcomeNames[o] }

// decide is the whole policy, without HTTP: fail closed at each step.
//
//   - No app for the host, or an inactive one: nobody gets in.
//   - A bearer credential must be valid, bound to this app (API keys) or
//     addressed to it (access tokens), and its user active; a service
//     identity needs nothing more. Failures are 401, never a redirect.
//   - A session's user must be active.
//   - The app's access rules are tried in order; the first that matches
//     the path, the method and the client's network decides (see
//     rulePolicy). Without one, a user must be in one of the app's allowed
//     groups (none = everyone).
//   - A session at an app that requires a second factor must have one
//     (acr "2"), or it goes through the step-up first; only bypass and
//     deny rules skip that.
//
// With rules, the path is read every way an app might read it (readings)
// and, for a HEAD or an overridden method, as each method the app may act
// on; the strictest verdict of all of them is the answer.
func decide(app *fwdApp, q ruleReq, c Caller) outcome {
	if app == nil || !app.Active {
		return outNoApp
	}
	id, service := identify(app, c)
	rs := &app.rules
	if len(rs.rules) == 0 {
		return rulePolicy(app, nil, c, id, service)
	}
	var buf [4]reading
	rds, ok := readings(buf[:0], q.rawPath, rs.upper)
	if !ok {
		return outForbidden
	}
	worst := outBypass
	for _, rd := range rds {
		for m := -1; m < len(q.alt); m++ {
			method := q.method
			if m >= 0 {
				method = q.alt[m]
			}
			var o outcome
			switch i := rs.first(rd, method, q.addr); i {
			case unknownAddr:
				o = outForbidden
			case noRule:
				o = rulePolicy(app, nil, c, id, service)
			default:
				o = rulePolicy(app, &rs.rules[i], c, id, service)
			}
			if severity[o] > severity[worst] {
				worst = o
			}
		}
	}
	return worst
}

// severity orders the verdicts readings can give, the strictest last.
var severity = [nOutcomes]uint8{
	outBypass: 0, outAllowed: 1, outSignIn: 2, outStepUp: 3, outBadToken: 4, outBasic: 4, outForbidden: 5,
	outNoApp: 6, outBadRequest: 6, outError: 6, outLimited: 6,
}

// identify checks the caller's credential at the app: outAllowed when it
// holds (service reports a service identity: an API key of the app
// itself, or a client's own access token), else outSignIn or outBadToken.
func identify(app *fwdApp, c Caller) (_ outcome, service bool) {
	switch c.via {
	case viaBearer:
		cr := c.cred
		if cr == nil {
			return outBadToken, false
		}
		switch cr.kind {
		case credAPIKey:
			if cr.appID != app.ID {
				return outBadToken, false
			}
		case credAccessToken:
			// Only at apps that accept this client's tokens, and only while
			// the client itself may still be used by the token's user.
			if cr.client == nil || !slices.Contains(app.AcceptTokensFrom, cr.client.ID) {
				return outBadToken, false
			}
			if cr.userID != "" && (c.user == nil || !auth.CanUse(cr.client, c.user.status, c.user.groups)) {
				return outBadToken, false
			}
		default:
			return outBadToken, false
		}
		if cr.userID == "" {
			return outAllowed, true
		}
		if c.user == nil || c.user.status != auth.StatusActive {
			return outBadToken, false
		}
	case viaBasic:
		cr := c.cred
		if !app.BasicAuth || cr == nil || cr.kind != credBasic || cr.appID != app.ID ||
			c.user == nil || c.user.status != auth.StatusActive {
			return outBasic, false
		}
	case viaSession, viaFAToken:
		if c.cred == nil || c.user == nil || c.user.status != auth.StatusActive {
			return outSignIn, false
		}
	default:
		return outSignIn, false
	}
	return outAllowed, false
}

// rulePolicy is the verdict of one rule (nil: the app's own groups) for a
// caller whose credential check gave id.
func rulePolicy(app *fwdApp, r *rule, c Caller, id outcome, service bool) outcome {
	var pol auth.RulePolicy
	if r != nil {
		pol = r.policy
	}
	switch pol {
	case auth.PolicyBypass:
		return outBypass
	case "", auth.PolicySignedIn, auth.PolicyGroups, auth.PolicySecondFactor:
	default: // deny, and anything this version does not know
		return outForbidden
	}
	if id != outAllowed {
		return id
	}
	if service {
		// A service identity has no groups and no session: it passes where
		// being the app's or the client's own credential is enough.
		switch {
		case pol == auth.PolicyGroups, pol == auth.PolicySecondFactor && len(r.groups) > 0:
			return outForbidden
		}
		return outAllowed
	}
	switch {
	case pol == auth.PolicyGroups, pol == auth.PolicySecondFactor && len(r.groups) > 0:
		if !memberOf(c.user.groups, r.groups) {
			return outForbidden
		}
	case pol == "", pol == auth.PolicySecondFactor:
		// No rule, or a second-factor rule without groups of its own: the
		// app's groups decide.
		if !auth.CanUse(app.App, c.user.status, c.user.groups) {
			return outForbidden
		}
	}
	// A browser session must have been made with a second factor where the
	// app or the rule asks for one. Bearer credentials are machines' (an
	// API key an admin made, a token whose grant the OIDC side checked);
	// they pass.
	// An app password over Basic is an API key too; the account password
	// over Basic is one factor, and Basic has no step-up.
	if (app.RequireSecondFactor || pol == auth.PolicySecondFactor) && c.via != viaBearer && !auth.SecondFactorDone(c.cred.acr) {
		switch {
		case c.via != viaBasic:
			return outStepUp
		case c.cred.keyID == "":
			return outBasic
		}
	}
	return outAllowed
}

// memberOf reports whether any of the user's group ids is one of the
// rule's; a rule without groups admits nobody.
func memberOf(user, rule []string) bool {
	for _, g := range user {
		if slices.Contains(rule, g) {
			return true
		}
	}
	return false
}

// Why a bearer credential was refused, in the 401's JSON body: a client
// that holds a token can learn what is wrong with it, nothing about
// anyone else.
const (
	reasonInvalid     = "invalid or expired"
	reasonOtherApp    = "not valid for this app"
	reasonAppInactive = "app inactive"
	reasonGroups      = "insufficient group membership"
	reasonRule        = "denied by an access rule"
)

// bearerReason names why decide refused a bearer caller at app (o is its
// verdict, not allowed and not bypass). It repeats identify's checks in
// the same order; only refusals pay for it.
func bearerReason(app *fwdApp, c Caller, o outcome) string {
	if app == nil {
		return reasonOtherApp
	}
	if !app.Active {
		return reasonAppInactive
	}
	cr := c.cred
	if cr == nil {
		return reasonInvalid
	}
	switch cr.kind {
	case credAPIKey:
		if cr.appID != app.ID {
			return reasonOtherApp
		}
	case credAccessToken:
		if cr.client == nil || !slices.Contains(app.AcceptTokensFrom, cr.client.ID) {
			return reasonOtherApp
		}
		if !cr.client.Active {
			return reasonAppInactive
		}
		if cr.userID != "" {
			if c.user == nil || c.user.status != auth.StatusActive {
				return reasonInvalid
			}
			if !auth.CanUse(cr.client, c.user.status, c.user.groups) {
				return reasonGroups
			}
		}
	default:
		return reasonInvalid
	}
	if cr.userID != "" && (c.user == nil || c.user.status != auth.StatusActive) {
		return reasonInvalid
	}
	switch {
	case o != outForbidden:
		return reasonInvalid
	case c.user != nil && !auth.CanUse(app.App, c.user.status, c.user.groups), len(app.rules.rules) == 0:
		return reasonGroups
	}
	return reasonRule
}
