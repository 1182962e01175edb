package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"mime"
	"net"
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
	s := &mail.SMTP{Host: srv.Host, Port: srv.Port, StartTLS: true, Username: "u", Password: "secret", From: "auth@example.com"}
	err := s.Send(context.Background(), mail.Message{To: "ann@example.com", Subject: "x", Text: "y"})
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send = %v, want a refusal naming STARTTLS", err)
	}
}

// selfSigned is a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// With TLS (STARTTLS or implicit) and AUTH PLAIN, the message arrives
// from the authenticated user; a certificate Clinch does not trust stops
// the delivery before the password is sent.
func TestSMTP_TLSAndAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	tests := []struct {
		name     string
		implicit bool
		trusted  bool
	}{
		{"STARTTLS", false, true},
		{"implicit TLS", true, true},
		{"STARTTLS, untrusted certificate", false, false},
		{"implicit TLS, untrusted certificate", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.StartWith(t, mailtest.Options{
				TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Implicit: tt.implicit, Username: "clinch", Password: "s3cret",
			})
			roots := pool
			if !tt.trusted {
				roots = x509.NewCertPool()
			}
			s := &mail.SMTP{Host: srv.Host, Port: srv.Port, StartTLS: !tt.implicit, ImplicitTLS: tt.implicit,
				Username: "clinch", Password: "s3cret", From: "auth@example.com",
				TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := s.Send(ctx, mail.Message{To: "ann@example.com", Subject: "x", Text: "y"})
			if !tt.trusted {
				if err == nil {
					t.Fatal("sent through a server whose certificate is not trusted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m := srv.Next(t, ctx); m.User != "clinch" || strings.TrimSpace(m.Text) != "y" {
				t.Fatalf("received from user %q: %q", m.User, m.Text)
			}
		})
	}
}

// A message with both bodies arrives as multipart/alternative, the HTML
// as it was given (escaping is the template's job, upstream).
func TestSMTP_TextAndHTMLBodies(t *testing.T) {
	srv := mailtest.Start(t)
	s := &mail.SMTP{Host: srv.Host, Port: srv.Port, From: "Clinch <auth@example.com>"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := mail.Message{To: "ann@example.com", Subject: "Your sign-in link",
		Text: "Open https://auth.example.com/magic-link?token=cml_x\n",
		HTML: "<p>Hello Ann &amp; Bob, <a href=\"https://auth.example.com/magic-link?token=cml_x\">sign in</a></p>\n"}
	if err := s.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	m := srv.Next(t, ctx)
	if m.ContentType != "multipart/alternative" {
		t.Errorf("content type %q, want multipart/alternative", m.ContentType)
	}
	if m.Text != msg.Text || m.HTML != msg.HTML {
		t.Errorf("text %q html %q", m.Text, m.HTML)
	}
	if id := m.Header.Get("Message-Id"); !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q names another domain than the sender's", id)
	}
}

// SMTP_ENABLE_STARTTLS with credentials needs STARTTLS: against a server
// that offers it the password goes over TLS; against one that does not,
// nothing is sent at all.
func TestSMTP_StartTLSRequiredWithCredentials(t *testing.T) {
	cert, pool := selfSigned(t)
	tests := []struct {
		name      string
		serverTLS bool
		wantSent  bool
	}{
		{"server offers STARTTLS", true, true},
		{"server does not", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mailtest.Options{Username: "clinch", Password: "s3cret"}
			if tt.serverTLS {
				o.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			}
			srv := mailtest.StartWith(t, o)
			s := &mail.SMTP{Host: srv.Host, Port: srv.Port, StartTLS: true, Username: "clinch", Password: "s3cret",
				From: "auth@example.com", TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := s.Send(ctx, mail.Message{To: "ann@example.com", Subject: "x", Text: "y"})
			if tt.wantSent {
				if err != nil {
					t.Fatal(err)
				}
				if m := srv.Next(t, ctx); m.User != "clinch" {
					t.Errorf("arrived from user %q", m.User)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
				t.Fatalf("Send = %v, want a refusal naming STARTTLS", err)
			}
		})
	}
}

// With mail off, the message (link included) is what the log shows, at
// WARN, so a fresh install can still pass a link on by hand.
func TestLog_WritesTheMessage(t *testing.T) {
	var b strings.Builder
	l := mail.Log{Logger: slog.New(slog.NewTextHandler(&b, nil))}
	msg := mail.Message{To: "ann@example.com", Subject: "You are invited", Text: "Open https://auth.example.com/invitation?token=civ_x\n", HTML: "<p>html</p>"}
	if err := l.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"level=WARN", `msg="SMTP is not configured, so this message was not sent`, "to=ann@example.com", `subject="You are invited"`, "token=civ_x"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if err := l.Send(context.Background(), mail.Message{To: "a@example.com\r\nBcc: e@example.com"}); !errors.Is(err, mail.ErrInvalid) {
		t.Errorf("Send(header injection) = %v, want ErrInvalid", err)
	}
}
