// Package mail sends Clinch's messages (password-reset, invitation and
// sign-in links) over SMTP with github.com/wneessen/go-mail, or writes them
// to the log when no SMTP server is configured. It is a leaf: the packages
// that send mail declare the one method they need, and main wires a sender
// in. Nothing here logs a password; only Log writes a body, and only
// because it is the delivery when mail is off.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Timeout bounds one delivery (connect, greeting, TLS, auth, data) when
// the context has no earlier deadline.
const Timeout = 30 * time.Second

var (
	// ErrInvalid is a message that cannot be sent as it is: a bad address
	// or a line break in a header. Sending it again would not help.
	ErrInvalid = errors.New("mail: invalid message")
	// ErrRejected is a permanent (5xx) refusal by the server; sending the
	// same message again would not help either.
	ErrRejected = errors.New("mail: rejected by the server")
)

// Message is one message to one address: a plain-text body and, when HTML
// is set, an HTML alternative of the same content.
type Message struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
}

// Validate refuses a message whose recipient is not one address or whose
// subject carries a line break (header injection).
func (m Message) Validate() error {
	if strings.ContainsAny(m.To, "\r\n") {
		return fmt.Errorf("%w: line break in the recipient", ErrInvalid)
	}
	if _, err := mail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("%w: bad recipient address", ErrInvalid)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("%w: line break in the subject", ErrInvalid)
	}
	return nil
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

// String names the server, for status pages and logs.
func (s *SMTP) String() string {
	return "smtp " + net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// Send delivers m, honouring ctx and at most Timeout. A message that
// cannot be sent as it is wraps ErrInvalid, a permanent refusal
// ErrRejected; anything else may work on a later try.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg, err := s.compose(m)
	if err != nil {
		return err
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && se.ErrorCode() >= 500 {
			return fmt.Errorf("%w: %s: %w", ErrRejected, s, err)
		}
		return fmt.Errorf("mail: send through %s: %w", s, err)
	}
	return nil
}

// client is a go-mail client for one delivery; its settings mirror what
// the SMTP_* variables mean.
func (s *SMTP) client() (*gomail.Client, error) {
	helo := s.HELO
	if helo == "" {
		helo = "localhost"
	}
	opts := []gomail.Option{
		gomail.WithPort(s.Port),
		gomail.WithHELO(helo),
		gomail.WithTimeout(Timeout),
		gomail.WithTLSConfig(s.tlsConfig()),
	}
	switch {
	case s.ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case s.StartTLS && s.Username != "":
		// Never a password in the clear: without STARTTLS on offer, the
		// delivery stops before AUTH.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case s.StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.Username != "" && s.Auth != "none" {
		// go-mail's PLAIN and LOGIN, like net/smtp's, refuse to send the
		// password over an unencrypted connection except to localhost.
		mech := gomail.SMTPAuthPlain
		if s.Auth == "login" {
			mech = gomail.SMTPAuthLogin
		}
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	c, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("mail: client for %s: %w", s, err)
	}
	return c, nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.TLSConfig != nil {
		return s.TLSConfig.Clone()
	}
	return &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// compose builds the message: plain text, and the HTML as its
// multipart/alternative sibling when there is one.
func (s *SMTP) compose(m Message) (*gomail.Msg, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return nil, fmt.Errorf("%w: bad sender address: %w", ErrInvalid, err)
	}
	msg := gomail.NewMsg()
	msg.FromMailAddress(from)
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: bad recipient address", ErrInvalid)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// The sender's domain, not the host name go-mail would use: the
	// header then says nothing about the machine Clinch runs on.
	var id [12]byte
	rand.Read(id[:])
	msg.SetMessageIDWithValue(hex.EncodeToString(id[:]) + "@" + from.Address[strings.LastIndexByte(from.Address, '@')+1:])
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// LogMessage is the msg of Log's line: the one place a link is logged,
// and the line says why.
const LogMessage = "SMTP is not configured, so this message was not sent; it is written here for the administrator to pass on"

// Log is the delivery when no SMTP server is configured: each message is
// written to the log at WARN, link included, so a fresh install can still
// hand a link on. It never fails.
type Log struct{ Logger *slog.Logger }

// String names the delivery, for status pages.
func (Log) String() string { return "log (mail is off: no SMTP_ADDRESS)" }

// Send writes m to the log.
func (l Log) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	l.Logger.WarnContext(ctx, LogMessage, "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
