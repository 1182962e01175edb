package forward

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

// Remote-Admin says whether the caller is a Clinch admin; it is renamable,
// can be turned off, and is empty for a service identity. Whatever a client
// sends under that name never reaches the app as its own value.
func TestVerify_AdminHeader(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	must(t)(f.svc.CreateUser(ctx, auth.NewUser{Email: "root@example.com", Username: "root", Password: "correct horse", Admin: true}))
	must3(t)(f.svc.CreateApp(ctx, auth.AppInput{Name: "Renamed", Type: auth.AppForwardAuth, Domain: "renamed.example.com",
		Headers: &auth.HeaderConfig{User: "Remote-User", Admin: "X-Is-Admin"}}))
	must3(t)(f.svc.CreateApp(ctx, auth.AppInput{Name: "Off", Type: auth.AppForwardAuth, Domain: "off.example.com",
		Headers: &auth.HeaderConfig{User: "Remote-User", Admin: ""}}))
	svcKey, _, err := f.svc.CreateAPIKey(ctx, "wiki", "", "backup", 0)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := f.signIn("root@example.com")
	ann, _ := f.signIn("ann@example.com")
	bob, _ := f.signIn("bob@example.com")
	spoofed := func(h http.Header) http.Header {
		h.Set("Remote-Admin", "true")
		h.Set("X-Is-Admin", "true")
		return h
	}
	tests := []struct {
		name    string
		r       req
		headers map[string][]string // nil slice = must be absent
	}{
		{"admin: true", req{h: caddyHeaders("https", "renamed.example.com", "/"), cookie: root},
			map[string][]string{"X-Is-Admin": {"true"}, "Remote-Admin": nil}},
		{"default name, not an admin: false", req{h: spoofed(wiki("/")), cookie: ann},
			map[string][]string{"Remote-Admin": {"false"}}},
		{"renamed, not an admin: false", req{h: spoofed(caddyHeaders("https", "renamed.example.com", "/")), cookie: bob},
			map[string][]string{"X-Is-Admin": {"false"}}},
		{"turned off", req{h: spoofed(caddyHeaders("https", "off.example.com", "/")), cookie: root},
			map[string][]string{"Remote-Admin": nil, "X-Is-Admin": nil, "Remote-User": {"root"}}},
		{"service identity: empty", req{h: spoofed(wiki("/")), bearer: svcKey},
			map[string][]string{"Remote-Admin": {""}, "Remote-User": {"wiki"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(tt.r)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			for k, want := range tt.headers {
				got, ok := w.Header()[http.CanonicalHeaderKey(k)]
				if want == nil {
					if ok {
						t.Errorf("%s = %q, want absent", k, got)
					}
					continue
				}
				if len(got) != 1 || got[0] != want[0] {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// An app stored before the admin header existed, with header names of its
// own, gets Remote-Admin by its default name; a blank name stays off.
func TestHeaderConfig_StoredBeforeAdmin(t *testing.T) {
	tests := []struct {
		json, want string
	}{
		{`{"user":"X-User","email":"","name":"","groups":""}`, "Remote-Admin"},
		{`{"user":"X-User","email":"","name":"","groups":"","admin":""}`, ""},
		{`{"user":"X-User","email":"","name":"","groups":"","admin":"X-Admin"}`, "X-Admin"},
	}
	for _, tt := range tests {
		var h auth.HeaderConfig
		if err := json.Unmarshal([]byte(tt.json), &h); err != nil {
			t.Fatal(err)
		}
		table := compileApps(1, []*auth.App{{ID: "x", Slug: "x", Type: auth.AppForwardAuth, Active: true, Domain: "x.example.com", Headers: &h}})
		if got := table.match("x.example.com").hAdmin; got != tt.want {
			t.Errorf("%s: admin header %q, want %q", tt.json, got, tt.want)
		}
	}
}
