package control

import (
	"context"
	"strings"
	"testing"
)

// Every command answers -h, -help and --help with its own flags and exit
// 0, without a store (the Env is empty: a command that touched it before
// parsing its flags would panic here).
func TestEveryCommandHasHelp(t *testing.T) {
	for _, cmd := range Commands() {
		for _, flag := range []string{"-h", "-help", "--help"} {
			args := append(strings.Fields(cmd.Name), flag)
			out, errOut, exit := Exec(context.Background(), &Env{}, args)
			if exit != 0 || errOut != "" {
				t.Errorf("clinch %s %s: exit %d, stderr %q; want help and 0", cmd.Name, flag, exit, errOut)
				continue
			}
			if !strings.HasPrefix(out, "usage: clinch "+cmd.Name+" ") || !strings.Contains(out, "\nflags:\n") {
				t.Errorf("clinch %s %s printed no usage with flags:\n%s", cmd.Name, flag, out)
			}
			if u, ok := Usage(args); !ok || u != out {
				t.Errorf("Usage(%q) = %v, differs from Exec's help", args, ok)
			}
		}
	}
}

func TestCommandHelpNamesItsFlags(t *testing.T) {
	tests := []struct {
		cmd   string
		flags []string
	}{
		{"user create", []string{"-email", "-name", "-username", "-admin", "-group", "-password-stdin", "-json"}},
		{"app create", []string{"-type", "-name", "-slug", "-domain", "-group", "-launch-url", "-redirect-uri", "-public", "-skip-consent", "-backchannel-logout-uri", "-metadata"}},
		{"app update", []string{"-slug", "-new-slug", "-launch-url", "-no-groups", "-active"}},
		{"app apikey create", []string{"-slug", "-owner", "-expires"}},
		{"group create", []string{"-name", "-description", "-claims"}},
		{"group update", []string{"-name", "-new-name", "-description", "-claims", "-require-second-factor", "-json"}},
		{"user totp require", []string{"-email", "-required"}},
		{"user totp status", []string{"-email", "-json"}},
		{"keys rotate", []string{"-json"}},
	}
	for _, tt := range tests {
		out, ok := Usage(append(strings.Fields(tt.cmd), "--help"))
		if !ok {
			t.Fatalf("no help for %s", tt.cmd)
		}
		for _, f := range tt.flags {
			if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
				t.Errorf("help of %s lacks %s:\n%s", tt.cmd, f, out)
			}
		}
	}
}

func TestUsageOnlyWhenAsked(t *testing.T) {
	for _, args := range [][]string{
		{"user", "create", "--email", "a@example.com"},
		{"user", "list"},
		{"nope", "--help"},
	} {
		if _, ok := Usage(args); ok {
			t.Errorf("Usage(%q) answered help", args)
		}
	}
	if text, ok := GroupHelp([]string{"app"}); !ok || !strings.Contains(text, "clinch app apikey create") || strings.Contains(text, "clinch user") {
		t.Errorf("GroupHelp(app) = %v\n%s", ok, text)
	}
	if _, ok := GroupHelp([]string{"nope"}); ok {
		t.Error("GroupHelp(nope) found commands")
	}
}
