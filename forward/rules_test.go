package forward

import (
	"net/netip"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// ruleApp is a forward_auth app for group "staff" with these rules:
//
//	1 /api                bypass
//	2 /admin              groups admins
//	3 /private            deny
//	4 /secure             second-factor
//	5 /lan                bypass from 10.0.0.0/8
//	6 /open               signed-in
//	7 /items              DELETE: deny
//	8 /export             GET: deny
//	9 /users/*/settings   deny
//	10 /static/**/*.map   deny
func ruleApp() *fwdApp {
	return appWithRules(
		auth.AccessRule{ID: "r1", Path: "/api", Policy: auth.PolicyBypass},
		auth.AccessRule{ID: "r2", Path: "/admin", Policy: auth.PolicyGroups, GroupIDs: []string{"admins"}},
		auth.AccessRule{ID: "r3", Path: "/private", Policy: auth.PolicyDeny},
		auth.AccessRule{ID: "r4", Path: "/secure", Policy: auth.PolicySecondFactor},
		auth.AccessRule{ID: "r5", Path: "/lan", Policy: auth.PolicyBypass, Networks: []string{"10.0.0.0/8"}},
		auth.AccessRule{ID: "r6", Path: "/open", Policy: auth.PolicySignedIn},
		auth.AccessRule{ID: "r7", Path: "/items", Methods: []string{"DELETE"}, Policy: auth.PolicyDeny},
		auth.AccessRule{ID: "r8", Path: "/export", Methods: []string{"GET"}, Policy: auth.PolicyDeny},
		auth.AccessRule{ID: "r9", Path: "/users/*/settings", Policy: auth.PolicyDeny},
		auth.AccessRule{ID: "r10", Path: "/static/**/*.map", Policy: auth.PolicyDeny},
	)
}

func appWithRules(rs ...auth.AccessRule) *fwdApp {
	a := &auth.App{ID: "w", Slug: "wiki", Active: true, AllowedGroupIDs: []string{"staff"}, Rules: rs}
	return &fwdApp{App: a, rules: compileRules(rs)}
}

// Callers for the rule tests.
var (
	anon      = Caller{}
	staff1    = Caller{via: viaSession, cred: &cred{kind: credSession, userID: "u1", acr: "1"}, user: &identity{id: "u1", status: auth.StatusActive, groups: []string{"staff"}}}
	staff2    = Caller{via: viaSession, cred: &cred{kind: credSession, userID: "u1", acr: "2"}, user: &identity{id: "u1", status: auth.StatusActive, groups: []string{"staff"}}}
	admin1    = Caller{via: viaSession, cred: &cred{kind: credSession, userID: "u2", acr: "1"}, user: &identity{id: "u2", status: auth.StatusActive, groups: []string{"admins"}}}
	misc2     = Caller{via: viaSession, cred: &cred{kind: credSession, userID: "u3", acr: "2"}, user: &identity{id: "u3", status: auth.StatusActive, groups: []string{"misc"}}}
	badBearer = Caller{via: viaBearer}
	service   = Caller{via: viaBearer, cred: &cred{kind: credAPIKey, appID: "w"}}
)

type ruleCase struct {
	name   string
	path   string
	method string
	alt    []string
	addr   string
	c      Caller
	want   outcome
}

func runRuleCases(t *testing.T, app *fwdApp, cases []ruleCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			q := ruleReq{rawPath: tt.path, method: tt.method, alt: tt.alt}
			if q.method == "" {
				q.method = "GET"
			}
			if tt.addr != "" {
				q.addr = netip.MustParseAddr(tt.addr)
			}
			if got := decide(app, q, tt.c); got != tt.want {
				t.Errorf("decide(%q %s) = %v, want %v", tt.path, q.method, got, tt.want)
			}
		})
	}
}

