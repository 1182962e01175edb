package auth_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

// events records the security events a service announces.
type events struct {
	mu  sync.Mutex
	got []auth.SecurityEvent
}

func (e *events) add(ev auth.SecurityEvent) { e.mu.Lock(); e.got = append(e.got, ev); e.mu.Unlock() }

func (e *events) kinds() []auth.SecurityEventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []auth.SecurityEventKind
	for _, ev := range e.got {
		out = append(out, ev.Kind)
	}
	return out
}

func (f *signInFixture) session(t *testing.T, u *auth.User, ip string) *auth.Session {
	t.Helper()
	sess, _, err := f.svc.StartSession(context.Background(), u, ip, "test", false, auth.ACRPassword, []string{auth.AMRPassword})
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

func TestChangePassword_KeepsThisSessionEndsOthersAndGrants(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	bob := f.mfaUser(t, "bob@example.com")
	laptop, phone, tablet := f.session(t, ann, "10.0.0.1"), f.session(t, ann, "10.0.0.2"), f.session(t, ann, "10.0.0.3")
	bobs := f.session(t, bob, "10.0.0.4")
	var grantsEnded []string
	f.svc.OnSignOutEverywhere(func(_ *kv.Txn, uid string) error { grantsEnded = append(grantsEnded, uid); return nil })
	var ev events
	f.svc.OnSecurityEvent(ev.add)

	refused := []struct {
		name          string
		current, next string
		want          error
	}{
		{"no current password", "", newPassword, auth.ErrPasswordRequired},
		{"wrong current password", "not the password", newPassword, auth.ErrInvalidCredentials},
		{"new password too short", mfaPassword, "short", auth.ErrInvalid},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.ChangePassword(ctx, auth.PasswordChange{Session: laptop, Current: tt.current, New: tt.next, IP: "10.0.0.1"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("ChangePassword = %v, want %v", err, tt.want)
			}
			if n := len(f.sessionsOf(t, ann.ID)); n != 3 {
				t.Errorf("%d sessions after a refused change, want 3", n)
			}
		})
	}
	if len(grantsEnded) != 0 || len(ev.kinds()) != 0 {
		t.Fatalf("a refused change ended grants %v or announced %v", grantsEnded, ev.kinds())
	}

	ended, err := f.svc.ChangePassword(ctx, auth.PasswordChange{Session: laptop, Current: mfaPassword, New: newPassword, IP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	slices.Sort(ended)
	wantEnded := []string{phone.ID, tablet.ID}
	slices.Sort(wantEnded)
	if !slices.Equal(ended, wantEnded) {
		t.Errorf("ended %v, want the phone and the tablet %v", ended, wantEnded)
	}
	left := f.sessionsOf(t, ann.ID)
	if len(left) != 1 || left[0].ID != laptop.ID {
		t.Errorf("sessions left %v, want only the laptop's", left)
	}
	if _, err := f.svc.SessionByID(ctx, bobs.ID); err != nil {
		t.Errorf("someone else's session ended: %v", err)
	}
	if len(grantsEnded) != 1 || grantsEnded[0] != ann.ID {
		t.Errorf("sign-out hooks (OIDC grants) ran for %v, want once for ann", grantsEnded)
	}
	if got := ev.kinds(); !slices.Equal(got, []auth.SecurityEventKind{auth.EventPasswordChanged}) {
		t.Errorf("events %v, want password_changed", got)
	}
	if err := f.signIn(ann.Email, mfaPassword, "10.0.0.9"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("old password: %v, want refused", err)
	}
	if err := f.signIn(ann.Email, newPassword, "10.0.0.9"); err != nil {
		t.Errorf("new password: %v", err)
	}

	// A session that ended meanwhile changes nothing.
	if _, err := f.svc.ChangePassword(ctx, auth.PasswordChange{Session: phone, Current: newPassword, New: "yet another password", IP: "10.0.0.2"}); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("from an ended session: %v, want ErrNotFound", err)
	}
	if err := f.signIn(ann.Email, newPassword, "10.0.0.9"); err != nil {
		t.Errorf("the password changed from an ended session: %v", err)
	}
}

func TestEndSession_SomeoneElsesIsNotFound(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	bob := f.mfaUser(t, "bob@example.com")
	bobs := f.session(t, bob, "10.0.0.2")
	f.session(t, ann, "10.0.0.1")
	errOther := f.svc.EndSession(ctx, bobs.ID, ann.ID)
	errMissing := f.svc.EndSession(ctx, strings.Repeat("A", len(bobs.ID)), ann.ID)
	if !errors.Is(errOther, auth.ErrNotFound) || !errors.Is(errMissing, auth.ErrNotFound) || errOther.Error() != errMissing.Error() {
		t.Fatalf("someone else's session: %v; a missing one: %v; want the same ErrNotFound", errOther, errMissing)
	}
	if _, err := f.svc.SessionByID(ctx, bobs.ID); err != nil {
		t.Fatalf("bob's session ended: %v", err)
	}
}

func TestEmailChange_LinkIsSingleUseAndChangesOnlyOnUse(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	f.mfaUser(t, "taken@example.com")
	var ev events
	f.svc.OnSecurityEvent(ev.add)
	req := func(pw, email string) (string, error) {
		tok, _, err := f.svc.RequestEmailChange(ctx, auth.EmailChangeRequest{UserID: ann.ID, Password: pw, NewEmail: email, IP: "10.0.0.1"})
		return tok, err
	}
	refused := []struct {
		name, password, email string
		want                  error
	}{
		{"no password", "", "ann@new.example", auth.ErrPasswordRequired},
		{"wrong password", "wrong password", "ann@new.example", auth.ErrInvalidCredentials},
		{"not an address", mfaPassword, "ann-at-new", auth.ErrInvalid},
		{"the same address", mfaPassword, "ANN@example.com", auth.ErrInvalid},
		{"another account's", mfaPassword, "taken@example.com", auth.ErrConflict},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := req(tt.password, tt.email); !errors.Is(err, tt.want) || tok != "" {
				t.Fatalf("RequestEmailChange = %q, %v, want %v", tok, err, tt.want)
			}
		})
	}

	tok, err := req(mfaPassword, "Ann@New.example")
	if err != nil || !strings.HasPrefix(tok, auth.PrefixEmailToken) {
		t.Fatalf("RequestEmailChange = %q, %v", tok, err)
	}
	// Asking, and looking at the link, change nothing.
	for range 2 {
		ch, err := f.svc.EmailChangeInfo(ctx, tok)
		if err != nil || ch.NewEmail != "ann@new.example" || ch.OldEmail != "ann@example.com" {
			t.Fatalf("EmailChangeInfo = %+v, %v", ch, err)
		}
	}
	if u, err := f.svc.UserByEmail(ctx, "ann@example.com"); err != nil || u.ID != ann.ID {
		t.Fatalf("the address changed before the link was used: %v, %v", u, err)
	}
	if len(ev.kinds()) != 0 {
		t.Fatalf("announced %v before the link was used", ev.kinds())
	}

	ch, err := f.svc.ConfirmEmailChange(ctx, tok)
	if err != nil || ch.User.Email != "ann@new.example" {
		t.Fatalf("ConfirmEmailChange = %+v, %v", ch, err)
	}
	if u, err := f.svc.UserByEmail(ctx, "ann@new.example"); err != nil || u.ID != ann.ID {
		t.Fatalf("new address: %v, %v", u, err)
	}
	if _, err := f.svc.UserByEmail(ctx, "ann@example.com"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("old address still finds someone: %v", err)
	}
	if err := f.signIn("ann@new.example", mfaPassword, "10.0.0.2"); err != nil && !errors.Is(err, auth.ErrSecondFactorRequired) {
		t.Errorf("sign-in with the new address: %v", err)
	}
	ev.mu.Lock()
	if len(ev.got) != 1 || ev.got[0].Kind != auth.EventEmailChanged || ev.got[0].OldEmail != "ann@example.com" || ev.got[0].User.Email != "ann@new.example" {
		t.Errorf("events %+v, want one email_changed from the old to the new address", ev.got)
	}
	ev.mu.Unlock()

	// Single use.
	if _, err := f.svc.ConfirmEmailChange(ctx, tok); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("second use: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.EmailChangeInfo(ctx, tok); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("used link still shows its page: %v", err)
	}

	// A link made before the address changed some other way is void.
	tok2, err := req(mfaPassword, "ann@third.example")
	if err != nil {
		t.Fatal(err)
	}
	tok3, err := req(mfaPassword, "ann@fourth.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmEmailChange(ctx, tok3); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmEmailChange(ctx, tok2); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("older link after another change: %v, want ErrNotFound", err)
	}

	// A new window of requests (five per hour).
	f.advance(auth.EmailChangeWindow)

	// An address taken after the link was made: refused, link kept.
	tok4, err := req(mfaPassword, "late@example.com")
	if err != nil {
		t.Fatal(err)
	}
	f.mfaUser(t, "late@example.com")
	if _, err := f.svc.ConfirmEmailChange(ctx, tok4); !errors.Is(err, auth.ErrConflict) {
		t.Fatalf("address taken meanwhile: %v, want ErrConflict", err)
	}

	// Expired after EmailChangeTTL.
	tok5, err := req(mfaPassword, "ann@fifth.example")
	if err != nil {
		t.Fatal(err)
	}
	f.advance(auth.EmailChangeTTL)
	if _, err := f.svc.ConfirmEmailChange(ctx, tok5); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("expired link: %v, want ErrNotFound", err)
	}
}

