package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
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

// Without SMTP a fresh install still resets a password: the
// forgot-password page says the link goes to the administrator, the
// server writes it in one WARN line that says SMTP is not configured (and
// in no other line), and the link read from that log sets a new password
// that then signs in.
func TestMail_WithoutSMTPResetLinkIsInTheLog(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	const email, newPassword = "ann@example.com", "a new password for ann"
	createUser(t, srv.CLI, email)

	c := harness.NewClient()
	tok := harness.Form(t, c, srv.URL+"/forgot-password")
	resp, body := harness.Post(t, c, srv.URL+"/forgot-password", url.Values{"csrf_token": {tok}, "email": {email}})
	text := harness.Text(body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(text, "If an account has the address "+email) || !strings.Contains(text, "This server sends no mail, so the link went to your administrator") {
		t.Fatalf("POST /forgot-password: %s\n%s", resp.Status, text)
	}

	// The queue's worker writes the message after the answer.
	linkRE := regexp.MustCompile(`https?://[^\s"\\]+/password-reset\?token=(` + auth.PrefixResetToken + `[A-Za-z0-9_-]+)`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var m []string
	for m == nil {
		if ctx.Err() != nil {
			t.Fatalf("no reset link in the log:\n%s", srv.Log(t))
		}
		time.Sleep(50 * time.Millisecond)
		m = linkRE.FindStringSubmatch(srv.Log(t))
	}
	token := m[1]
	var withLink []string
	for _, l := range strings.Split(srv.Log(t), "\n") {
		if strings.Contains(l, token) {
			withLink = append(withLink, l)
		}
	}
	if len(withLink) != 1 || !strings.Contains(withLink[0], "WARN") || !strings.Contains(withLink[0], "SMTP is not configured") || !strings.Contains(withLink[0], email) {
		t.Fatalf("the link is in %d log lines, want one WARN saying SMTP is not configured:\n%s", len(withLink), strings.Join(withLink, "\n"))
	}

	link, err := url.Parse(m[0])
	if err != nil {
		t.Fatal(err)
	}
	page := srv.URL + link.RequestURI()
	resp, body = harness.Get(t, c, page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(harness.Text(body), "Choose a new password") {
		t.Fatalf("GET the logged link: %s\n%s", resp.Status, harness.Text(body))
	}
	csrf, _ := harness.CSRFToken(body)
	resp, body = harness.Post(t, c, srv.URL+"/password-reset", url.Values{
		"csrf_token": {csrf}, "token": {token}, "password": {newPassword}, "password_confirm": {newPassword},
	})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(location(t, resp), "/signin") {
		t.Fatalf("POST /password-reset: %s\n%s", resp.Status, harness.Text(body))
	}
	if resp, _ := harness.TrySignIn(t, harness.NewClient(), srv, email, password, ""); resp.StatusCode == http.StatusSeeOther {
		t.Errorf("the old password still signs in")
	}
	signedIn := harness.NewClient()
	harness.SignIn(t, signedIn, srv, email, newPassword, "")
	home(t, signedIn, srv, email)
}
