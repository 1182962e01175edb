package authtest

import (
	"testing"
	"time"
)

// RFC 6238 Appendix B's SHA1 vectors (the 8-digit codes' last 6 digits),
// for its 20-byte ASCII key "12345678901234567890".
func TestTOTP_RFC6238Vectors(t *testing.T) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // base32 of "12345678901234567890"
	tests := []struct {
		unix int64
		want string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	}
	for _, tt := range tests {
		if got := TOTP(t, secret, time.Unix(tt.unix, 0)); got != tt.want {
			t.Errorf("TOTP at %d = %s, want %s", tt.unix, got, tt.want)
		}
	}
}
