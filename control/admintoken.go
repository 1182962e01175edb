package control

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// AdminTokenJSON is the shape of an admin API token; Token is set only by
// create.
type AdminTokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Token      string     `json:"token,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func adminTokenJSON(k *auth.AdminToken, token string) AdminTokenJSON {
	j := AdminTokenJSON{ID: k.ID, Name: k.Name, Prefix: k.Prefix, Token: token, CreatedAt: k.CreatedAt}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt
		j.ExpiresAt = &t
	}
	if !k.LastUsedAt.IsZero() {
		t := k.LastUsedAt
		j.LastUsedAt = &t
	}
	return j
}

// AdminTokenCreate is the input of CreateAdminToken.
type AdminTokenCreate struct {
	Name string `json:"name"`
	// Expires is a lifetime like "90d"; "" lasts until revoked.
	Expires string `json:"expires"`
}

// CreateAdminToken makes an admin API token. It is in the result (Token)
// this once; only its HMAC is kept. Admin tokens are made only here, by
// the CLI: the API itself cannot mint them.
func (env *Env) CreateAdminToken(ctx context.Context, in AdminTokenCreate) (AdminTokenJSON, error) {
	ttl, err := parseTTL("expires", in.Expires)
	if err != nil {
		return AdminTokenJSON{}, err
	}
	tok, k, err := env.Auth.CreateAdminToken(ctx, in.Name, ttl)
	if err != nil {
		return AdminTokenJSON{}, err
	}
	return adminTokenJSON(k, tok), nil
}

// ListAdminTokens lists the live admin tokens, oldest first.
func (env *Env) ListAdminTokens(ctx context.Context) ([]AdminTokenJSON, error) {
	ks, err := env.Auth.AdminTokens(ctx)
	if err != nil {
		return nil, err
	}
	js := make([]AdminTokenJSON, 0, len(ks))
	for _, k := range ks {
		js = append(js, adminTokenJSON(k, ""))
	}
	return js, nil
}

// AdminTokenRevoke names the token to revoke: by Name, or by ID (or its
// listed prefix).
type AdminTokenRevoke struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// RevokeAdminToken deletes an admin token; its next request gets 401.
func (env *Env) RevokeAdminToken(ctx context.Context, in AdminTokenRevoke) (AdminTokenJSON, error) {
	if in.Name == "" && in.ID == "" {
		return AdminTokenJSON{}, &FieldError{Field: "name", Reason: "or --id is required"}
	}
	if in.Name != "" && in.ID != "" {
		return AdminTokenJSON{}, &FieldError{Field: "name", Reason: "and --id: give one of them"}
	}
	k, err := env.Auth.RevokeAdminToken(ctx, in.Name, in.ID)
	if err != nil {
		return AdminTokenJSON{}, err
	}
	return adminTokenJSON(k, ""), nil
}

func adminTokenCommands() []Command {
	return []Command{
		{Name: "admin token create", Summary: "[--name N] [--expires 90d] [--json] (prints an admin API token once)", Run: adminTokenCreate},
		{Name: "admin token list", Summary: "[--json]", Run: adminTokenList},
		{Name: "admin token revoke", Summary: "--name N | --id ID", Run: adminTokenRevoke},
	}
}

func adminTokenCreate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("admin token create")
	var in AdminTokenCreate
	fs.StringVar(&in.Name, "name", "", "a name to list and revoke it by (default: token-<prefix>)")
	fs.StringVar(&in.Expires, "expires", "", "lifetime, like 90d or 12h (default: until revoked)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	k, err := env.CreateAdminToken(ctx, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, k)
	}
	until := "until revoked"
	if k.ExpiresAt != nil {
		until = "until " + ts(*k.ExpiresAt)
	}
	fmt.Fprintf(out, "%s\n", k.Token)
	fmt.Fprintf(out, "(admin API token %s, valid %s, shown once: send it as \"Authorization: Bearer <token>\" to /api/admin/; revoke it with `clinch admin token revoke --name %s`)\n", k.Name, until, k.Name)
	return nil
}

func adminTokenList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("admin token list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	js, err := env.ListAdminTokens(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, js)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPREFIX\tCREATED\tEXPIRES\tLAST USED")
	for _, k := range js {
		expires, used := "-", "-"
		if k.ExpiresAt != nil {
			expires = ts(*k.ExpiresAt)
		}
		if k.LastUsedAt != nil {
			used = ts(*k.LastUsedAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Name, k.Prefix, ts(k.CreatedAt), expires, used)
	}
	return tw.Flush()
}

func adminTokenRevoke(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("admin token revoke")
	var in AdminTokenRevoke
	fs.StringVar(&in.Name, "name", "", "the token's name")
	fs.StringVar(&in.ID, "id", "", "the token's id or listed prefix")
	if err := parse(fs, args); err != nil {
		return err
	}
	k, err := env.RevokeAdminToken(ctx, in)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "revoked admin API token %s\n", k.Name)
	return err
}
