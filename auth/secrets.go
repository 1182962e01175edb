package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// Secrets derives every key Clinch needs from SECRET_KEY_BASE: one for
// hashing bearer secrets before they are stored, one for encrypting values at
// rest. Derivation is HKDF-SHA256 with a purpose label, so a leak of one key
// does not give the others.
type Secrets struct {
	tokenKey []byte
	encKey   []byte
	aead     cipher.AEAD
	// hashers reuses HMAC states: Hash runs on every /api/verify request,
	// and a fresh state costs it nine allocations.
	hashers sync.Pool // of *hasher
}

// hasher is a keyed HMAC state and a scratch buffer for the input.
type hasher struct {
	mac hash.Hash
	buf []byte
}

// NewSecrets derives the keys from the base secret (at least 32 bytes).
func NewSecrets(base []byte) (*Secrets, error) {
	if len(base) < 32 {
		return nil, errors.New("auth: SECRET_KEY_BASE must be at least 32 bytes")
	}
	tk, err := hkdf.Key(sha256.New, base, nil, "clinch token hmac v1", 32)
	if err != nil {
		return nil, err
	}
	ek, err := hkdf.Key(sha256.New, base, nil, "clinch at-rest aes-gcm v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(ek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Secrets{tokenKey: tk, encKey: ek, aead: aead}, nil
}

// Token prefixes make a leaked secret recognisable for what it is.
const (
	PrefixSessionToken = "cs_"
	PrefixFAToken      = "cfa_"
	PrefixAPIKey       = "cak_"
	PrefixCode         = "cac_"
	PrefixAccessToken  = "cat_"
	PrefixRefreshToken = "crt_"
	PrefixResetToken   = "crs_"
	PrefixInviteToken  = "civ_"
	PrefixMagicToken   = "cml_"
	PrefixEmailToken   = "cec_"
	PrefixAdminToken   = "cadm_"
)

// NewToken returns a fresh 256-bit bearer secret with the prefix, and the
// hash under which it is stored.
func (s *Secrets) NewToken(prefix string) (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("auth: crypto/rand failed: %v", err))
	}
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, s.Hash(token)
}

// Hash is the storage key of a bearer secret: HMAC-SHA256 under the token
// key, base64url. Lookups by hash are the constant-time comparison: the
// secret itself is never compared byte by byte.
func (s *Secrets) Hash(token string) string {
	h, _ := s.hashers.Get().(*hasher)
	if h == nil {
		h = &hasher{mac: hmac.New(sha256.New, s.tokenKey)}
	}
	h.mac.Reset()
	h.buf = append(h.buf[:0], token...)
	h.mac.Write(h.buf)
	var sum [sha256.Size]byte
	var out [44]byte // base64 of 32 bytes, unpadded: 43
	base64.RawURLEncoding.Encode(out[:], h.mac.Sum(sum[:0]))
	if cap(h.buf) <= 4096 {
		s.hashers.Put(h)
	}
	return string(out[:base64.RawURLEncoding.EncodedLen(sha256.Size)])
}

// HasPrefix reports whether token looks like one of ours of that kind.
func HasPrefix(token, prefix string) bool { return strings.HasPrefix(token, prefix) }

// Seal encrypts plaintext for storage, bound to the label (for example the
// key it is stored under) so a ciphertext cannot be moved to another record.
func (s *Secrets) Seal(plaintext []byte, label string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("auth: crypto/rand failed: %v", err))
	}
	return s.aead.Seal(nonce, nonce, plaintext, []byte(label))
}

// Open decrypts what Seal produced with the same label.
func (s *Secrets) Open(ciphertext []byte, label string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ciphertext) < n {
		return nil, errors.New("auth: ciphertext too short")
	}
	pt, err := s.aead.Open(nil, ciphertext[:n], ciphertext[n:], []byte(label))
	if err != nil {
		return nil, fmt.Errorf("auth: decrypt %s: %w", label, err)
	}
	return pt, nil
}

// MAC returns HMAC-SHA256 of msg under a key derived for the purpose; used
// for CSRF tokens and other values the server must recognise as its own.
func (s *Secrets) MAC(purpose string, msg []byte) []byte {
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(msg)
	return m.Sum(nil)
}

// NewID returns a random 128-bit identifier, URL-safe.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("auth: crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
