package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/passkeytest"
	"github.com/clinchsso/clinch/kv/kvtest"
)

// auditedService is a Service that records into a Log the test reads.
func auditedService(t *testing.T) (*auth.Service, *audit.Log) {
	t.Helper()
	sec, err := auth.NewSecrets([]byte(strings.Repeat("k", 64)))
	if err != nil {
		t.Fatal(err)
	}
	st := kvtest.Open(t)
	l, err := audit.New(audit.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.New(auth.Config{Store: st, Secrets: sec, BcryptCost: 4, Audit: l})
	if err != nil {
		t.Fatal(err)
	}
	return s, l
}

func auditEvents(t *testing.T, l *audit.Log, f audit.Filter) []audit.Event {
	t.Helper()
	p, err := l.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return p.Events
}

// noSecrets fails when an event's encoding holds any of the secrets.
func noSecrets(t *testing.T, es []audit.Event, secrets ...string) {
	t.Helper()
	b, err := json.Marshal(es)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Errorf("the audit trail holds a secret %q:\n%s", s, b)
		}
	}
	if strings.Contains(string(b), "password_hash") || strings.Contains(string(b), "$2a$") {
		t.Errorf("the audit trail holds a password hash:\n%s", b)
	}
}

func TestAudit_SignInSuccessAndFailures(t *testing.T) {
	ctx := context.Background()
	s, l := auditedService(t)
	u, err := s.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, auth.NewUser{Email: "off@example.com", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetStatus(ctx, "off@example.com", auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		login, pw  string
		ok         bool
		wantReason string
		wantUser   bool
	}{
		{"wrong password", "ann@example.com", "Tr0ub4dor&3", false, "wrong password", true},
		{"unknown user", "nobody-secret-typed-here@example.com", "x", false, "unknown user", false},
		{"disabled account", "off@example.com", "correct horse", false, "account disabled", true},
		{"right password, by username", "ann", "correct horse", true, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Authenticate(ctx, auth.SignIn{Login: tc.login, Password: tc.pw, IP: "198.51.100.4"})
			if tc.ok != (err == nil) {
				t.Fatalf("Authenticate = %v, want ok=%v", err, tc.ok)
			}
			got := auditEvents(t, l, audit.Filter{Limit: 1})[0]
			want := audit.SignInFailed
			if tc.ok {
				want = audit.SignIn
			}
			if got.Kind != want || got.IP != "198.51.100.4" || got.Reason != tc.wantReason {
				t.Errorf("recorded %+v, want kind %s, reason %q, the client IP", got, want, tc.wantReason)
			}
			if tc.wantUser != (got.Subject != "") || tc.wantUser && got.Email == "" {
				t.Errorf("subject %q email %q: want the user named: %v", got.Subject, got.Email, tc.wantUser)
			}
			if tc.ok && (got.Subject != res.User.ID || got.Actor != u.ID || got.Detail["acr"] != "1" || got.Detail["amr"] != "pwd") {
				t.Errorf("sign-in recorded as %+v", got)
			}
		})
	}
	all := auditEvents(t, l, audit.Filter{})
	noSecrets(t, all, "correct horse", "Tr0ub4dor&3", "nobody-secret-typed-here")
	if n := len(auditEvents(t, l, audit.Filter{User: u.ID, Kind: audit.SignInFailed})); n != 1 {
		t.Errorf("%d failed sign-ins listed for ann, want 1", n)
	}
}

