package control

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// GroupJSON is the stable shape of a group in `--json` output.
type GroupJSON struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Claims      json.RawMessage `json:"claims"`
	Members     []string        `json:"members"` // member emails, sorted
	// RequireSecondFactor: members must sign in with a second factor.
	RequireSecondFactor bool      `json:"require_second_factor"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func groupCommands() []Command {
	return []Command{
		{Name: "group create", Summary: "--name N [--description D] [--claims JSON] [--json]", Run: groupCreate},
		{Name: "group update", Summary: "--name N [--new-name N] [--description D] [--claims JSON] [--require-second-factor[=false]] [--json]", Run: groupUpdate},
		{Name: "group list", Summary: "[--json]", Run: groupList},
		{Name: "group add-user", Summary: "--group G --email E", Run: groupMembership(true)},
		{Name: "group remove-user", Summary: "--group G --email E", Run: groupMembership(false)},
		{Name: "group delete", Summary: "--name N", Run: groupDelete},
	}
}

func groupJSON(g *auth.Group, emails map[string]string) GroupJSON {
	j := GroupJSON{ID: g.ID, Name: g.Name, Description: g.Description, Claims: g.Claims, Members: []string{},
		RequireSecondFactor: g.RequireSecondFactor, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
	if len(j.Claims) == 0 {
		j.Claims = json.RawMessage("{}")
	}
	for _, id := range g.Members {
		if e, ok := emails[id]; ok {
			j.Members = append(j.Members, e)
		}
	}
	slices.Sort(j.Members)
	return j
}

func groupCreate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("group create")
	var in GroupCreate
	var claims string
	fs.StringVar(&in.Name, "name", "", "group name (required)")
	fs.StringVar(&in.Description, "description", "", "description")
	fs.StringVar(&claims, "claims", "", "custom claims as a JSON object")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	in.Claims = json.RawMessage(claims)
	g, err := env.CreateGroup(ctx, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, g)
	}
	_, err = fmt.Fprintf(out, "created group %s\n", g.Name)
	return err
}

func groupUpdate(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("group update")
	name := fs.String("name", "", "the group (required)")
	newName := fs.String("new-name", "", "rename the group")
	desc := fs.String("description", "", "new description")
	claims := fs.String("claims", "", "new custom claims as a JSON object ('{}' clears)")
	require := fs.Bool("require-second-factor", false, "members must sign in with a second factor; members without one are signed out and set one up at their next sign-in (=false lifts it)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return required("name")
	}
	// Only the flags given change anything.
	var in GroupUpdate
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "new-name":
			in.Name = newName
		case "description":
			in.Description = desc
		case "claims":
			in.Claims = json.RawMessage(*claims)
		case "require-second-factor":
			in.RequireSecondFactor = require
		}
	})
	if in.Name == nil && in.Description == nil && in.Claims == nil && in.RequireSecondFactor == nil {
		return usagef("nothing to change: give --new-name, --description, --claims or --require-second-factor")
	}
	res, err := env.UpdateGroup(ctx, *name, in)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, res.GroupJSON)
	}
	fmt.Fprintf(out, "updated group %s\n", res.Name)
	if in.RequireSecondFactor != nil {
		if res.RequireSecondFactor {
			fmt.Fprintf(out, "its members must sign in with a second factor\n")
		} else {
			fmt.Fprintf(out, "it no longer requires a second factor\n")
		}
	}
	if len(res.SignedOut) > 0 {
		fmt.Fprintf(out, "signed out members without a second factor (they set one up at their next sign-in): %s\n", strings.Join(res.SignedOut, ", "))
	}
	return nil
}

func groupList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("group list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	js, err := env.ListGroups(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, js)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMEMBERS\tSECOND FACTOR\tDESCRIPTION")
	for _, g := range js {
		req := "-"
		if g.RequireSecondFactor {
			req = "required"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", g.Name, len(g.Members), req, dash(g.Description))
	}
	return tw.Flush()
}

func groupMembership(add bool) func(context.Context, *Env, []string, io.Writer) error {
	name := "group remove-user"
	if add {
		name = "group add-user"
	}
	return func(ctx context.Context, env *Env, args []string, out io.Writer) error {
		fs := newFlags(name)
		group := fs.String("group", "", "group name (required)")
		email := fs.String("email", "", "user's email (required)")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *email == "" {
			return required("email")
		}
		if _, err := env.SetGroupMember(ctx, *group, *email, add); err != nil {
			return err
		}
		verb := "removed %s from %s\n"
		if add {
			verb = "added %s to %s\n"
		}
		_, err := fmt.Fprintf(out, verb, *email, *group)
		return err
	}
}

func groupDelete(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("group delete")
	name := fs.String("name", "", "group name (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	del, err := env.DeleteGroup(ctx, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "deleted group %s\n", del.Name)
	if len(del.Apps) > 0 {
		fmt.Fprintf(out, "no longer allowed at: %s\n", strings.Join(del.Apps, ", "))
	}
	for _, slug := range del.Deactivated {
		fmt.Fprintf(out, "app %s allowed no other group and is now inactive (it admits nobody); to reopen it, give it groups:\n"+
			"  clinch app update --slug %s --group GROUP --active=true\n", slug, slug)
	}
	for _, r := range del.DeniedRules {
		slug, id, _ := strings.Cut(r, " ")
		fmt.Fprintf(out, "access rule %s of app %s named no other group and now denies; see `clinch app rule list --slug %s`\n", id, slug, slug)
	}
	return nil
}
