package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/mail/mailtest"
	"github.com/clinchsso/clinch/testing/harness"
)

// An invitation the mail server refuses for good (550) is not lost
// silently: `clinch mail status` (through the control socket) shows it
// given up with the server's reason, /metrics counts it, and the log has
// one ERROR line for it that shows neither the link nor the address.
func TestMail_RefusedInvitationIsShownToTheAdmin(t *testing.T) {
	smtp := mailtest.StartWith(t, mailtest.Options{Refuse: -1, RefuseCode: 550})
	srv := harness.Start(t, harness.Options{Env: map[string]string{
		"SMTP_ADDRESS":      smtp.Host,
		"SMTP_PORT":         strconv.Itoa(smtp.Port),
		"CLINCH_FROM_EMAIL": "Clinch <auth@example.com>",
	}})
	const email = "refused@example.com"
	out := srv.MustCLI(t, "", "user", "invite", "--email", email)
	if strings.Contains(out, "token=") || !strings.Contains(out, "mail status") {
		t.Fatalf("clinch user invite printed %q", out)
	}

	var st struct {
		Transport   string `json:"transport"`
		Queued      int    `json:"queued"`
		Failed      int    `json:"failed"`
		LastFailure string `json:"last_failure"`
		LastError   string `json:"last_error"`
	}
	// The worker sends after the command returns: wait for its verdict.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for st.Failed == 0 {
		if ctx.Err() != nil {
			t.Fatalf("no failure shown by clinch mail status: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
		if err := json.Unmarshal([]byte(srv.MustCLI(t, "", "mail", "status", "--json")), &st); err != nil {
			t.Fatal(err)
		}
	}
	if st.Failed != 1 || st.Queued != 0 || st.LastFailure == "" || !strings.Contains(st.LastError, "550") || !strings.HasPrefix(st.Transport, "smtp 127.0.0.1:") {
		t.Errorf("mail status: %+v", st)
	}
	if n := smtp.Refused(); n != 1 {
		t.Errorf("the server saw %d attempts; a permanent refusal is not retried", n)
	}
	text := srv.MustCLI(t, "", "mail", "status")
	for _, want := range []string{"given up:      1 since the server started", "last failure:  20", "550"} {
		if !strings.Contains(text, want) {
			t.Errorf("clinch mail status lacks %q:\n%s", want, text)
		}
	}

	_, metrics := harness.Get(t, harness.NewClient(), srv.URL+"/metrics")
	for _, want := range []string{"clinch_mail_failed_total 1", "clinch_mail_queue_depth 0", "clinch_mail_sent_total 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	log := srv.Log(t)
	var errorLines int
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "mail given up") && strings.Contains(l, "ERROR") {
			errorLines++
		}
	}
	if errorLines != 1 {
		t.Errorf("%d ERROR lines for the given-up mail, want 1", errorLines)
	}
	for _, secret := range []string{"civ_", email} {
		if strings.Contains(log, secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
}
