// Package audit is Clinch's audit trail: security events (sign-ins and their
// failures, second factors, passkeys, password changes, admin changes with
// their before and after, revocations, consents) kept in the store with a
// TTL, listed newest first with a cursor, and exported as JSON lines.
//
// The package records what it is given; the auth service decides what
// happened and says so through a small interface it owns, so the pages, the
// CLI and the admin API all record the same events without each remembering
// to. Nothing in an event is secret: callers never put passwords, tokens,
// key material or hashes into one.
package audit

import (
	"context"
	"encoding/json"
	"time"
)

// Kind names what happened. Kinds are stable strings: they are stored,
// exported and used as the metric label, so a kind is never renamed.
type Kind string

// The kinds Clinch records.
const (
	SignIn            Kind = "signin"             // a sign-in completed (Detail "method": password, passkey, magic_link, …)
	SignInFailed      Kind = "signin.failed"      // a sign-in was refused (Reason says why)
	SignOutEverywhere Kind = "signout.everywhere" // every session of a user ended at once
	SessionRevoked    Kind = "session.revoked"    // one session was ended by its owner or an admin

	SecondFactorAdded      Kind = "mfa.added"                    // a second factor was enrolled (Detail "factor": totp)
	SecondFactorRemoved    Kind = "mfa.removed"                  // a second factor was turned off by its owner
	SecondFactorReset      Kind = "mfa.reset"                    // an admin removed a user's second factors
	BackupCodesRegenerated Kind = "mfa.backup_codes.regenerated" // a new set of backup codes replaced the old
	BackupCodeUsed         Kind = "mfa.backup_code.used"         // a backup code was spent at sign-in

	PasskeyAdded   Kind = "passkey.added"
	PasskeyRemoved Kind = "passkey.removed"

	PasswordChanged        Kind = "password.changed"         // by the user, or set by an admin
	PasswordResetRequested Kind = "password.reset_requested" // a reset link was made (by mail or by the CLI)
	PasswordReset          Kind = "password.reset"           // a reset link was used

	InvitationCreated  Kind = "invitation.created"
	InvitationAccepted Kind = "invitation.accepted"

	UserCreated  Kind = "user.created"
	UserUpdated  Kind = "user.updated"
	UserDeleted  Kind = "user.deleted"
	GroupCreated Kind = "group.created"
	GroupUpdated Kind = "group.updated" // definition or membership
	GroupDeleted Kind = "group.deleted"
	AppCreated   Kind = "app.created"
	AppUpdated   Kind = "app.updated" // settings, access rules, a new client secret
	AppDeleted   Kind = "app.deleted"

	APIKeyCreated      Kind = "apikey.created"
	APIKeyRevoked      Kind = "apikey.revoked"
	TokenRevoked       Kind = "token.revoked" // OIDC grants or tokens of a user ended
	SigningKeyRotated  Kind = "signingkey.rotated"
	ConsentGranted     Kind = "consent.granted"
	ConsentRevoked     Kind = "consent.revoked"
	AdminTokenCreated  Kind = "admintoken.created"
	AdminTokenRevoked  Kind = "admintoken.revoked"
	MagicLinkRequested Kind = "magiclink.requested"
)

// Kinds returns every kind, in the order above; for filters and for
// metrics that show a zero before the first event.
func Kinds() []Kind {
	return []Kind{
		SignIn, SignInFailed, SignOutEverywhere, SessionRevoked,
		SecondFactorAdded, SecondFactorRemoved, SecondFactorReset, BackupCodesRegenerated, BackupCodeUsed,
		PasskeyAdded, PasskeyRemoved,
		PasswordChanged, PasswordResetRequested, PasswordReset,
		InvitationCreated, InvitationAccepted,
		UserCreated, UserUpdated, UserDeleted, GroupCreated, GroupUpdated, GroupDeleted, AppCreated, AppUpdated, AppDeleted,
		APIKeyCreated, APIKeyRevoked, TokenRevoked, SigningKeyRotated, ConsentGranted, ConsentRevoked,
		AdminTokenCreated, AdminTokenRevoked, MagicLinkRequested,
	}
}

// Actors that are not a user id.
const (
	// ActorCLI is an admin command (`clinch …`), over the control socket or
	// on a stopped store: whoever holds a shell on the server.
	ActorCLI = "cli"
)

// APIActor is the actor of a request made with an admin API token.
func APIActor(tokenName string) string { return "api:" + tokenName }

// Event is one audit record.
type Event struct {
	// ID is time-ordered (it begins with Time, to the nanosecond) and
	// unique; Record sets it.
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`
	// Actor is who did it: a user id, ActorCLI, APIActor(name),
	// "client:<slug>" for an OIDC client (revoking its token), or "" for
	// someone not signed in (a failed sign-in, a reset request).
	Actor string `json:"actor,omitempty"`
	// Subject is the id of the user the event is about, and Email their
	// address at the time (it stays readable after the user is deleted).
	Subject string `json:"subject,omitempty"`
	Email   string `json:"email,omitempty"`
	// App is the slug of the application involved.
	App string `json:"app,omitempty"`
	// IP is the client address, as web.ClientIP found it.
	IP string `json:"ip,omitempty"`
	// Reason says why something failed ("wrong password", "rate limited").
	Reason string `json:"reason,omitempty"`
	// Detail holds small facts that fit no field above (a group's name, a
	// sign-in method, a command's flags).
	Detail map[string]string `json:"detail,omitempty"`
	// Before and After are the changed record as it was and as it became,
	// in a form with nothing secret in it; nil for a creation (Before) or
	// a deletion (After).
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Snapshot encodes v for Event.Before or After; nil stays nil. v must be a
// view with nothing secret in it.
func Snapshot(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		// A snapshot type that cannot be encoded is a programming error;
		// the event is still worth keeping without it.
		return json.RawMessage(`"unencodable snapshot"`)
	}
	return b
}

// Origin is who is behind a request and from where; carried by the
// context so the service that records an event need not be told by every
// caller.
type Origin struct {
	Actor string
	IP    string
}

type originKey struct{}

// WithOrigin returns ctx carrying o. Pages set the signed-in user and the
// client IP, the control socket sets ActorCLI, the admin API its token.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginOf returns the origin ctx carries, or the zero Origin.
func OriginOf(ctx context.Context) Origin {
	o, _ := ctx.Value(originKey{}).(Origin)
	return o
}
