package auth

import (
	"strconv"
	"strings"
	"unicode"
)

// CodeKind says what a typed second-factor code is.
type CodeKind int

const (
	CodeTOTP   CodeKind = iota + 1 // six digits from an authenticator app
	CodeBackup                     // a backup code
)

// ParseCode reads what a person typed into a code box. Spaces and dashes
// anywhere are dropped (apps show "123 456", backup codes are printed as
// "7k2mq-x9d4f") and letters are lower-cased, so "12 3456" is the code
// 123456. Six digits are a TOTP code; ten characters of the backup-code
// alphabet a backup code (only when backup is true). Anything else is a
// *CodeFormatError saying what a code looks like, so a person learns at
// once that "12345" lacks a digit; such input is never checked or counted
// as an attempt, since it cannot be right.
func ParseCode(in string, backup bool) (CodeKind, string, error) {
	s := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return unicode.ToLower(r)
	}, in)
	totpOnly := "Enter the 6-digit code your authenticator app shows."
	both := "Enter the 6-digit code from your authenticator app, or one of your backup codes."
	switch {
	case s == "" && backup:
		return 0, "", &CodeFormatError{Reason: both}
	case s == "":
		return 0, "", &CodeFormatError{Reason: totpOnly}
	case allDigits(s) && len(s) == TOTPDigits:
		return CodeTOTP, s, nil
	}
	if backup && len(s) == backupCodeLen {
		if c, ok := normalizeBackupCode(s); ok {
			return CodeBackup, c, nil
		}
	}
	if allDigits(s) {
		n := strconv.Itoa(len(s))
		if backup {
			return 0, "", &CodeFormatError{Reason: "A code from your authenticator app has 6 digits; that has " + n + ". A backup code has 10 letters and digits."}
		}
		return 0, "", &CodeFormatError{Reason: "A code from your authenticator app has 6 digits; that has " + n + "."}
	}
	if backup {
		return 0, "", &CodeFormatError{Reason: "That is not a code: your authenticator app shows 6 digits, and a backup code has 10 letters and digits (like 7k2mq-x9d4f)."}
	}
	return 0, "", &CodeFormatError{Reason: "That is not a code: enter the 6 digits your authenticator app shows."}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
