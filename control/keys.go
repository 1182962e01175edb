package control

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/clinchsso/clinch/audit"
)

// keyCommands are the `clinch keys ...` and claims commands (OIDC).
func keyCommands() []Command {
	return []Command{
		{Name: "keys rotate", Summary: "[--json]  add a new OIDC signing key (old keys stay published until their tokens expire)", Run: keysRotate},
		{Name: "user claims set", Summary: "--email E --app S --json '{...}'  custom ID token claims of a user at one app ('{}' clears)", Run: userClaimsSet},
	}
}

func keysRotate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("keys rotate")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if env.Keys == nil {
		return errors.New("OIDC signing keys are not available here")
	}
	kid, err := env.Keys.Rotate(ctx)
	if err != nil {
		return err
	}
	env.Auth.Audit(ctx, audit.Event{Kind: audit.SigningKeyRotated, Detail: map[string]string{"kid": kid}})
	if *asJSON {
		return writeJSON(out, map[string]string{"kid": kid})
	}
	_, err = fmt.Fprintf(out, "new signing key %s is active; the previous key stays in the JWKS until the ID tokens it signed have expired\n", kid)
	return err
}

func userClaimsSet(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user claims set")
	email := fs.String("email", "", "the user's email (required)")
	app := fs.String("app", "", "the OIDC app's slug (required)")
	claims := fs.String("json", "", "a JSON object of claims (required; '{}' removes them)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" || *app == "" || *claims == "" {
		return usagef("--email, --app and --json are required")
	}
	if err := env.Auth.SetUserAppClaims(ctx, *email, *app, *claims); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "set claims of %s at %s\n", *email, *app)
	return err
}