func TestAudit_AdminChangesKeepBeforeAndAfter(t *testing.T) {
	s, l := auditedService(t)
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: audit.ActorCLI})
	if _, err := s.CreateGroup(ctx, "staff", "", ""); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, auth.NewUser{Email: "bob@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddToGroup(ctx, "staff", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetUserClaims(ctx, "bob@example.com", `{"team":"blue"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPassword(ctx, "bob@example.com", "another horse"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetUserClaims(ctx, "nobody@example.com", `{}`); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("claims of nobody: %v", err)
	}
	if err := s.DeleteUser(ctx, "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	es := auditEvents(t, l, audit.Filter{User: u.ID})
	kinds := []audit.Kind{}
	for _, e := range es {
		kinds = append(kinds, e.Kind)
		if e.Actor != audit.ActorCLI || e.Email != "bob@example.com" {
			t.Errorf("%s: actor %q email %q", e.Kind, e.Actor, e.Email)
		}
	}
	want := []audit.Kind{audit.UserDeleted, audit.PasswordChanged, audit.UserUpdated, audit.GroupUpdated, audit.UserCreated}
	if strings.Join(toStrings(kinds), " ") != strings.Join(toStrings(want), " ") {
		t.Fatalf("kinds %v, want %v (a failed change records nothing)", kinds, want)
	}
	claims := es[2]
	var before, after map[string]any
	if err := json.Unmarshal(claims.Before, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(claims.After, &after); err != nil {
		t.Fatal(err)
	}
	if before["claims"] != nil || after["claims"].(map[string]any)["team"] != "blue" || after["email"] != "bob@example.com" {
		t.Errorf("claims change: before %s after %s", claims.Before, claims.After)
	}
	if es[3].Detail["group"] != "staff" || es[3].Detail["member"] != "added" {
		t.Errorf("membership change %+v", es[3])
	}
	if es[0].Before == nil || es[0].After != nil || es[4].Before != nil || es[4].After == nil {
		t.Error("a deletion keeps the record before, a creation the record after")
	}
	noSecrets(t, es, "correct horse", "another horse")
}

func TestAudit_AppChangesHideTheClientSecret(t *testing.T) {
	s, l := auditedService(t)
	ctx := context.Background()
	a, secret, err := s.CreateApp(ctx, auth.AppInput{Name: "Grafana", Type: auth.AppOIDC, RedirectURIs: []string{"https://grafana.example.com/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	newSecret, err := s.RotateAppSecret(ctx, a.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateApp(ctx, a.Slug, func(a *auth.App) error { a.Name = "Grafana 2"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApp(ctx, a.Slug); err != nil {
		t.Fatal(err)
	}
	es := auditEvents(t, l, audit.Filter{})
	var kinds []string
	for _, e := range es {
		kinds = append(kinds, string(e.Kind))
		if e.App != a.Slug {
			t.Errorf("%s: app %q", e.Kind, e.App)
		}
	}
	if got := strings.Join(kinds, " "); got != "app.deleted app.updated app.updated app.created" {
		t.Errorf("kinds %s", got)
	}
	if !strings.Contains(string(es[1].Before), `"name":"Grafana"`) || !strings.Contains(string(es[1].After), `"name":"Grafana 2"`) {
		t.Errorf("rename: before %s after %s", es[1].Before, es[1].After)
	}
	noSecrets(t, es, secret, newSecret, "secret_hash")
}

func TestAudit_FailedWriteFailsNothing(t *testing.T) {
	sec, err := auth.NewSecrets([]byte(strings.Repeat("k", 64)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.New(auth.Config{Store: kvtest.Open(t), Secrets: sec, BcryptCost: 4, Audit: failingRecorder{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, auth.NewUser{Email: "c@example.com", Password: "correct horse"}); err != nil {
		t.Fatalf("CreateUser with a broken audit trail: %v", err)
	}
	if _, err := s.Authenticate(ctx, auth.SignIn{Login: "c@example.com", Password: "correct horse", IP: "192.0.2.1"}); err != nil {
		t.Fatalf("sign-in with a broken audit trail: %v", err)
	}
}

type failingRecorder struct{}

func (failingRecorder) Record(context.Context, audit.Event) error { return errors.New("disk full") }

func toStrings(ks []audit.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func TestAudit_PasskeyEvents(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	p := f.mustRegister(t)
	ch := f.begin(t)
	if _, err := f.signIn(ch, answer(t, f.key, ch, passkeytest.Answer{}), "10.7.0.1"); err != nil {
		t.Fatal(err)
	}
	stranger := &passkeytest.Authenticator{Origin: pkOrigin}
	if _, err := stranger.NewKey(pkRPID); err != nil {
		t.Fatal(err)
	}
	ch = f.begin(t)
	// ann's credential id, signed by another key.
	if _, err := f.signIn(ch, answer(t, stranger, ch, passkeytest.Answer{CredentialID: f.key.Keys()[0].ID, UserHandle: []byte(f.ann.ID)}), "10.7.0.2"); !errors.Is(err, auth.ErrPasskeyRefused) {
		t.Fatalf("wrong signature: %v", err)
	}
	if err := f.svc.DeletePasskey(ctx, f.ann.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	es := auditEvents(t, f.audit, audit.Filter{User: f.ann.ID})
	var got []string
	for _, e := range es {
		got = append(got, string(e.Kind))
	}
	// The fixture made ann and signed her in with her password first.
	if strings.Join(got, " ") != "passkey.removed signin.failed signin passkey.added signin user.created" {
		t.Fatalf("kinds %v", got)
	}
	if es[1].IP != "10.7.0.2" || !strings.HasPrefix(es[1].Reason, "passkey: ") {
		t.Errorf("refusal recorded as %+v", es[1])
	}
	if es[2].IP != "10.7.0.1" || !strings.Contains(es[2].Detail["amr"], "hwk") || es[2].Detail["acr"] != "2" {
		t.Errorf("passkey sign-in recorded as %+v", es[2])
	}
	if es[0].Detail["passkey"] != p.ID || es[3].Detail["passkey"] != p.ID || es[0].Email != "ann@example.com" {
		t.Errorf("passkey not named: %+v / %+v", es[0], es[3])
	}
}

func TestAudit_RevokeSessionButNotSignOut(t *testing.T) {
	ctx := context.Background()
	s, l := auditedService(t)
	u, err := s.CreateUser(ctx, auth.NewUser{Email: "eve@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	phone, _, err := s.StartSession(ctx, u, "203.0.113.5", "phone", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	laptop, _, err := s.StartSession(ctx, u, "203.0.113.6", "laptop", false, "1", []string{"pwd"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(ctx, laptop.ID, u.ID); err != nil { // signing out
		t.Fatal(err)
	}
	if err := s.RevokeSession(ctx, phone.ID, "someone-else"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("revoking another's session: %v", err)
	}
	if err := s.RevokeSession(ctx, phone.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	es := auditEvents(t, l, audit.Filter{Kind: audit.SessionRevoked})
	if len(es) != 1 || es[0].Subject != u.ID || es[0].Detail["session_ip"] != "203.0.113.5" {
		t.Errorf("revocations recorded: %+v; want the phone's only", es)
	}
	if _, err := s.SessionByID(ctx, phone.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("revoked session still live: %v", err)
	}
}

func TestAudit_WrongPasswordWhileSignedIn(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	if _, err := f.svc.BeginPasskeyRegistration(ctx, f.ann, f.annSess, "not her password", "10.8.0.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	es := auditEvents(t, f.audit, audit.Filter{Kind: audit.SignInFailed})
	if len(es) != 1 || es[0].Subject != f.ann.ID || es[0].Reason != "wrong password (confirming a change while signed in)" {
		t.Errorf("recorded %+v; want ann's wrong password while signed in", es)
	}
	noSecrets(t, es, "not her password")
}
