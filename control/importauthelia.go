package control

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/clinchsso/clinch/auth"
)

func importCommands() []Command {
	return []Command{
		{Name: "import authelia-users", Summary: "--in users_database.yml [--dry-run] [--json]", Run: importAuthelia, InFile: true},
	}
}

// ImportUserJSON is one user's line in `import authelia-users --json`.
type ImportUserJSON struct {
	Username string   `json:"username"`
	Email    string   `json:"email"`
	Result   string   `json:"result"` // created, updated, unchanged or refused
	Changes  []string `json:"changes"`
	Reason   string   `json:"reason,omitempty"` // why it was refused
}

// ImportJSON is the stable shape of `import authelia-users --json`.
type ImportJSON struct {
	DryRun  bool             `json:"dry_run"`
	Users   []ImportUserJSON `json:"users"`
	Summary map[string]int   `json:"summary"` // created, updated, unchanged, refused
}

// importAuthelia imports Authelia's file-based users. The CLI process
// reads the file named by --in (InFile) and passes its content as Stdin,
// so this never opens a path, in the server or out of it. Each user is
// its own transaction: a refused user does not hold back the others, and
// a run cut short is finished by running it again.
func importAuthelia(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("import authelia-users")
	in := fs.String("in", "", "Authelia's users file (users_database.yml), read by the clinch command itself; - for standard input (required)")
	dryRun := fs.Bool("dry-run", false, "print what would change and write nothing")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("--in is required")
	}
	if len(env.Stdin) == 0 {
		return fmt.Errorf("%s is empty", *in)
	}
	entries, err := parseAutheliaUsers(env.Stdin)
	if err != nil {
		return err
	}
	rep := ImportJSON{DryRun: *dryRun, Users: []ImportUserJSON{}, Summary: map[string]int{
		string(auth.ImportCreated): 0, string(auth.ImportUpdated): 0, string(auth.ImportUnchanged): 0, "refused": 0,
	}}
	// A dry run's transactions are thrown away, so each user would
	// "create" a new group again; report it once, as the real run does.
	created := map[string]bool{}
	for _, e := range entries {
		line := ImportUserJSON{Username: e.Name, Email: e.User.Email, Changes: []string{}}
		err := e.Err
		if err == nil {
			var res *auth.ImportResult
			if res, err = env.Auth.ImportUser(ctx, e.User, *dryRun); err == nil {
				line.Result, line.Email = string(res.Action), res.Email
				for _, c := range res.Changes {
					if strings.HasSuffix(c, " created") {
						if created[c] {
							continue
						}
						created[c] = true
					}
					line.Changes = append(line.Changes, c)
				}
			}
		}
		if err != nil {
			line.Result, line.Reason = "refused", oneLine(err.Error())
		}
		rep.Summary[line.Result]++
		rep.Users = append(rep.Users, line)
	}
	if *asJSON {
		err = writeJSON(out, rep)
	} else {
		err = writeImportText(out, rep)
	}
	if err != nil {
		return err
	}
	if n := rep.Summary["refused"]; n > 0 {
		return fmt.Errorf("%d of %d user(s) refused; the others were %s", n, len(rep.Users), map[bool]string{false: "imported", true: "checked (dry run)"}[*dryRun])
	}
	return nil
}

func writeImportText(out io.Writer, rep ImportJSON) error {
	for _, u := range rep.Users {
		var detail string
		switch {
		case u.Result == "refused":
			detail = ": " + u.Reason
		case len(u.Changes) > 0:
			detail = ": " + strings.Join(u.Changes, ", ")
		}
		who := u.Username
		if u.Email != "" {
			who += " <" + u.Email + ">"
		}
		if _, err := fmt.Fprintf(out, "%-9s %s%s\n", u.Result, who, detail); err != nil {
			return err
		}
	}
	s := rep.Summary
	tail := ""
	if rep.DryRun {
		tail = " (dry run: nothing written)"
	}
	_, err := fmt.Fprintf(out, "%d user(s): %d created, %d updated, %d unchanged, %d refused%s\n",
		len(rep.Users), s["created"], s["updated"], s["unchanged"], s["refused"], tail)
	return err
}