func TestSecurityEvents_SecondFactorChanges(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	var ev events
	f.svc.OnSecurityEvent(ev.add)
	f.enrol(t, ann)
	proof := auth.Proof{Password: mfaPassword, IP: "10.0.0.1"}
	if _, err := f.svc.RegenerateBackupCodes(ctx, ann.ID, proof); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DisableTOTP(ctx, ann.ID, proof); err != nil {
		t.Fatal(err)
	}
	// A refused change announces nothing.
	if err := f.svc.DisableTOTP(ctx, ann.ID, proof); !errors.Is(err, auth.ErrNoTOTP) {
		t.Fatalf("second disable: %v", err)
	}
	want := []auth.SecurityEventKind{auth.EventTOTPAdded, auth.EventBackupCodesRegenerated, auth.EventTOTPRemoved}
	if got := ev.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestSecurityEvents_PasskeyAddedAndRemoved(t *testing.T) {
	ctx := context.Background()
	f := newPasskeyFixture(t)
	var ev events
	f.svc.OnSecurityEvent(ev.add)
	p := f.mustRegister(t)
	if err := f.svc.DeletePasskey(ctx, f.ann.ID, p.ID); err != nil {
		t.Fatal(err)
	}
	// Someone else's id, or one already gone: nothing announced.
	if err := f.svc.DeletePasskey(ctx, f.ann.ID, p.ID); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.got) != 2 || ev.got[0].Kind != auth.EventPasskeyAdded || ev.got[1].Kind != auth.EventPasskeyRemoved ||
		ev.got[0].Detail != p.Name || ev.got[1].Detail != p.Name || ev.got[1].User.ID != f.ann.ID {
		t.Fatalf("events %+v, want passkey_added then passkey_removed naming %q", ev.got, p.Name)
	}
}

