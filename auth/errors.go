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
)

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
