package forward

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// basicFixture adds to the fixture:
//   - files.example.com ("Files \"DAV\""), Basic with app passwords and
//     account passwords, for everyone;
//   - keys.example.com, Basic with app passwords only;
//   - carl, who must have a second factor;
//   - app passwords: ann's and bob's at files, ann's at keys and at wiki,
//     and an ownerless key at files.
type basicFixture struct {
	*fixture
	annFiles, bobFiles, annKeys, annWiki, svcFiles string
}

const filesRealm = `Basic realm="Files \"DAV\"", charset="UTF-8"`

func newBasicFixture(t *testing.T) *basicFixture {
	t.Helper()
	ctx := context.Background()
	f := &basicFixture{fixture: newFixture(t)}
	must3(t)(f.svc.CreateApp(ctx, auth.AppInput{Name: `Files "DAV"`, Slug: "files", Type: auth.AppForwardAuth,
		Domain: "files.example.com", BasicAuth: true, BasicAuthPassword: true}))
	must3(t)(f.svc.CreateApp(ctx, auth.AppInput{Name: "Keys", Type: auth.AppForwardAuth, Domain: "keys.example.com", BasicAuth: true}))
	must(t)(f.svc.CreateUser(ctx, auth.NewUser{Email: "carl@example.com", Username: "carl", Password: "correct horse"}))
	if _, _, err := f.svc.SetRequireSecondFactor(ctx, "carl@example.com", true); err != nil {
		t.Fatal(err)
	}
	key := func(slug, owner string) string {
		t.Helper()
		tok, _, err := f.svc.CreateAPIKey(ctx, slug, owner, owner+" at "+slug, 0)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	f.annFiles, f.bobFiles = key("files", "ann@example.com"), key("files", "bob@example.com")
	f.annKeys, f.annWiki, f.svcFiles = key("keys", "ann@example.com"), key("wiki", "ann@example.com"), key("files", "")
	return f
}

// basicAt is a Caddy verify request for host with Basic credentials.
func basicAt(host, user, pass string) http.Header {
	h := caddyHeaders("https", host, "/dav/")
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	return h
}

func TestVerify_Basic(t *testing.T) {
	f := newBasicFixture(t)
	const files, keys = "files.example.com", "keys.example.com"
	for _, tc := range []struct {
		name, host, user, pass string
		code                   int
		remoteUser             string
	}{
		{"app password, username", files, "ann", f.annFiles, 200, "ann"},
		{"app password, email in any case", files, "Ann@Example.com", f.annFiles, 200, "ann"},
		{"app password at a keys-only app", keys, "ann", f.annKeys, 200, "ann"},
		{"wrong key", files, "ann", auth.PrefixAPIKey + "not-a-key", 401, ""},
		{"key of another app", files, "ann", f.annKeys, 401, ""},
		{"key of another owner", files, "ann", f.bobFiles, 401, ""},
		{"key without an owner", files, "files", f.svcFiles, 401, ""},
		{"right key, empty username", files, "", f.annFiles, 401, ""},
		{"account password allowed", files, "ann", "correct horse", 200, "ann"},
		{"account password by email", files, "bob@example.com", "correct horse", 200, "bob@example.com"},
		{"wrong account password", files, "ann", "wrong horse", 401, ""},
		{"account password not allowed", keys, "ann", "correct horse", 401, ""},
		{"second factor required, password alone", files, "carl", "correct horse", 401, ""},
		{"unknown user", files, "nobody", "correct horse", 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.do(req{h: basicAt(tc.host, tc.user, tc.pass), accept: browserAccept})
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if got := w.Header().Get("Remote-User"); got != tc.remoteUser {
				t.Errorf("Remote-User %q, want %q", got, tc.remoteUser)
			}
			if tc.code == 401 {
				if w.Header().Get("Location") != "" {
					t.Errorf("refusal redirects to %q", w.Header().Get("Location"))
				}
				if got := w.Header().Get("Www-Authenticate"); !strings.HasPrefix(got, "Basic realm=") {
					t.Errorf("WWW-Authenticate %q", got)
				}
			}
		})
	}
}

