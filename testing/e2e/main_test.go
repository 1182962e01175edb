package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// A password long enough for Clinch's minimum of 8.
const password = "correct horse battery staple"

// user is the part of `clinch user list --json` the tests read.
type user struct {
	ID          string   `json:"id"`
	Email       string   `json:"email"`
	Username    string   `json:"username"`
	DisplayName string   `json:"display_name"`
	Admin       bool     `json:"admin"`
	Status      string   `json:"status"`
	Groups      []string `json:"groups"`
	CreatedAt   string   `json:"created_at"`
}

// group is the part of `clinch group list --json` the tests read.
type group struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Members     []string `json:"members"`
}

// cli is what runs a clinch command: a server's CLI or harness.CLI bound to
// stopped installation's options.
type cli func(t testing.TB, stdin string, args ...string) (stdout, stderr string, exit int)

func stopped(o harness.Options) cli {
	return func(t testing.TB, stdin string, args ...string) (string, string, int) {
		t.Helper()
		return harness.CLI(t, o, stdin, args...)
	}
}

func must(t testing.TB, run cli, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, stdin, args...)
	if code != 0 {
		t.Fatalf("clinch %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func listUsers(t testing.TB, run cli) []user {
	t.Helper()
	out := must(t, run, "", "user", "list", "--json")
	var us []user
	if err := json.Unmarshal([]byte(out), &us); err != nil {
		t.Fatalf("clinch user list --json: %v\n%s", err, out)
	}
	slices.SortFunc(us, func(a, b user) int { return strings.Compare(a.Email, b.Email) })
	return us
}

func listGroups(t testing.TB, run cli) []group {
	t.Helper()
	out := must(t, run, "", "group", "list", "--json")
	var gs []group
	if err := json.Unmarshal([]byte(out), &gs); err != nil {
		t.Fatalf("clinch group list --json: %v\n%s", err, out)
	}
	slices.SortFunc(gs, func(a, b group) int { return strings.Compare(a.Name, b.Name) })
	return gs
}

func findUser(us []user, email string) (user, bool) {
	for _, u := range us {
		if u.Email == email {
			return u, true
		}
	}
	return user{}, false
}

// createUser makes a user with a password through the CLI.
func createUser(t testing.TB, run cli, email string, extra ...string) {
	t.Helper()
	must(t, run, password+"\n", append([]string{"user", "create", "--email", email, "--password-stdin"}, extra...)...)
}

// home fetches / with c and fails unless it is the signed-in home page
// showing email.
func home(t testing.TB, c *http.Client, srv *harness.Server, email string) string {
	t.Helper()
	resp, body := harness.Get(t, c, srv.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s, want 200 (signed in)\n%s", resp.Status, harness.Text(body))
	}
	text := harness.Text(body)
	if !strings.Contains(text, email) {
		// Not fatal: the page is there, the rest of the test can go on.
		t.Errorf("home page does not show the signed-in user's email %s:\n%s", email, text)
	}
	return text
}

// location returns the path (and query) of a redirect's Location, resolved
// against the server.
func location(t testing.TB, resp *http.Response) string {
	t.Helper()
	u, err := resp.Location()
	if err != nil {
		t.Fatalf("%s %s: %s without a usable Location: %v", resp.Request.Method, resp.Request.URL.Path, resp.Status, err)
	}
	return u.RequestURI()
}
