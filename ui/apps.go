package ui

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

// apps lists the applications the signed-in user may open, for the home
// page. A failure to read them is logged and leaves the list empty; the
// rest of the page still works.
func (h *Handler) apps(ctx context.Context, u *auth.User) []AppLink {
	all, err := h.auth.Apps(ctx)
	if err != nil {
		web.ContextLogger(ctx, h.log).Error("home: list apps", "err", err)
		return nil
	}
	groups, err := h.auth.UserGroups(ctx, u.ID)
	if err != nil {
		web.ContextLogger(ctx, h.log).Error("home: user groups", "err", err)
		return nil
	}
	return appLinks(all, u.Status, auth.GroupIDs(groups), h.site.Host.Scheme)
}

// appLinks is the home page's rule: every app the user may use
// (auth.CanUse, with the user's group ids) that has somewhere to open, by
// name. scheme is CLINCH_HOST's.
func appLinks(apps []*auth.App, status auth.Status, groupIDs []string, scheme string) []AppLink {
	var out []AppLink
	for _, a := range apps {
		if !auth.CanUse(a, status, groupIDs) {
			continue
		}
		if u := launchURL(a, scheme); u != "" {
			out = append(out, AppLink{Name: a.Name, URL: u})
		}
	}
	slices.SortStableFunc(out, func(x, y AppLink) int {
		return cmp.Or(cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), cmp.Compare(x.URL, y.URL))
	})
	return out
}

// launchURL is where the home page sends a person to open a: its launch
// URL when it has one; else, for a forward_auth app with an exact domain,
// that domain over https (over http when Clinch itself is plain http, as
// on a first try on one machine). A wildcard domain names no one site and
// an OIDC client has no page of its own to guess, so those need
// --launch-url to be listed.
func launchURL(a *auth.App, scheme string) string {
	if a.LaunchURL != "" {
		return a.LaunchURL
	}
	if a.Type != auth.AppForwardAuth || a.Domain == "" || strings.Contains(a.Domain, "*") {
		return ""
	}
	if scheme != "http" {
		scheme = "https"
	}
	return scheme + "://" + a.Domain
}
