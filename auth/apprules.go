package auth

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
)

// RulePolicy is what an access rule asks of a request it matches.
type RulePolicy string

const (
	// PolicyBypass lets the request through without asking who it is; the
	// identity headers are sent empty.
	PolicyBypass RulePolicy = "bypass"
	// PolicySignedIn admits every active signed-in user.
	PolicySignedIn RulePolicy = "signed-in"
	// PolicyGroups admits active members of the rule's groups.
	PolicyGroups RulePolicy = "groups"
	// PolicySecondFactor admits, among the members of the rule's groups
	// (or, when it names none, of the app's own), those whose session was
	// made with a second factor (acr "2"); others go through the step-up
	// first.
	PolicySecondFactor RulePolicy = "second-factor"
	// PolicyDeny refuses everyone.
	PolicyDeny RulePolicy = "deny"
)

// MaxAppRules bounds the rules of one app.
const MaxAppRules = 100

// AccessRule is one per-path rule of a forward_auth app. An app's rules are
// tried in order and the first that matches decides; with none matching,
// the app's own allowed groups decide.
type AccessRule struct {
	ID string `json:"id"`
	// Path is "/prefix" (that path and everything under it) or a glob
	// whose segments may use path.Match's *, ? and [...] within one
	// segment and one "**" segment for any number of segments; a glob
	// also covers everything under what it matches. It is matched against
	// the request's path however the app may read it (see forward's rules).
	Path string `json:"path"`
	// Methods, upper case; none = every method.
	Methods []string `json:"methods,omitempty"`
	// Networks are CIDR prefixes the client's address must be in; none =
	// anywhere.
	Networks []string   `json:"networks,omitempty"`
	Policy   RulePolicy `json:"policy"`
	// GroupIDs are group ids (never names) for PolicyGroups (required) and
	// PolicySecondFactor (optional; none = the app's groups). Deleting a
	// group removes its id; a rule left without groups becomes PolicyDeny
	// (for second-factor too: falling back to the app's groups could admit
	// more people than the rule did).
	GroupIDs []string `json:"group_ids,omitempty"`
}

// RuleInput is what an admin gives to add a rule; groups by name.
type RuleInput struct {
	Path     string
	Methods  []string
	Networks []string
	Policy   RulePolicy
	Groups   []string
}

