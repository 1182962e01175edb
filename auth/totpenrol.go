package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// totpEnrolment is a TOTP set-up under way from a signed-in page: the
// secret Clinch offered to one session, kept on the server (sealed) so
// that what is saved is exactly what Clinch made. It lives SignInTTL.
type totpEnrolment struct {
	SessionID string    `json:"session_id"`
	UserID    string    `json:"user_id"`
	Secret    []byte    `json:"secret"` // sealed under enrolmentLabel(SessionID)
	CreatedAt time.Time `json:"created_at"`
}

func enrolmentLabel(sessionID string) string {
	return string(kv.PrefixTOTPEnrolment) + sessionID
}

// ErrNoEnrolment: the TOTP set-up of this session expired (SignInTTL) or
// was never started. Start again.
var ErrNoEnrolment = errors.New("the set-up expired; start again")

// TOTPEnrolment returns the TOTP secret (base32) offered to the signed-in
// session for setting up an authenticator app: the same one while the
// set-up lives, so a page reloaded shows the QR code already scanned, and
// a fresh one after SignInTTL. ErrTOTPExists when the user has TOTP.
func (s *Service) TOTPEnrolment(ctx context.Context, sess *Session) (string, error) {
	now := s.now()
	var secret string
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		secret = ""
		f, err := s.factorsIn(t, sess.UserID)
		if err != nil {
			return err
		}
		if f.has() {
			return ErrTOTPExists
		}
		e, err := s.enrolments.Get(t, sess.ID)
		if err == nil && e.UserID == sess.UserID && now.Sub(e.CreatedAt) <= SignInTTL {
			b, err := s.secrets.Open(e.Secret, enrolmentLabel(sess.ID))
			if err != nil {
				return err
			}
			secret = string(b)
			return nil
		}
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		secret = newTOTPSecret()
		e = &totpEnrolment{SessionID: sess.ID, UserID: sess.UserID, CreatedAt: now,
			Secret: s.secrets.Seal([]byte(secret), enrolmentLabel(sess.ID))}
		return s.enrolments.Put(t, e, SignInTTL)
	})
	if err != nil {
		return "", fmt.Errorf("totp set-up: %w", err)
	}
	return secret, nil
}

// ConfirmTOTPEnrolment saves the secret TOTPEnrolment offered to the
// session when code is a current code of it and password is the user's
// current password, and returns a fresh set of backup codes to show once.
// Nothing the client sends but the code and the password is used. The
// session stays as it was (its acr does not change: it was not made with
// this factor). A *CodeFormatError for input that is not six digits;
// ErrPasswordRequired, ErrInvalidCredentials or a *RateLimitError for the
// password, checked and counted like a sign-in from ip (a stolen session
// cookie alone cannot add an authenticator app); ErrWrongCode;
// ErrNoEnrolment when the set-up expired or the session ended;
// ErrTOTPExists when the user set up TOTP meanwhile.
func (s *Service) ConfirmTOTPEnrolment(ctx context.Context, sess *Session, code, password, ip string) ([]string, error) {
	_, norm, err := ParseCode(code, false)
	if err != nil {
		return nil, err
	}
	if err := s.confirmPassword(ctx, sess.UserID, password, ip); err != nil {
		return nil, err
	}
	now := s.now()
	var codes []string
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		codes = nil
		e, err := s.enrolments.Get(t, sess.ID)
		if errors.Is(err, kv.ErrNotFound) {
			return ErrNoEnrolment
		}
		if err != nil {
			return err
		}
		if e.UserID != sess.UserID || now.Sub(e.CreatedAt) > SignInTTL {
			return ErrNoEnrolment
		}
		live, err := s.sessions.Get(t, sess.ID)
		if errors.Is(err, kv.ErrNotFound) || err == nil && (live.UserID != sess.UserID || !now.Before(live.ExpiresAt)) {
			return ErrNoEnrolment
		}
		if err != nil {
			return err
		}
		b, err := s.secrets.Open(e.Secret, enrolmentLabel(sess.ID))
		if err != nil {
			return err
		}
		step, err := matchTOTP(string(b), norm, now, 0)
		if err != nil {
			return err
		}
		if codes, err = s.saveTOTP(t, sess.UserID, string(b), step, now); err != nil {
			return err
		}
		return s.enrolments.Delete(t, sess.ID)
	})
	if errors.Is(err, ErrCodeUsed) {
		err = ErrWrongCode
	}
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: sess.UserID})
	s.Audit(ctx, audit.Event{Kind: audit.SecondFactorAdded, Actor: sess.UserID, Subject: sess.UserID, IP: ip, Detail: map[string]string{"factor": "totp"}})
	return codes, nil
}
