package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// SecondFactorJSON is the stable shape of `user totp status --json`.
type SecondFactorJSON struct {
	Email string `json:"email"`
	TOTP  bool   `json:"totp"`
	// TOTPSince is when the authenticator app was set up; null when none.
	TOTPSince       *time.Time `json:"totp_since"`
	BackupCodesLeft int        `json:"backup_codes_left"`
	// Passkeys the user has; each is a second factor too.
	Passkeys int `json:"passkeys"`
	// Required: the user must have a second factor; RequiredBy says who
	// asks it ("account", "group NAME").
	Required   bool     `json:"required"`
	RequiredBy []string `json:"required_by"`
}

func mfaCommands() []Command {
	return []Command{
		{Name: "user totp require", Summary: "--email E [--required=false] (a user without a second factor is signed out and sets one up at the next sign-in)", Run: userTOTPRequire},
		{Name: "user totp disable", Summary: "--email E (removes the authenticator app and backup codes; refused while required)", Run: userTOTPDisable},
		{Name: "user totp status", Summary: "--email E [--json]", Run: userTOTPStatus},
		{Name: "user mfa reset", Summary: "--email E (removes every second factor and signs the user out everywhere)", Run: userMFAReset},
	}
}

func userTOTPRequire(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user totp require")
	email := fs.String("email", "", "the user (required)")
	required := fs.Bool("required", true, "require a second factor; --required=false lifts the user's own requirement (a group's stays)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usagef("--email is required")
	}
	u, ended, err := env.Auth.SetRequireSecondFactor(ctx, *email, *required)
	if err != nil {
		return err
	}
	if !*required {
		_, err = fmt.Fprintf(out, "%s no longer needs a second factor of their own (a group may still require one)\n", u.Email)
		return err
	}
	fmt.Fprintf(out, "%s must sign in with a second factor\n", u.Email)
	if len(ended) > 0 {
		fmt.Fprintf(out, "they have none yet: signed out %d session(s); their next sign-in sets up an authenticator app\n", len(ended))
	}
	return nil
}

func userTOTPDisable(ctx context.Context, env *Env, args []string, out io.Writer) error {
	email, err := emailFlag("user totp disable", args)
	if err != nil {
		return err
	}
	u, err := env.Auth.RemoveTOTP(ctx, email)
	if err != nil {
		if errors.Is(err, auth.ErrSecondFactorRequired) {
			return fmt.Errorf("%w: lift it first (clinch user totp require --email %s --required=false, or the group's --require-second-factor=false), or use `clinch user mfa reset`, which signs them out so they set up a new one", err, email)
		}
		return err
	}
	_, err = fmt.Fprintf(out, "removed the authenticator app and backup codes of %s\n", u.Email)
	return err
}

func userTOTPStatus(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user totp status")
	email := fs.String("email", "", "the user (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usagef("--email is required")
	}
	u, err := env.Auth.UserByEmail(ctx, *email)
	if err != nil {
		return err
	}
	st, err := env.Auth.SecondFactorStatus(ctx, u.ID)
	if err != nil {
		return err
	}
	j := SecondFactorJSON{Email: u.Email, TOTP: st.TOTP, BackupCodesLeft: st.BackupCodesLeft, Passkeys: st.Passkeys,
		Required: st.Required(), RequiredBy: append([]string{}, st.RequiredBy...)}
	if st.TOTP {
		t := st.TOTPSince
		j.TOTPSince = &t
	}
	if *asJSON {
		return writeJSON(out, j)
	}
	totp := "off"
	if st.TOTP {
		totp = "on since " + ts(st.TOTPSince)
	}
	req := "no"
	if st.Required() {
		req = "yes (" + strings.Join(st.RequiredBy, ", ") + ")"
	}
	_, err = fmt.Fprintf(out, "user:          %s\ntotp:          %s\nbackup codes:  %d of %d left\npasskeys:      %d\nrequired:      %s\n",
		u.Email, totp, st.BackupCodesLeft, auth.BackupCodeCount, st.Passkeys, req)
	return err
}

func userMFAReset(ctx context.Context, env *Env, args []string, out io.Writer) error {
	email, err := emailFlag("user mfa reset", args)
	if err != nil {
		return err
	}
	u, n, err := env.Auth.ResetSecondFactors(ctx, email)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "removed every second factor (authenticator app, backup codes, passkeys) of %s and signed out %d session(s)\n", u.Email, n)
	return err
}
