package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `clinch help`, `clinch help COMMAND`, `clinch COMMAND --help` and -h
// print help on stdout and exit 0 without touching a data directory.
func TestRun_Help(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("CLINCH_DATA_DIR", dir)
	tests := []struct {
		args []string
		exit int
		want []string
	}{
		{[]string{"help"}, 0, []string{"user create", "app apikey create", "keys rotate", "backup", "clinch help COMMAND"}},
		{[]string{"-h"}, 0, []string{"commands:"}},
		{[]string{"--help"}, 0, []string{"commands:"}},
		{[]string{"-help"}, 0, []string{"commands:"}},
		{[]string{"serve", "--help"}, 0, []string{"CLINCH_LISTEN", "SECRET_KEY_BASE_FILE", "OIDC_PRIVATE_KEY_FILE", "--trusted-proxies"}},
		{[]string{"serve", "-h"}, 0, []string{"CLINCH_HOST"}},
		{[]string{"help", "serve"}, 0, []string{"FORCE_SSL", "--force-ssl"}},
		{[]string{"user", "create", "--help"}, 0, []string{"usage: clinch user create", "-password-stdin"}},
		{[]string{"user", "create", "--email", "x@example.com", "-h"}, 0, []string{"usage: clinch user create"}},
		{[]string{"help", "app", "create"}, 0, []string{"usage: clinch app create", "-launch-url"}},
		{[]string{"app", "--help"}, 0, []string{"clinch app create", "clinch app secret rotate"}},
		{[]string{"help", "app", "apikey"}, 0, []string{"clinch app apikey revoke"}},
		{[]string{"backup", "--help"}, 0, []string{"usage: clinch backup", "-out"}},
		{[]string{"restore", "-h"}, 0, []string{"usage: clinch restore", "-in", "SECRET_KEY_BASE"}},
		{[]string{"help", "restore"}, 0, []string{"usage: clinch restore"}},
		{[]string{"help", "version"}, 0, []string{"usage: clinch version"}},
		{[]string{"help", "nope"}, 2, nil},
		{[]string{"user"}, 2, nil},
		{[]string{"nope", "--help"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			exit := run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if exit != tt.exit {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", exit, tt.exit, stdout.String(), stderr.String())
			}
			if tt.exit == 0 && stderr.Len() != 0 {
				t.Errorf("help wrote to stderr: %q", stderr.String())
			}
			if tt.exit != 0 && stdout.Len() != 0 {
				t.Errorf("a usage error wrote to stdout: %q", stdout.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("help created the data directory (%v)", err)
	}
}
