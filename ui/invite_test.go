package ui

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

func (e *env) invitationPath(t *testing.T, email string) (path, token string) {
	t.Helper()
	tok, _, _, err := e.auth.Invite(context.Background(), auth.NewUser{Email: email})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(InvitationURL(&url.URL{Scheme: "https", Host: "sso.example.com"}, tok))
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI(), tok
}

func TestInvitation_AcceptSignsInOnlyByThePOST(t *testing.T) {
	e := newEnv(t)
	link, tok := e.invitationPath(t, "new@example.com")
	// A mail scanner's GETs change nothing.
	for range 3 {
		if r := e.client("192.0.2.1").get(link); r.code != 200 || !strings.Contains(r.body, "Choose your password") {
			t.Fatalf("GET link: %d\n%s", r.code, r.body)
		}
	}
	c := e.client("10.0.0.1")
	c.get(link)
	form := url.Values{"token": {tok}, "password": {"brand new pass"}, "password_confirm": {"brand new typo"}}
	want(t, c.post("/invitation", form), 400, "")
	form.Set("password_confirm", "brand new pass")
	want(t, c.post("/invitation", form), 303, "/")
	if r := c.get("/"); r.code != 200 || !strings.Contains(r.body, "new@example.com") {
		t.Fatalf("not signed in after accepting: %d\n%s", r.code, r.body)
	}
	tests := []struct {
		name string
		r    resp
	}{
		{"POST again", c.post("/invitation", form)},
		{"GET again", c.get(link)},
	}
	for _, tt := range tests {
		if tt.r.code != 404 || !strings.Contains(tt.r.body, "This link does not work") {
			t.Errorf("%s: %d\n%s", tt.name, tt.r.code, tt.r.body)
		}
	}
	want(t, e.client("10.0.0.2").signin("new@example.com", "brand new pass", nil), 303, "/")
}

func TestInvitation_SecondFactorRequiredGoesToSetUp(t *testing.T) {
	e := newEnv(t)
	link, tok := e.invitationPath(t, "ops@example.com")
	if _, _, err := e.auth.SetRequireSecondFactor(context.Background(), "ops@example.com", true); err != nil {
		t.Fatal(err)
	}
	c := e.client("10.0.0.1")
	c.get(link)
	form := url.Values{"token": {tok}, "password": {"brand new pass"}, "password_confirm": {"brand new pass"}}
	want(t, c.post("/invitation", form), 303, pathSetupTOTP)
	want(t, c.get("/"), 303, "/signin")
}
