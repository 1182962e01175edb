package forward

import (
	"net/http"
	"slices"
	"strings"

	"github.com/clinchsso/clinch/auth"
)

// appTable maps hosts to forward_auth apps. It is built from the store when
// apps change and never modified afterwards, so requests read it without a
// lock.
type appTable struct {
	gen   uint64
	exact map[string]*fwdApp // "app.example.com"
	wild  map[string]*fwdApp // "*.example.com", "api.*.example.com": by pattern
	// shapes lists, per number of labels, the wildcard masks
	// (auth.WildcardMask) in use, best first (auth.MaskBeats), so a host
	// is tried against each shape with one map lookup and the first hit
	// is the pattern that takes precedence.
	shapes map[int][]uint64
	byID   map[string]*fwdApp
}

// fwdApp is an app with what the hot path needs precomputed.
type fwdApp struct {
	*auth.App
	// Canonical header names; "" turns one off.
	hUser, hEmail, hName, hGroups, hAdmin string
	slug                                  string // sanitised, for Remote-User of service identities
	rules                                 ruleSet
	challenge                             []string // WWW-Authenticate for Basic apps
}

func compileApps(gen uint64, apps []*auth.App) *appTable {
	t := &appTable{gen: gen, exact: map[string]*fwdApp{}, wild: map[string]*fwdApp{}, shapes: map[int][]uint64{}, byID: map[string]*fwdApp{}}
	for _, a := range apps {
		if a.Type != auth.AppForwardAuth || a.Domain == "" {
			continue
		}
		h := a.EffectiveHeaders()
		fa := &fwdApp{App: a, slug: headerValue(a.Slug), rules: compileRules(a.Rules)}
		if a.BasicAuth {
			fa.challenge = basicChallenge(a.Name)
		}
		for _, p := range []struct {
			dst *string
			src string
		}{{&fa.hUser, h.User}, {&fa.hEmail, h.Email}, {&fa.hName, h.Name}, {&fa.hGroups, h.Groups}, {&fa.hAdmin, h.Admin}} {
			if name := strings.TrimSpace(p.src); name != "" && headerValue(name) == name && !strings.ContainsAny(name, " :") {
				*p.dst = http.CanonicalHeaderKey(name)
			}
		}
		t.byID[a.ID] = fa
		d := strings.ToLower(a.Domain)
		if !strings.Contains(d, "*") {
			t.exact[d] = fa
			continue
		}
		t.wild[d] = fa
		n, m := strings.Count(d, ".")+1, auth.WildcardMask(d)
		if !slices.Contains(t.shapes[n], m) {
			t.shapes[n] = append(t.shapes[n], m)
		}
	}
	for n, ms := range t.shapes {
		slices.SortFunc(ms, func(a, b uint64) int {
			switch {
			case auth.MaskBeats(a, b, n):
				return -1
			case auth.MaskBeats(b, a, n):
				return 1
			}
			return 0
		})
	}
	return t
}

// match returns the app covering host (lower case, no port): an exact
// pattern if there is one, else the wildcard pattern that takes precedence
// (see auth.DomainBeats). A wildcard costs one map lookup per shape of
// pattern with as many labels as the host, with no allocation.
func (t *appTable) match(host string) *fwdApp {
	if t == nil {
		return nil
	}
	if a := t.exact[host]; a != nil {
		return a
	}
	shapes := t.shapes[strings.Count(host, ".")+1]
	if len(shapes) == 0 || len(host) > 253 {
		return nil
	}
	var arr [253]byte
next:
	for _, m := range shapes {
		key := arr[:0]
		rest := host
		for i := 0; ; i++ {
			label, after, more := strings.Cut(rest, ".")
			if label == "" {
				continue next
			}
			if m&(1<<i) != 0 {
				key = append(key, '*')
			} else {
				key = append(key, label...)
			}
			if !more {
				break
			}
			key = append(key, '.')
			rest = after
		}
		if a := t.wild[string(key)]; a != nil {
			return a
		}
	}
	return nil
}
