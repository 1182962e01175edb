// Package mail sends Clinch's messages (password-reset links) over SMTP.
// It is a leaf: the packages that send mail declare the one method they
// need, and main wires an *SMTP in when SMTP is configured. Nothing here
// logs a message body, a link or a password.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// Timeout bounds one delivery (connect, greeting, TLS, auth, data) when
// the context has no earlier deadline.
const Timeout = 30 * time.Second

// Message is one plain-text message to one address.
type Message struct {
	To      string
	Subject string
	Text    string
}

// SMTP delivers messages to one SMTP server.
type SMTP struct {
	Host string // SMTP_ADDRESS
	Port int    // SMTP_PORT
	// HELO is the name Clinch gives in EHLO (SMTP_DOMAIN); "" is
	// "localhost".
	HELO     string
	Username string
	Password string
	// Auth is "plain" (the default when Username is set), "login" or
	// "none".
	Auth string
	// StartTLS upgrades the connection when the server offers STARTTLS,
	// and refuses to go on without it when credentials are set
	// (SMTP_ENABLE_STARTTLS).
	StartTLS bool
	// ImplicitTLS speaks TLS from the first byte (port 465, SMTP_TLS).
	ImplicitTLS bool
	From        string // CLINCH_FROM_EMAIL
	// TLSConfig is for tests; nil verifies the server's certificate
	// against the system roots for Host.
	TLSConfig *tls.Config
}

// Send delivers m, honouring ctx and at most Timeout.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.compose(m, time.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", addr, err)
	}
	// The deadline covers the whole conversation; cancelling ctx closes
	// the connection, which ends whatever step is waiting.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if s.ImplicitTLS {
		conn = tls.Client(conn, s.tlsConfig())
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: greeting from %s: %w", addr, err)
	}
	defer c.Close()
	if err := s.deliver(c, m.To, msg); err != nil {
		return fmt.Errorf("mail: send through %s: %w", addr, err)
	}
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.TLSConfig != nil {
		return s.TLSConfig.Clone()
	}
	return &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

func (s *SMTP) deliver(c *smtp.Client, to string, msg []byte) error {
	helo := s.HELO
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return err
	}
	if !s.ImplicitTLS && s.StartTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return fmt.Errorf("STARTTLS: %w", err)
			}
		} else if s.Username != "" {
			return errors.New("the server does not offer STARTTLS; refusing to send the password in the clear")
		}
	}
	if a := s.auth(); a != nil {
		if err := c.Auth(a); err != nil {
			return fmt.Errorf("authenticate: %w", err)
		}
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return err
	}
	if err := c.Mail(from.Address); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func (s *SMTP) auth() smtp.Auth {
	if s.Username == "" || s.Auth == "none" {
		return nil
	}
	if s.Auth == "login" {
		return loginAuth{user: s.Username, pass: s.Password}
	}
	return smtp.PlainAuth("", s.Username, s.Password, s.Host)
}

// compose writes the message: headers, then the text quoted-printable.
// Addresses and the subject must not carry line breaks (header
// injection).
func (s *SMTP) compose(m Message, now time.Time) ([]byte, error) {
	if _, err := mail.ParseAddress(m.To); err != nil || strings.ContainsAny(m.To, "\r\n") {
		return nil, fmt.Errorf("mail: bad recipient address")
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return nil, fmt.Errorf("mail: bad sender address: %w", err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("mail: line break in subject")
	}
	var id [12]byte
	rand.Read(id[:])
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from.String())
	fmt.Fprintf(&b, "To: %s\r\n", m.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id[:]), domain)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(m.Text, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// loginAuth is the LOGIN mechanism some servers (Office 365) still want;
// like net/smtp's PLAIN it refuses to run without TLS except to localhost.
type loginAuth struct{ user, pass string }

func (a loginAuth) Start(srv *smtp.ServerInfo) (string, []byte, error) {
	if !srv.TLS && srv.Name != "localhost" && srv.Name != "127.0.0.1" && srv.Name != "::1" {
		return "", nil, errors.New("unencrypted connection")
	}
	return "LOGIN", nil, nil
}

func (a loginAuth) Next(from []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(from))) {
	case "username:":
		return []byte(a.user), nil
	case "password:":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge")
}
