package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/config"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/oidc/keys"
)

// restore loads a backup into an empty data directory. Everything it can
// refuse for is checked before anything is written: the directory is
// empty (but for a secret_key_base file), the secret is there, and it
// opens the backup's signing keys (the backup is loaded in memory first).
func restore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, in := restoreFlags()
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, restoreHelp())
		return 0
	}
	if err != nil || fs.NArg() > 0 || *in == "" {
		fmt.Fprintln(stderr, "clinch restore: usage: clinch restore --in FILE   (into CLINCH_DATA_DIR, which must be empty; with the SECRET_KEY_BASE of the installation the backup came from, or its secret_key_base file put in CLINCH_DATA_DIR first)")
		return 2
	}
	cfg, code := loadConfig(stderr)
	if cfg == nil {
		return code
	}
	if err := restoreInto(ctx, cfg, *in); err != nil {
		if errors.Is(err, kv.ErrNotEmpty) {
			fmt.Fprintf(stderr, "clinch restore: %s is not empty; restore only into an empty data directory (it may hold the %s file)\n", cfg.DataDir, secretFile)
			return 1
		}
		fmt.Fprintln(stderr, "clinch restore:", err)
		return 1
	}
	fmt.Fprintln(stdout, "restored into", cfg.DataDir)
	if cfg.SecretKeyBase != nil {
		fmt.Fprintln(stdout, "Run clinch there with the same SECRET_KEY_BASE as this restore: the backup does not hold it, and nothing in the store opens without it.")
	} else {
		fmt.Fprintf(stdout, "The store's secret is the %s file in %s: keep it with the data (and with every backup); nothing in the store opens without it.\n", secretFile, cfg.DataDir)
	}
	return 0
}

func restoreInto(ctx context.Context, cfg *config.Config, file string) error {
	if err := kv.CheckEmpty(cfg.DataDir, secretFile); err != nil {
		return err
	}
	base, where, err := restoreSecret(cfg)
	if err != nil {
		return err
	}
	secrets, err := auth.NewSecrets(base)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	mem, err := kv.Inspect(ctx, f)
	if err != nil {
		return err
	}
	_, err = keys.CheckSecret(ctx, mem, secrets)
	mem.Close()
	if errors.Is(err, keys.ErrWrongSecret) {
		return fmt.Errorf("%s is not the secret this backup was made with: the backup's OIDC signing keys do not decrypt with it, so the restored store would be unusable. %s. Nothing was written", where, secretWhere)
	}
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return kv.Restore(ctx, cfg.DataDir, f, kv.Options{}, secretFile)
}
