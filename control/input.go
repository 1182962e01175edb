package control

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxInputFile is the largest file a command with InFile takes.
const MaxInputFile = 8 << 20

// Input is what the CLI process reads before it runs the command in args,
// in the server or in its own process: the password for --password-stdin,
// or the content of the file named by --in for a command with InFile ("-"
// reads standard input). The file is opened here, with the rights of
// whoever runs the command, and only its content goes on, so the server
// never opens a path named over the control socket. nil when the command
// reads nothing.
func Input(args []string, stdin io.Reader) ([]byte, error) {
	if NeedsStdin(args) {
		b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return b, nil
	}
	cmd, rest, ok := Find(args)
	if !ok || !cmd.InFile {
		return nil, nil
	}
	path, ok := inFlag(rest)
	if !ok {
		return nil, nil // the command reports the missing flag
	}
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read --in: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxInputFile+1))
	if err != nil {
		return nil, fmt.Errorf("read --in: %w", err)
	}
	if len(b) > MaxInputFile {
		return nil, errors.New("read --in: the file is larger than 8 MiB")
	}
	return b, nil
}

// inFlag finds the value of --in (or -in, with a space or '=') in args,
// as the flag package would parse it: not after "--".
func inFlag(args []string) (string, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return "", false
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "in" {
			continue
		}
		if hasVal {
			return val, true
		}
		if i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}
