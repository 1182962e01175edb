package auth

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Made by Debian's argon2 command (the reference implementation), not by
// the code under test:
//
//	echo -n "correct horse" | argon2 saltsaltsalt -id -t 2 -m 12 -p 2 -e
const (
	refArgon2id = "$argon2id$v=19$m=4096,t=2,p=2$c2FsdHNhbHRzYWx0$/GmN2HRmQrDFSXa5NjpkLY7lq//MFakv677SjLQm8yA"
	refArgon2i  = "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$tb8GZ01DSO8uH+uuS6ojvFXzXXSgJMK3irYqKUPVqaI"
	refArgon2d  = "$argon2d$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$K+bCJNV3uU8SfiFiu5hiL+k3cY15UxZlLkB+auhl2NA"
	refSalt     = "c2FsdHNhbHRzYWx0"
	refKey      = "/GmN2HRmQrDFSXa5NjpkLY7lq//MFakv677SjLQm8yA"
)

func TestParseArgon2(t *testing.T) {
	withParams := func(p string) string { return "$argon2id$v=19$" + p + "$" + refSalt + "$" + refKey }
	tests := []struct {
		name, hash string
		wantErr    string // "" for a good hash
	}{
		{"argon2id from the reference tool", refArgon2id, ""},
		{"argon2i from the reference tool", refArgon2i, ""},
		{"Authelia's defaults", withParams("m=65536,t=3,p=4"), ""},
		{"at every limit", withParams("m=262144,t=16,p=64"), ""},
		{"argon2d", refArgon2d, "argon2d hashes are not supported"},
		{"unknown variant", "$argon2x$v=19$m=4096,t=2,p=2$" + refSalt + "$" + refKey, "unknown variant"},
		{"version 16", "$argon2id$v=16$m=4096,t=2,p=2$" + refSalt + "$" + refKey, "v=19"},
		{"no version", "$argon2id$m=4096,t=2,p=2$" + refSalt + "$" + refKey, "want $variant"},
		{"too few parts", "$argon2id$v=19$m=4096,t=2,p=2$" + refSalt, "want $variant"},
		{"text before", "x$argon2id$v=19$m=4096,t=2,p=2$" + refSalt + "$" + refKey, "want $variant"},
		{"params out of order", withParams("t=2,m=4096,p=2"), "must be m=M,t=T,p=P"},
		{"a param missing", withParams("m=4096,t=2"), "must be m=M,t=T,p=P"},
		{"a param twice", withParams("m=4096,m=4096,p=2"), "must be m=M,t=T,p=P"},
		{"a param not a number", withParams("m=lots,t=2,p=2"), "m is not a number"},
		{"a negative param", withParams("m=4096,t=-1,p=2"), "t is not a number"},
		{"memory 4 GiB: refused, not allocated", withParams("m=4194304,t=1,p=1"), "m=4194304 is outside"},
		{"memory beyond uint32", withParams("m=99999999999,t=1,p=1"), "m is not a number"},
		{"time 1000", withParams("m=4096,t=1000,p=1"), "t=1000 is outside"},
		{"threads 255", withParams("m=65536,t=1,p=255"), "p=255 is outside"},
		{"zero time", withParams("m=4096,t=0,p=1"), "t=0 is outside"},
		{"zero threads", withParams("m=4096,t=1,p=0"), "p=0 is outside"},
		{"memory below 8*p", withParams("m=16,t=1,p=4"), "at least 8*p"},
		{"salt padded base64", "$argon2id$v=19$m=4096,t=2,p=2$" + refSalt + "==$" + refKey, "salt is not unpadded base64"},
		{"salt too short", "$argon2id$v=19$m=4096,t=2,p=2$c2FsdA$" + refKey, "salt is 4 bytes"},
		{"key not base64", "$argon2id$v=19$m=4096,t=2,p=2$" + refSalt + "$!!!!", "hash is not unpadded base64"},
		{"key too short", "$argon2id$v=19$m=4096,t=2,p=2$" + refSalt + "$c2FsdHNhbHQ", "hash is 8 bytes"},
		{"key too long", "$argon2id$v=19$m=4096,t=2,p=2$" + refSalt + "$" + strings.Repeat("A", 200), "hash is 150 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseArgon2(tt.hash)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseArgon2 = %v, want it accepted", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseArgon2 = %v, want an error saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), refKey) || strings.Contains(err.Error(), refSalt) {
				t.Errorf("the error quotes the hash: %v", err)
			}
		})
	}
}

