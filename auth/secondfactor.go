package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/clinchsso/clinch/kv"
)

// How a session was made, as OIDC's acr and amr claims say it (RFC 8176
// names the methods); ACRSecondFactor ("2") is in app.go.
const (
	ACRPassword = "1" // a password alone
	AMRPassword = "pwd"
	AMROTP      = "otp" // a TOTP or backup code
)

// secondFactors is a user's second factors: one record per user, so that
// checking a code, consuming it and counting the attempt happen in one
// transaction on one key.
type secondFactors struct {
	UserID string `json:"user_id"`
	// TOTPSecret is the base32 secret sealed with Secrets.Seal under
	// totpLabel(UserID): unreadable without SECRET_KEY_BASE, and useless
	// if moved to another user's record.
	TOTPSecret []byte    `json:"totp_secret,omitempty"`
	TOTPSince  time.Time `json:"totp_since,omitzero"`
	// TOTPLastStep is the time step of the last code accepted: that code
	// and every older one are refused from then on.
	TOTPLastStep  int64        `json:"totp_last_step,omitempty"`
	BackupCodes   []backupCode `json:"backup_codes,omitempty"`
	BackupCodesAt time.Time    `json:"backup_codes_at,omitzero"`
}

// has reports whether the user has a second factor to sign in with.
// Backup codes exist only beside one; on their own they do not count.
func (f *secondFactors) has() bool { return len(f.TOTPSecret) > 0 }

func totpLabel(userID string) string { return string(kv.PrefixSecondFactors) + "totp/" + userID }

// factorsIn returns the user's second factors; an empty record when there
// are none.
func (s *Service) factorsIn(t *kv.Txn, userID string) (*secondFactors, error) {
	f, err := s.factors.Get(t, userID)
	if errors.Is(err, kv.ErrNotFound) {
		return &secondFactors{UserID: userID}, nil
	}
	return f, err
}

// putFactors stores f, or deletes the record when nothing is left in it.
func (s *Service) putFactors(t *kv.Txn, f *secondFactors) error {
	if !f.has() && len(f.BackupCodes) == 0 {
		if err := s.factors.Delete(t, f.UserID); err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		return nil
	}
	return s.factors.Put(t, f, 0)
}

// requirement says whether the user must have a second factor and who
// says so: "account" for the user's own flag, "group NAME" for each group
// that requires it, in name order.
func (s *Service) requirement(t *kv.Txn, u *User) ([]string, error) {
	var by []string
	if u.RequireSecondFactor {
		by = append(by, "account")
	}
	gs, err := s.userGroups(t, u.ID)
	if err != nil {
		return nil, err
	}
	for _, g := range gs {
		if g.RequireSecondFactor {
			by = append(by, "group "+g.Name)
		}
	}
	return by, nil
}

// checkCode checks a parsed code against f at now and, when it is right,
// consumes it in f (the TOTP step is remembered, the backup code marked
// used); the caller stores f. It returns ErrWrongCode, ErrCodeUsed (a
// *UsedCodeError for a backup code), or another error when the secret
// cannot be read.
func (s *Service) checkCode(f *secondFactors, kind CodeKind, code string, now time.Time) error {
	switch kind {
	case CodeTOTP:
		if !f.has() {
			return ErrWrongCode
		}
		secret, err := s.secrets.Open(f.TOTPSecret, totpLabel(f.UserID))
		if err != nil {
			return fmt.Errorf("auth: totp secret of %s: %w", f.UserID, err)
		}
		step, err := matchTOTP(string(secret), code, now, f.TOTPLastStep)
		if err != nil {
			return err
		}
		f.TOTPLastStep = step
		return nil
	case CodeBackup:
		return s.useBackupCode(f.BackupCodes, f.UserID, code, now)
	}
	return ErrWrongCode
}

