package mail_test

import (
	"context"
	"mime"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/mail"
	"github.com/clinchsso/clinch/mail/mailtest"
)

func TestSMTP_SendReachesARealServer(t *testing.T) {
	srv := mailtest.Start(t)
	s := &mail.SMTP{Host: srv.Host, Port: srv.Port, StartTLS: true, From: "Clinch <auth@example.com>"}
	text := "Open this link:\nhttps://auth.example.com/reset/crs_" + strings.Repeat("A", 90) + "\n\nÉtienne = friend\n"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Send(ctx, mail.Message{To: "ann@example.com", Subject: "Réinitialiser", Text: text}); err != nil {
		t.Fatal(err)
	}
	m := srv.Next(t, ctx)
	if m.From != "auth@example.com" || len(m.To) != 1 || m.To[0] != "ann@example.com" {
		t.Errorf("envelope from %q to %v", m.From, m.To)
	}
	if m.Text != text {
		t.Errorf("body came through as %q, want %q", m.Text, text)
	}
	if subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil || subj != "Réinitialiser" {
		t.Errorf("subject %q (%v)", subj, err)
	}
}

func TestSMTP_RefusesHeaderInjection(t *testing.T) {
	s := &mail.SMTP{Host: "127.0.0.1", Port: 1, From: "auth@example.com"}
	tests := []mail.Message{
		{To: "ann@example.com\r\nBcc: eve@example.com", Subject: "x"},
		{To: "ann@example.com", Subject: "x\r\nBcc: eve@example.com"},
		{To: "not an address", Subject: "x"},
	}
	for _, m := range tests {
		if err := s.Send(context.Background(), m); err == nil || strings.Contains(err.Error(), "connect") {
			t.Errorf("Send(%q, %q) = %v, want refused before connecting", m.To, m.Subject, err)
		}
	}
}

func TestSMTP_PasswordNeverInTheClear(t *testing.T) {
	srv := mailtest.Start(t)
	// The test server offers no STARTTLS; with credentials set Clinch
	// must not go on.
	s := &mail.SMTP{Host: "localhost", Port: srv.Port, StartTLS: true, Username: "u", Password: "secret", From: "auth@example.com"}
	err := s.Send(context.Background(), mail.Message{To: "ann@example.com", Subject: "x", Text: "y"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send = %v, want a refusal naming STARTTLS", err)
	}
}
