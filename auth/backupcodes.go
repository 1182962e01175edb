package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Backup codes: BackupCodeCount single-use codes of backupCodeLen
// characters from Crockford's base32 alphabet (50 bits each), shown once
// when made, printed as "7k2mq-x9d4f". Only an HMAC of each (keyed from
// SECRET_KEY_BASE and bound to the user) is stored, like every other
// bearer secret: the key is outside the store, and the TOTP secret beside
// them falls with that key anyway, so bcrypt would add a cost to every
// attempt and nothing to the protection.
const (
	BackupCodeCount = 10
	backupCodeLen   = 10
	backupAlphabet  = "0123456789abcdefghjkmnpqrstvwxyz"
)

// backupCode is one stored code.
type backupCode struct {
	Hash   string    `json:"hash"`
	UsedAt time.Time `json:"used_at,omitzero"`
}

// newBackupCodes returns a fresh set, as shown to the person, and their
// stored form for the user.
func (s *Service) newBackupCodes(userID string) ([]string, []backupCode) {
	shown := make([]string, BackupCodeCount)
	stored := make([]backupCode, BackupCodeCount)
	buf := make([]byte, backupCodeLen)
	for i := range shown {
		if _, err := rand.Read(buf); err != nil {
			panic(fmt.Sprintf("auth: crypto/rand failed: %v", err))
		}
		var b strings.Builder
		for _, x := range buf {
			b.WriteByte(backupAlphabet[x&31]) // 32 letters: 5 bits, no bias
		}
		c := b.String()
		shown[i] = c[:5] + "-" + c[5:]
		stored[i] = backupCode{Hash: s.backupHash(userID, c)}
	}
	return shown, stored
}

// backupHash is the stored form of a normalised code of the user.
func (s *Service) backupHash(userID, code string) string {
	return base64.RawURLEncoding.EncodeToString(s.secrets.MAC("backup-code", []byte(userID+"\x00"+code)))
}

// normalizeBackupCode maps a lower-case code without separators onto the
// alphabet, reading the letters people confuse with digits (i and l as 1,
// o as 0) as Crockford's base32 does; false when it has other characters.
func normalizeBackupCode(s string) (string, bool) {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case 'i', 'l':
			b[i] = '1'
		case 'o':
			b[i] = '0'
		}
		if !strings.ContainsRune(backupAlphabet, rune(b[i])) {
			return "", false
		}
	}
	return string(b), true
}

// useBackupCode marks the code used in codes and returns nil, or
// ErrCodeUsed (with when it was used) for a code used before, or
// ErrWrongCode. Every stored hash is compared, in constant time.
func (s *Service) useBackupCode(codes []backupCode, userID, code string, now time.Time) error {
	h := []byte(s.backupHash(userID, code))
	found := -1
	for i := range codes {
		if subtle.ConstantTimeCompare([]byte(codes[i].Hash), h) == 1 {
			found = i
		}
	}
	switch {
	case found < 0:
		return ErrWrongCode
	case !codes[found].UsedAt.IsZero():
		return &UsedCodeError{At: codes[found].UsedAt}
	}
	codes[found].UsedAt = now.UTC()
	return nil
}

// UsedCodeError is ErrCodeUsed for a backup code: At says when it was
// used. It matches ErrCodeUsed.
type UsedCodeError struct{ At time.Time }

func (e *UsedCodeError) Error() string {
	return "this backup code was already used, on " + e.At.UTC().Format("2 Jan 2006 at 15:04 UTC")
}
func (e *UsedCodeError) Is(err error) bool { return err == ErrCodeUsed }

// backupCodesLeft counts the unused codes.
func backupCodesLeft(codes []backupCode) int {
	n := 0
	for _, c := range codes {
		if c.UsedAt.IsZero() {
			n++
		}
	}
	return n
}
