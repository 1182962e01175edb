package control

import (
	"errors"
	"strings"

	"github.com/clinchsso/clinch/auth"
)

// The admin operations are methods on Env with a typed input and output:
// the CLI fills the input from flags and prints the output, the JSON admin
// API decodes the input from the request body and encodes the output. Both
// go through the same method, so validation lives in one place: here and
// in auth.

// FieldError is a mistake in an operation's input caught here, before auth
// sees it: a field left out or not in the shape it must have. The CLI
// reports it as a usage error naming the flag (exit status 2), the API as
// 400 naming the field. It matches auth.ErrInvalid.
type FieldError struct {
	Field  string // the JSON name
	Reason string
}

func (e *FieldError) Error() string     { return e.Field + " " + e.Reason }
func (e *FieldError) Is(err error) bool { return err == auth.ErrInvalid }

// required is the error for a field that must be given.
func required(field string) error { return &FieldError{Field: field, Reason: "is required"} }

// fieldAlias names the input field of an auth error whose own name for it
// differs (auth's "redirect_uri" is the input's "redirect_uris").
type fieldAlias struct {
	error
	field string
}

func (e *fieldAlias) Unwrap() error { return e.error }

// aliasFields renames the field of an auth.InvalidError by the pairs
// old, new; other errors pass unchanged.
func aliasFields(err error, pairs ...string) error {
	var ie *auth.InvalidError
	if !errors.As(err, &ie) {
		return err
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if ie.Field == pairs[i] {
			return &fieldAlias{error: err, field: pairs[i+1]}
		}
	}
	return err
}

// FieldOf names the input field err is about, if it is about one.
func FieldOf(err error) (string, bool) {
	var fa *fieldAlias
	if errors.As(err, &fa) {
		return fa.field, true
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field, true
	}
	var ie *auth.InvalidError
	if errors.As(err, &ie) {
		return ie.Field, true
	}
	return "", false
}

// usageOf turns an input mistake into the CLI's usage error naming the
// flag: every FieldError, and auth's "is required" (an empty --email).
func usageOf(err error) (*UsageError, bool) {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &UsageError{Msg: flagName(fe.Field) + " " + fe.Reason}, true
	}
	var ie *auth.InvalidError
	if errors.As(err, &ie) && ie.Reason == "is required" {
		return &UsageError{Msg: flagName(ie.Field) + " is required"}, true
	}
	return nil, false
}

// flagNames are the CLI flags whose names are not the JSON field's.
var flagNames = map[string]string{
	"headers": "header", "allowed_groups": "group", "groups": "group", "redirect_uris": "redirect-uri",
	"post_logout_redirect_uris": "post-logout-redirect-uri", "grant_types": "grant-type",
}

// flagName is the CLI flag for a JSON field name.
func flagName(field string) string {
	if f, ok := flagNames[field]; ok {
		return "--" + f
	}
	return "--" + strings.ReplaceAll(field, "_", "-")
}
