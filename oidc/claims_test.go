package oidc

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"

	"github.com/clinchsso/clinch/auth"
)

func TestClaims_ReservedClaimOverride(t *testing.T) {
	std := map[string]any{"email": "ada@example.com"}
	evil := json.RawMessage(`{"iss":"https://evil","sub":"admin","aud":"other","exp":9999999999,"iat":1,"nonce":"x",
		"auth_time":1,"acr":"2","amr":["hwk"],"azp":"other","at_hash":"x","sid":"x","nbf":1,"jti":"x","team":"red"}`)
	got, err := MergeClaims(std, evil, evil, evil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"email": "ada@example.com", "team": "red"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestClaims_MergeOrder(t *testing.T) {
	cases := []struct {
		name   string
		std    map[string]any
		layers []string
		want   map[string]any
	}{
		{"later group wins", nil, []string{`{"role":"a"}`, `{"role":"b"}`}, map[string]any{"role": "b"}},
		{"user over groups", nil, []string{`{"role":"g"}`, `{"role":"u","x":1}`}, map[string]any{"role": "u", "x": float64(1)}},
		{"user-app over user", nil, []string{`{"role":"g"}`, `{"role":"u"}`, `{"role":"ua"}`}, map[string]any{"role": "ua"}},
		{"custom over standard groups", map[string]any{"groups": []string{"a"}}, []string{`{"groups":["x"]}`}, map[string]any{"groups": []any{"x"}}},
		{"empty layers", map[string]any{"email": "e"}, []string{"", `{}`}, map[string]any{"email": "e"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ls []json.RawMessage
			for _, l := range c.layers {
				ls = append(ls, json.RawMessage(l))
			}
			got, err := MergeClaims(c.std, ls...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
		})
	}
	if _, err := MergeClaims(nil, json.RawMessage(`[1]`)); err == nil {
		t.Error("a non-object layer was accepted")
	}
}

func TestClaims_CustomClaimsReachIDTokenButNotReserved(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.SetUserClaims(f.ctx, f.user.Email, `{"role":"user","sub":"forged"}`); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetUserAppClaims(f.ctx, f.user.Email, f.app.Slug, `{"role":"wiki-admin","iss":"forged"}`); err != nil {
		t.Fatal(err)
	}
	res := f.exchange(f.code(f.app, nil), testVerifier)
	payload, err := f.p.keys.Verify(res.str("id_token"))
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	_ = json.Unmarshal(payload, &c)
	if c["role"] != "wiki-admin" || c["sub"] == "forged" || c["iss"] != "http://localhost:3000" {
		t.Fatalf("claims %v", c)
	}
}

func TestClaims_PairwiseSubjects(t *testing.T) {
	f := newFixture(t)
	sub := func(app *auth.App, secret string) string {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {f.code(app, nil)}, "redirect_uri": {testRedirect}, "code_verifier": {testVerifier}}
		res := f.post(PathToken, form, app.ClientID, secret)
		payload, err := f.p.keys.Verify(res.str("id_token"))
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Sub string }
		_ = json.Unmarshal(payload, &c)
		return c.Sub
	}
	other, otherSecret := f.newApp(auth.AppInput{Name: "Other", SkipConsent: true})
	a1, a2, b := sub(f.app, f.secret), sub(f.app, f.secret), sub(other, otherSecret)
	if a1 == "" || a1 != a2 {
		t.Errorf("sub not stable for one app: %q %q", a1, a2)
	}
	if a1 == b {
		t.Error("two apps see the same sub: they can correlate the user")
	}
}
