package auth

import (
	"context"
	"errors"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// Proof is what a signed-in person gives to change their second factors,
// so that a browser left signed in is not enough: their password, or a
// current code (TOTP or backup code). Code wins when both are given.
type Proof struct {
	Password string
	Code     string
	IP       string
}

// DisableTOTP removes the user's authenticator app and backup codes after
// checking proof. ErrSecondFactorRequired while the user or one of their
// groups requires a second factor (asked before the proof, and again in
// the transaction that would remove it); ErrNoTOTP when there is none. A wrong password is ErrInvalidCredentials,
// a wrong code ErrWrongCode or ErrCodeUsed, each counted and limited as at
// sign-in (*RateLimitError); input that is not a code a *CodeFormatError.
func (s *Service) DisableTOTP(ctx context.Context, userID string, proof Proof) error {
	st, err := s.SecondFactorStatus(ctx, userID)
	if err != nil {
		return err
	}
	switch {
	case st.Required():
		return ErrSecondFactorRequired
	case !st.TOTP:
		return ErrNoTOTP
	}
	var email string
	err = s.withProof(ctx, userID, proof, func(t *kv.Txn, u *User, f *secondFactors) error {
		email = u.Email
		if !f.has() {
			return ErrNoTOTP
		}
		by, err := s.requirement(t, u)
		if err != nil {
			return err
		}
		if len(by) > 0 {
			return ErrSecondFactorRequired
		}
		return s.putFactors(t, &secondFactors{UserID: u.ID})
	})
	if err == nil {
		s.Notify(Change{Kind: ChangeUser, UserID: userID})
		s.announce(ctx, EventTOTPRemoved, userID, nil, "")
		s.Audit(ctx, audit.Event{Kind: audit.SecondFactorRemoved, Actor: userID, Subject: userID, Email: email, IP: proof.IP, Detail: map[string]string{"factor": "totp"}})
	}
	return err
}

// RegenerateBackupCodes replaces the user's backup codes with a fresh set,
// returned to show once; the old ones stop working at once. It checks
// proof like DisableTOTP (a backup code of the old set is a proof, and is
// used up with the rest). ErrNoTOTP without an authenticator app.
func (s *Service) RegenerateBackupCodes(ctx context.Context, userID string, proof Proof) ([]string, error) {
	var shown []string
	var email string
	err := s.withProof(ctx, userID, proof, func(t *kv.Txn, u *User, f *secondFactors) error {
		shown, email = nil, u.Email
		if !f.has() {
			return ErrNoTOTP
		}
		var stored []backupCode
		shown, stored = s.newBackupCodes(u.ID)
		f.BackupCodes, f.BackupCodesAt = stored, s.now().UTC()
		return s.factors.Put(t, f, 0)
	})
	if err == nil {
		s.announce(ctx, EventBackupCodesRegenerated, userID, nil, "")
		s.Audit(ctx, audit.Event{Kind: audit.BackupCodesRegenerated, Actor: userID, Subject: userID, Email: email, IP: proof.IP})
	}
	return shown, err
}

// withProof checks proof for the user and then runs change in a
// transaction with the user and their current second factors. A code is
// checked, consumed and counted in change's own transaction; change
// failing leaves the code unused. A password is checked first (bcrypt
// cannot run inside a transaction), limited like a sign-in.
func (s *Service) withProof(ctx context.Context, userID string, proof Proof, change func(*kv.Txn, *User, *secondFactors) error) error {
	now := s.now()
	var kind CodeKind
	var code string
	switch {
	case proof.Code != "":
		var err error
		if kind, code, err = ParseCode(proof.Code, true); err != nil {
			return err
		}
	case proof.Password == "":
		return &CodeFormatError{Reason: "Enter your password, or a code from your authenticator app, to confirm."}
	}
	if err := s.hitIP(ctx, proof.IP, now); err != nil {
		return err
	}
	if kind == 0 {
		if err := s.checkPassword(ctx, userID, proof.Password); err != nil {
			return err
		}
	}
	var verdict error
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		verdict = nil
		u, err := s.users.Get(t, userID)
		if err != nil {
			return mapKV(err, "user")
		}
		if kind != 0 {
			if verdict, err = s.tryCode(t, userID, kind, code, now); err != nil || verdict != nil {
				return err
			}
		}
		f, err := s.factorsIn(t, userID)
		if err != nil {
			return err
		}
		return change(t, u, f)
	})
	if errors.Is(err, kv.ErrTxnConflict) {
		return &RateLimitError{RetryAfter: busyRetry, Scope: ScopeSecondFactor}
	}
	if err != nil {
		return err
	}
	return verdict
}

// confirmPassword is the one check that a signed-in person, not just
// their session, asks to add a second factor (a passkey, an authenticator
// app): their current password, counted and limited exactly like a
// sign-in (the address's window, then the account's progressive delay).
// A session cookie alone is not enough, so whoever steals one cannot add
// a factor of their own and keep access after a password change.
// ErrPasswordRequired when password is empty (nothing counted);
// ErrInvalidCredentials when it is wrong, or the user has none; a
// *RateLimitError when the attempt is refused.
func (s *Service) confirmPassword(ctx context.Context, userID, password, ip string) error {
	if password == "" {
		return ErrPasswordRequired
	}
	if err := s.hitIP(ctx, ip, s.now()); err != nil {
		return err
	}
	return s.checkPassword(ctx, userID, password)
}

// checkPassword checks a signed-in user's password, counting a failure
// against the account like a sign-in (a stolen session must not become a
// password oracle).
func (s *Service) checkPassword(ctx context.Context, userID, password string) error {
	u, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	subject := accountSubject(u, "")
	if err := s.reserveAttempt(ctx, subject, s.now()); err != nil {
		if errors.Is(err, ErrRateLimited) {
			s.confirmFailed(ctx, u, "rate limited: too many failures for this account")
		}
		return err
	}
	if len(u.PasswordHash) == 0 || len(password) > MaxPasswordLen ||
		comparePassword(u.PasswordHash, password) != nil {
		s.confirmFailed(ctx, u, "wrong password")
		return ErrInvalidCredentials
	}
	if err := s.clearAttempts(ctx, subject); err != nil {
		s.log.Warn("auth: failed sign-ins not cleared after a success", "user_id", u.ID, "err", err)
	}
	return nil
}

// confirmFailed records a refused password confirmation of a signed-in
// session as a failed sign-in: whoever holds a stolen session cookie and
// guesses the password here is as worth seeing as at the sign-in page.
func (s *Service) confirmFailed(ctx context.Context, u *User, reason string) {
	e := userEvent(audit.SignInFailed, u)
	e.Reason = reason + " (confirming a change while signed in)"
	s.Audit(ctx, e)
}
