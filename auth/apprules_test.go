package auth_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

func TestAppRules_Validation(t *testing.T) {
	f := newAppsFixture(t)
	ctx := context.Background()
	if _, err := f.svc.CreateGroup(ctx, "admins", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Wiki", Type: auth.AppForwardAuth, Domain: "wiki.example.com"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		in    auth.RuleInput
		field string // "" = accepted
	}{
		{"prefix", auth.RuleInput{Path: "/api/", Policy: auth.PolicyBypass}, ""},
		{"glob", auth.RuleInput{Path: "/users/*/settings", Policy: auth.PolicyDeny}, ""},
		{"double star", auth.RuleInput{Path: "/static/**/*.map", Policy: auth.PolicyDeny}, ""},
		{"groups", auth.RuleInput{Path: "/admin", Policy: auth.PolicyGroups, Groups: []string{"admins"}}, ""},
		{"methods and networks", auth.RuleInput{Path: "/x", Methods: []string{"get", "POST,put"}, Networks: []string{"10.0.0.0/8", "192.168.1.7", "2001:db8::/32"}, Policy: auth.PolicySignedIn}, ""},
		{"no path", auth.RuleInput{Policy: auth.PolicyDeny}, "rule path"},
		{"relative path", auth.RuleInput{Path: "admin", Policy: auth.PolicyDeny}, "rule path"},
		{"encoded path", auth.RuleInput{Path: "/a%2Fb", Policy: auth.PolicyDeny}, "rule path"},
		{"dot segment", auth.RuleInput{Path: "/a/../b", Policy: auth.PolicyDeny}, "rule path"},
		{"double slash", auth.RuleInput{Path: "/a//b", Policy: auth.PolicyDeny}, "rule path"},
		{"semicolon", auth.RuleInput{Path: "/a;b", Policy: auth.PolicyDeny}, "rule path"},
		{"bad glob", auth.RuleInput{Path: "/a/[b", Policy: auth.PolicyDeny}, "rule path"},
		{"two double stars", auth.RuleInput{Path: "/**/a/**", Policy: auth.PolicyDeny}, "rule path"},
		{"bad method", auth.RuleInput{Path: "/a", Methods: []string{"GE T"}, Policy: auth.PolicyDeny}, "rule method"},
		{"bad network", auth.RuleInput{Path: "/a", Networks: []string{"10.0.0.0/33"}, Policy: auth.PolicyDeny}, "rule network"},
		{"bad policy", auth.RuleInput{Path: "/a", Policy: "allow"}, "rule policy"},
		{"groups without a group", auth.RuleInput{Path: "/a", Policy: auth.PolicyGroups}, "rule group"},
		{"group on a bypass", auth.RuleInput{Path: "/a", Policy: auth.PolicyBypass, Groups: []string{"admins"}}, "rule group"},
		{"unknown group", auth.RuleInput{Path: "/a", Policy: auth.PolicyGroups, Groups: []string{"nobody"}}, "rule group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r, err := f.svc.AddAppRule(ctx, "wiki", tt.in, 0)
			var ie *auth.InvalidError
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.field != "" && !errors.As(err, &ie):
				t.Fatalf("err = %v, want an InvalidError for %s", err, tt.field)
			case tt.field != "" && ie.Field != tt.field:
				t.Fatalf("field = %q, want %q (%v)", ie.Field, tt.field, err)
			case tt.field == "" && r == nil:
				t.Fatal("no rule returned")
			}
		})
	}
	a, err := f.svc.AppBySlug(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	r := a.Rules[4]
	if !slices.Equal(r.Methods, []string{"GET", "POST", "PUT"}) || !slices.Equal(r.Networks, []string{"10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"}) {
		t.Errorf("normalised rule = %+v", r)
	}
	if a.Rules[0].Path != "/api" {
		t.Errorf("trailing slash kept: %q", a.Rules[0].Path)
	}
}