func TestEmailChange_RateLimitedPerAccount(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	for i := range auth.EmailChangeRequests {
		if _, _, err := f.svc.RequestEmailChange(ctx, auth.EmailChangeRequest{UserID: ann.ID, Password: mfaPassword, NewEmail: "ann" + strconv.Itoa(i) + "@new.example", IP: "10.0.0.1"}); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	_, _, err := f.svc.RequestEmailChange(ctx, auth.EmailChangeRequest{UserID: ann.ID, Password: mfaPassword, NewEmail: "one-more@new.example", IP: "10.0.0.2"})
	var rl *auth.RateLimitError
	if !errors.As(err, &rl) || rl.Scope != auth.ScopeEmailChange || rl.RetryAfter <= 0 {
		t.Fatalf("request over the limit: %v, want a *RateLimitError for %s", err, auth.ScopeEmailChange)
	}
	f.advance(auth.EmailChangeWindow)
	if _, _, err := f.svc.RequestEmailChange(ctx, auth.EmailChangeRequest{UserID: ann.ID, Password: mfaPassword, NewEmail: "later@new.example", IP: "10.0.0.2"}); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// An admin changing a person's address (`clinch user update --new-email`,
// the admin pages, the admin API) tells both addresses, as the person's
// own change does; other edits tell nobody.
func TestUpdateUser_EmailChangeAnnounced(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	f.mfaUser(t, "ann@example.com")
	var ev events
	f.svc.OnSecurityEvent(ev.add)
	name := "Ann A."
	if _, err := f.svc.UpdateUser(ctx, "ann@example.com", auth.UserUpdate{DisplayName: &name}); err != nil {
		t.Fatal(err)
	}
	if k := ev.kinds(); len(k) != 0 {
		t.Fatalf("a name change announced %v", k)
	}
	to := "ann@new.example.com"
	if _, err := f.svc.UpdateUser(ctx, "ann@example.com", auth.UserUpdate{Email: &to}); err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.got) != 1 || ev.got[0].Kind != auth.EventEmailChanged || ev.got[0].OldEmail != "ann@example.com" || ev.got[0].User.Email != to {
		t.Fatalf("events %+v, want one email change from ann@example.com to %s", ev.got, to)
	}
}
