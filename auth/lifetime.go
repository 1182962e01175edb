package auth

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ParseLifetime reads a lifetime as admins type it, in the CLI and the
// admin pages alike: a number of days ("90d") or a Go duration ("12h",
// "30m"); "" is 0. Negative values are refused.
func ParseLifetime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100000 {
			return 0, errors.New(strconv.Quote(s) + " is not a number of days")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, errors.New(strconv.Quote(s) + " is not a duration like 90d, 12h or 30m")
	}
	return v, nil
}
