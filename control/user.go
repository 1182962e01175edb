package control

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
)

// UserJSON is the stable shape of a user in `--json` output.
type UserJSON struct {
	ID           string          `json:"id"`
	Email        string          `json:"email"`
	Username     string          `json:"username"`
	DisplayName  string          `json:"display_name"`
	Admin        bool            `json:"admin"`
	Status       auth.Status     `json:"status"`
	Groups       []string        `json:"groups"`
	Claims       json.RawMessage `json:"claims"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	LastSignInAt *time.Time      `json:"last_sign_in_at"`
	// RequireSecondFactor is the user's own requirement (`user totp
	// require`); `user totp status` also names the groups'.
	RequireSecondFactor bool `json:"require_second_factor"`
	// PasswordScheme is the kind of the stored password hash: bcrypt,
	// argon2id or argon2i (imported and not yet replaced at a sign-in), or
	// none. Never the hash itself.
	PasswordScheme string `json:"password_scheme"`
}

func userJSON(u *auth.User, groups []string) UserJSON {
	j := UserJSON{
		ID: u.ID, Email: u.Email, Username: u.Username, DisplayName: u.DisplayName,
		Admin: u.Admin, Status: u.Status, Groups: groups, Claims: u.Claims,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, RequireSecondFactor: u.RequireSecondFactor,
		PasswordScheme: u.PasswordScheme(),
	}
	if j.Groups == nil {
		j.Groups = []string{}
	}
	if len(j.Claims) == 0 {
		j.Claims = json.RawMessage("{}")
	}
	if !u.LastSignInAt.IsZero() {
		t := u.LastSignInAt
		j.LastSignInAt = &t
	}
	return j
}

func userCommands() []Command {
	return []Command{
		{Name: "user create", Summary: "--email E [--name N] [--username U] [--admin] [--group G]... [--claims JSON] [--password-stdin] [--json]", Run: userCreate},
		{Name: "user invite", Summary: "--email E [--name N] [--group G]... (mails a single-use link to set a password, valid 7 days; prints it when mail is off; re-inviting voids the old link)", Run: userInvite},
		{Name: "user list", Summary: "[--search S] [--json]", Run: userList},
		{Name: "user update", Summary: "--email E [--new-email E] [--name N] [--username U] [--admin[=false]] [--claims JSON] [--json]", Run: userUpdate},
		{Name: "user set-password", Summary: "--email E --password-stdin", Run: userSetPassword},
		{Name: "user reset-link", Summary: "--email E (prints a single-use password-reset link, valid 1 hour)", Run: userResetLink},
		{Name: "user disable", Summary: "--email E", Run: userStatus(auth.StatusDisabled)},
		{Name: "user enable", Summary: "--email E", Run: userStatus(auth.StatusActive)},
		{Name: "user delete", Summary: "--email E", Run: userDelete},
		{Name: "user sessions list", Summary: "--email E [--json]", Run: userSessionsList},
		{Name: "user sessions revoke", Summary: "--email E (also ends the user's OIDC tokens)", Run: userRevokeSessions},
		{Name: "user tokens revoke", Summary: "--email E [--app SLUG] (ends the user's OIDC tokens, at one app or all)", Run: userRevokeTokens},
	}
}

func userCreate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user create")
	var in UserCreate
	var groups list
	var claims string
	var pwStdin, asJSON bool
	fs.StringVar(&in.Email, "email", "", "email address (required)")
	fs.StringVar(&in.Name, "name", "", "display name")
	fs.StringVar(&in.Username, "username", "", "username")
	fs.BoolVar(&in.Admin, "admin", false, "make an admin")
	fs.Var(&groups, "group", "group to join (repeatable)")
	fs.StringVar(&claims, "claims", "", "custom claims as a JSON object")
	fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
	fs.BoolVar(&asJSON, "json", false, "print the user as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	in.Groups = groups
	in.Claims = json.RawMessage(claims)
	if pwStdin {
		p, err := stdinPassword(env)
		if err != nil {
			return err
		}
		in.Password = p
	}
	u, err := env.CreateUser(ctx, in)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(out, u)
	}
	status := ""
	if u.Status == auth.StatusPendingInvitation {
		status = " (no password yet: set one with `clinch user set-password`, or send an invitation with `clinch user invite`)"
	}
	_, err = fmt.Fprintf(out, "created user %s%s\n", u.Email, status)
	return err
}