// AddAppRule adds a rule to a forward_auth app at position (1-based; 0 or
// past the end appends) and returns the app and the new rule.
func (s *Service) AddAppRule(ctx context.Context, slug string, in RuleInput, position int) (*App, *AccessRule, error) {
	ids, err := s.GroupIDsByName(ctx, in.Groups)
	if err != nil {
		return nil, nil, ruleField(err)
	}
	r := AccessRule{ID: NewID()[:12], Path: in.Path, Methods: in.Methods, Networks: in.Networks, Policy: in.Policy, GroupIDs: ids}
	if position < 0 {
		return nil, nil, invalid("rule position", "must be 1 or more")
	}
	a, err := s.UpdateApp(ctx, slug, func(a *App) error {
		i := len(a.Rules)
		if position > 0 && position-1 < i {
			i = position - 1
		}
		a.Rules = slices.Insert(a.Rules, i, r)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for i := range a.Rules {
		if a.Rules[i].ID == r.ID {
			return a, &a.Rules[i], nil
		}
	}
	return a, nil, fmt.Errorf("rule %s vanished: %w", r.ID, ErrNotFound)
}

// RemoveAppRule removes the rule with the id, or, with id "", the one at
// position (1-based).
func (s *Service) RemoveAppRule(ctx context.Context, slug, id string, position int) (*App, error) {
	return s.UpdateApp(ctx, slug, func(a *App) error {
		i, err := ruleIndex(a, id, position)
		if err != nil {
			return err
		}
		a.Rules = slices.Delete(a.Rules, i, i+1)
		return nil
	})
}

// MoveAppRule moves the rule with the id to position to (1-based).
func (s *Service) MoveAppRule(ctx context.Context, slug, id string, to int) (*App, error) {
	return s.UpdateApp(ctx, slug, func(a *App) error {
		i, err := ruleIndex(a, id, 0)
		if err != nil {
			return err
		}
		if to < 1 || to > len(a.Rules) {
			return invalid("rule position", fmt.Sprintf("must be between 1 and %d", len(a.Rules)))
		}
		r := a.Rules[i]
		a.Rules = slices.Insert(slices.Delete(a.Rules, i, i+1), to-1, r)
		return nil
	})
}

func ruleIndex(a *App, id string, position int) (int, error) {
	if id != "" {
		i := slices.IndexFunc(a.Rules, func(r AccessRule) bool { return r.ID == id })
		if i < 0 {
			return 0, fmt.Errorf("rule %s of app %s: %w", id, a.Slug, ErrNotFound)
		}
		return i, nil
	}
	if position < 1 || position > len(a.Rules) {
		return 0, invalid("rule position", fmt.Sprintf("must be between 1 and %d", len(a.Rules)))
	}
	return position - 1, nil
}

// ruleField renames a group lookup's field for rules.
func ruleField(err error) error {
	if ie, ok := err.(*InvalidError); ok && ie.Field == "group" {
		return invalid("rule group", ie.Reason)
	}
	return err
}

// validateRules normalises the rules of a forward_auth app in place.
// groupExists reports whether a group id names a group.
func validateRules(rules []AccessRule, groupExists func(id string) (bool, error)) error {
	if len(rules) > MaxAppRules {
		return invalid("rules", fmt.Sprintf("are more than %d", MaxAppRules))
	}
	seen := map[string]bool{}
	for i := range rules {
		r := &rules[i]
		if r.ID == "" || seen[r.ID] || hasControl(r.ID) || len(r.ID) > 64 {
			return invalid("rule id", fmt.Sprintf("%q is missing or used twice", r.ID))
		}
		seen[r.ID] = true
		p, err := NormalizeRulePath(r.Path)
		if err != nil {
			return err
		}
		r.Path = p
		if r.Methods, err = normalizeMethods(r.Methods); err != nil {
			return err
		}
		if r.Networks, err = normalizeNetworks(r.Networks); err != nil {
			return err
		}
		switch r.Policy {
		case PolicyGroups:
			if len(r.GroupIDs) == 0 {
				return invalid("rule group", "is required for policy groups (give --group)")
			}
		case PolicySecondFactor:
		case PolicyBypass, PolicySignedIn, PolicyDeny:
			if len(r.GroupIDs) > 0 {
				return invalid("rule group", "applies only to policies groups and second-factor")
			}
		default:
			return invalid("rule policy", fmt.Sprintf("%q is not one of bypass, signed-in, groups, second-factor, deny", r.Policy))
		}
		for _, id := range r.GroupIDs {
			ok, err := groupExists(id)
			if err != nil {
				return err
			}
			if !ok {
				return invalid("rule group", "a group of the rule no longer exists; choose the groups again")
			}
		}
		r.GroupIDs = slices.Compact(slices.Sorted(slices.Values(r.GroupIDs)))
		if len(r.GroupIDs) == 0 {
			r.GroupIDs = nil
		}
	}
	return nil
}

// NormalizeRulePath checks a rule's path pattern and drops a trailing "/"
// (a rule covers its path and everything under it either way). Patterns
// are spelled as the app's paths are after decoding: no '%', ';' or '\',
// no "." or ".." segments, no empty segments.
func NormalizeRulePath(p string) (string, error) {
	p = strings.TrimSpace(p)
	switch {
	case p == "":
		return "", invalid("rule path", "is required, like /api or /admin/*")
	case p[0] != '/':
		return "", invalid("rule path", fmt.Sprintf("%q must start with '/'", p))
	case len(p) > 1024:
		return "", invalid("rule path", "is longer than 1024 characters")
	case strings.ContainsAny(p, "%;\\?#") || hasControl(p) || strings.ContainsAny(p, " \t"):
		return "", invalid("rule path", fmt.Sprintf("%q may not contain '%%', ';', '\\', '?', '#', spaces or control characters: write the decoded path", p))
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if p == "/" {
		return p, nil
	}
	double := 0
	for _, seg := range strings.Split(p[1:], "/") {
		switch seg {
		case "":
			return "", invalid("rule path", fmt.Sprintf("%q has an empty segment (//)", p))
		case ".", "..":
			return "", invalid("rule path", fmt.Sprintf("%q has a '.' or '..' segment", p))
		case "**":
			double++
			continue
		}
		if strings.Contains(seg, "**") {
			return "", invalid("rule path", fmt.Sprintf("%q: '**' must be a whole segment", p))
		}
		if _, err := path.Match(seg, ""); err != nil {
			return "", invalid("rule path", fmt.Sprintf("%q has a malformed pattern in %q", p, seg))
		}
	}
	if double > 1 {
		return "", invalid("rule path", fmt.Sprintf("%q may have one '**' segment at most", p))
	}
	return p, nil
}

func normalizeMethods(ms []string) ([]string, error) {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		for _, part := range strings.Split(m, ",") {
			part = strings.ToUpper(strings.TrimSpace(part))
			if part == "" {
				continue
			}
			if len(part) > 20 || strings.IndexFunc(part, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r == '-' || r == '_') }) >= 0 {
				return nil, invalid("rule method", fmt.Sprintf("%q is not an HTTP method", part))
			}
			out = append(out, part)
		}
	}
	out = slices.Compact(slices.Sorted(slices.Values(out)))
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func normalizeNetworks(ns []string) ([]string, error) {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		for _, part := range strings.Split(n, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			var p netip.Prefix
			if strings.Contains(part, "/") {
				var err error
				if p, err = netip.ParsePrefix(part); err != nil {
					return nil, invalid("rule network", fmt.Sprintf("%q is not a CIDR prefix like 192.168.0.0/16", part))
				}
			} else {
				a, err := netip.ParseAddr(part)
				if err != nil || a.Zone() != "" {
					return nil, invalid("rule network", fmt.Sprintf("%q is not a CIDR prefix like 192.168.0.0/16", part))
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			if p.Addr().Zone() != "" {
				return nil, invalid("rule network", fmt.Sprintf("%q may not have a zone", part))
			}
			if p.Addr().Is4In6() {
				if p.Bits() < 96 {
					return nil, invalid("rule network", fmt.Sprintf("%q mixes IPv4-mapped and IPv6 addresses; write the IPv4 prefix", part))
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked().String())
		}
	}
	out = slices.Compact(slices.Sorted(slices.Values(out)))
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// dropRuleGroup removes a deleted group's id from the rules and turns a
// rule left without groups into PolicyDeny, so deleting a group never
// opens a path. It reports whether anything changed and which rules now
// deny.
func dropRuleGroup(rules []AccessRule, groupID string) (changed bool, denied []string) {
	for i := range rules {
		r := &rules[i]
		j := slices.Index(r.GroupIDs, groupID)
		if j < 0 {
			continue
		}
		changed = true
		r.GroupIDs = slices.Delete(r.GroupIDs, j, j+1)
		if len(r.GroupIDs) == 0 {
			r.GroupIDs = nil
			r.Policy = PolicyDeny
			denied = append(denied, r.ID)
		}
	}
	return changed, denied
}
