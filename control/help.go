package control

import (
	"context"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
)

// helpRequest is what parse returns for -h, -help or --help: the command's
// flags, for its help text. Exec turns it into that text and exit 0.
type helpRequest struct{ flags *flag.FlagSet }

func (*helpRequest) Error() string { return "help requested" }

// IsHelpFlag reports whether arg asks for help.
func IsHelpFlag(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// Usage returns the help of the command named by args when the rest of
// args asks for it (-h, -help or --help anywhere): the command's summary
// and every flag. It touches no store, so the CLI answers it before
// loading any configuration.
func Usage(args []string) (string, bool) {
	cmd, rest, ok := Find(args)
	if !ok || !slices.ContainsFunc(rest, IsHelpFlag) {
		return "", false
	}
	return CommandHelp(cmd), true
}

// CommandHelp is the help of one command. Every command parses its flags
// before it uses its Env, so running it with only "-h" stops at the
// parse and hands back its flag set.
func CommandHelp(cmd *Command) string {
	var b strings.Builder
	b.WriteString("usage: clinch " + cmd.Name + " " + cmd.Summary + "\n")
	err := cmd.Run(context.Background(), &Env{}, []string{"-h"}, io.Discard)
	var hr *helpRequest
	if errors.As(err, &hr) {
		writeFlags(&b, hr.flags)
	}
	return b.String()
}

// writeFlags lists a flag set's flags, or says there are none.
func writeFlags(b *strings.Builder, fs *flag.FlagSet) {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		b.WriteString("\nno flags\n")
		return
	}
	b.WriteString("\nflags:\n")
	fs.SetOutput(b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// GroupHelp lists the commands whose names start with the words in
// prefix ("user", "app apikey"); false when there are none.
func GroupHelp(prefix []string) (string, bool) {
	p := strings.Join(prefix, " ") + " "
	var b strings.Builder
	for _, c := range Commands() {
		if strings.HasPrefix(c.Name, p) {
			b.WriteString("  clinch " + c.Name + " " + c.Summary + "\n")
		}
	}
	if b.Len() == 0 {
		return "", false
	}
	return "commands of clinch " + strings.TrimSpace(p) + " (each takes --help):\n" + b.String(), true
}
