package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// `clinch help`, `clinch COMMAND --help` and -h print that command's flags
// on stdout and exit 0, with no server and no data directory; `clinch
// serve --help` lists every setting with its environment variable.
func TestHelp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never-created")
	o := harness.Prepare(t, harness.Options{DataDir: dir, Env: map[string]string{"SECRET_KEY_BASE": ""}})
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"user create", "group add-user", "app create", "app apikey create", "app secret rotate", "keys rotate", "user claims set", "backup", "restore"}},
		{[]string{"--help"}, []string{"commands:"}},
		{[]string{"serve", "--help"}, []string{
			"CLINCH_LISTEN", "CLINCH_DATA_DIR", "CLINCH_HOST", "CLINCH_COOKIE_DOMAIN", "FORCE_SSL",
			"CLINCH_TRUSTED_PROXIES", "CLINCH_LOG_LEVEL", "CLINCH_LOG_FORMAT", "CLINCH_BCRYPT_COST", "CLINCH_CACHE_MB",
			"SECRET_KEY_BASE", "SECRET_KEY_BASE_FILE", "OIDC_PRIVATE_KEY", "OIDC_PRIVATE_KEY_FILE",
		}},
		{[]string{"serve", "-h"}, []string{"--listen", "--host", "--trusted-proxies"}},
		{[]string{"user", "create", "--help"}, []string{"usage: clinch user create", "-email", "-password-stdin"}},
		{[]string{"app", "update", "-h"}, []string{"usage: clinch app update", "-launch-url", "-active"}},
		{[]string{"help", "app", "create"}, []string{"usage: clinch app create", "-type", "-domain", "-redirect-uri"}},
		{[]string{"app", "--help"}, []string{"clinch app apikey list", "clinch app delete"}},
		{[]string{"backup", "--help"}, []string{"-out"}},
		{[]string{"restore", "--help"}, []string{"-in"}},
	} {
		out, errOut, code := harness.CLI(t, o, "", tc.args...)
		if code != 0 || errOut != "" {
			t.Errorf("clinch %s: exit %d, stderr %q; want help and 0", strings.Join(tc.args, " "), code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("clinch %s does not mention %s:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("help created the data directory (%v)", err)
	}
	// A server running changes nothing.
	srv := harness.Start(t, harness.Options{})
	if out, _, code := srv.CLI(t, "", "user", "list", "--help"); code != 0 || !strings.Contains(out, "usage: clinch user list") {
		t.Errorf("clinch user list --help with a server: exit %d\n%s", code, out)
	}
}

// The home page lists the apps each person may open, with their launch
// URLs, and nothing else.
func TestHomeListsApps(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	cli := srv.CLI
	must(t, cli, "", "group", "create", "--name", "staff")
	createUser(t, cli, "ann@example.com", "--group", "staff")
	createUser(t, cli, "bob@example.com")
	must(t, cli, "", "app", "create", "--type", "forward_auth", "--name", "MeTube", "--domain", "metube.example.com")
	must(t, cli, "", "app", "create", "--type", "forward_auth", "--name", "Wiki", "--domain", "wiki.example.com", "--group", "staff")
	must(t, cli, "", "app", "create", "--type", "forward_auth", "--name", "Tools", "--domain", "*.tools.example.com")
	must(t, cli, "", "app", "create", "--type", "forward_auth", "--name", "Media", "--domain", "*.media.example.com", "--launch-url", "https://tv.media.example.com/")
	must(t, cli, "", "app", "create", "--type", "forward_auth", "--name", "Old", "--domain", "old.example.com")
	must(t, cli, "", "app", "update", "--slug", "old", "--active=false")
	must(t, cli, "", "app", "create", "--type", "oidc", "--name", "Grafana", "--redirect-uri", "https://grafana.example.com/cb")
	must(t, cli, "", "app", "update", "--slug", "grafana", "--launch-url", "https://grafana.example.com/")
	must(t, cli, "", "app", "create", "--type", "oidc", "--name", "Gitea", "--redirect-uri", "https://gitea.example.com/cb")

	links := regexp.MustCompile(`<a href="([^"]+)">([^<]+)</a></li>`)
	for _, tc := range []struct {
		email string
		want  []string
	}{
		// CLINCH_HOST is plain http here, so are forward_auth links.
		{"ann@example.com", []string{"Grafana https://grafana.example.com/", "Media https://tv.media.example.com/", "MeTube http://metube.example.com", "Wiki http://wiki.example.com"}},
		{"bob@example.com", []string{"Grafana https://grafana.example.com/", "Media https://tv.media.example.com/", "MeTube http://metube.example.com"}},
	} {
		c := harness.NewClient()
		harness.SignIn(t, c, srv, tc.email, password, "")
		resp, body := harness.Get(t, c, srv.URL+"/")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("home of %s: %s", tc.email, resp.Status)
		}
		var got []string
		for _, m := range links.FindAllStringSubmatch(body, -1) {
			got = append(got, m[2]+" "+m[1])
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("home of %s lists %q, want %q", tc.email, got, tc.want)
		}
	}
}