func TestVerify_BasicChallengeAndSessions(t *testing.T) {
	f := newBasicFixture(t)
	// Nobody, even a browser, gets the challenge and never a redirect.
	w := f.do(req{h: caddyHeaders("https", "files.example.com", "/"), accept: browserAccept})
	if w.Code != 401 || w.Header().Get("Www-Authenticate") != filesRealm || w.Header().Get("Location") != "" {
		t.Errorf("nobody: %d %q %q", w.Code, w.Header().Get("Www-Authenticate"), w.Header().Get("Location"))
	}
	// A browser session still works.
	tok, _ := f.signIn("bob@example.com")
	if w := f.do(req{h: caddyHeaders("https", "files.example.com", "/"), cookie: tok}); w.Code != 200 || w.Header().Get("Remote-User") != "bob@example.com" {
		t.Errorf("session: %d", w.Code)
	}
	// Bearer keys keep their own answers there.
	if w := f.do(req{h: caddyHeaders("https", "files.example.com", "/"), bearer: f.annFiles}); w.Code != 200 || w.Header().Get("Remote-User") != "ann" {
		t.Errorf("bearer key: %d", w.Code)
	}
	if w := f.do(req{h: caddyHeaders("https", "files.example.com", "/"), bearer: "nope"}); w.Code != 401 || !strings.HasPrefix(w.Header().Get("Www-Authenticate"), "Bearer") {
		t.Errorf("bad bearer: %d %q", w.Code, w.Header().Get("Www-Authenticate"))
	}
	// An app without Basic ignores Basic credentials, as before: a
	// browser is sent to sign in, others get 401 without a Basic challenge.
	h := basicAt("wiki.example.com", "ann", f.annWiki)
	if w := f.do(req{h: h, accept: browserAccept}); w.Code != http.StatusFound || w.Header().Get("Www-Authenticate") != "" {
		t.Errorf("Basic at wiki (browser): %d %q", w.Code, w.Header().Get("Www-Authenticate"))
	}
	if w := f.do(req{h: basicAt("wiki.example.com", "ann", "correct horse")}); w.Code != 401 || w.Header().Get("Www-Authenticate") != "" {
		t.Errorf("Basic at wiki: %d %q", w.Code, w.Header().Get("Www-Authenticate"))
	}
}

