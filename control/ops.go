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
// in auth. Fields are named by their JSON name in errors; the CLI turns a
// missing one into a usage error naming the flag.

// required is the error for a field that must be given.
func required(field string) error { return &auth.InvalidError{Field: field, Reason: "is required"} }

// missingField reports whether err is a required field left out, and which.
func missingField(err error) (string, bool) {
	var ie *auth.InvalidError
	if errors.As(err, &ie) && ie.Reason == "is required" {
		return ie.Field, true
	}
	return "", false
}

// flagName is the CLI flag for a JSON field name.
func flagName(field string) string { return "--" + strings.ReplaceAll(field, "_", "-") }