func userUpdate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user update")
	email := fs.String("email", "", "the user (required)")
	newEmail := fs.String("new-email", "", "change the email address")
	name := fs.String("name", "", "display name")
	username := fs.String("username", "", "username ('' removes it)")
	admin := fs.Bool("admin", false, "make an admin (=false takes it away; the last active admin keeps it)")
	claims := fs.String("claims", "", "custom claims as a JSON object ('{}' clears)")
	asJSON := fs.Bool("json", false, "print the user as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	var in UserUpdate
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "new-email":
			in.Email = newEmail
		case "name":
			in.Name = name
		case "username":
			in.Username = username
		case "admin":
			in.Admin = admin
		case "claims":
			in.Claims = json.RawMessage(*claims)
		}
	})
	if *email == "" {
		return required("email")
	}
	if in.Email == nil && in.Name == nil && in.Username == nil && in.Admin == nil && in.Claims == nil {
		return usagef("nothing to change: give --new-email, --name, --username, --admin or --claims")
	}
	u, err := env.UpdateUser(ctx, *email, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, u)
	}
	_, err = fmt.Fprintf(out, "updated user %s\n", u.Email)
	return err
}

func normalizedGroups(gs []string) []string {
	out := []string{}
	for _, g := range gs {
		if n, err := auth.NormalizeGroupName(g); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func userList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user list")
	asJSON := fs.Bool("json", false, "print JSON")
	search := fs.String("search", "", "only users whose email, username or name contains this")
	if err := parse(fs, args); err != nil {
		return err
	}
	page, err := env.ListUsers(ctx, UserQuery{Search: *search, All: true})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, page.Users)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tUSERNAME\tNAME\tADMIN\tSTATUS\tGROUPS\tLAST SIGN-IN")
	for _, u := range page.Users {
		last := "-"
		if u.LastSignInAt != nil {
			last = ts(*u.LastSignInAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%v\t%s\n", u.Email, dash(u.Username), dash(u.DisplayName), u.Admin, u.Status, u.Groups, last)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func emailFlag(name string, args []string) (string, error) {
	fs := newFlags(name)
	email := fs.String("email", "", "email address (required)")
	if err := parse(fs, args); err != nil {
		return "", err
	}
	if *email == "" {
		return "", usagef("--email is required")
	}
	return *email, nil
}

func userSetPassword(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user set-password")
	email := fs.String("email", "", "email address (required)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from standard input (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" || !*pwStdin {
		return usagef("--email and --password-stdin are required")
	}
	p, err := stdinPassword(env)
	if err != nil {
		return err
	}
	u, err := env.Auth.SetPassword(ctx, *email, p)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "password changed for %s; their sessions were signed out\n", u.Email)
	return err
}

func userStatus(st auth.Status) func(context.Context, *Env, []string, io.Writer) error {
	verb := map[auth.Status]string{auth.StatusDisabled: "disable", auth.StatusActive: "enable"}[st]
	return func(ctx context.Context, env *Env, args []string, out io.Writer) error {
		email, err := emailFlag("user "+verb, args)
		if err != nil {
			return err
		}
		u, err := env.SetUserEnabled(ctx, email, st == auth.StatusActive)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%sd user %s\n", verb, u.Email)
		return err
	}
}

func userDelete(ctx context.Context, env *Env, args []string, out io.Writer) error {
	email, err := emailFlag("user delete", args)
	if err != nil {
		return err
	}
	if email, err = env.DeleteUser(ctx, email); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "deleted user %s\n", email)
	return err
}

func userRevokeSessions(ctx context.Context, env *Env, args []string, out io.Writer) error {
	email, err := emailFlag("user sessions revoke", args)
	if err != nil {
		return err
	}
	r, err := env.RevokeUserSessions(ctx, email)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "signed out %d session(s) of %s\n", r.Sessions, r.Email)
	return err
}

func userSessionsList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user sessions list")
	email := fs.String("email", "", "the user (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	ss, err := env.UserSessions(ctx, *email)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, ss)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDEVICE\tIP\tACR\tCREATED\tLAST ACTIVE")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, dash(s.Device), dash(s.IP), s.ACR, ts(s.CreatedAt), ts(s.LastActiveAt))
	}
	return tw.Flush()
}