func TestBasicChallenge(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Files", `Basic realm="Files", charset="UTF-8"`},
		{`a "quoted" \ name`, `Basic realm="a \"quoted\" \\ name", charset="UTF-8"`},
		{"bad\r\nSet-Cookie: x", `Basic realm="badSet-Cookie: x", charset="UTF-8"`},
	} {
		if got := basicChallenge(tc.name)[0]; got != tc.want {
			t.Errorf("basicChallenge(%q) = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestVerify_BasicRequireSecondFactorApp(t *testing.T) {
	f := newBasicFixture(t)
	ctx := context.Background()
	if _, err := f.svc.UpdateApp(ctx, "files", func(a *auth.App) error { a.RequireSecondFactor = true; return nil }); err != nil {
		t.Fatal(err)
	}
	// The password is one factor and Basic has no step-up; an app
	// password is an API key, which passes as bearer keys do.
	if w := f.do(req{h: basicAt("files.example.com", "ann", "correct horse")}); w.Code != 401 {
		t.Errorf("password at a second-factor app: %d", w.Code)
	}
	if w := f.do(req{h: basicAt("files.example.com", "ann", f.annFiles)}); w.Code != 200 {
		t.Errorf("app password at a second-factor app: %d", w.Code)
	}
}

// Verified credentials are cached: a repeat reads nothing (the store is
// closed) and pays no bcrypt.
func TestVerify_BasicCacheHit(t *testing.T) {
	f := newBasicFixture(t)
	for _, pass := range []string{"correct horse", f.annFiles} {
		if w := f.do(req{h: basicAt("files.example.com", "ann", pass)}); w.Code != 200 {
			t.Fatalf("warm-up: %d", w.Code)
		}
	}
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pass := range []string{"correct horse", f.annFiles} {
		if w := f.do(req{h: basicAt("files.example.com", "ann", pass)}); w.Code != 200 || w.Header().Get("Remote-User") != "ann" {
			t.Errorf("cached hit with the store closed: %d", w.Code)
		}
	}
	// A different header is a miss, which needs the store.
	if w := f.do(req{h: basicAt("files.example.com", "ann", "wrong horse")}); w.Code != 500 {
		t.Errorf("miss with the store closed: %d", w.Code)
	}
}

func TestVerify_BasicEviction(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		pass   func(f *basicFixture) string
		change func(t *testing.T, f *basicFixture)
	}{
		{"revoked app password", func(f *basicFixture) string { return f.annFiles }, func(t *testing.T, f *basicFixture) {
			keys, err := f.svc.APIKeys(ctx, "files")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if k.Name == "ann@example.com at files" {
					if err := f.svc.RevokeAPIKey(ctx, "files", k.Prefix); err != nil {
						t.Fatal(err)
					}
				}
			}
		}},
		{"changed password", func(*basicFixture) string { return "correct horse" }, func(t *testing.T, f *basicFixture) {
			if _, err := f.svc.SetPassword(ctx, "ann@example.com", "another horse"); err != nil {
				t.Fatal(err)
			}
		}},
		{"passwords turned off", func(*basicFixture) string { return "correct horse" }, func(t *testing.T, f *basicFixture) {
			if _, err := f.svc.UpdateApp(ctx, "files", func(a *auth.App) error { a.BasicAuthPassword = false; return nil }); err != nil {
				t.Fatal(err)
			}
		}},
		{"Basic turned off", func(f *basicFixture) string { return f.annFiles }, func(t *testing.T, f *basicFixture) {
			if _, err := f.svc.UpdateApp(ctx, "files", func(a *auth.App) error { a.BasicAuth, a.BasicAuthPassword = false, false; return nil }); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newBasicFixture(t)
			pass := tc.pass(f)
			if w := f.do(req{h: basicAt("files.example.com", "ann", pass)}); w.Code != 200 {
				t.Fatalf("before: %d", w.Code)
			}
			tc.change(t, f)
			if w := f.do(req{h: basicAt("files.example.com", "ann", pass)}); w.Code != 401 {
				t.Errorf("after: %d", w.Code)
			}
		})
	}
}

// Account passwords go through the sign-in limits: after the free
// failures the right password is refused too, until the delay has passed.
// A failure is never cached: the same wrong header counts every time.
func TestVerify_BasicRateLimit(t *testing.T) {
	f := newBasicFixture(t)
	for range auth.AccountFreeFailures {
		if w := f.do(req{h: basicAt("files.example.com", "ann", "wrong horse")}); w.Code != 401 {
			t.Fatalf("wrong password: %d", w.Code)
		}
	}
	if w := f.do(req{h: basicAt("files.example.com", "ann", "correct horse")}); w.Code != 401 {
		t.Fatalf("right password while limited: %d", w.Code)
	}
	// App passwords are not account passwords: they still work.
	if w := f.do(req{h: basicAt("files.example.com", "ann", f.annFiles)}); w.Code != 200 {
		t.Errorf("app password while the account is limited: %d", w.Code)
	}
	f.advance(auth.AccountMaxDelay + auth.IPWindow)
	if w := f.do(req{h: basicAt("files.example.com", "ann", "correct horse")}); w.Code != 200 {
		t.Errorf("right password after the delay: %d", w.Code)
	}
}
