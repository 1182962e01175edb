package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinchsso/clinch/kv"
)

// Email changes by a signed-in person.
//
// Asking needs the current password (checked and counted like a sign-in)
// and makes a single-use link (PrefixEmailToken) whose HMAC is stored with
// EmailChangeTTL, naming the user, the new address and the address the
// user had when asking. The address changes only when the link is used,
// which proves the person reads the new mailbox; a link made before the
// address changed some other way is void. Opening the link changes
// nothing (mail scanners follow links): the page it opens has a button
// that posts it.
//
// A person may ask EmailChangeRequests times per EmailChangeWindow (per
// account): each request mails a stranger's address, so a signed-in
// account must not become a mail cannon.
const (
	EmailChangeTTL      = 24 * time.Hour
	EmailChangeWindow   = time.Hour
	EmailChangeRequests = 5
	// ScopeEmailChange is the rate-limit scope of email-change requests.
	ScopeEmailChange = "email_change"
)

type emailChangeRecord struct {
	UserID    string    `json:"uid"`
	OldEmail  string    `json:"old"`
	NewEmail  string    `json:"new"`
	ExpiresAt time.Time `json:"exp"`
}

func (r *emailChangeRecord) owner() string     { return r.UserID }
func (r *emailChangeRecord) expiry() time.Time { return r.ExpiresAt }

// EmailChangeRequest is the input to RequestEmailChange.
type EmailChangeRequest struct {
	UserID   string
	Password string // the current password
	NewEmail string
	IP       string
}

// EmailChange is a pending change: who, from what, to what.
type EmailChange struct {
	User     *User
	OldEmail string
	NewEmail string
}

// RequestEmailChange checks the password and makes a confirmation link
// for the new address; the caller mails it there. *InvalidError for an
// address that is malformed or is already the user's; ErrConflict when
// another account has it (the person proved their password, so being
// told is no help to a stranger, and rate-limited like a sign-in);
// ErrPasswordRequired, ErrInvalidCredentials or a *RateLimitError for the
// password.
func (s *Service) RequestEmailChange(ctx context.Context, in EmailChangeRequest) (string, *EmailChange, error) {
	e, err := NormalizeEmail(in.NewEmail)
	if err != nil {
		return "", nil, err
	}
	if err := s.confirmPassword(ctx, in.UserID, in.Password, in.IP); err != nil {
		return "", nil, err
	}
	// Counted once the password is right: a wrong one is counted (and
	// limited) as a sign-in failure already.
	if err := s.hitWindow(ctx, ScopeEmailChange, in.UserID, EmailChangeRequests, EmailChangeWindow, s.now()); err != nil {
		return "", nil, err
	}
	tok, hash := s.secrets.NewToken(PrefixEmailToken)
	var ch *EmailChange
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		u, err := s.users.Get(t, in.UserID)
		if err != nil {
			return mapKV(err, "user")
		}
		if u.Status != StatusActive {
			return fmt.Errorf("email change: user: %w", ErrNotFound)
		}
		if u.Email == e {
			return invalid("email", "is already the address of your account")
		}
		if err := s.emailFree(t, e); err != nil {
			return err
		}
		b, err := json.Marshal(emailChangeRecord{UserID: u.ID, OldEmail: u.Email, NewEmail: e, ExpiresAt: s.now().Add(EmailChangeTTL)})
		if err != nil {
			return err
		}
		ch = &EmailChange{User: u, OldEmail: u.Email, NewEmail: e}
		return t.Set(kv.PrefixEmailChange.Key(hash), b, EmailChangeTTL)
	})
	if err != nil {
		return "", nil, err
	}
	return tok, ch, nil
}

// emailFree fails with ErrConflict when an account has the address.
func (s *Service) emailFree(t *kv.Txn, email string) error {
	_, err := s.users.GetBy(t, kv.PrefixUserByEmail, email)
	switch {
	case err == nil:
		return fmt.Errorf("user with email %s: %w", email, ErrConflict)
	case errors.Is(err, kv.ErrNotFound):
		return nil
	}
	return err
}

// EmailChangeInfo returns the change a link is for, without using it. An
// unknown, used, expired or void link is ErrNotFound.
func (s *Service) EmailChangeInfo(ctx context.Context, token string) (*EmailChange, error) {
	var ch *EmailChange
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		ch, err = s.emailChange(t, token)
		return err
	})
	return ch, err
}

func (s *Service) emailChange(t *kv.Txn, token string) (*EmailChange, error) {
	u, rec, err := readLink[emailChangeRecord](s, t, token, PrefixEmailToken, kv.PrefixEmailChange, "email change link")
	if err != nil {
		return nil, err
	}
	// The address changed since (another link, an admin): this one is void.
	if u.Status != StatusActive || u.Email != rec.OldEmail {
		return nil, fmt.Errorf("email change link: %w", ErrNotFound)
	}
	return &EmailChange{User: u, OldEmail: rec.OldEmail, NewEmail: rec.NewEmail}, nil
}

// ConfirmEmailChange uses up a link and gives the user its new address,
// in one transaction (the email index moves with the record). ErrNotFound
// for a link that is unknown, used, expired or void; ErrConflict when
// another account took the address meanwhile (the link stays unused).
func (s *Service) ConfirmEmailChange(ctx context.Context, token string) (*EmailChange, error) {
	var ch *EmailChange
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		if ch, err = s.emailChange(t, token); err != nil {
			return err
		}
		if err := s.emailFree(t, ch.NewEmail); err != nil {
			return err
		}
		if err := t.Delete(kv.PrefixEmailChange.Key(s.secrets.Hash(token))); err != nil {
			return err
		}
		u := ch.User
		u.Email = ch.NewEmail
		u.UpdatedAt = s.now().UTC()
		return mapKV(s.users.Put(t, u, 0), "user")
	})
	if errors.Is(err, kv.ErrTxnConflict) {
		// Another request used the link at the same moment.
		return nil, fmt.Errorf("email change link: %w", ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: ch.User.ID})
	s.announceEvent(SecurityEvent{Kind: EventEmailChanged, User: ch.User, OldEmail: ch.OldEmail, At: s.now().UTC()})
	return ch, nil
}
