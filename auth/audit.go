package auth

import (
	"context"
	"encoding/json"

	"github.com/clinchsso/clinch/audit"
)

// Recorder keeps audit events; *audit.Log is one. The Service records every
// security event itself, after the change it describes committed, so the
// pages, the CLI and the admin API record alike without each remembering to.
type Recorder interface {
	Record(ctx context.Context, e audit.Event) error
}

// Audit records e. The change it describes has already committed, so a
// failed audit write cannot undo it or fail the request that made it: it
// is logged as an error (with the kind, never the event's content) and the
// request goes on. Recording one event per change in one transaction with
// the change would tie every write of the service to the audit trail's
// prefix; the log line is the trace of the rare lost event instead.
//
// The write outlives a cancelled request (a browser that went away after
// the change still leaves its event), and keeps the context's Origin.
// Exported for the modules that make changes of their own (oidc's consents
// and revocations, signing-key rotation).
func (s *Service) Audit(ctx context.Context, e audit.Event) {
	if s.audit == nil {
		return
	}
	if err := s.audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit: event not recorded", "kind", e.Kind, "user_id", e.Subject, "err", err)
	}
}

// userEvent is an event about u.
func userEvent(kind audit.Kind, u *User) audit.Event {
	e := audit.Event{Kind: kind}
	if u != nil {
		e.Subject, e.Email = u.ID, u.Email
	}
	return e
}

// userAudit is what the audit trail keeps of a user: no password hash,
// and none of the times that change on every sign-in.
type userAudit struct {
	Email               string          `json:"email"`
	Username            string          `json:"username,omitempty"`
	DisplayName         string          `json:"display_name,omitempty"`
	Admin               bool            `json:"admin"`
	Status              Status          `json:"status"`
	Claims              json.RawMessage `json:"claims,omitempty"`
	RequireSecondFactor bool            `json:"require_second_factor,omitempty"`
	HasPassword         bool            `json:"has_password"`
	PasswordVersion     uint64          `json:"password_version,omitempty"`
}

func userSnapshot(u *User) json.RawMessage {
	if u == nil {
		return nil
	}
	return audit.Snapshot(userAudit{
		Email: u.Email, Username: u.Username, DisplayName: u.DisplayName, Admin: u.Admin, Status: u.Status,
		Claims: u.Claims, RequireSecondFactor: u.RequireSecondFactor, HasPassword: len(u.PasswordHash) > 0,
		PasswordVersion: u.PasswordVersion,
	})
}

// groupSnapshot is a group as the audit trail keeps it (nothing in a group
// is secret; the update time is left out).
func groupSnapshot(g *Group) json.RawMessage {
	if g == nil {
		return nil
	}
	return audit.Snapshot(struct {
		*Group
		CreatedAt omit `json:"created_at,omitempty"`
		UpdatedAt omit `json:"updated_at,omitempty"`
	}{Group: g})
}

// appSnapshot is an app without its client secret's hash.
func appSnapshot(a *App) json.RawMessage {
	if a == nil {
		return nil
	}
	return audit.Snapshot(struct {
		*App
		SecretHash omit `json:"secret_hash,omitempty"`
		CreatedAt  omit `json:"created_at,omitempty"`
		UpdatedAt  omit `json:"updated_at,omitempty"`
	}{App: a})
}

// omit shadows an embedded struct's field in a snapshot: encoding/json
// prefers the shallower field, and an omitempty nil pointer writes
// nothing.
type omit *struct{}