func userRevokeTokens(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user tokens revoke")
	email := fs.String("email", "", "the user (required)")
	slug := fs.String("app", "", "only the tokens of this OIDC app")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return usagef("--email is required")
	}
	if env.Tokens == nil {
		return errors.New("OIDC tokens cannot be revoked here")
	}
	u, err := env.Auth.UserByEmail(ctx, *email)
	if err != nil {
		return err
	}
	appID := ""
	if *slug != "" {
		a, err := env.Auth.AppBySlug(ctx, *slug)
		if err != nil {
			return err
		}
		if a.Type != auth.AppOIDC {
			return fmt.Errorf("app %s is not an OIDC app", a.Slug)
		}
		appID = a.ID
	}
	n, err := env.Tokens.RevokeUser(ctx, u.ID, appID)
	if err != nil {
		return err
	}
	// Caches (the verifier's) hold the user's tokens by hash: this drops them.
	env.Auth.Notify(auth.Change{Kind: auth.ChangeUser, UserID: u.ID})
	env.Auth.Audit(ctx, audit.Event{Kind: audit.TokenRevoked, Subject: u.ID, Email: u.Email, App: strings.ToLower(*slug),
		Detail: map[string]string{"grants_ended": strconv.Itoa(n)}})
	_, err = fmt.Fprintf(out, "revoked %d OIDC grant(s) of %s\n", n, u.Email)
	return err
}

func userResetLink(ctx context.Context, env *Env, args []string, out io.Writer) error {
	email, err := emailFlag("user reset-link", args)
	if err != nil {
		return err
	}
	if env.ResetLink == nil {
		return errors.New("reset links are not available here")
	}
	tok, u, err := env.Auth.NewPasswordReset(ctx, email)
	if errors.Is(err, auth.ErrNotFound) {
		return fmt.Errorf("no active user has the email %s (disabled and invited users get no reset link): %w", email, err)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "password-reset link for %s (works once, within %s; using it signs the user out everywhere):\n%s\n",
		u.Email, auth.ResetTTL, env.ResetLink(tok))
	return err
}

func userInvite(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("user invite")
	var in auth.NewUser
	var groups list
	fs.StringVar(&in.Email, "email", "", "email address (required)")
	fs.StringVar(&in.DisplayName, "name", "", "display name (new users only)")
	fs.Var(&groups, "group", "group to join (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if in.Email == "" {
		return usagef("--email is required")
	}
	if env.InviteLink == nil {
		return errors.New("invitations are not available here")
	}
	in.Groups = groups
	tok, u, created, err := env.Auth.Invite(ctx, in)
	if errors.Is(err, auth.ErrNotInvitable) {
		return fmt.Errorf("%s already has an account (active or disabled); only users awaiting an invitation can be invited: %w", in.Email, err)
	}
	if err != nil {
		return err
	}
	what := "invited"
	if !created {
		what = "re-invited (the earlier link no longer works)"
	}
	link := env.InviteLink(tok)
	if env.SendInvite == nil {
		_, err = fmt.Fprintf(out, "%s %s; mail is off, so hand them this link (works once, within %s):\n%s\n", what, u.Email, auth.InviteTTL, link)
		return err
	}
	if err := env.SendInvite(ctx, u, link); err != nil {
		return fmt.Errorf("%s %s, but the mail was not sent (run the command again to send a new link): %w", what, u.Email, err)
	}
	_, err = fmt.Fprintf(out, "%s %s; the link (works once, within %s) is mailed to them; if it does not arrive, `clinch mail status` says why\n", what, u.Email, auth.InviteTTL)
	return err
}
