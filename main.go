// Command clinch is a self-hosted identity and single-sign-on portal: one
// binary that serves the sign-in pages, answers reverse proxies'
// ForwardAuth questions and speaks OpenID Connect, keeping everything in an
// embedded Badger store.
//
// With no arguments (or "serve") it runs the server; every other
// sub-command is an admin command (see `clinch help`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/clinchsso/clinch/config"
	"github.com/clinchsso/clinch/control"
	"github.com/clinchsso/clinch/kv"
)

func main() {
	// First, before anything is written: nothing Clinch creates is for
	// other local users.
	restrictUmask()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "serve" || (len(args[0]) > 0 && args[0][0] == '-' && !control.IsHelpFlag(args[0])) {
		if len(args) > 0 && args[0] == "serve" {
			args = args[1:]
		}
		return serve(ctx, args, stdout, stderr)
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, "clinch", version())
		return 0
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout, stderr)
	case "backup":
		return backup(ctx, args[1:], stdout, stderr)
	case "restore":
		return restore(ctx, args[1:], stdout, stderr)
	}
	return admin(ctx, args, stdin, stdout, stderr)
}

func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}

// loadConfig reads the environment for an admin command; flags belong to
// the command itself.
func loadConfig(stderr io.Writer) (*config.Config, int) {
	cfg, err := config.Load(os.LookupEnv, nil, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "clinch:", err)
		return nil, 1
	}
	return cfg, 0
}

// admin runs an admin command in the running server when there is one,
// otherwise against the store opened here.
func admin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if text, ok := control.Usage(args); ok {
		fmt.Fprint(stdout, text)
		return 0
	}
	if _, _, ok := control.Find(args); !ok {
		return unknownCommand(args, stdout, stderr)
	}
	cfg, code := loadConfig(stderr)
	if cfg == nil {
		return code
	}
	in, err := control.Input(args, stdin)
	if err != nil {
		fmt.Fprintln(stderr, "clinch:", err)
		return 1
	}
	var out, errOut string
	var exit int
	if c, err := control.Dial(ctx, cfg.DataDir); err == nil {
		out, errOut, exit, err = c.Exec(ctx, args, in)
		if err != nil {
			fmt.Fprintln(stderr, "clinch:", err)
			return 1
		}
	} else {
		app, err := openApp(ctx, cfg, io.Discard)
		if err != nil {
			fmt.Fprintln(stderr, "clinch:", err)
			return 1
		}
		env := app.controlEnv(nil)
		env.Stdin = in
		out, errOut, exit = control.Exec(ctx, env, args)
		if err := app.Close(); err != nil && exit == 0 {
			fmt.Fprintln(stderr, "clinch: close store:", err)
			return 1
		}
	}
	fmt.Fprint(stdout, out)
	fmt.Fprint(stderr, errOut)
	return exit
}

func backup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, out := backupFlags()
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, backupHelp())
		return 0
	}
	if err != nil || fs.NArg() > 0 || *out == "" {
		fmt.Fprintln(stderr, "clinch backup: usage: clinch backup --out FILE")
		return 2
	}
	cfg, code := loadConfig(stderr)
	if cfg == nil {
		return code
	}
	err = writeFileAtomic(*out, func(w io.Writer) error {
		if c, err := control.Dial(ctx, cfg.DataDir); err == nil {
			return c.Backup(ctx, w)
		}
		st, err := kv.Open(ctx, cfg.DataDir, kv.Options{})
		if err != nil {
			return err
		}
		defer st.Close()
		return st.Backup(ctx, w)
	})
	if err != nil {
		fmt.Fprintln(stderr, "clinch backup:", err)
		return 1
	}
	fmt.Fprintln(stdout, "backup written to", *out)
	fmt.Fprintf(stdout, "It does not hold the secret the store is keyed with: keep SECRET_KEY_BASE (or, when it is not set, %s) with it; a restore needs it.\n", filepath.Join(cfg.DataDir, secretFile))
	return 0
}

// writeFileAtomic writes through a temporary file and renames it into
// place after fsync, so a failed backup never leaves a file that looks
// complete.
func writeFileAtomic(path string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".clinch-backup-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := fill(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
