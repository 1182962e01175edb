package oidc

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/testing/harness"
)

// nodeRP starts node/rp.mjs (openid-client 6) against the server, after
// installing its locked dependencies when they are missing.
func nodeRP(t *testing.T, s *harness.Server, cl client) (*json.Decoder, io.Writer) {
	t.Helper()
	node := harness.NeedTool(t, "node")
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err != nil {
		npm := harness.NeedTool(t, "npm")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, node, "rp.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ISSUER="+s.URL, "CLIENT_ID="+cl.ID, "CLIENT_SECRET="+cl.Secret,
		"REDIRECT_URI="+redirectURI, "LOGOUT_URI="+logoutURI)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("node rp.mjs: %v\n%s", err, stderr.String())
		}
	})
	return json.NewDecoder(bufio.NewReader(stdout)), stdin
}

// step reads the script's next line and checks it is the named step.
func step(t *testing.T, dec *json.Decoder, name string, v any) {
	t.Helper()
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("reading step %s from node: %v", name, err)
	}
	var head struct{ Step string }
	_ = json.Unmarshal(raw, &head)
	if head.Step != name {
		t.Fatalf("node step %q, want %q: %s", head.Step, name, raw)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenIDClient_AllFlows(t *testing.T) {
	s, browser, cl := setup(t)
	s.MustCLI(t, "", "group", "add-user", "--group", "staff", "--email", email)
	dec, in := nodeRP(t, s, cl)

	var disc struct {
		Issuer string
		PKCE   bool
	}
	step(t, dec, "discovery", &disc)
	if disc.Issuer != s.URL || !disc.PKCE {
		t.Errorf("discovery %+v", disc)
	}

	var authz struct{ URL string }
	step(t, dec, "authorize", &authz)
	cb := approve(t, s, browser, authz.URL)
	if _, err := io.WriteString(in, cb.String()+"\n"); err != nil {
		t.Fatal(err)
	}
	var code struct {
		Claims     map[string]any
		HasRefresh bool `json:"has_refresh"`
	}
	step(t, dec, "code", &code)
	if code.Claims["email"] != email || code.Claims["iss"] != s.URL || !code.HasRefresh {
		t.Errorf("code step %+v", code)
	}
	var info struct{ Info map[string]any }
	step(t, dec, "userinfo", &info)
	if info.Info["sub"] != code.Claims["sub"] || info.Info["email"] != email {
		t.Errorf("userinfo %v", info.Info)
	}
	var ref struct {
		Rotated bool
		Sub     string
	}
	step(t, dec, "refresh", &ref)
	if !ref.Rotated || ref.Sub != code.Claims["sub"] {
		t.Errorf("refresh %+v", ref)
	}
	var replay struct{ Replay, After string }
	step(t, dec, "replay", &replay)
	if replay.Replay != "invalid_grant" || replay.After != "invalid_grant" {
		t.Errorf("replay %+v", replay)
	}

	step(t, dec, "authorize2", &authz)
	cb = approve(t, s, browser, authz.URL)
	if _, err := io.WriteString(in, cb.String()+"\n"); err != nil {
		t.Fatal(err)
	}
	var rev struct {
		Refresh      string
		AccessActive bool `json:"access_active"`
	}
	step(t, dec, "revoke", &rev)
	if rev.Refresh != "invalid_grant" || rev.AccessActive {
		t.Errorf("revocation %+v", rev)
	}
	var cc struct {
		HasIDToken bool `json:"has_id_token"`
		Active     bool
		ClientID   string `json:"client_id"`
	}
	step(t, dec, "client_credentials", &cc)
	if cc.HasIDToken || !cc.Active || cc.ClientID != cl.ID {
		t.Errorf("client_credentials %+v", cc)
	}

	// RP-initiated logout with the URL openid-client built: the session
	// ends and the browser goes to the registered post-logout URI.
	var end struct{ URL string }
	step(t, dec, "end_session", &end)
	resp, body := harness.Get(t, browser, end.URL)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 303 || loc == nil || !strings.HasPrefix(loc.String(), logoutURI) || loc.Query().Get("state") != "bye" {
		t.Fatalf("end_session: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), harness.Text(body))
	}
	resp, _ = harness.Get(t, browser, authz.URL)
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != 303 || loc.Path != "/signin" {
		t.Errorf("still signed in after end_session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}
