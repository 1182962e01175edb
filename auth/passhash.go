package auth

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Clinch makes bcrypt hashes. It also verifies argon2id and argon2i hashes
// taken over from another server (ImportUser): such a hash works as it is
// and is replaced by bcrypt at the configured cost at the next successful
// sign-in (rehashFor).

// MaxImportedBcryptCost bounds the cost of an imported bcrypt hash: each
// step doubles the time of every sign-in until it is rehashed.
const MaxImportedBcryptCost = 16

// comparePassword checks password against a stored hash of any kind Clinch
// accepts. nil means it matches.
func comparePassword(hash []byte, password string) error {
	if strings.HasPrefix(string(hash), "$argon2") {
		h, err := parseArgon2(string(hash))
		if err != nil {
			return err
		}
		if !h.verify(password) {
			return bcrypt.ErrMismatchedHashAndPassword
		}
		return nil
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(password))
}

// CheckImportedHash tells whether a password hash from another server can
// be stored as it is: bcrypt ($2a$, $2b$, $2y$, cost 4 to
// MaxImportedBcryptCost) or argon2id/argon2i (v=19, within the Argon2Max*
// limits). Its error says why not, for a person, and never quotes the hash.
func CheckImportedHash(hash string) error {
	switch {
	case hash == "":
		return invalid("password", "hash is missing")
	case strings.HasPrefix(hash, "$argon2"):
		if _, err := parseArgon2(hash); err != nil {
			return invalid("password", err.Error())
		}
		return nil
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		return checkBcrypt(hash)
	}
	return invalid("password", "hash is of an unsupported kind ("+hashKind(hash)+"); supported: argon2id, argon2i, bcrypt. Set a password with `clinch user set-password` instead")
}

func checkBcrypt(hash string) error {
	if len(hash) != 60 {
		return invalid("password", fmt.Sprintf("bcrypt hash is %d characters, want 60", len(hash)))
	}
	c, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return invalid("password", "bcrypt hash is malformed")
	}
	if c > MaxImportedBcryptCost {
		return invalid("password", fmt.Sprintf("bcrypt cost %d is above %d", c, MaxImportedBcryptCost))
	}
	// bcrypt checks the salt and digest only when comparing, which costs
	// 2^cost rounds; check their alphabet here instead.
	for _, r := range hash[7:] {
		if !strings.ContainsRune(bcryptAlphabet, r) {
			return invalid("password", "bcrypt hash is malformed")
		}
	}
	return nil
}

const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// hashKind names a hash's scheme from its prefix, for messages.
func hashKind(hash string) string {
	switch {
	case strings.HasPrefix(hash, "$6$"):
		return "sha512-crypt"
	case strings.HasPrefix(hash, "$5$"):
		return "sha256-crypt"
	case strings.HasPrefix(hash, "$scrypt$"):
		return "scrypt"
	case strings.HasPrefix(hash, "$pbkdf2"):
		return "pbkdf2"
	case strings.HasPrefix(hash, "$"):
		if i := strings.IndexByte(hash[1:], '$'); i > 0 && i <= 20 {
			return "$" + hash[1:1+i] + "$"
		}
	}
	return "not a recognised hash"
}

// PasswordScheme names the kind of the user's stored password hash:
// "bcrypt", "argon2id" or "argon2i" (imported, not yet replaced by a
// sign-in), or "none".
func (u *User) PasswordScheme() string {
	h := string(u.PasswordHash)
	switch {
	case h == "":
		return "none"
	case strings.HasPrefix(h, "$argon2id$"):
		return "argon2id"
	case strings.HasPrefix(h, "$argon2i$"):
		return "argon2i"
	case strings.HasPrefix(h, "$2"):
		return "bcrypt"
	}
	return "unknown"
}
