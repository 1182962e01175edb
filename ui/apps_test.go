package ui

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

func TestAppLinks(t *testing.T) {
	fa := func(name, domain, launch string, groups ...string) *auth.App {
		return &auth.App{Name: name, Type: auth.AppForwardAuth, Active: true, Domain: domain, LaunchURL: launch, AllowedGroupIDs: groups}
	}
	oidc := func(name, launch string, groups ...string) *auth.App {
		return &auth.App{Name: name, Type: auth.AppOIDC, Active: true, LaunchURL: launch, AllowedGroupIDs: groups}
	}
	off := fa("Old", "old.example.com", "")
	off.Active = false
	apps := []*auth.App{
		fa("metube", "metube.example.com", ""),
		fa("Jellyfin", "tv.example.com", "https://tv.example.com/web/"),
		fa("Tools", "*.tools.example.com", ""),
		fa("Wiki", "*.wiki.example.com", "https://www.wiki.example.com/"),
		fa("Staff wiki", "staff.example.com", "", "staff"),
		oidc("Grafana", "https://grafana.example.com/"),
		oidc("Gitea", ""),
		oidc("Immich", "https://photos.example.com/", "family", "staff"),
		off,
	}
	tests := []struct {
		name   string
		groups []string
		scheme string
		want   []AppLink
	}{
		{"no groups, https", nil, "https", []AppLink{
			{"Grafana", "https://grafana.example.com/"},
			{"Jellyfin", "https://tv.example.com/web/"},
			{"metube", "https://metube.example.com"},
			{"Wiki", "https://www.wiki.example.com/"},
		}},
		{"staff, https", []string{"staff"}, "https", []AppLink{
			{"Grafana", "https://grafana.example.com/"},
			{"Immich", "https://photos.example.com/"},
			{"Jellyfin", "https://tv.example.com/web/"},
			{"metube", "https://metube.example.com"},
			{"Staff wiki", "https://staff.example.com"},
			{"Wiki", "https://www.wiki.example.com/"},
		}},
		{"family, plain-http Clinch", []string{"family"}, "http", []AppLink{
			{"Grafana", "https://grafana.example.com/"},
			{"Immich", "https://photos.example.com/"},
			{"Jellyfin", "https://tv.example.com/web/"},
			{"metube", "http://metube.example.com"},
			{"Wiki", "https://www.wiki.example.com/"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := appLinks(apps, auth.StatusActive, tt.groups, tt.scheme); !slices.Equal(got, tt.want) {
				t.Errorf("appLinks =\n %v\nwant\n %v", got, tt.want)
			}
		})
	}
}

// The home page shows each signed-in person the apps they may open.
func TestHome_ListsTheUsersApps(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.auth.CreateGroup(ctx, "staff", "", ""); err != nil {
		t.Fatal(err)
	}
	e.user("ann@example.com", "ann", "ann-password")
	e.user("bob@example.com", "bob", "bob-password")
	if err := e.auth.AddToGroup(ctx, "staff", "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	for _, in := range []auth.AppInput{
		{Name: "MeTube", Type: auth.AppForwardAuth, Domain: "metube.example.com"},
		{Name: "Wiki", Type: auth.AppForwardAuth, Domain: "wiki.example.com", AllowedGroups: []string{"staff"}},
		// Wildcards anywhere name no one site: not listed without --launch-url.
		{Name: "Tools", Type: auth.AppForwardAuth, Domain: "*.tools.example.com"},
		{Name: "APIs", Type: auth.AppForwardAuth, Domain: "api.*.example.com"},
		{Name: "Grafana", Type: auth.AppOIDC, RedirectURIs: []string{"https://grafana.example.com/cb"}, LaunchURL: "https://grafana.example.com/"},
		{Name: "Gitea", Type: auth.AppOIDC, RedirectURIs: []string{"https://gitea.example.com/cb"}},
	} {
		if _, _, err := e.auth.CreateApp(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	links := regexp.MustCompile(`<li><a href="([^"]+)">([^<]+)</a></li>`)
	for _, tt := range []struct {
		login string
		want  []string
	}{
		// The test server is plain http, so forward_auth links are too.
		{"ann", []string{"Grafana https://grafana.example.com/", "MeTube http://metube.example.com", "Wiki http://wiki.example.com"}},
		{"bob", []string{"Grafana https://grafana.example.com/", "MeTube http://metube.example.com"}},
	} {
		c := e.client("")
		want(t, c.signin(tt.login, tt.login+"-password", nil), 303, "/")
		home := c.get("/")
		var got []string
		for _, m := range links.FindAllStringSubmatch(home.body, -1) {
			got = append(got, m[2]+" "+m[1])
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s's home page lists %q, want %q", tt.login, got, tt.want)
		}
	}
}
