package control_test

import (
	"encoding/json"
	"testing"

	"github.com/clinchsso/clinch/control"
)

func TestAppCommands_BasicAuth(t *testing.T) {
	env := appEnv(t)
	mustRun(t, env, "app create --type forward_auth --name Files --domain files.example.com --json")
	for _, tc := range []struct {
		args            string
		basic, password bool
	}{
		{"app update --slug files --basic-auth --json", true, false},
		{"app update --slug files --basic-auth-password --json", true, true},
		{"app update --slug files --basic-auth-password=false --json", true, false},
		{"app update --slug files --basic-auth-password --json", true, true},
		// Turning Basic off turns the password off with it.
		{"app update --slug files --basic-auth=false --json", false, false},
		{"app create --type forward_auth --name Dav --domain dav.example.com --basic-auth --basic-auth-password --json", true, true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			var a control.AppJSON
			if err := json.Unmarshal([]byte(mustRun(t, env, tc.args)), &a); err != nil {
				t.Fatal(err)
			}
			if a.BasicAuth != tc.basic || a.BasicAuthPassword != tc.password {
				t.Errorf("basic_auth %v, basic_auth_password %v; want %v, %v", a.BasicAuth, a.BasicAuthPassword, tc.basic, tc.password)
			}
		})
	}
	// The password needs Basic itself.
	if _, errOut, code := run(t, env, "app update --slug files --basic-auth-password"); code != 1 || errOut == "" {
		t.Errorf("password without Basic: exit %d %q", code, errOut)
	}
}
