package e2e

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// auditLine is the part of `clinch audit export`'s lines the test reads.
type auditLine struct {
	ID      string            `json:"id"`
	Time    string            `json:"time"`
	Kind    string            `json:"kind"`
	Actor   string            `json:"actor"`
	Subject string            `json:"subject"`
	Email   string            `json:"email"`
	IP      string            `json:"ip"`
	Reason  string            `json:"reason"`
	Detail  map[string]string `json:"detail"`
	After   json.RawMessage   `json:"after"`
}

func auditExport(t *testing.T, out string) []auditLine {
	t.Helper()
	var ls []auditLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("export line %q is not JSON: %v", sc.Text(), err)
		}
		ls = append(ls, l)
	}
	return ls
}

// A wrong password and then the right one leave two events an admin can
// export through the running server's control socket, and after a
// restart: the failure with its reason, the sign-in with how it was
// made, both with the client's address and neither with the password.
func TestAudit_SignInsExported(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	createUser(t, srv.CLI, "ann@example.com")
	ann := listUsers(t, srv.CLI)[0]
	const wrong = "Tr0ub4dor&3-wrong"

	resp, body := harness.TrySignIn(t, harness.NewClient(), srv, "ann@example.com", wrong, "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %s, want 401\n%s", resp.Status, harness.Text(body))
	}
	harness.SignIn(t, harness.NewClient(), srv, "ann@example.com", password, "")

	out := must(t, srv.CLI, "", "audit", "export")
	for _, secret := range []string{wrong, password, "$2a$"} {
		if strings.Contains(out, secret) {
			t.Fatalf("the export holds %q:\n%s", secret, out)
		}
	}
	ls := auditExport(t, out)
	if len(ls) != 3 {
		t.Fatalf("%d events, want user.created, signin.failed, signin:\n%s", len(ls), out)
	}
	in, failed, created := ls[0], ls[1], ls[2]
	if in.Kind != "signin" || in.Subject != ann.ID || in.Actor != ann.ID || in.Email != "ann@example.com" || in.IP != "127.0.0.1" || in.Detail["amr"] != "pwd" {
		t.Errorf("newest event %+v, want ann's password sign-in from 127.0.0.1", in)
	}
	if failed.Kind != "signin.failed" || failed.Subject != ann.ID || failed.Reason != "wrong password" || failed.IP != "127.0.0.1" || failed.Actor != "" {
		t.Errorf("second event %+v, want ann's failed sign-in: wrong password", failed)
	}
	if created.Kind != "user.created" || created.Actor != "cli" || !strings.Contains(string(created.After), `"email":"ann@example.com"`) {
		t.Errorf("oldest event %+v, want the CLI creating ann", created)
	}
	if !(in.ID > failed.ID && failed.ID > created.ID) {
		t.Errorf("ids not newest first: %s %s %s", in.ID, failed.ID, created.ID)
	}

	// The list filters, as the admin reads it.
	list := must(t, srv.CLI, "", "audit", "list", "--user", "ann@example.com", "--kind", "signin.failed", "--since", "1h")
	if lines := strings.Split(strings.TrimSpace(list), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "reason=\"wrong password\"") {
		t.Errorf("audit list of ann's failures:\n%s", list)
	}

	// Counted in metrics, by kind.
	_, metrics := harness.Get(t, harness.NewClient(), srv.URL+"/metrics")
	for _, want := range []string{`clinch_audit_events_total{kind="signin"} 1`, `clinch_audit_events_total{kind="signin.failed"} 1`, `clinch_audit_events_total{kind="mfa.reset"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Kept in the store: the CLI on the stopped data directory reads the
	// same events.
	srv.Stop(t)
	out, errOut, code := harness.CLI(t, srv.Options(), "", "audit", "export", "--kind", "signin.failed")
	if code != 0 {
		t.Fatalf("audit export on the stopped store: exit %d: %s", code, errOut)
	}
	if ls := auditExport(t, out); len(ls) != 1 || ls[0].ID != failed.ID {
		t.Errorf("after a restart, export of failures:\n%s", out)
	}
}
