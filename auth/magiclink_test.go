package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/auth/authtest"
)

func (f *signInFixture) magicLink(t *testing.T, email string) string {
	t.Helper()
	tok, _, err := f.svc.NewMagicLink(context.Background(), auth.MagicRequest{Email: email, RD: "https://app.example.com/x", Authz: "az1"})
	if err != nil {
		t.Fatalf("NewMagicLink(%s): %v", email, err)
	}
	if !strings.HasPrefix(tok, auth.PrefixMagicToken) {
		t.Fatalf("token %q lacks the prefix %q", tok, auth.PrefixMagicToken)
	}
	return tok
}

func TestMagicLink_SingleUseOneFactor(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	tok := f.magicLink(t, "ANN@example.com")
	// Looking at the link (the GET of the page) does not use it up.
	for range 2 {
		if l, err := f.svc.MagicLinkInfo(ctx, tok); err != nil || l.User.ID != ann.ID || l.RD != "https://app.example.com/x" || l.Authz != "az1" {
			t.Fatalf("MagicLinkInfo = %+v, %v", l, err)
		}
	}
	res, err := f.svc.UseMagicLink(ctx, auth.MagicSignIn{Token: tok, IP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("UseMagicLink: %v", err)
	}
	if !res.Done() || res.Session.ACR != auth.ACRPassword || !slices.Equal(res.Session.AMR, []string{auth.AMREmail}) {
		t.Fatalf("result %+v, want a session at acr 1, amr [email]", res)
	}
	if res.RD != "https://app.example.com/x" || res.Authz != "az1" {
		t.Errorf("destination rd %q authz %q, want the request's", res.RD, res.Authz)
	}
	if _, err := f.svc.UseMagicLink(ctx, auth.MagicSignIn{Token: tok, IP: "10.0.0.1"}); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("second use: %v, want ErrNotFound", err)
	}
}

// A link is one factor: a user with a second factor still gives it, and
// no session exists before.
func TestMagicLink_SecondFactorStillRequired(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	ann := f.mfaUser(t, "ann@example.com")
	secret, _ := f.enrol(t, ann)
	res, err := f.svc.UseMagicLink(ctx, auth.MagicSignIn{Token: f.magicLink(t, ann.Email), IP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("UseMagicLink: %v", err)
	}
	if res.Done() || res.Pending.Step != auth.StepSecondFactor {
		t.Fatalf("after the link: done %v, pending %+v; want the second factor", res.Done(), res.Pending)
	}
	if n := len(f.sessionsOf(t, ann.ID)); n != 0 {
		t.Fatalf("%d sessions before the second factor", n)
	}
	done, err := f.svc.SignInSecondFactor(ctx, res.PendingToken, authtest.TOTP(t, secret, f.clock()), "10.0.0.1")
	if err != nil || !done.Done() {
		t.Fatalf("second factor: %+v, %v", done, err)
	}
	if !slices.Equal(done.Session.AMR, []string{auth.AMREmail, auth.AMROTP}) {
		t.Errorf("amr %v, want [email otp]", done.Session.AMR)
	}

	bob := f.mfaUser(t, "bob@example.com")
	if _, _, err := f.svc.SetRequireSecondFactor(ctx, bob.Email, true); err != nil {
		t.Fatal(err)
	}
	res, err = f.svc.UseMagicLink(ctx, auth.MagicSignIn{Token: f.magicLink(t, bob.Email), IP: "10.0.0.1"})
	if err != nil || res.Done() || res.Pending.Step != auth.StepSetupTOTP {
		t.Fatalf("required, none set up: %+v, %v; want the TOTP set-up", res, err)
	}
}

func TestMagicLink_Refused(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		token func(t *testing.T, f *signInFixture) string
	}{
		{"expired by the auth clock", func(t *testing.T, f *signInFixture) string {
			tok := f.magicLink(t, "ann@example.com")
			f.advance(auth.MagicLinkTTL)
			return tok
		}},
		{"user disabled since", func(t *testing.T, f *signInFixture) string {
			tok := f.magicLink(t, "ann@example.com")
			if _, err := f.svc.SetStatus(ctx, "ann@example.com", auth.StatusDisabled); err != nil {
				t.Fatal(err)
			}
			return tok
		}},
		{"tampered", func(t *testing.T, f *signInFixture) string { return f.magicLink(t, "ann@example.com") + "x" }},
		{"a reset token", func(t *testing.T, f *signInFixture) string { return f.resetLink(t, "ann@example.com") }},
		{"empty", func(*testing.T, *signInFixture) string { return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignInFixture(t, 4)
			f.mfaUser(t, "ann@example.com")
			tok := tt.token(t, f)
			if _, err := f.svc.MagicLinkInfo(ctx, tok); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("MagicLinkInfo = %v, want ErrNotFound", err)
			}
			if _, err := f.svc.UseMagicLink(ctx, auth.MagicSignIn{Token: tok}); !errors.Is(err, auth.ErrNotFound) {
				t.Errorf("UseMagicLink = %v, want ErrNotFound", err)
			}
		})
	}
}

// Unknown, disabled and invited addresses get one and the same answer,
// and no link.
func TestNewMagicLink_SameAnswerForNoUsableAccount(t *testing.T) {
	ctx := context.Background()
	f := newSignInFixture(t, 4)
	f.mfaUser(t, "off@example.com")
	if _, err := f.svc.SetStatus(ctx, "off@example.com", auth.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateUser(ctx, auth.NewUser{Email: "invited@example.com"}); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"nobody@example.com", "off@example.com", "invited@example.com", "not an email"} {
		t.Run(email, func(t *testing.T) {
			tok, u, err := f.svc.NewMagicLink(ctx, auth.MagicRequest{Email: email})
			if !errors.Is(err, auth.ErrNotFound) || tok != "" || u != nil {
				t.Fatalf("NewMagicLink = %q, %v, %v; want ErrNotFound and nothing else", tok, u, err)
			}
		})
	}
}

func TestLimitMagicLink(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		limit int
		scope string
		email func(i int) string
		ip    func(i int) string
	}{
		{"per address, whatever its spelling, known or not", auth.MagicAddressRequests, auth.ScopeMagicAddress,
			func(i int) string { return []string{"Ann@example.com", " ann@EXAMPLE.com", "ann@example.com "}[i%3] },
			func(i int) string { return "10.0.0." + string(rune('1'+i)) }},
		{"per address, unknown", auth.MagicAddressRequests, auth.ScopeMagicAddress,
			func(int) string { return "nobody@example.com" },
			func(i int) string { return "10.0.0." + string(rune('1'+i)) }},
		{"per client address", auth.MagicIPRequests, auth.ScopeMagicIP,
			func(i int) string { return "u" + string(rune('a'+i)) + "@example.com" },
			func(int) string { return "10.0.0.1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSignInFixture(t, 4)
			f.mfaUser(t, "ann@example.com")
			for i := range tt.limit {
				if err := f.svc.LimitMagicLink(ctx, tt.email(i), tt.ip(i)); err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
			}
			if err := f.svc.LimitMagicLink(ctx, tt.email(tt.limit), tt.ip(tt.limit)); !rateLimited(err, tt.scope) {
				t.Fatalf("over the limit: %v, want %s", err, tt.scope)
			}
			f.advance(auth.MagicWindow)
			if err := f.svc.LimitMagicLink(ctx, tt.email(tt.limit), tt.ip(tt.limit)); err != nil {
				t.Fatalf("after the window: %v", err)
			}
		})
	}
}
