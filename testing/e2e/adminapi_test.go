package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// apiCall sends a JSON request to the admin API of srv with the token
// ("" sends none) and returns the status and body.
func apiCall(t *testing.T, c *http.Client, srv *harness.Server, token, method, path, body string, hdr ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, out := harness.Do(t, c, req)
	return resp.StatusCode, out
}

// The admin API through the real binary: a token made with the CLI over
// the control socket creates a group and a user in it over HTTP, as a
// script would (curl-like requests with no cookies and no CSRF token);
// the audit trail names the token, the CLI sees them, and the user signs
// in. A signed-in admin's
// browser cookie alone gets 401, a revoked token gets 401, and the token
// is in no log line.
func TestAdminAPI_TokenFromCLICreatesUserAndGroup(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	createUser(t, srv.CLI, "root@example.com", "--admin")
	out := must(t, srv.CLI, "", "admin", "token", "create", "--name", "e2e", "--json")
	var tok struct {
		Token string `json:"token"`
		Name  string `json:"name"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || !strings.HasPrefix(tok.Token, "cadm_") {
		t.Fatalf("admin token create --json: %v\n%s", err, out)
	}
	script := &http.Client{} // no cookie jar: a script

	status, body := apiCall(t, script, srv, tok.Token, "POST", "/api/admin/groups", `{"name":"family","description":"Our family"}`,
		// A script's request from anywhere is not a cross-site form: the
		// CSRF check does not apply to the API.
		"Origin", "https://elsewhere.example")
	if status != http.StatusCreated || !strings.Contains(body, `"name": "family"`) {
		t.Fatalf("POST /api/admin/groups: %d %s", status, body)
	}
	status, body = apiCall(t, script, srv, tok.Token, "POST", "/api/admin/users",
		`{"email":"dana@example.com","name":"Dana","password":"`+password+`","groups":["family"]}`)
	if status != http.StatusCreated {
		t.Fatalf("POST /api/admin/users: %d %s", status, body)
	}
	var created user
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.ID == "" {
		t.Fatalf("created user: %v %s", err, body)
	}
	status, body = apiCall(t, script, srv, tok.Token, "POST", "/api/admin/users", `{"email":"not an address"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, `"field": "email"`) {
		t.Errorf("a bad email: %d %s, want 400 naming the field", status, body)
	}
	status, body = apiCall(t, script, srv, tok.Token, "GET", "/api/admin/users/"+created.ID, "")
	if status != http.StatusOK || !strings.Contains(body, "dana@example.com") {
		t.Errorf("GET the user: %d %s", status, body)
	}

	// The audit trail names the token as who made the user.
	status, body = apiCall(t, script, srv, tok.Token, "GET", "/api/admin/audit?kind=user.created&user=dana@example.com", "")
	if status != http.StatusOK || !strings.Contains(body, `"actor": "api:e2e"`) {
		t.Errorf("GET /api/admin/audit: %d %s, want dana's creation by api:e2e", status, body)
	}

	// The CLI sees what the API made: one store, one implementation.
	u, ok := findUser(listUsers(t, srv.CLI), "dana@example.com")
	if !ok || u.DisplayName != "Dana" || len(u.Groups) != 1 || u.Groups[0] != "family" {
		t.Errorf("clinch user list shows %+v", u)
	}
	gs := listGroups(t, srv.CLI)
	if len(gs) != 1 || gs[0].Description != "Our family" || len(gs[0].Members) != 1 {
		t.Errorf("clinch group list shows %+v", gs)
	}
	browser := harness.NewClient()
	harness.SignIn(t, browser, srv, "dana@example.com", password, "")
	home(t, browser, srv, "dana@example.com")

	// A signed-in admin's browser: its cookies are not a credential here.
	admin := harness.NewClient()
	harness.SignIn(t, admin, srv, "root@example.com", password, "")
	if status, body := apiCall(t, admin, srv, "", "GET", "/api/admin/users", ""); status != http.StatusUnauthorized {
		t.Errorf("GET with an admin's session cookie: %d %s, want 401", status, body)
	}
	if status, body := apiCall(t, admin, srv, "", "POST", "/api/admin/users", `{"email":"evil@example.com"}`); status != http.StatusUnauthorized {
		t.Errorf("POST with an admin's session cookie: %d %s, want 401", status, body)
	}

	must(t, srv.CLI, "", "admin", "token", "revoke", "--name", "e2e")
	if status, body := apiCall(t, script, srv, tok.Token, "GET", "/api/admin/users", ""); status != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d %s, want 401", status, body)
	}
	if _, ok := findUser(listUsers(t, srv.CLI), "evil@example.com"); ok {
		t.Error("a request with a cookie only created a user")
	}
	logs := srv.Log(t)
	if strings.Contains(logs, tok.Token) || strings.Contains(logs, tok.Token[5:]) {
		t.Errorf("the server log holds the admin token:\n%s", logs)
	}
	if !strings.Contains(logs, "admin API: token refused") {
		t.Errorf("the refused token left no log line:\n%s", logs)
	}
}
