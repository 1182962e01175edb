package control_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/authtest"
	"github.com/clinchsso/clinch/control"
)

// withTOTP sets up TOTP for the user with the email (password "correct
// horse"), as the security page does, and leaves them signed in once.
func withTOTP(t *testing.T, env *control.Env, email string) {
	t.Helper()
	ctx := context.Background()
	u, err := env.Auth.UserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	sess, _, err := env.Auth.StartSession(ctx, u, "10.0.0.1", "test", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := env.Auth.TOTPEnrolment(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Auth.ConfirmTOTPEnrolment(ctx, sess, authtest.TOTP(t, secret, env.Auth.Now()), "correct horse", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
}

func sessions(t *testing.T, env *control.Env, email string) int {
	t.Helper()
	ctx := context.Background()
	u, err := env.Auth.UserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := env.Auth.UserSessions(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(ss)
}

func status(t *testing.T, env *control.Env, email string) control.SecondFactorJSON {
	t.Helper()
	var st control.SecondFactorJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "user totp status --json --email "+email)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestSecondFactorCommands(t *testing.T) {
	env := appEnv(t)
	for _, e := range []string{"ann", "bob", "cat"} {
		env.Stdin = []byte("correct horse")
		mustRun(t, env, "user create --password-stdin --email "+e+"@example.com")
	}
	env.Stdin = nil
	withTOTP(t, env, "cat@example.com")
	ctx := context.Background()
	for _, e := range []string{"ann@example.com", "bob@example.com"} {
		u, _ := env.Auth.UserByEmail(ctx, e)
		if _, _, err := env.Auth.StartSession(ctx, u, "10.0.0.2", "test", false, "1", []string{"pwd"}); err != nil {
			t.Fatal(err)
		}
	}

	if st := status(t, env, "cat@example.com"); !st.TOTP || st.TOTPSince == nil || st.BackupCodesLeft != 10 || st.Required {
		t.Errorf("cat's status %+v", st)
	}
	if st := status(t, env, "ann@example.com"); st.TOTP || st.TOTPSince != nil || st.Required || st.RequiredBy == nil {
		t.Errorf("ann's status %+v (required_by must be [] not null)", st)
	}

	out := mustRun(t, env, "user totp require --email ann@example.com")
	if !strings.Contains(out, "signed out 1 session") || sessions(t, env, "ann@example.com") != 0 {
		t.Errorf("require of ann (no second factor): %q, %d sessions", out, sessions(t, env, "ann@example.com"))
	}
	if st := status(t, env, "ann@example.com"); !st.Required || !slices.Equal(st.RequiredBy, []string{"account"}) {
		t.Errorf("ann after require: %+v", st)
	}
	if text := mustRun(t, env, "user totp status --email ann@example.com"); !strings.Contains(text, "required:      yes (account)") || !strings.Contains(text, "totp:          off") {
		t.Errorf("status text:\n%s", text)
	}

	mustRun(t, env, "group create --name staff")
	mustRun(t, env, "group add-user --group staff --email bob@example.com")
	mustRun(t, env, "group add-user --group staff --email cat@example.com")
	out = mustRun(t, env, "group update --name staff --require-second-factor")
	if !strings.Contains(out, "signed out members without a second factor (they set one up at their next sign-in): bob@example.com") {
		t.Errorf("group update said:\n%s", out)
	}
	if sessions(t, env, "bob@example.com") != 0 || sessions(t, env, "cat@example.com") != 1 {
		t.Errorf("sessions: bob %d (want 0), cat %d (want 1)", sessions(t, env, "bob@example.com"), sessions(t, env, "cat@example.com"))
	}
	var groups []control.GroupJSON
	if err := json.Unmarshal([]byte(mustRun(t, env, "group list --json")), &groups); err != nil || len(groups) != 1 || !groups[0].RequireSecondFactor {
		t.Errorf("group list: %+v %v", groups, err)
	}
	if list := mustRun(t, env, "group list"); !strings.Contains(list, "required") {
		t.Errorf("group list does not show the requirement:\n%s", list)
	}

	// Required: the admin cannot merely remove cat's TOTP; a reset does,
	// and signs cat out.
	if _, errOut, code := run(t, env, "user totp disable --email cat@example.com"); code != 1 || !strings.Contains(errOut, "required") || !strings.Contains(errOut, "user mfa reset") {
		t.Errorf("disable while required: exit %d %q", code, errOut)
	}
	out = mustRun(t, env, "user mfa reset --email cat@example.com")
	if !strings.Contains(out, "signed out 1 session") || status(t, env, "cat@example.com").TOTP || sessions(t, env, "cat@example.com") != 0 {
		t.Errorf("reset: %q, %+v", out, status(t, env, "cat@example.com"))
	}

	// Lifted, an admin may remove TOTP; without one, there is nothing to remove.
	mustRun(t, env, "group update --name staff --require-second-factor=false")
	withTOTP(t, env, "bob@example.com")
	mustRun(t, env, "user totp disable --email bob@example.com")
	if status(t, env, "bob@example.com").TOTP {
		t.Error("bob still has TOTP")
	}
	if _, errOut, code := run(t, env, "user totp disable --email bob@example.com"); code != 1 || !strings.Contains(errOut, auth.ErrNoTOTP.Error()) {
		t.Errorf("disable without TOTP: exit %d %q", code, errOut)
	}
	mustRun(t, env, "user totp require --email ann@example.com --required=false")
	if status(t, env, "ann@example.com").Required {
		t.Error("ann still required after --required=false")
	}

	for _, args := range []string{"user totp require", "user totp status", "user mfa reset", "group update --name staff", "group update --require-second-factor"} {
		if _, _, code := run(t, env, args); code != 2 {
			t.Errorf("clinch %s: exit %d, want 2", args, code)
		}
	}
	if _, _, code := run(t, env, "user totp status --email nobody@example.com"); code != 1 {
		t.Errorf("status of an unknown user: exit %d", code)
	}
	// Renaming and describing through group update.
	out = mustRun(t, env, "group update --name staff --new-name crew --description Crew --json")
	var g control.GroupJSON
	if err := json.Unmarshal([]byte(out), &g); err != nil || g.Name != "crew" || g.Description != "Crew" || !slices.Equal(g.Members, []string{"bob@example.com", "cat@example.com"}) {
		t.Errorf("group update --json: %+v %v", g, err)
	}
}
