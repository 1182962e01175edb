package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/clinchsso/clinch/config"
	"github.com/clinchsso/clinch/kv"
)

// secretFile is where config keeps a generated SECRET_KEY_BASE, in the
// data directory.
const secretFile = "secret_key_base"

// secretUses and secretWhere say what a store needs its SECRET_KEY_BASE
// for and where an installation keeps it; every refusal about the secret
// repeats them.
const (
	secretUses  = "the store's OIDC signing keys and TOTP secrets are encrypted with it, and its sessions, tokens, API keys and client secrets are checked with HMACs keyed from it"
	secretWhere = "It was kept in SECRET_KEY_BASE (or SECRET_KEY_BASE_FILE) of the installation the store came from or, where that was unset, in the " + secretFile + " file of its data directory"
)

// errSecretMissing is a store without its secret.
var errSecretMissing = errors.New("no SECRET_KEY_BASE")

// checkSecretKept refuses to go on when the data directory holds a store
// but no secret is configured and none is kept there: generating a new one
// (what a first start does) would write a secret the store was not made
// with, and every sealed key in it would then be unreadable. This is the
// state a restore without the secret, or a SECRET_KEY_BASE dropped from the
// environment, leaves behind.
func checkSecretKept(cfg *config.Config) error {
	if cfg.SecretKeyBase != nil || !kv.HasStore(cfg.DataDir) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, secretFile)); !errors.Is(err, fs.ErrNotExist) {
		return nil // there (or unreadable: EnsureSecret will say so)
	}
	return fmt.Errorf("%w: %s holds a store, but SECRET_KEY_BASE is not set and there is no %s file, and a new secret would not open it (%s). Set SECRET_KEY_BASE to the secret the store was made with, or put its %s file back. Nothing was written",
		errSecretMissing, cfg.DataDir, secretFile, secretUses, secretFile)
}

// restoreSecret is the secret a restore checks the backup against:
// SECRET_KEY_BASE (or _FILE) from the environment, else the secret_key_base
// file put into the empty target directory beforehand. where says which,
// for the reminder printed afterwards.
func restoreSecret(cfg *config.Config) (secret []byte, where string, err error) {
	if cfg.SecretKeyBase != nil {
		return cfg.SecretKeyBase, "SECRET_KEY_BASE", nil
	}
	p := filepath.Join(cfg.DataDir, secretFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%w: the backup does not hold it, and the restored store is unusable without it (%s). %s. Set SECRET_KEY_BASE to it, or copy that file to %s, then restore again. Nothing was written",
			errSecretMissing, secretUses, secretWhere, p)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", p, err)
	}
	secret = []byte(strings.TrimSpace(string(b)))
	if len(secret) < 32 {
		return nil, "", fmt.Errorf("%s is shorter than 32 characters", p)
	}
	return secret, p, nil
}
