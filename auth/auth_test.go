package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv/kvtest"
)

func newService(t *testing.T) *auth.Service {
	t.Helper()
	sec, err := auth.NewSecrets([]byte(strings.Repeat("k", 64)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.New(auth.Config{Store: kvtest.Open(t), Secrets: sec, BcryptCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateUser_Validation(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	if _, err := s.CreateUser(ctx, auth.NewUser{Email: "Ann@Example.COM", Username: "ann", Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   auth.NewUser
		want error
	}{
		{"email taken, other case", auth.NewUser{Email: "ANN@example.com", Password: "12345678"}, auth.ErrConflict},
		{"username taken", auth.NewUser{Email: "b@example.com", Username: "ANN", Password: "12345678"}, auth.ErrConflict},
		{"bad email", auth.NewUser{Email: "not-an-email", Password: "12345678"}, auth.ErrInvalid},
		{"email with display name", auth.NewUser{Email: "Bob <b@example.com>", Password: "12345678"}, auth.ErrInvalid},
		{"short password", auth.NewUser{Email: "c@example.com", Password: "1234567"}, auth.ErrInvalid},
		{"password over 72 bytes", auth.NewUser{Email: "c@example.com", Password: strings.Repeat("é", 37)}, auth.ErrInvalid},
		{"username with @", auth.NewUser{Email: "c@example.com", Username: "a@b", Password: "12345678"}, auth.ErrInvalid},
		{"claims not an object", auth.NewUser{Email: "c@example.com", Password: "12345678", Claims: "[1]"}, auth.ErrInvalid},
		{"unknown group", auth.NewUser{Email: "c@example.com", Password: "12345678", Groups: []string{"nope"}}, auth.ErrNotFound},
		{"ok, 72 bytes", auth.NewUser{Email: "d@example.com", Password: strings.Repeat("x", 72)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateUser(ctx, tt.in)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("CreateUser = %v, want %v", err, tt.want)
			}
		})
	}
	// The failed "unknown group" create wrote no user.
	if _, err := s.UserByEmail(ctx, "c@example.com"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("user from a failed create: %v", err)
	}
	u, err := s.UserByEmail(ctx, "ann@example.com")
	if err != nil || u.Email != "ann@example.com" {
		t.Fatalf("email not normalised: %v %v", u, err)
	}
}

func TestPasswordMessagesArePlain(t *testing.T) {
	for _, p := range []string{"short", strings.Repeat("x", 73)} {
		err := auth.CheckPassword(p)
		var ie *auth.InvalidError
		if !errors.As(err, &ie) || !strings.Contains(ie.Error(), "password must be at") {
			t.Errorf("CheckPassword(%d bytes) = %v", len(p), err)
		}
	}
}

func TestSetupFirstUser_OnlyOnce(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	u, err := s.SetupFirstUser(ctx, auth.NewUser{Email: "admin@example.com", Password: "correct horse"})
	if err != nil || !u.Admin {
		t.Fatalf("first user: %+v %v", u, err)
	}
	if _, err := s.SetupFirstUser(ctx, auth.NewUser{Email: "second@example.com", Password: "correct horse"}); !errors.Is(err, auth.ErrSetupDone) {
		t.Fatalf("second setup = %v", err)
	}
}

func signIn(s *auth.Service, login, pw, ip string) error {
	_, err := s.Authenticate(context.Background(), auth.SignIn{Login: login, Password: pw, IP: ip})
	return err
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	s.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: "correct horse"})
	s.CreateUser(ctx, auth.NewUser{Email: "off@example.com", Password: "correct horse"})
	s.SetStatus(ctx, "off@example.com", auth.StatusDisabled)
	s.CreateUser(ctx, auth.NewUser{Email: "pending@example.com"})
	tests := []struct {
		name, login, pw string
		want            error
	}{
		{"email", "ann@example.com", "correct horse", nil},
		{"email, mixed case", " Ann@Example.com ", "correct horse", nil},
		{"username", "ANN", "correct horse", nil},
		{"wrong password", "ann", "wrong horse", auth.ErrInvalidCredentials},
		{"unknown user", "nobody@example.com", "correct horse", auth.ErrInvalidCredentials},
		{"disabled user", "off@example.com", "correct horse", auth.ErrInvalidCredentials},
		{"pending user without password", "pending@example.com", "", auth.ErrInvalidCredentials},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := signIn(s, tt.login, tt.pw, "10.0.0."+string(rune('1'+i)))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Authenticate = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAuthenticate_SessionLifecycle(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	s.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse"})
	var changes []auth.Change
	s.Subscribe(func(c auth.Change) { changes = append(changes, c) })

	res, err := s.Authenticate(ctx, auth.SignIn{Login: "ann@example.com", Password: "correct horse", IP: "1.2.3.4", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", Remember: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done() {
		t.Fatalf("a user without a second factor is pending at %q after the password", res.Pending.Step)
	}
	u, sess, token := res.User, res.Session, res.SessionToken
	if !strings.HasPrefix(token, auth.PrefixSessionToken) || strings.Contains(sess.ID, token) {
		t.Fatalf("token %q / id %q", token[:5], sess.ID)
	}
	if d := sess.ExpiresAt.Sub(sess.CreatedAt); d != auth.RememberSessionTTL {
		t.Errorf("remembered session lasts %v", d)
	}
	if sess.Device != "Firefox on Linux" || sess.ACR != "1" {
		t.Errorf("session = %+v", sess)
	}
	got, err := s.SessionByToken(ctx, token)
	if err != nil || got.UserID != u.ID {
		t.Fatalf("SessionByToken = %v, %v", got, err)
	}
	if _, err := s.SessionByToken(ctx, token+"x"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("tampered token = %v", err)
	}
	res, err = s.Authenticate(ctx, auth.SignIn{Login: "ann@example.com", Password: "correct horse", IP: "1.2.3.4"})
	if err != nil || !res.Done() {
		t.Fatalf("second sign-in: %+v, %v", res, err)
	}
	other := res.Session
	if d := other.ExpiresAt.Sub(other.CreatedAt); d != auth.SessionTTL {
		t.Errorf("session lasts %v", d)
	}
	list, _ := s.UserSessions(ctx, u.ID)
	if len(list) != 2 {
		t.Fatalf("%d sessions", len(list))
	}
	if err := s.EndSession(ctx, sess.ID, "someone-else"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("ending another user's session = %v", err)
	}
	if err := s.EndSession(ctx, sess.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByToken(ctx, token); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("ended session still valid: %v", err)
	}
	if len(changes) == 0 || changes[len(changes)-1].SessionID != sess.ID {
		t.Fatalf("no change event for the ended session: %+v", changes)
	}
	// A password change signs every device out.
	if _, err := s.SetPassword(ctx, "ann@example.com", "new horse battery"); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.UserSessions(ctx, u.ID); len(list) != 0 {
		t.Fatalf("%d sessions survived a password change", len(list))
	}
	if err := signIn(s, "ann@example.com", "correct horse", "9.9.9.9"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("old password = %v", err)
	}
}

func TestRateLimit_PerIP(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	s.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse"})
	for i := range 20 {
		login := "u" + string(rune('a'+i)) + "@example.com"
		if err := signIn(s, login, "nope-nope", "7.7.7.7"); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("attempt %d = %v", i+1, err)
		}
	}
	err := signIn(s, "ann@example.com", "correct horse", "7.7.7.7")
	var rl *auth.RateLimitError
	if !errors.As(err, &rl) || rl.Scope != "ip" || rl.RetryAfter <= 0 || rl.RetryAfter > 3*time.Minute {
		t.Fatalf("21st attempt = %v", err)
	}
	// Another address is not affected.
	if err := signIn(s, "ann@example.com", "correct horse", "8.8.8.8"); err != nil {
		t.Fatalf("other IP: %v", err)
	}
}

func TestRateLimit_PerAccount(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	s.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse"})
	for i := range 10 {
		if err := signIn(s, "ann@example.com", "wrong", "10.1.0."+string(rune('0'+i))); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("failure %d = %v", i+1, err)
		}
	}
	// Even the right password is refused now, from any address.
	err := signIn(s, "ann@example.com", "correct horse", "10.2.0.1")
	var rl *auth.RateLimitError
	if !errors.As(err, &rl) || rl.Scope != "account" {
		t.Fatalf("after 10 failures = %v", err)
	}
}

func TestGroupsAndDelete(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	if _, err := s.CreateGroup(ctx, "Admins", "", `{"role":"x"}`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGroup(ctx, "admins", "", ""); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("duplicate group = %v", err)
	}
	if _, err := s.CreateGroup(ctx, "a,b", "", ""); !errors.Is(err, auth.ErrInvalid) {
		t.Fatalf("comma in group name = %v", err)
	}
	s.CreateGroup(ctx, "family", "", "")
	u, _ := s.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Password: "correct horse", Groups: []string{"family"}})
	s.CreateUser(ctx, auth.NewUser{Email: "root@example.com", Password: "correct horse", Admin: true})
	if err := s.AddToGroup(ctx, "admins", "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	gs, _ := s.UserGroups(ctx, u.ID)
	if len(gs) != 2 || gs[0].Name != "admins" || gs[1].Name != "family" {
		t.Fatalf("groups = %v", gs)
	}
	s.RemoveFromGroup(ctx, "family", "ann@example.com")
	if gs, _ := s.UserGroups(ctx, u.ID); len(gs) != 1 {
		t.Fatalf("after remove: %d groups", len(gs))
	}
	if err := s.DeleteUser(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	g, _ := s.Group(ctx, "admins")
	if len(g.Members) != 0 {
		t.Fatalf("deleted user still a member: %v", g.Members)
	}
	if err := s.DeleteUser(ctx, "root@example.com"); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("deleting the last admin = %v", err)
	}
	if _, err := s.SetStatus(ctx, "root@example.com", auth.StatusDisabled); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("disabling the last admin = %v", err)
	}
}

func TestSecrets_SealIsBoundToLabel(t *testing.T) {
	sec, _ := auth.NewSecrets([]byte(strings.Repeat("k", 64)))
	ct := sec.Seal([]byte("totp secret"), "user/1")
	if pt, err := sec.Open(ct, "user/1"); err != nil || string(pt) != "totp secret" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if _, err := sec.Open(ct, "user/2"); err == nil {
		t.Fatal("ciphertext opened under another label")
	}
	other, _ := auth.NewSecrets([]byte(strings.Repeat("j", 64)))
	if _, err := other.Open(ct, "user/1"); err == nil {
		t.Fatal("ciphertext opened under another SECRET_KEY_BASE")
	}
	if _, err := auth.NewSecrets([]byte("short")); err == nil {
		t.Fatal("short SECRET_KEY_BASE accepted")
	}
}

func TestDeviceName(t *testing.T) {
	tests := map[string]string{
		"": "Unknown device",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0":                   "Edge on Windows",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/120.0 Safari/537.36":                       "Chrome on macOS",
		"curl/8.4.0": "curl",
	}
	for ua, want := range tests {
		if got := auth.DeviceName(ua); got != want {
			t.Errorf("DeviceName(%q) = %q, want %q", ua, got, want)
		}
	}
}
