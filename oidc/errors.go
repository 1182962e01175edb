package oidc

import (
	"encoding/json"
	"net/http"
)

// OAuth 2.0 / OIDC error codes (RFC 6749 §4.1.2.1 and §5.2, OIDC Core
// §3.1.2.6, RFC 6750 §3.1).
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrInvalidScope            = "invalid_scope"
	ErrAccessDenied            = "access_denied"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrServerError             = "server_error"
	ErrLoginRequired           = "login_required"
	ErrConsentRequired         = "consent_required"
	ErrInteractionRequired     = "interaction_required"
	ErrRequestNotSupported     = "request_not_supported"
	ErrRequestURINotSupported  = "request_uri_not_supported"
	ErrInvalidToken            = "invalid_token"
	ErrInsufficientScope       = "insufficient_scope"
	ErrUnsupportedTokenType    = "unsupported_token_type"
)

// Error is an OAuth error response.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Status is the HTTP status for the token-style endpoints.
	Status int `json:"-"`
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

func oerr(code, desc string) *Error {
	st := http.StatusBadRequest
	switch code {
	case ErrInvalidClient, ErrInvalidToken:
		st = http.StatusUnauthorized
	case ErrInsufficientScope:
		st = http.StatusForbidden
	case ErrServerError:
		st = http.StatusInternalServerError
	}
	return &Error{Code: code, Description: desc, Status: st}
}

// writeJSON answers with a JSON body that no cache may keep (tokens and
// errors about them).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers a token-style endpoint with an RFC 6749 §5.2 error.
// basic says the client tried HTTP Basic, so a 401 names that scheme.
func writeError(w http.ResponseWriter, e *Error, basic bool) {
	if e.Status == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", wwwAuthenticateBasic)
	}
	writeJSON(w, e.Status, e)
}