func TestDecide_Rules(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "no rule: app groups admit staff", path: "/wiki/page", c: staff1, want: outAllowed},
		{name: "no rule: app groups refuse others", path: "/wiki/page", c: misc2, want: outForbidden},
		{name: "no rule: nobody signs in", path: "/", c: anon, want: outSignIn},
		{name: "bypass: nobody", path: "/api/v1/items", c: anon, want: outBypass},
		{name: "bypass: the prefix itself", path: "/api", c: anon, want: outBypass},
		{name: "bypass: trailing slash", path: "/api/", c: anon, want: outBypass},
		{name: "bypass: a signed-in user too", path: "/api/x", c: staff1, want: outBypass},
		{name: "bypass: an invalid bearer does not matter", path: "/api/x", c: badBearer, want: outBypass},
		{name: "prefix is by segment", path: "/apiary", c: anon, want: outSignIn},
		{name: "groups: member", path: "/admin/users", c: admin1, want: outAllowed},
		{name: "groups: the app's group is not the rule's", path: "/admin", c: staff1, want: outForbidden},
		{name: "groups: nobody signs in", path: "/admin", c: anon, want: outSignIn},
		{name: "groups: a service identity has no groups", path: "/admin", c: service, want: outForbidden},
		{name: "deny: signed in", path: "/private/x", c: staff2, want: outForbidden},
		{name: "deny: nobody", path: "/private", c: anon, want: outForbidden},
		{name: "second-factor: password only", path: "/secure", c: staff1, want: outStepUp},
		{name: "second-factor: done", path: "/secure", c: staff2, want: outAllowed},
		{name: "second-factor: the app's groups still decide", path: "/secure", c: misc2, want: outForbidden},
		{name: "second-factor: a service identity passes", path: "/secure", c: service, want: outAllowed},
		{name: "second-factor: nobody signs in", path: "/secure", c: anon, want: outSignIn},
		{name: "signed-in: outside the app's groups", path: "/open/doc", c: misc2, want: outAllowed},
		{name: "signed-in: nobody", path: "/open/doc", c: anon, want: outSignIn},
		{name: "signed-in: service identity", path: "/open/doc", c: service, want: outAllowed},
		{name: "method: DELETE denied", path: "/items/1", method: "DELETE", c: staff1, want: outForbidden},
		{name: "method: GET falls through", path: "/items/1", c: staff1, want: outAllowed},
		{name: "network: inside", path: "/lan/x", addr: "10.1.2.3", c: anon, want: outBypass},
		{name: "network: outside falls through", path: "/lan/x", addr: "192.0.2.1", c: anon, want: outSignIn},
		{name: "network: IPv6 outside", path: "/lan/x", addr: "2001:db8::1", c: staff1, want: outAllowed},
		{name: "glob: one segment", path: "/users/bob/settings", c: staff1, want: outForbidden},
		{name: "glob: under the match", path: "/users/bob/settings/email", c: staff1, want: outForbidden},
		{name: "glob: not matched", path: "/users/bob", c: staff1, want: outAllowed},
		{name: "glob: ** as no segment", path: "/static/app.js.map", c: staff1, want: outForbidden},
		{name: "glob: ** as segments", path: "/static/a/b/app.js.map", c: staff1, want: outForbidden},
		{name: "glob: other files", path: "/static/a/app.js", c: staff1, want: outAllowed},
	})
}

func TestDecide_RulesFirstMatchWins(t *testing.T) {
	groupsFirst := appWithRules(
		auth.AccessRule{ID: "a", Path: "/admin", Policy: auth.PolicyGroups, GroupIDs: []string{"admins"}},
		auth.AccessRule{ID: "b", Path: "/admin/public", Policy: auth.PolicyBypass},
	)
	bypassFirst := appWithRules(
		auth.AccessRule{ID: "b", Path: "/admin/public", Policy: auth.PolicyBypass},
		auth.AccessRule{ID: "a", Path: "/admin", Policy: auth.PolicyGroups, GroupIDs: []string{"admins"}},
	)
	runRuleCases(t, groupsFirst, []ruleCase{{name: "groups first", path: "/admin/public/logo.png", c: anon, want: outSignIn}})
	runRuleCases(t, bypassFirst, []ruleCase{
		{name: "bypass first", path: "/admin/public/logo.png", c: anon, want: outBypass},
		{name: "then groups", path: "/admin/settings", c: anon, want: outSignIn},
	})
}

