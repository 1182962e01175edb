package auth

import (
	"context"
	"time"
)

// SecurityEventKind names a change to how a person signs in that they
// should hear about even when they made it themselves: if they did not,
// the mail is how they learn that someone else has their account.
type SecurityEventKind string

// The security events. Each is announced once, by the Service method that
// commits the change, after the commit.
const (
	EventTOTPAdded              SecurityEventKind = "totp_added"
	EventTOTPRemoved            SecurityEventKind = "totp_removed"
	EventBackupCodesRegenerated SecurityEventKind = "backup_codes_regenerated"
	EventPasskeyAdded           SecurityEventKind = "passkey_added"
	EventPasskeyRemoved         SecurityEventKind = "passkey_removed"
	EventSecondFactorsReset     SecurityEventKind = "second_factors_reset"
	EventPasswordChanged        SecurityEventKind = "password_changed"
	EventEmailChanged           SecurityEventKind = "email_changed"
)

// SecurityEvent is one committed change of a user's credentials.
type SecurityEvent struct {
	Kind SecurityEventKind
	// User is the user after the change.
	User *User
	// OldEmail is the address before an EventEmailChanged.
	OldEmail string
	// Detail is a short human description (a passkey's name), or "".
	Detail string
	At     time.Time
}

// OnSecurityEvent registers fn to hear every security event. Like
// Subscribe's listeners, fn runs on the caller's goroutine after the
// commit, so it must be quick (hand a mail to a queue or a goroutine) and
// must not call back into the Service.
func (s *Service) OnSecurityEvent(fn func(SecurityEvent)) {
	s.mu.Lock()
	s.eventHooks = append(s.eventHooks, fn)
	s.mu.Unlock()
}

// announce tells the security-event listeners about a change of the user
// with the id, reading the user as it is now when u is nil. A failed read
// is logged: the change itself stands.
func (s *Service) announce(ctx context.Context, kind SecurityEventKind, userID string, u *User, detail string) {
	s.mu.RLock()
	hooks := s.eventHooks
	s.mu.RUnlock()
	if len(hooks) == 0 {
		return
	}
	if u == nil {
		var err error
		if u, err = s.User(ctx, userID); err != nil {
			s.log.Warn("auth: security event not announced", "event", string(kind), "user_id", userID, "err", err)
			return
		}
	}
	s.announceEvent(SecurityEvent{Kind: kind, User: u, Detail: detail, At: s.now().UTC()})
}

// announceEvent tells the listeners about ev as the caller made it (an
// email change, with OldEmail).
func (s *Service) announceEvent(ev SecurityEvent) {
	s.mu.RLock()
	hooks := s.eventHooks
	s.mu.RUnlock()
	for _, fn := range hooks {
		fn(ev)
	}
}
