package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/clinchsso/clinch/config"
	"github.com/clinchsso/clinch/control"
)

// help answers `clinch help [COMMAND...]`: the command list, or one
// command's flags. It exits 0, or 2 for a command that does not exist.
func help(topic []string, stdout, stderr io.Writer) int {
	if len(topic) == 0 {
		fmt.Fprint(stdout, control.Help())
		return 0
	}
	if text, ok := builtinHelp(topic[0]); ok && len(topic) == 1 {
		fmt.Fprint(stdout, text)
		return 0
	}
	if cmd, rest, ok := control.Find(topic); ok && len(rest) == 0 {
		fmt.Fprint(stdout, control.CommandHelp(cmd))
		return 0
	}
	if text, ok := control.GroupHelp(topic); ok {
		fmt.Fprint(stdout, text)
		return 0
	}
	fmt.Fprintf(stderr, "clinch help: unknown command %q\n\n%s", strings.Join(topic, " "), control.Help())
	return 2
}

// unknownCommand answers a command line that names no command: the
// commands of a group ("clinch user --help" is help, exit 0; a bare
// "clinch user" is a usage error), else the whole list.
func unknownCommand(args []string, stdout, stderr io.Writer) int {
	words := args
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			words = args[:i]
			break
		}
	}
	wantsHelp := false
	for _, a := range args {
		wantsHelp = wantsHelp || control.IsHelpFlag(a)
	}
	if text, ok := control.GroupHelp(words); ok && len(words) > 0 {
		if wantsHelp {
			fmt.Fprint(stdout, text)
			return 0
		}
		fmt.Fprintf(stderr, "clinch: %q needs a sub-command\n\n%s", strings.Join(words, " "), text)
		return 2
	}
	fmt.Fprintf(stderr, "clinch: unknown command %q\n\n%s", strings.Join(args, " "), control.Help())
	return 2
}

// builtinHelp is the help of the commands main itself runs.
func builtinHelp(name string) (string, bool) {
	switch name {
	case "serve":
		return config.Usage(), true
	case "backup":
		return backupHelp(), true
	case "restore":
		return restoreHelp(), true
	case "version":
		return "usage: clinch version\n\nprints the version and exits\n\nno flags\n", true
	}
	return "", false
}

func backupFlags() (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("clinch backup", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, fs.String("out", "", "file to write the backup to (required)")
}

func backupHelp() string {
	fs, _ := backupFlags()
	return flagsHelp("usage: clinch backup --out FILE\n\n"+
		"writes a consistent backup of the data directory, while Clinch serves or when it is stopped;\n"+
		"keep SECRET_KEY_BASE (or <data dir>/secret_key_base) with it\n", fs)
}

func restoreFlags() (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("clinch restore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, fs.String("in", "", "backup file to restore (required)")
}

func restoreHelp() string {
	fs, _ := restoreFlags()
	return flagsHelp("usage: clinch restore --in FILE\n\n"+
		"loads a backup into CLINCH_DATA_DIR, which must be empty; start Clinch there with the\n"+
		"SECRET_KEY_BASE of the backed-up installation\n", fs)
}

func flagsHelp(head string, fs *flag.FlagSet) string {
	var b strings.Builder
	b.WriteString(head + "\nflags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}
