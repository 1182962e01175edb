package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP as every authenticator app speaks it (RFC 6238): HMAC-SHA1, six
// digits, a 30-second step, and one step of clock skew either way. A
// 160-bit secret, as RFC 4226 recommends.
const (
	TOTPDigits     = 6
	TOTPPeriod     = 30 * time.Second
	TOTPSkew       = 1
	totpSecretSize = 20
)

var (
	totpOpts = hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	// b32 is how secrets are written for people and apps: RFC 4648
	// base32 without padding, upper case.
	b32 = base32.StdEncoding.WithPadding(base32.NoPadding)
)

// newTOTPSecret returns a fresh random secret in base32.
func newTOTPSecret() string {
	b := make([]byte, totpSecretSize)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("auth: crypto/rand failed: %v", err))
	}
	return b32.EncodeToString(b)
}

// totpStep is the time step now falls in.
func totpStep(now time.Time) int64 {
	return now.Unix() / int64(TOTPPeriod/time.Second)
}

// matchTOTP checks a six-digit code against the secret at now, within
// TOTPSkew steps either way. A code is accepted only for a step after
// last, the step of the code accepted before (0: none), so no code, and no
// code older than an accepted one, is accepted twice. It returns the step
// the code belongs to, or ErrCodeUsed for a code of step last or before,
// or ErrWrongCode. Every step in the window is computed and compared in
// constant time, whichever matches.
func matchTOTP(secret, code string, now time.Time, last int64) (int64, error) {
	cur := totpStep(now)
	var best int64
	used := false
	for d := int64(-TOTPSkew); d <= TOTPSkew; d++ {
		step := cur + d
		if step < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), totpOpts)
		if err != nil {
			return 0, fmt.Errorf("auth: totp: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if step <= last {
			used = true
		} else if step > best {
			best = step
		}
	}
	switch {
	case best > 0:
		return best, nil
	case used:
		return 0, ErrCodeUsed
	}
	return 0, ErrWrongCode
}

// TOTPKeyURI is the otpauth:// URI an authenticator app reads from a QR
// code: the secret (base32), the issuer the app shows (no ':'), the
// account name, and Clinch's parameters (SHA1, 6 digits, 30 s).
func TOTPKeyURI(issuer, account, secret string) (string, error) {
	raw, err := b32.DecodeString(secret)
	if err != nil {
		return "", fmt.Errorf("auth: totp secret: %w", err)
	}
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: strings.ReplaceAll(issuer, ":", " "), AccountName: account, Secret: raw,
		Period: uint(TOTPPeriod / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("auth: totp uri: %w", err)
	}
	return k.URL(), nil
}