func TestDecide_RulesKeepTheAppsSecondFactor(t *testing.T) {
	app := appWithRules(auth.AccessRule{ID: "a", Path: "/open", Policy: auth.PolicySignedIn},
		auth.AccessRule{ID: "b", Path: "/api", Policy: auth.PolicyBypass})
	app.RequireSecondFactor = true
	runRuleCases(t, app, []ruleCase{
		{name: "signed-in with a second factor", path: "/open", c: misc2, want: outAllowed},
		{name: "signed-in, password only, still steps up", path: "/open", c: staff1, want: outStepUp},
		{name: "bypass needs nobody", path: "/api", c: anon, want: outBypass},
	})
}

// The attacks below each spell a protected path so that one reading of it
// misses the rule; every reading an app may use must be refused.

func TestRules_EncodedSlashDoesNotReachAProtectedPath(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "%2F dot dot from a bypass", path: "/api%2F..%2Fprivate", c: staff2, want: outForbidden},
		{name: "..%2F from a bypass", path: "/api/..%2Fprivate", c: staff2, want: outForbidden},
		{name: "lower-case %2f", path: "/api/..%2fprivate", c: staff2, want: outForbidden},
		{name: "%5C backslash", path: "/api/..%5Cprivate", c: staff2, want: outForbidden},
		{name: "%2F to climb out of a denied path into a bypass", path: "/private/..%2F..%2Fapi/x", c: anon, want: outForbidden},
		{name: "a literal %2F under a bypass stays bypassed", path: "/api/v4/projects/group%2Fproject", c: anon, want: outBypass},
	})
}

func TestRules_DotSegmentsDoNotReachAProtectedPath(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "dot dot from a bypass", path: "/api/../private", c: staff2, want: outForbidden},
		{name: "dot dot from a bypass to a group", path: "/api/../admin", c: anon, want: outSignIn},
		{name: "single dot", path: "/./private", c: staff2, want: outForbidden},
		{name: "above the root", path: "/../../private", c: staff2, want: outForbidden},
		{name: "unresolved dot dot under a denied prefix", path: "/private/../api/x", c: anon, want: outForbidden},
		{name: "dot dot within a bypass stays bypassed", path: "/api/v1/../v2", c: anon, want: outBypass},
	})
}

func TestRules_EncodedDotDotDoesNotReachAProtectedPath(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "%2e%2e", path: "/api/%2e%2e/private", c: staff2, want: outForbidden},
		{name: "%2E%2E", path: "/api/%2E%2E/private", c: staff2, want: outForbidden},
		{name: "mixed .%2e", path: "/api/.%2e/private", c: staff2, want: outForbidden},
		{name: "encoded letters", path: "/%70rivate", c: staff2, want: outForbidden},
	})
}

func TestRules_CaseDoesNotReachAProtectedPath(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "upper case", path: "/PRIVATE", c: staff2, want: outForbidden},
		{name: "mixed case", path: "/Private/x", c: staff2, want: outForbidden},
		{name: "upper-case bypass is not a bypass at a case-sensitive app", path: "/API/x", c: anon, want: outSignIn},
	})
	upper := appWithRules(auth.AccessRule{ID: "a", Path: "/Admin", Policy: auth.PolicyDeny})
	runRuleCases(t, upper, []ruleCase{{name: "lower-case path, upper-case rule", path: "/admin", c: staff2, want: outForbidden}})
}

func TestRules_DoubleSlashesDoNotReachAProtectedPath(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "leading", path: "//private", c: staff2, want: outForbidden},
		{name: "inner", path: "/users//bob/settings", c: staff2, want: outForbidden},
		{name: "empty segment eaten by dot dot", path: "/private//../x", c: staff2, want: outForbidden},
		{name: "many", path: "///private///", c: staff2, want: outForbidden},
	})
}