func TestComparePassword(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("correct horse"), 4)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash, password string
		ok                   bool
	}{
		{"argon2id, right", refArgon2id, "correct horse", true},
		{"argon2id, wrong", refArgon2id, "correct horsf", false},
		{"argon2id, empty", refArgon2id, "", false},
		{"argon2i, right", refArgon2i, "correct horse", true},
		{"argon2i, wrong", refArgon2i, "Correct horse", false},
		{"argon2 with a malformed tail", refArgon2id + "$", "correct horse", false},
		{"bcrypt $2a$, right", string(bc), "correct horse", true},
		{"bcrypt $2y$, right", "$2y$" + string(bc[4:]), "correct horse", true},
		{"bcrypt $2b$, right", "$2b$" + string(bc[4:]), "correct horse", true},
		{"bcrypt $2y$, wrong", "$2y$" + string(bc[4:]), "wrong horse", false},
		{"sha512-crypt never matches", "$6$salt$abc", "correct horse", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := comparePassword([]byte(tt.hash), tt.password); (err == nil) != tt.ok {
				t.Fatalf("comparePassword = %v, want match %v", err, tt.ok)
			}
		})
	}
}

func TestCheckImportedHash(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("correct horse"), 4)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, hash string
		wantErr    string
	}{
		{"argon2id", refArgon2id, ""},
		{"argon2i", refArgon2i, ""},
		{"bcrypt $2a$", string(bc), ""},
		{"bcrypt $2y$", "$2y$" + string(bc[4:]), ""},
		{"bcrypt $2b$", "$2b$" + string(bc[4:]), ""},
		{"missing", "", "hash is missing"},
		{"argon2 with huge memory", "$argon2id$v=19$m=4194304,t=1,p=1$" + refSalt + "$" + refKey, "outside"},
		{"bcrypt cost 31", "$2a$31$" + string(bc[7:]), "cost 31 is above 16"},
		{"bcrypt truncated", string(bc[:59]), "59 characters"},
		{"bcrypt bad alphabet", string(bc[:59]) + "!", "malformed"},
		{"bcrypt bad cost", "$2a$xx$" + string(bc[7:]), "malformed"},
		{"sha512-crypt", "$6$rounds=50000$saltsalt$" + strings.Repeat("a", 86), "unsupported kind (sha512-crypt)"},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$c2FsdA$a2V5", "unsupported kind (scrypt)"},
		{"pbkdf2", "$pbkdf2-sha512$310000$c2FsdA$a2V5", "unsupported kind (pbkdf2)"},
		{"md5-crypt", "$1$salt$abc", "unsupported kind ($1$)"},
		{"plain text", "hunter2hunter2", "unsupported kind (not a recognised hash)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckImportedHash(tt.hash)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckImportedHash = %v, want it accepted", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("CheckImportedHash = %v, want an ErrInvalid saying %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error quotes the hash: %v", err)
			}
		})
	}
}

func TestPasswordScheme(t *testing.T) {
	tests := []struct{ hash, want string }{
		{"", "none"},
		{refArgon2id, "argon2id"},
		{refArgon2i, "argon2i"},
		{"$2a$04$abc", "bcrypt"},
		{"$2y$10$abc", "bcrypt"},
		{"$6$x$y", "unknown"},
	}
	for _, tt := range tests {
		if got := (&User{PasswordHash: []byte(tt.hash)}).PasswordScheme(); got != tt.want {
			t.Errorf("PasswordScheme of %.10q = %q, want %q", tt.hash, got, tt.want)
		}
	}
}
