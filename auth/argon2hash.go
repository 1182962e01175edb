package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Limits on the parameters of an imported argon2 hash. Verifying one costs
// Memory KiB and Time passes, at every sign-in until it is replaced by
// bcrypt, so a hash beyond these is refused at import rather than risk
// exhausting the server's memory. Authelia's defaults (m=65536, t=3, p=4)
// and its documented profiles fit well within them.
const (
	Argon2MaxMemory  = 256 << 10 // KiB: 256 MiB
	Argon2MaxTime    = 16
	Argon2MaxThreads = 64
	argon2MinSalt    = 8
	argon2MaxSalt    = 64
	argon2MinKey     = 16
	argon2MaxKey     = 128
)

// argon2Hash is a parsed PHC string,
// $argon2id$v=19$m=65536,t=3,p=4$salt$key (salt and key unpadded base64).
type argon2Hash struct {
	variant   string // "argon2id" or "argon2i"
	memory    uint32 // KiB
	time      uint32
	threads   uint8
	salt, key []byte
}

// parseArgon2 parses and bounds-checks an argon2id or argon2i hash. Its
// errors say what is wrong for a person and never quote the hash.
func parseArgon2(s string) (*argon2Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, fmt.Errorf("argon2 hash: want $variant$v=19$m=...,t=...,p=...$salt$hash")
	}
	h := &argon2Hash{variant: parts[1]}
	switch h.variant {
	case "argon2id", "argon2i":
	case "argon2d":
		return nil, fmt.Errorf("argon2d hashes are not supported (only argon2id and argon2i)")
	default:
		return nil, fmt.Errorf("argon2 hash: unknown variant")
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("argon2 hash: version must be v=19")
	}
	if err := h.parseParams(parts[3]); err != nil {
		return nil, err
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil {
		return nil, fmt.Errorf("argon2 hash: salt is not unpadded base64")
	}
	if h.key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil {
		return nil, fmt.Errorf("argon2 hash: hash is not unpadded base64")
	}
	if n := len(h.salt); n < argon2MinSalt || n > argon2MaxSalt {
		return nil, fmt.Errorf("argon2 hash: salt is %d bytes, want %d to %d", n, argon2MinSalt, argon2MaxSalt)
	}
	if n := len(h.key); n < argon2MinKey || n > argon2MaxKey {
		return nil, fmt.Errorf("argon2 hash: hash is %d bytes, want %d to %d", n, argon2MinKey, argon2MaxKey)
	}
	return h, nil
}

// parseParams reads "m=65536,t=3,p=4" in that order, each exactly once.
func (h *argon2Hash) parseParams(s string) error {
	kvs := strings.Split(s, ",")
	if len(kvs) != 3 {
		return fmt.Errorf("argon2 hash: parameters must be m=M,t=T,p=P")
	}
	limits := []struct {
		name string
		min  uint64
		max  uint64
	}{{"m", 8, Argon2MaxMemory}, {"t", 1, Argon2MaxTime}, {"p", 1, Argon2MaxThreads}}
	vals := make([]uint64, 3)
	for i, l := range limits {
		name, val, ok := strings.Cut(kvs[i], "=")
		if !ok || name != l.name {
			return fmt.Errorf("argon2 hash: parameters must be m=M,t=T,p=P")
		}
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return fmt.Errorf("argon2 hash: %s is not a number", l.name)
		}
		if n < l.min || n > l.max {
			return fmt.Errorf("argon2 hash: %s=%d is outside %d..%d", l.name, n, l.min, l.max)
		}
		vals[i] = n
	}
	h.memory, h.time, h.threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if uint64(h.memory) < 8*uint64(h.threads) {
		return fmt.Errorf("argon2 hash: m must be at least 8*p")
	}
	return nil
}

// verify reports, in constant time over the derived key, whether password
// matches.
func (h *argon2Hash) verify(password string) bool {
	var k []byte
	n := uint32(len(h.key))
	if h.variant == "argon2i" {
		k = argon2.Key([]byte(password), h.salt, h.time, h.memory, h.threads, n)
	} else {
		k = argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, n)
	}
	return subtle.ConstantTimeCompare(k, h.key) == 1
}
