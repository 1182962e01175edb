package control_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/control"
)

var inviteTokenRE = regexp.MustCompile(`token=(\S+)`)

func inviteEnv(t *testing.T) *control.Env {
	env := appEnv(t)
	env.InviteLink = func(tok string) string { return "https://auth.example.com/invitation?token=" + tok }
	return env
}

func TestUserInvite_PrintsLinkWithoutMail(t *testing.T) {
	ctx := context.Background()
	env := inviteEnv(t)
	mustRun(t, env, "group create --name staff")
	first := inviteTokenRE.FindStringSubmatch(mustRun(t, env, "user invite --email new@example.com --name New --group staff"))
	out := mustRun(t, env, "user invite --email NEW@example.com")
	second := inviteTokenRE.FindStringSubmatch(out)
	if first == nil || second == nil || !strings.HasPrefix(second[1], auth.PrefixInviteToken) || !strings.Contains(out, "re-invited") {
		t.Fatalf("printed:\n%s", out)
	}
	if _, err := env.Auth.InvitationUser(ctx, first[1]); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("the first link still works after re-inviting: %v", err)
	}
	u, err := env.Auth.InvitationUser(ctx, second[1])
	if err != nil || u.DisplayName != "New" {
		t.Fatalf("the printed link: %v, %v", u, err)
	}
	if _, err := env.Auth.AcceptInvitation(ctx, auth.Acceptance{Token: second[1], Password: "brand new pass"}); err != nil {
		t.Fatal(err)
	}
	tests := []string{
		"user invite --email new@example.com", // active now
		"user invite",
	}
	for _, args := range tests {
		if _, _, code := run(t, env, args); code == 0 {
			t.Errorf("%s succeeded", args)
		}
	}
}

func TestUserInvite_Mails(t *testing.T) {
	env := inviteEnv(t)
	var sent []string
	env.SendInvite = func(_ context.Context, u *auth.User, link string) error {
		sent = append(sent, u.Email+" "+link)
		return nil
	}
	out := mustRun(t, env, "user invite --email new@example.com")
	if strings.Contains(out, "token=") || len(sent) != 1 || !strings.Contains(sent[0], "new@example.com https://auth.example.com/invitation?token="+auth.PrefixInviteToken) {
		t.Fatalf("printed %q, sent %q", out, sent)
	}
}
