package oidc

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/web"
)

func TestBackchannelLogout_SignOutAndRevokeReachTheApp(t *testing.T) {
	f := newFixture(t)
	got := make(chan string, 4)
	calls := 0
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			// The first try fails: the token must come again.
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got <- r.PostFormValue("logout_token")
	}))
	defer rp.Close()
	f.p.backchannel.retry = []time.Duration{10 * time.Millisecond}
	app, secret := f.newApp(auth.AppInput{Name: "Listens", SkipConsent: true, BackchannelLogoutURI: rp.URL + "/bcl"})
	quiet, quietSecret := f.newApp(auth.AppInput{Name: "Deaf", SkipConsent: true})

	b := f.browser(true)
	idt := b.idToken(app, secret)
	b.idToken(quiet, quietSecret)
	sess, err := f.svc.SessionByToken(f.ctx, b.cookies[web.SessionCookie])
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.EndSession(f.ctx, sess.ID, ""); err != nil {
		t.Fatal(err)
	}
	check := func(lt string, idt string) {
		t.Helper()
		payload, err := f.p.keys.Verify(lt)
		if err != nil {
			t.Fatalf("logout_token does not verify: %v", err)
		}
		var c map[string]any
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		id := claimsOf(t, idt)
		events, _ := c["events"].(map[string]any)
		if c["iss"] != "http://localhost:3000" || c["aud"] != app.ClientID || c["sub"] != id["sub"] || c["sid"] != id["sid"] ||
			c["jti"] == "" || c["iat"] == nil || events == nil || events[backchannelEvent] == nil {
			t.Errorf("logout_token claims %v; ID token %v", c, id)
		}
		if _, ok := c["nonce"]; ok {
			t.Error("logout_token has a nonce")
		}
	}
	select {
	case lt := <-got:
		check(lt, idt)
	case <-time.After(10 * time.Second):
		t.Fatal("no logout_token after sign-out")
	}

	// "Sign out everywhere" reaches it too.
	b2 := f.browser(true)
	idt2 := b2.idToken(app, secret)
	if _, err := f.svc.RevokeSessions(f.ctx, f.user.Email); err != nil {
		t.Fatal(err)
	}
	select {
	case lt := <-got:
		check(lt, idt2)
	case <-time.After(10 * time.Second):
		t.Fatal("no logout_token after revoking the user's sessions")
	}
	select {
	case lt := <-got:
		t.Fatalf("an extra logout_token: %v", claimsOf(t, lt))
	case <-time.After(200 * time.Millisecond):
	}
}

func TestDiscovery_AdvertisesBackchannelLogout(t *testing.T) {
	f := newFixture(t)
	var doc map[string]any
	if err := json.Unmarshal(f.do(httptest.NewRequest("GET", PathDiscovery, nil)).Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["backchannel_logout_supported"] != true || doc["backchannel_logout_session_supported"] != true {
		t.Fatalf("discovery: %v", doc)
	}
}

// Every way a session ends that issue 7 names reaches the app, not only a
// sign-out: an admin disabling the user or setting their password, the
// user changing their own password (the other browsers' sessions end), and
// an admin signing out everyone. Each logout_token names the session the
// app saw (the ID token's sid).
func TestBackchannelLogout_EveryWayASessionEnds(t *testing.T) {
	f := newFixture(t)
	got := make(chan string, 8)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.PostFormValue("logout_token")
	}))
	defer rp.Close()
	app, secret := f.newApp(auth.AppInput{Name: "Listens", SkipConsent: true, BackchannelLogoutURI: rp.URL + "/bcl"})

	for _, tt := range []struct {
		name string
		end  func(t *testing.T)
	}{
		{"disabled by an admin", func(t *testing.T) {
			if _, err := f.svc.SetStatus(f.ctx, f.user.Email, auth.StatusDisabled); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.SetStatus(f.ctx, f.user.Email, auth.StatusActive); err != nil {
				t.Fatal(err)
			}
		}},
		{"password set by an admin", func(t *testing.T) {
			if _, err := f.svc.SetPassword(f.ctx, f.user.Email, "correct horse battery"); err != nil {
				t.Fatal(err)
			}
		}},
		{"password changed in another browser", func(t *testing.T) {
			other := f.browser(true)
			sess, err := f.svc.SessionByToken(f.ctx, other.cookies[web.SessionCookie])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.ChangePassword(f.ctx, auth.PasswordChange{Session: sess, Current: "correct horse battery",
				New: "correct horse battery", IP: "127.0.0.1"}); err != nil {
				t.Fatal(err)
			}
		}},
		{"admin signs out everyone", func(t *testing.T) {
			if _, err := f.svc.SignOutEveryone(f.ctx); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := f.browser(true)
			sid := claimsOf(t, b.idToken(app, secret))["sid"]
			tt.end(t)
			for {
				select {
				case lt := <-got:
					payload, err := f.p.keys.Verify(lt)
					if err != nil {
						t.Fatalf("logout_token does not verify: %v", err)
					}
					var c map[string]any
					if err := json.Unmarshal(payload, &c); err != nil {
						t.Fatal(err)
					}
					if c["sid"] == sid && c["aud"] == app.ClientID {
						return
					}
					// A session of another case (the password change's
					// asking browser, ended later by sign out everyone).
				case <-time.After(10 * time.Second):
					t.Fatalf("no logout_token for the session (sid %v) the app saw", sid)
				}
			}
		})
	}
}
