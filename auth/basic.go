package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/clinchsso/clinch/kv"
)

// ErrPasswordNotEnough is CheckPassword's answer for a right password of a
// user who has or must have a second factor: HTTP Basic cannot carry the
// second factor, so the password alone does not let them in.
var ErrPasswordNotEnough = errors.New("the account has or needs a second factor; use an app password")

// CheckPassword checks a login and password outside a browser sign-in (HTTP
// Basic at /api/verify), through the same limits as Authenticate: the
// attempt counts against ip and, before the comparison, against the
// account. It returns the user when the password is right, the user is
// active and has no second factor and needs none. Failures are
// ErrInvalidCredentials, a *RateLimitError, or ErrPasswordNotEnough (the
// password was right but a second factor is needed). Neither the login nor
// the password appears in a returned error or a log line.
func (s *Service) CheckPassword(ctx context.Context, login, password, ip string) (*User, error) {
	now := s.now()
	if err := s.hitIP(ctx, ip, now); err != nil {
		return nil, err
	}
	login, err := normalizeLogin(login)
	if err != nil {
		return nil, err
	}
	var u *User
	err = s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		u, err = s.userByLogin(t, login)
		return err
	})
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return nil, fmt.Errorf("basic auth: find user: %w", err)
	}
	subject := accountSubject(u, login)
	if err := s.reserveAttempt(ctx, subject, now); err != nil {
		return nil, err
	}
	hash := s.dummyHash()
	if u != nil && len(u.PasswordHash) > 0 {
		hash = u.PasswordHash
	}
	pwErr := comparePassword(hash, password)
	if u == nil || pwErr != nil || u.Status != StatusActive || len(password) > MaxPasswordLen {
		if pad := s.equaliser(hash); pad != nil {
			_ = bcrypt.CompareHashAndPassword(pad, []byte(password))
		}
		return nil, ErrInvalidCredentials
	}
	if err := s.clearAttempts(ctx, subject); err != nil {
		s.log.Warn("auth: failed attempts not cleared after a success", "user_id", u.ID, "err", err)
	}
	var needs bool
	err = s.store.View(ctx, func(t *kv.Txn) error {
		f, err := s.factorsIn(t, u.ID)
		if err != nil {
			return err
		}
		if needs = f.has(); needs {
			return nil
		}
		if needs, err = s.hasPasskey(t, u.ID); err != nil || needs {
			return err
		}
		by, err := s.requirement(t, u)
		needs = len(by) > 0
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("basic auth: second factors: %w", err)
	}
	if needs {
		return nil, ErrPasswordNotEnough
	}
	return u, nil
}

// IsLoginOf reports whether login (trimmed, any case) is the user's
// username or email.
func IsLoginOf(u *User, login string) bool {
	login = strings.ToLower(strings.TrimSpace(login))
	return login != "" && (login == strings.ToLower(u.Email) || u.Username != "" && login == strings.ToLower(u.Username))
}
