package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is a user's account state.
type Status string

const (
	StatusActive            Status = "active"
	StatusDisabled          Status = "disabled"
	StatusPendingInvitation Status = "pending_invitation"
)

// User is a person who signs in.
type User struct {
	ID           string          `json:"id"`
	Email        string          `json:"email"`
	Username     string          `json:"username,omitempty"`
	DisplayName  string          `json:"display_name,omitempty"`
	PasswordHash []byte          `json:"password_hash,omitempty"`
	Admin        bool            `json:"admin"`
	Status       Status          `json:"status"`
	Claims       json.RawMessage `json:"claims,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	LastSignInAt time.Time       `json:"last_sign_in_at,omitzero"`
	// PasswordVersion counts the times the password was set (a rehash at
	// another cost is not a change): a sign-in under way since before a
	// change cannot finish. Users from before it was kept start at 0.
	PasswordVersion uint64 `json:"password_version,omitempty"`
	// InviteVersion counts the invitations sent; an invitation link names
	// the version it was made under, so sending a new one voids the old.
	InviteVersion uint64 `json:"invite_version,omitempty"`
	// RequireSecondFactor: the user must sign in with a second factor
	// (`clinch user totp require`); groups can require it too.
	RequireSecondFactor bool `json:"require_second_factor,omitempty"`
}

// Name is what to call the user on a page: display name, else username,
// else email.
func (u *User) Name() string {
	switch {
	case u.DisplayName != "":
		return u.DisplayName
	case u.Username != "":
		return u.Username
	}
	return u.Email
}

// Login is the name a proxied app sees: the username, or the email when
// there is none.
func (u *User) Login() string {
	if u.Username != "" {
		return u.Username
	}
	return u.Email
}

// Group is a named set of users; apps allow groups.
type Group struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Claims      json.RawMessage `json:"claims,omitempty"`
	Members     []string        `json:"members,omitempty"` // user ids, sorted
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	// RequireSecondFactor: every member must sign in with a second factor
	// (`clinch group update --require-second-factor`).
	RequireSecondFactor bool `json:"require_second_factor,omitempty"`
}

// Password limits. bcrypt ignores everything past 72 bytes, so longer
// passwords are refused rather than silently truncated.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
)

// NormalizeEmail lower-cases and trims an address and checks its shape.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", invalid("email", "is required")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") && !strings.HasSuffix(s, "@localhost") {
		return "", invalid("email", "is not a valid address")
	}
	if len(s) > 254 {
		return "", invalid("email", "is longer than 254 characters")
	}
	return s, nil
}

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// NormalizeUsername lower-cases a username and checks it: letters, digits,
// dot, dash and underscore, up to 64, starting with a letter or digit. An
// empty username is allowed (it is optional) and stays empty.
func NormalizeUsername(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if !usernameRE.MatchString(s) {
		return "", invalid("username", "may contain only letters, digits, '.', '-' and '_' (up to 64, starting with a letter or digit)")
	}
	if strings.Contains(s, "@") {
		return "", invalid("username", "may not contain '@'")
	}
	return s, nil
}

var groupRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// NormalizeGroupName lower-cases a group name and checks it. Commas are not
// allowed so a Remote-Groups list can never be split wrongly.
func NormalizeGroupName(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", invalid("name", "is required")
	}
	if !groupRE.MatchString(s) {
		return "", invalid("name", "may contain only letters, digits, '.', '-' and '_' (up to 64, starting with a letter or digit)")
	}
	return s, nil
}

// CheckPassword tells plainly why a password is not acceptable.
func CheckPassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordLen {
		return invalid("password", fmt.Sprintf("must be at least %d characters", MinPasswordLen))
	}
	if len(p) > MaxPasswordLen {
		return invalid("password", fmt.Sprintf("must be at most %d bytes (bcrypt's limit); yours is %d", MaxPasswordLen, len(p)))
	}
	return nil
}

// NormalizeClaims checks that raw is a JSON object (or empty) and returns it
// compacted.
func NormalizeClaims(raw string) (json.RawMessage, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "{}" || raw == "null" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, invalid("claims", claimsProblem(raw, err))
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, invalid("claims", err.Error())
	}
	return b, nil
}

// claimsProblem says what is wrong with claims JSON in words an admin can
// act on: where the syntax breaks (line and column), or what was given
// instead of an object.
func claimsProblem(raw string, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := 1, 1
		for _, r := range raw[:min(int(syn.Offset), len(raw))] {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		// The offset is just past the offending character.
		if col > 1 {
			col--
		}
		return fmt.Sprintf("are not valid JSON: %s, at line %d, column %d", syn.Error(), line, col)
	case errors.As(err, &typ) && typ.Field == "":
		return "must be a JSON object such as {\"department\": \"sales\"}, not " + typ.Value
	}
	return "must be a JSON object such as {\"department\": \"sales\"}: " + err.Error()
}
