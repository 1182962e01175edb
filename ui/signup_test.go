package ui

import (
	"context"
	"net/url"
	"strings"
	"testing"
)

// The first-run wizard is open without ceremony only to a browser on
// Clinch's own machine; from anywhere else it wants the setup code from
// the log, and without it nothing is created.
func TestSignup_SetupCodeFromAnotherMachine(t *testing.T) {
	tests := []struct {
		name      string
		ip        string // X-Forwarded-For from the trusted loopback proxy; "" = loopback itself
		noCode    bool   // Clinch started without a setup code
		code      string
		status    int
		askField  bool
		errorText string
	}{
		{name: "this machine, no code needed", ip: "", status: 303},
		{name: "this machine ignores a wrong code", ip: "", code: "nonsense", status: 303},
		{name: "another machine, right code", ip: "192.0.2.5", code: testSetupCode, status: 303, askField: true},
		{name: "another machine, code typed loosely", ip: "192.0.2.5", code: " ab1c 0def gh23 4jkm ", status: 303, askField: true},
		{name: "another machine, no code", ip: "192.0.2.5", status: 403, askField: true, errorText: "Enter the setup code"},
		{name: "another machine, wrong code", ip: "192.0.2.5", code: "AB1C-0DEF-GH23-4JKN", status: 403, askField: true, errorText: "setup code is not right"},
		{name: "another machine, Clinch has no code", ip: "192.0.2.5", noCode: true, code: testSetupCode, status: 403, askField: true, errorText: "Restart Clinch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnvWith(t, func(c *Config) {
				if tt.noCode {
					c.SetupCode = ""
				}
			})
			c := e.client(tt.ip)
			page := c.get("/signup")
			want(t, page, 200, "")
			if got := strings.Contains(page.body, `name="setup_code"`); got != tt.askField {
				t.Errorf("the wizard asks for a setup code: %v, want %v", got, tt.askField)
			}
			form := url.Values{"email": {"admin@example.com"}, "name": {"Ada"},
				"password": {"correct horse"}, "password_confirm": {"correct horse"}}
			if tt.code != "" {
				form.Set("setup_code", tt.code)
			}
			r := c.post("/signup", form)
			if r.code != tt.status {
				t.Fatalf("POST /signup: %d, want %d\n%s", r.code, tt.status, r.body)
			}
			_, err := e.auth.UserByEmail(context.Background(), "admin@example.com")
			if created := err == nil; created != (tt.status == 303) {
				t.Fatalf("account created: %v, want %v", created, tt.status == 303)
			}
			if tt.status == 303 {
				if c.sessionCookie() == "" {
					t.Error("the new admin was not signed in")
				}
				return
			}
			if !strings.Contains(r.body, `role="alert"`) || !strings.Contains(r.body, tt.errorText) {
				t.Errorf("refusal does not say %q:\n%s", tt.errorText, r.body)
			}
			// What was typed is kept, except the passwords and a wrong code.
			if !strings.Contains(r.body, `value="admin@example.com"`) || strings.Contains(r.body, "correct horse") ||
				tt.code != "" && strings.Contains(r.body, tt.code) {
				t.Errorf("the refused form lost the email or echoed a password or wrong code:\n%s", r.body)
			}
			if c.sessionCookie() != "" {
				t.Error("a refused wizard signed someone in")
			}
		})
	}
}
