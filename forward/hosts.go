package forward

import (
	"net/http"
	"strings"

	"github.com/clinchsso/clinch/auth"
)

// appTable maps hosts to forward_auth apps. It is built from the store when
// apps change and never modified afterwards, so requests read it without a
// lock.
type appTable struct {
	gen   uint64
	exact map[string]*fwdApp // "app.example.com"
	wild  map[string]*fwdApp // "*.example.com" under "example.com"
	byID  map[string]*fwdApp
}

// fwdApp is an app with what the hot path needs precomputed.
type fwdApp struct {
	*auth.App
	// Canonical header names; "" turns one off.
	hUser, hEmail, hName, hGroups string
	slug                          string // sanitised, for Remote-User of service identities
	rules                         ruleSet
}

func compileApps(gen uint64, apps []*auth.App) *appTable {
	t := &appTable{gen: gen, exact: map[string]*fwdApp{}, wild: map[string]*fwdApp{}, byID: map[string]*fwdApp{}}
	for _, a := range apps {
		if a.Type != auth.AppForwardAuth || a.Domain == "" {
			continue
		}
		h := a.EffectiveHeaders()
		fa := &fwdApp{App: a, slug: headerValue(a.Slug), rules: compileRules(a.Rules)}
		for _, p := range []struct {
			dst *string
			src string
		}{{&fa.hUser, h.User}, {&fa.hEmail, h.Email}, {&fa.hName, h.Name}, {&fa.hGroups, h.Groups}} {
			if name := strings.TrimSpace(p.src); name != "" && headerValue(name) == name && !strings.ContainsAny(name, " :") {
				*p.dst = http.CanonicalHeaderKey(name)
			}
		}
		t.byID[a.ID] = fa
		d := strings.ToLower(a.Domain)
		if parent, ok := strings.CutPrefix(d, "*."); ok {
			t.wild[parent] = fa
		} else {
			t.exact[d] = fa
		}
	}
	return t
}

// match returns the app covering host (lower case, no port). An exact
// pattern wins over a wildcard; since "*" is exactly one label, at most one
// wildcard ("*." + the host's parent) can match, which is also the longest.
func (t *appTable) match(host string) *fwdApp {
	if t == nil {
		return nil
	}
	if a := t.exact[host]; a != nil {
		return a
	}
	if _, parent, ok := strings.Cut(host, "."); ok && parent != "" {
		return t.wild[parent]
	}
	return nil
}
