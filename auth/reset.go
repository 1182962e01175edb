package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// Password resets.
//
// A reset link carries a single-use token (PrefixResetToken) whose HMAC is
// stored with ResetTTL, naming the user and the password version it was
// made under: setting the password in any way voids every link made
// before. It also names the address it was mailed to, and a link whose
// address is no longer the user's is void: the mail went to a mailbox
// that may belong to someone else now. Only active users get a link; unknown, disabled and
// pending_invitation addresses get ErrNotFound alike, and the pages give
// all of them the same answer.
//
// Requests are limited per client address (ResetIPRequests per
// ResetWindow) and per address asked for (ResetAddressRequests per
// ResetWindow, keyed by an HMAC of the normalised email, whether or not
// an account has it), so nobody can flood a mailbox or probe at speed.
const (
	ResetTTL             = time.Hour
	ResetWindow          = time.Hour
	ResetIPRequests      = 10
	ResetAddressRequests = 3
)

// Rate-limit scopes of reset requests.
const (
	ScopeResetIP      = "reset_ip"
	ScopeResetAddress = "reset_address"
)

type resetRecord struct {
	UserID          string    `json:"uid"`
	PasswordVersion uint64    `json:"pv"`
	Email           string    `json:"email"`
	ExpiresAt       time.Time `json:"exp"`
}

// LimitPasswordReset counts one reset request for email from ip and fails
// with a *RateLimitError when either is over its limit. Its cost and answer
// do not depend on whether an account has the address.
func (s *Service) LimitPasswordReset(ctx context.Context, email, ip string) error {
	return s.limitMailedLink(ctx, email, ip, mailedLinkLimits{
		ipScope: ScopeResetIP, addressScope: ScopeResetAddress,
		perIP: ResetIPRequests, perAddress: ResetAddressRequests, window: ResetWindow,
	})
}

// NewPasswordReset makes a reset token for the active user with the email.
// Unknown, disabled and pending_invitation users give ErrNotFound.
func (s *Service) NewPasswordReset(ctx context.Context, email string) (string, *User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return "", nil, fmt.Errorf("password reset: %w", ErrNotFound)
	}
	tok, hash := s.secrets.NewToken(PrefixResetToken)
	var u *User
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		if u, err = s.userByEmail(t, e); err != nil {
			return err
		}
		if u.Status != StatusActive {
			return fmt.Errorf("password reset: %w", ErrNotFound)
		}
		b, err := json.Marshal(resetRecord{UserID: u.ID, PasswordVersion: u.PasswordVersion, Email: u.Email, ExpiresAt: s.now().Add(ResetTTL)})
		if err != nil {
			return err
		}
		return t.Set(kv.PrefixPasswordReset.Key(hash), b, ResetTTL)
	})
	if err != nil {
		return "", nil, err
	}
	s.Audit(ctx, userEvent(audit.PasswordResetRequested, u))
	return tok, u, nil
}

// PasswordResetUser returns the user a reset token is for, without using
// it up: the page the link opens asks for the new password first. An
// unknown, used, expired or void token gives ErrNotFound.
func (s *Service) PasswordResetUser(ctx context.Context, token string) (*User, error) {
	var u *User
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		u, err = s.resetUser(t, token)
		return err
	})
	return u, err
}

// resetUser checks a reset token inside a transaction.
func (s *Service) resetUser(t *kv.Txn, token string) (*User, error) {
	u, rec, err := readLink[resetRecord](s, t, token, PrefixResetToken, kv.PrefixPasswordReset, "password reset link")
	if err != nil {
		return nil, err
	}
	if u.Status != StatusActive || u.PasswordVersion != rec.PasswordVersion || rec.Email != u.Email {
		return nil, fmt.Errorf("password reset link: %w", ErrNotFound)
	}
	return u, nil
}

// ResetPassword uses up a reset token and sets the user's password. Like
// SetPassword it ends every session of the user and, through the sign-out
// hooks, their OIDC grants; it starts no session, so the person then signs
// in as usual, second factor included. A password that breaks the rules
// (*InvalidError) leaves the token usable; a token that is unknown, used,
// expired or void gives ErrNotFound.
func (s *Service) ResetPassword(ctx context.Context, token, password string) (*User, error) {
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	// Check the token before paying for bcrypt; the transaction below
	// checks it again and uses it up.
	if _, err := s.PasswordResetUser(ctx, token); err != nil {
		return nil, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return nil, err
	}
	var u *User
	var ended []string
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		if u, err = s.resetUser(t, token); err != nil {
			return err
		}
		if err := t.Delete(kv.PrefixPasswordReset.Key(s.secrets.Hash(token))); err != nil {
			return err
		}
		u.PasswordHash = h
		u.PasswordVersion++
		u.UpdatedAt = s.now().UTC()
		if ended, err = s.deleteUserSessions(t, u.ID); err != nil {
			return err
		}
		return mapKV(s.users.Put(t, u, 0), "user")
	})
	if errors.Is(err, kv.ErrTxnConflict) {
		// Another request used the token at the same moment.
		return nil, fmt.Errorf("password reset link: %w", ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: u.ID, EndedSessions: ended})
	s.announce(ctx, EventPasswordChanged, u.ID, u, "")
	e := userEvent(audit.PasswordReset, u)
	e.Actor, e.Detail = u.ID, map[string]string{"sessions_ended": strconv.Itoa(len(ended))}
	s.Audit(ctx, e)
	return u, nil
}
