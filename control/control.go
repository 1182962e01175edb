// Package control is Clinch's admin command set: the `clinch user|group|app`
// sub-commands. A command runs in the server process when one is serving the
// data directory (the CLI forwards it over a unix socket there, so the store
// has one writer), and in the CLI's own process otherwise. Either way the
// same Exec runs it against the same services.
package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

// Env is what commands run against.
type Env struct {
	Auth  *auth.Service
	Store *kv.Store
	// Keys rotates the OIDC signing key; nil when not available.
	Keys interface {
		Rotate(ctx context.Context) (kid string, err error)
	}
	// Tokens revokes a user's OIDC grants; nil when not available.
	Tokens interface {
		RevokeUser(ctx context.Context, userID, appID string) (int, error)
	}
	// ResetLink is the URL a password-reset token is used at; nil: reset
	// links cannot be printed.
	ResetLink func(token string) string
	// InviteLink is the URL an invitation token is used at; nil:
	// invitations cannot be made here.
	InviteLink func(token string) string
	// SendInvite mails an invitation link to the user (in the server: it
	// queues the mail); nil when no mail is configured, and `user invite`
	// prints the link instead.
	SendInvite func(ctx context.Context, u *auth.User, link string) error
	// Mail is the running server's mail queue; nil when the command runs
	// in the CLI's own process.
	Mail MailStatus
	// Audit is the audit trail `clinch audit` reads; nil when not
	// available.
	Audit AuditTrail
	// Stdin is what the CLI read for the command: the password piped in
	// for --password-stdin, or the file named by --in (Command.InFile).
	Stdin []byte
}

// Command is one admin command.
type Command struct {
	Name    string // the words after "clinch", e.g. "user create"
	Summary string
	Run     func(ctx context.Context, env *Env, args []string, out io.Writer) error
	// InFile: the CLI reads the file named by --in and passes its content
	// as Env.Stdin (see Input); the command never opens a path itself.
	InFile bool
}

// UsageError is a mistake in how a command was called (exit status 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// Commands is the whole command table, in help order.
func Commands() []Command {
	return slices.Concat(userCommands(), mfaCommands(), groupCommands(), appCommands(), keyCommands(), importCommands(), mailCommands(), auditCommands(), adminTokenCommands())
}

// Find returns the command named by the leading words of args and the
// remaining arguments.
func Find(args []string) (*Command, []string, bool) {
	cmds := Commands()
	// Longest name first, so "user sessions revoke" wins over "user".
	slices.SortFunc(cmds, func(a, b Command) int { return len(b.Name) - len(a.Name) })
	for i := range cmds {
		words := strings.Fields(cmds[i].Name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return &cmds[i], args[len(words):], true
		}
	}
	return nil, nil, false
}

// NeedsStdin reports whether the arguments ask for a password on stdin, so
// the CLI knows to read it before forwarding the command.
func NeedsStdin(args []string) bool {
	for _, a := range args {
		if a == "--password-stdin" || a == "-password-stdin" {
			return true
		}
	}
	return false
}

// Exec runs the command in args and returns what it printed and its exit
// status: 0 ok, 1 failure (one line on stderr), 2 usage error.
func Exec(ctx context.Context, env *Env, args []string) (stdout, stderr string, exit int) {
	// Whatever a command changes, the audit trail names the CLI as who
	// did it: whoever can run it holds the server's shell.
	ctx = audit.WithOrigin(ctx, audit.Origin{Actor: audit.ActorCLI})
	cmd, rest, ok := Find(args)
	if !ok {
		return "", "clinch: unknown command " + strings.Join(args, " ") + "\n" + Help(), 2
	}
	var out bytes.Buffer
	err := cmd.Run(ctx, env, rest, &out)
	if u, ok := usageOf(err); ok {
		err = u
	}
	var ue *UsageError
	var hr *helpRequest
	switch {
	case errors.As(err, &hr):
		return CommandHelp(cmd), "", 0
	case err == nil:
		return out.String(), "", 0
	case errors.As(err, &ue):
		return out.String(), "clinch " + cmd.Name + ": " + ue.Msg + "\n", 2
	default:
		return out.String(), "clinch " + cmd.Name + ": " + oneLine(err.Error()) + "\n", 1
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Help lists the commands.
func Help() string {
	var b strings.Builder
	b.WriteString("usage: clinch [serve|version|backup|restore|<command>] [flags]\n")
	b.WriteString("`clinch help COMMAND` or `clinch COMMAND --help` prints a command's flags.\n\ncommands:\n")
	b.WriteString("  serve                 run the server (default)\n")
	b.WriteString("  version               print the version\n")
	b.WriteString("  backup --out FILE     write a consistent backup (while serving or stopped)\n")
	b.WriteString("  restore --in FILE     load a backup into an empty data directory\n")
	for _, c := range Commands() {
		fmt.Fprintf(&b, "  %-22s%s\n", c.Name, c.Summary)
	}
	return b.String()
}

// newFlags returns a flag set that reports errors as UsageError and prints
// nothing by itself.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("clinch "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &helpRequest{flags: fs}
		}
		return &UsageError{Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func stdinPassword(env *Env) (string, error) {
	p := strings.TrimRight(string(env.Stdin), "\r\n")
	if p == "" {
		return "", errors.New("no password on standard input")
	}
	return p, nil
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
