package control_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

func TestUserResetLink(t *testing.T) {
	env := appEnv(t)
	env.ResetLink = func(tok string) string { return "https://auth.example.com/password-reset?token=" + tok }
	mustRun(t, env, "user create --email ann@example.com")
	if _, err := env.Auth.SetPassword(context.Background(), "ann@example.com", "correct horse"); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, env, "user reset-link --email ANN@example.com")
	tok := regexp.MustCompile(`token=(\S+)`).FindStringSubmatch(out)
	if tok == nil || !strings.HasPrefix(tok[1], auth.PrefixResetToken) {
		t.Fatalf("printed:\n%s", out)
	}
	if _, err := env.Auth.ResetPassword(context.Background(), tok[1], "brand new pass"); err != nil {
		t.Fatalf("the printed link does not work: %v", err)
	}
	for _, args := range []string{"user reset-link --email nobody@example.com", "user reset-link"} {
		if _, _, code := run(t, env, args); code == 0 {
			t.Errorf("%s succeeded", args)
		}
	}
}
