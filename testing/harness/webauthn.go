package harness

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// VirtualAuthenticator gives the tab of ctx Chromium's virtual WebAuthn
// authenticator: a platform authenticator (CTAP2, internal transport) that
// keeps discoverable credentials, verifies the user, and answers every
// request by itself (AutomaticPresenceSimulation, which must be set
// explicitly: left out it is false, and navigator.credentials.create
// waits forever). The page must be a secure context (https, or
// http://localhost).
func VirtualAuthenticator(t testing.TB, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("harness: enable WebAuthn: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("harness: add a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// Credentials lists the credentials the virtual authenticator id holds.
func Credentials(t testing.TB, ctx context.Context, id webauthn.AuthenticatorID) []*webauthn.Credential {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		t.Fatalf("harness: credentials of the virtual authenticator: %v", err)
	}
	return res.Credentials
}

// SetPresence turns the virtual authenticator's automatic answers on or
// off. Off, a request waits for a presence that never comes: a page's
// autofill request (conditional mediation) then stays pending instead of
// signing in by itself.
func SetPresence(t testing.TB, ctx context.Context, id webauthn.AuthenticatorID, on bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.SetAutomaticPresenceSimulation, webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: id, Enabled: on}); err != nil {
		t.Fatalf("harness: automatic presence %v: %v", on, err)
	}
}