func TestAppRules_OrderAddMoveRemove(t *testing.T) {
	f := newAppsFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Wiki", Type: auth.AppForwardAuth, Domain: "wiki.example.com"}); err != nil {
		t.Fatal(err)
	}
	add := func(p string, pos int) string {
		_, r, err := f.svc.AddAppRule(ctx, "wiki", auth.RuleInput{Path: p, Policy: auth.PolicyDeny}, pos)
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	paths := func() []string {
		a, err := f.svc.AppBySlug(ctx, "wiki")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range a.Rules {
			out = append(out, r.Path)
		}
		return out
	}
	add("/a", 0)
	b := add("/b", 0)
	add("/c", 1)
	if got := paths(); !slices.Equal(got, []string{"/c", "/a", "/b"}) {
		t.Fatalf("after add: %v", got)
	}
	if _, err := f.svc.MoveAppRule(ctx, "wiki", b, 1); err != nil {
		t.Fatal(err)
	}
	if got := paths(); !slices.Equal(got, []string{"/b", "/c", "/a"}) {
		t.Fatalf("after move: %v", got)
	}
	if _, err := f.svc.MoveAppRule(ctx, "wiki", b, 4); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("move past the end: %v", err)
	}
	if _, err := f.svc.RemoveAppRule(ctx, "wiki", "", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RemoveAppRule(ctx, "wiki", b, 0); err != nil {
		t.Fatal(err)
	}
	if got := paths(); !slices.Equal(got, []string{"/a"}) {
		t.Fatalf("after remove: %v", got)
	}
	if _, err := f.svc.RemoveAppRule(ctx, "wiki", "nope", 0); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("remove unknown: %v", err)
	}
}

func TestAppRules_OnlyForwardAuth(t *testing.T) {
	f := newAppsFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Grafana", Type: auth.AppOIDC, RedirectURIs: []string{"https://grafana.example.com/cb"}}); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.svc.AddAppRule(ctx, "grafana", auth.RuleInput{Path: "/a", Policy: auth.PolicyDeny}, 0)
	var ie *auth.InvalidError
	if !errors.As(err, &ie) || ie.Field != "rules" {
		t.Errorf("rule on an OIDC app: %v", err)
	}
}

// Deleting the only group of a rule must not leave a rule that admits
// everyone: the rule denies instead.
func TestDeleteGroup_RuleLeftWithoutGroupsDenies(t *testing.T) {
	f := newAppsFixture(t)
	ctx := context.Background()
	for _, g := range []string{"admins", "ops"} {
		if _, err := f.svc.CreateGroup(ctx, g, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.svc.CreateApp(ctx, auth.AppInput{Name: "Wiki", Type: auth.AppForwardAuth, Domain: "wiki.example.com"}); err != nil {
		t.Fatal(err)
	}
	_, only, err := f.svc.AddAppRule(ctx, "wiki", auth.RuleInput{Path: "/admin", Policy: auth.PolicyGroups, Groups: []string{"admins"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, two, err := f.svc.AddAppRule(ctx, "wiki", auth.RuleInput{Path: "/ops", Policy: auth.PolicySecondFactor, Groups: []string{"admins", "ops"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	del, err := f.svc.DeleteGroup(ctx, "admins")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(del.DeniedRules, []string{"wiki " + only.ID}) || !slices.Equal(del.Apps, []string{"wiki"}) {
		t.Errorf("deletion = %+v", del)
	}
	a, err := f.svc.AppBySlug(ctx, "wiki")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range a.Rules {
		switch r.ID {
		case only.ID:
			if r.Policy != auth.PolicyDeny || len(r.GroupIDs) != 0 {
				t.Errorf("emptied rule = %+v, want deny", r)
			}
		case two.ID:
			if r.Policy != auth.PolicySecondFactor || len(r.GroupIDs) != 1 {
				t.Errorf("rule with a group left = %+v", r)
			}
		}
	}
	if !a.Active {
		t.Error("the app was deactivated; its own groups were untouched")
	}
}
