package control

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/clinchsso/clinch/auth"
)

// RuleJSON is the stable shape of an access rule in `--json` output.
type RuleJSON struct {
	Position int             `json:"position"` // 1-based, the order rules are tried in
	ID       string          `json:"id"`
	Path     string          `json:"path"`
	Methods  []string        `json:"methods"`  // [] = every method
	Networks []string        `json:"networks"` // [] = anywhere
	Policy   auth.RulePolicy `json:"policy"`
	Groups   []string        `json:"groups"` // names
}

func (r refs) rulesJSON(rules []auth.AccessRule) []RuleJSON {
	out := make([]RuleJSON, 0, len(rules))
	for i, ru := range rules {
		j := RuleJSON{Position: i + 1, ID: ru.ID, Path: ru.Path, Methods: ru.Methods, Networks: ru.Networks,
			Policy: ru.Policy, Groups: r.groupNames(ru.GroupIDs)}
		if j.Methods == nil {
			j.Methods = []string{}
		}
		if j.Networks == nil {
			j.Networks = []string{}
		}
		out = append(out, j)
	}
	return out
}

func ruleAdd(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app rule add")
	slug := fs.String("slug", "", "the forward_auth app (required)")
	path := fs.String("path", "", "/prefix or glob like /users/*/settings or /static/**/*.map (required)")
	var methods, networks, groups list
	fs.Var(&methods, "method", "HTTP method the rule applies to (repeatable; none = every method)")
	fs.Var(&networks, "network", "client network in CIDR, like 192.168.0.0/16 (repeatable; none = anywhere)")
	policy := fs.String("policy", "", "bypass, signed-in, groups, second-factor or deny (required)")
	fs.Var(&groups, "group", "group name for policy groups (required) or second-factor (optional); repeatable")
	position := fs.Int("position", 0, "1-based place in the order (default: last)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" || *path == "" || *policy == "" {
		return usagef("--slug, --path and --policy are required")
	}
	if *position < 0 {
		return usagef("--position must be 1 or more")
	}
	a, r, err := env.Auth.AddAppRule(ctx, *slug, auth.RuleInput{
		Path: *path, Methods: methods, Networks: networks, Policy: auth.RulePolicy(*policy), Groups: groups,
	}, *position)
	if err != nil {
		return err
	}
	refs := appRefs(ctx, env)
	for _, j := range refs.rulesJSON(a.Rules) {
		if j.ID != r.ID {
			continue
		}
		if *asJSON {
			return writeJSON(out, j)
		}
		_, err = fmt.Fprintf(out, "added rule %s at position %d of app %s: %s\n", j.ID, j.Position, a.Slug, describeRule(j))
		return err
	}
	return nil
}

func describeRule(j RuleJSON) string {
	var b strings.Builder
	b.WriteString(j.Path)
	if len(j.Methods) > 0 {
		b.WriteString(" " + strings.Join(j.Methods, ","))
	}
	if len(j.Networks) > 0 {
		b.WriteString(" from " + strings.Join(j.Networks, ","))
	}
	b.WriteString(" -> " + string(j.Policy))
	if len(j.Groups) > 0 {
		b.WriteString(" " + strings.Join(j.Groups, ","))
	}
	return b.String()
}

func ruleList(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app rule list")
	slug := fs.String("slug", "", "the app (required)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" {
		return usagef("--slug is required")
	}
	a, err := env.Auth.AppBySlug(ctx, *slug)
	if err != nil {
		return err
	}
	js := appRefs(ctx, env).rulesJSON(a.Rules)
	if *asJSON {
		return writeJSON(out, js)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POS\tID\tPATH\tMETHODS\tNETWORKS\tPOLICY\tGROUPS")
	for _, j := range js {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Position, j.ID, j.Path,
			dash(strings.Join(j.Methods, ",")), dash(strings.Join(j.Networks, ",")), j.Policy, dash(strings.Join(j.Groups, ",")))
	}
	groups := "every active user"
	if len(a.AllowedGroupIDs) > 0 {
		groups = "groups " + strings.Join(appRefs(ctx, env).groupNames(a.AllowedGroupIDs), ",")
	}
	fmt.Fprintf(tw, "-\t\t(no rule matches)\t\t\t%s\t\n", groups)
	return tw.Flush()
}

func ruleRemove(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app rule remove")
	slug := fs.String("slug", "", "the app (required)")
	id := fs.String("id", "", "the rule's id")
	position := fs.Int("position", 0, "the rule's 1-based position")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *slug == "" || set["id"] == set["position"] {
		return usagef("--slug and one of --id or --position are required")
	}
	if set["position"] && *position < 1 {
		return usagef("--position must be 1 or more")
	}
	if _, err := env.Auth.RemoveAppRule(ctx, *slug, *id, *position); err != nil {
		return err
	}
	what := *id
	if what == "" {
		what = "at position " + strconv.Itoa(*position)
	}
	_, err := fmt.Fprintf(out, "removed rule %s of app %s\n", what, *slug)
	return err
}

func ruleMove(ctx context.Context, env *Env, args []string, out io.Writer) error {
	fs := newFlags("app rule move")
	slug := fs.String("slug", "", "the app (required)")
	id := fs.String("id", "", "the rule's id (required)")
	to := fs.Int("to", 0, "its new 1-based position (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *slug == "" || *id == "" || *to < 1 {
		return usagef("--slug, --id and --to (1 or more) are required")
	}
	if _, err := env.Auth.MoveAppRule(ctx, *slug, *id, *to); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "moved rule %s of app %s to position %d\n", *id, *slug, *to)
	return err
}
