package control

import (
	"context"
	"encoding/json"
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
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func groupCommands() []Command {
	return []Command{
		{Name: "group create", Summary: "--name N [--description D] [--claims JSON] [--json]", Run: groupCreate},
		{Name: "group list", Summary: "[--json]", Run: groupList},
		{Name: "group add-user", Summary: "--group G --email E", Run: groupMembership(true)},
		{Name: "group remove-user", Summary: "--group G --email E", Run: groupMembership(false)},
		{Name: "group delete", Summary: "--name N", Run: groupDelete},
	}
}

func groupJSON(g *auth.Group, emails map[string]string) GroupJSON {
	j := GroupJSON{ID: g.ID, Name: g.Name, Description: g.Description, Claims: g.Claims, Members: []string{}, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
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
	name := fs.String("name", "", "group name (required)")
	desc := fs.String("description", "", "description")
	claims := fs.String("claims", "", "custom claims as a JSON object")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	g, err := env.Auth.CreateGroup(ctx, *name, *desc, *claims)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(out, groupJSON(g, nil))
	}
	_, err = fmt.Fprintf(out, "created group %s\n", g.Name)
	return err
}

func groupList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("group list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	groups, err := env.Auth.Groups(ctx)
	if err != nil {
		return err
	}
	users, err := env.Auth.Users(ctx)
	if err != nil {
		return err
	}
	emails := make(map[string]string, len(users))
	for _, u := range users {
		emails[u.ID] = u.Email
	}
	js := make([]GroupJSON, 0, len(groups))
	for _, g := range groups {
		js = append(js, groupJSON(g, emails))
	}
	if *asJSON {
		return writeJSON(out, js)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tMEMBERS\tDESCRIPTION")
	for _, g := range js {
		fmt.Fprintf(tw, "%s\t%d\t%s\n", g.Name, len(g.Members), dash(g.Description))
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
		if *group == "" || *email == "" {
			return usagef("--group and --email are required")
		}
		var err error
		if add {
			err = env.Auth.AddToGroup(ctx, *group, *email)
		} else {
			err = env.Auth.RemoveFromGroup(ctx, *group, *email)
		}
		if err != nil {
			return err
		}
		verb := "removed %s from %s\n"
		if add {
			verb = "added %s to %s\n"
		}
		_, err = fmt.Fprintf(out, verb, *email, *group)
		return err
	}
}

func groupDelete(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("group delete")
	name := fs.String("name", "", "group name (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	del, err := env.Auth.DeleteGroup(ctx, *name)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "deleted group %s\n", del.Group.Name)
	if len(del.Apps) > 0 {
		fmt.Fprintf(out, "no longer allowed at: %s\n", strings.Join(del.Apps, ", "))
	}
	for _, slug := range del.Deactivated {
		fmt.Fprintf(out, "app %s allowed no other group and is now inactive (it admits nobody); to reopen it, give it groups:\n"+
			"  clinch app update --slug %s --group GROUP --active=true\n", slug, slug)
	}
	return nil
}
