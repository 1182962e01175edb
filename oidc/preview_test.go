package oidc

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
)

// The admin's preview shows the claims a real ID token carries for the
// user at the app under every scope, custom claims merged the same way,
// and writes no pairwise subject.
func TestPreviewClaims_AreTheIDTokensClaims(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.SetUserClaims(f.ctx, f.user.Email, `{"role":"user","sub":"forged"}`); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetUserAppClaims(f.ctx, f.user.Email, f.app.Slug, `{"role":"wiki-admin"}`); err != nil {
		t.Fatal(err)
	}
	preview, err := f.p.PreviewClaims(f.ctx, f.app, f.user)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := preview["sub"]; ok {
		t.Errorf("the preview has a sub: %v", preview["sub"])
	}
	if preview["role"] != "wiki-admin" || preview["email"] != f.user.Email {
		t.Fatalf("preview %v", preview)
	}
	res := f.exchange(f.code(f.app, func(q url.Values) { q.Set("scope", "openid profile email groups") }), testVerifier)
	payload, err := f.p.keys.Verify(res.str("id_token"))
	if err != nil {
		t.Fatal(err)
	}
	var tok map[string]any
	_ = json.Unmarshal(payload, &tok)
	b, _ := json.Marshal(preview)
	var want map[string]any
	_ = json.Unmarshal(b, &want)
	for k, v := range want {
		if !reflect.DeepEqual(tok[k], v) {
			t.Errorf("%s: preview %v, ID token %v", k, v, tok[k])
		}
	}
}