func TestRules_SemicolonParametersDoNotReachAProtectedPath(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "parameter on the segment", path: "/private;jsessionid=x", c: staff2, want: outForbidden},
		{name: "dot dot with a parameter", path: "/api/..;/private", c: staff2, want: outForbidden},
		{name: "empty parameter", path: "/private;/x", c: staff2, want: outForbidden},
	})
}

func TestRules_BackslashDoesNotReachAProtectedPath(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "backslash dot dot", path: "/api\\..\\private", c: staff2, want: outForbidden},
		{name: "backslash separator", path: "/users\\bob\\settings", c: staff2, want: outForbidden},
	})
}

func TestRules_UnreadablePathsAreRefused(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "encoded NUL", path: "/api/x%00/../../private", c: anon, want: outForbidden},
		{name: "overlong UTF-8 dot", path: "/api/%c0%ae%c0%ae/private", c: anon, want: outForbidden},
		{name: "bad escape", path: "/api/%zz", c: anon, want: outForbidden},
	})
}

func TestRules_MethodOverrideDoesNotDodgeAMethodRule(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "POST claiming DELETE", path: "/items/1", method: "POST", alt: []string{"DELETE"}, c: staff1, want: outForbidden},
		{name: "POST alone", path: "/items/1", method: "POST", c: staff1, want: outAllowed},
		{name: "HEAD of a denied GET", path: "/export", method: "HEAD", alt: []string{"GET"}, c: staff1, want: outForbidden},
	})
}

func TestRules_UnknownClientAddressFailsClosed(t *testing.T) {
	runRuleCases(t, ruleApp(), []ruleCase{
		{name: "network rule reached", path: "/lan/x", c: anon, want: outForbidden},
		{name: "other paths unaffected", path: "/api/x", c: anon, want: outBypass},
	})
}

func TestReadings(t *testing.T) {
	tests := []struct {
		raw  string
		want []string // the paths read, folded ones marked with a leading "~"
	}{
		{"/a/b", []string{"/a/b"}},
		{"/a/b/", []string{"/a/b"}},
		{"/", []string{"/"}},
		{"/a/../b", []string{"/a/../b", "/b"}},
		{"/A", []string{"/A", "~/a"}},
		{"/a;x/b", []string{"/a;x/b", "/a/b"}},
		{"/a%2Fb", []string{"/a%2Fb", "/a/b"}},
	}
	for _, tt := range tests {
		rds, ok := readings(nil, tt.raw, false)
		if !ok {
			t.Errorf("%q: unreadable", tt.raw)
			continue
		}
		var got []string
		for _, rd := range rds {
			p := rd.path
			if rd.folded {
				p = "~" + p
			}
			got = append(got, p)
		}
		for _, w := range tt.want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("%q: readings %q lack %q", tt.raw, got, w)
			}
		}
	}
}

// FuzzRules_DenyHolds: whatever the spelling, a path that the most
// forgiving reading (every separator, parameters cut, dots resolved, lower
// case) puts under a denied prefix is refused, and nothing panics.
func FuzzRules_DenyHolds(f *testing.F) {
	for _, s := range []string{"/private", "/api/..%2Fprivate", "/api/..;/private", "//PRIVATE", "/api/%2e%2e/private", "/a\\..\\private", "/api/x"} {
		f.Add(s)
	}
	app := appWithRules(
		auth.AccessRule{ID: "a", Path: "/api", Policy: auth.PolicyBypass},
		auth.AccessRule{ID: "p", Path: "/private", Policy: auth.PolicyDeny},
	)
	f.Fuzz(func(t *testing.T, raw string) {
		if raw == "" || raw[0] != '/' || len(raw) > 512 {
			return
		}
		got := decide(app, ruleReq{rawPath: raw, method: "GET"}, staff2)
		p, ok := read(raw, encSlash|semicolon|backslash|collapse|dots|fold)
		if !ok {
			if got != outForbidden {
				t.Fatalf("%q is unreadable but %v", raw, got)
			}
			return
		}
		if (p == "/private" || len(p) > 8 && p[:9] == "/private/") && got != outForbidden {
			t.Fatalf("%q reads as %q but is %v", raw, p, got)
		}
	})
}