// tryCode is one second-factor attempt by the user, inside the caller's
// transaction: it waits out the user's second-factor delay, checks the
// code, stores what it consumed and clears the failures, or counts a
// failure. verdict is nil for a right code, a *RateLimitError, or
// ErrWrongCode / ErrCodeUsed; the caller commits in every one of those
// cases (so a failure is counted) and acts on the verdict. err is a
// storage or decryption error: abort.
func (s *Service) tryCode(t *kv.Txn, userID string, kind CodeKind, code string, now time.Time) (verdict, err error) {
	k := s.limitKey(ScopeSecondFactor, "", "user:"+userID)
	a, wait, err := attemptWait(t, k, now)
	if err != nil {
		return nil, err
	}
	if wait > 0 {
		return &RateLimitError{RetryAfter: wait, Scope: ScopeSecondFactor}, nil
	}
	f, err := s.factorsIn(t, userID)
	if err != nil {
		return nil, err
	}
	verdict = s.checkCode(f, kind, code, now)
	if verdict != nil && !errors.Is(verdict, ErrWrongCode) && !errors.Is(verdict, ErrCodeUsed) {
		return nil, verdict
	}
	if verdict != nil {
		return verdict, countFailure(t, k, a, now)
	}
	if err := s.factors.Put(t, f, 0); err != nil {
		return nil, err
	}
	return nil, t.Delete(k)
}

// SecondFactorStatus is what a user has and must have.
type SecondFactorStatus struct {
	TOTP      bool
	TOTPSince time.Time
	// BackupCodesLeft of BackupCodeCount are unused; made at
	// BackupCodesAt.
	BackupCodesLeft int
	BackupCodesAt   time.Time
	// Passkeys is how many passkeys the user has; each is a second
	// factor too.
	Passkeys int
	// RequiredBy is empty when the user may go without a second factor;
	// otherwise "account" and/or "group NAME" for each group requiring it.
	RequiredBy []string
}

// Required reports whether the user must have a second factor.
func (st *SecondFactorStatus) Required() bool { return len(st.RequiredBy) > 0 }

// SecondFactorStatus returns the user's second factors and requirement.
func (s *Service) SecondFactorStatus(ctx context.Context, userID string) (*SecondFactorStatus, error) {
	var st *SecondFactorStatus
	err := s.store.View(ctx, func(t *kv.Txn) error {
		u, err := s.users.Get(t, userID)
		if err != nil {
			return mapKV(err, "user")
		}
		st, err = s.statusIn(t, u)
		return err
	})
	return st, err
}

func (s *Service) statusIn(t *kv.Txn, u *User) (*SecondFactorStatus, error) {
	f, err := s.factorsIn(t, u.ID)
	if err != nil {
		return nil, err
	}
	by, err := s.requirement(t, u)
	if err != nil {
		return nil, err
	}
	pks, err := s.userPasskeys(t, u.ID)
	if err != nil {
		return nil, err
	}
	return &SecondFactorStatus{
		TOTP: f.has(), TOTPSince: f.TOTPSince,
		BackupCodesLeft: backupCodesLeft(f.BackupCodes), BackupCodesAt: f.BackupCodesAt,
		Passkeys: len(pks), RequiredBy: slices.Clip(by),
	}, nil
}

// saveTOTP gives the user the TOTP secret (base32), whose code for step
// was just entered, and a fresh set of backup codes, which it returns for
// showing once. It refuses a user who has TOTP already (ErrTOTPExists).
func (s *Service) saveTOTP(t *kv.Txn, userID, secret string, step int64, now time.Time) ([]string, error) {
	f, err := s.factorsIn(t, userID)
	if err != nil {
		return nil, err
	}
	if f.has() {
		return nil, ErrTOTPExists
	}
	shown, stored := s.newBackupCodes(userID)
	f.TOTPSecret = s.secrets.Seal([]byte(secret), totpLabel(userID))
	f.TOTPSince, f.TOTPLastStep = now.UTC(), step
	f.BackupCodes, f.BackupCodesAt = stored, now.UTC()
	return shown, s.factors.Put(t, f, 0)
}
