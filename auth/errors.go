package auth

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors; match with errors.Is.
var (
	ErrNotFound           = errors.New("not found")
	ErrInvalidCredentials = errors.New("incorrect email, username or password")
	ErrInvalid            = errors.New("invalid input")
	ErrConflict           = errors.New("already exists")
	ErrRateLimited        = errors.New("too many attempts")
	// ErrLoginTooLong: a sign-in's login is longer than MaxLoginLen bytes
	// (a password typed into the login box, say). Authenticate's error for
	// it matches ErrInvalidCredentials too.
	ErrLoginTooLong = errors.New("the email or username is longer than 254 bytes")
	ErrSetupDone    = errors.New("first-run setup is already done")
	ErrLastAdmin    = errors.New("cannot remove the last active admin")

	// ErrNoSignIn: the pending sign-in named by a cookie is unknown,
	// expired (SignInTTL), finished, at another step, or can no longer
	// finish (its user was disabled or changed password meanwhile, or the
	// session a step-up started from ended). Start again.
	ErrNoSignIn = errors.New("no sign-in under way; sign in again")
	// ErrCodeFormat: what was typed cannot be a code at all; nothing was
	// checked or counted. A *CodeFormatError says why.
	ErrCodeFormat = errors.New("not a code")
	// ErrWrongCode: a well-formed code that is not right (counted like a
	// wrong password).
	ErrWrongCode = errors.New("the code is not right")
	// ErrCodeUsed: a backup code already used, or a TOTP code (or an
	// earlier one) already accepted once. Counted like a wrong code.
	ErrCodeUsed = errors.New("the code was already used")
	// ErrSecondFactorRequired: the user must keep a second factor, so it
	// cannot be removed.
	ErrSecondFactorRequired = errors.New("a second factor is required for this account")
	// ErrNoTOTP: the user has no TOTP to remove or check.
	ErrNoTOTP = errors.New("no authenticator app is set up")
	// ErrTOTPExists: the user already has TOTP; remove it before setting
	// up another.
	ErrTOTPExists = errors.New("an authenticator app is already set up")
	// ErrPasswordRequired: adding a second factor from a signed-in page
	// needs the user's current password, and none was given. Nothing was
	// checked or counted.
	ErrPasswordRequired = errors.New("enter your current password to confirm")
)

// CodeFormatError says, for a person, why the input is not a code. It
// matches ErrCodeFormat.
type CodeFormatError struct{ Reason string }

func (e *CodeFormatError) Error() string     { return e.Reason }
func (e *CodeFormatError) Is(err error) bool { return err == ErrCodeFormat }

// InvalidError says which field is wrong and why. It matches ErrInvalid.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string     { return e.Field + " " + e.Reason }
func (e *InvalidError) Is(err error) bool { return err == ErrInvalid }

func invalid(field, reason string) error { return &InvalidError{Field: field, Reason: reason} }

// RateLimitError carries when to try again. It matches ErrRateLimited.
type RateLimitError struct {
	RetryAfter time.Duration
	Scope      string // "ip" or "account"
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many sign-in attempts; try again in %s", e.RetryAfter.Round(time.Second))
}
func (e *RateLimitError) Is(err error) bool { return err == ErrRateLimited }
