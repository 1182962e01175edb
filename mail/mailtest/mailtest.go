// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp)
// on 127.0.0.1 for tests, and hands over what it receives.
package mailtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one delivered message.
type Message struct {
	From string
	To   []string
	// User is who authenticated, "" for nobody.
	User string
	// Header is the parsed header; Text the body, quoted-printable
	// decoded when the header says so.
	Header mail.Header
	Text   string
}

// Server is a running SMTP server; it stops when the test ends.
type Server struct {
	Host string
	Port int
	msgs chan Message
}

// Options make the server speak TLS and ask for a password.
type Options struct {
	// TLS is the server's TLS configuration; with it the server offers
	// STARTTLS, or speaks TLS at once when Implicit.
	TLS      *tls.Config
	Implicit bool
	// Username and Password, when set, are the only credentials AUTH
	// PLAIN accepts.
	Username, Password string
}

// Start listens on a free port of 127.0.0.1, in plain text, and accepts
// mail without authentication.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith is Start with TLS or authentication.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	s := &Server{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, msgs: make(chan Message, 16)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{out: s.msgs, user: o.Username, pass: o.Password}, nil
	}))
	if o.TLS != nil {
		srv.TLSConfig = o.TLS
		if o.Implicit {
			ln = tls.NewListener(ln, o.TLS)
		}
	}
	srv.Domain = "localhost"
	// A client that gives up (a refused certificate) is what some tests
	// want; go-smtp would log it.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Next waits for the next message, or fails the test when ctx ends first.
func (s *Server) Next(t testing.TB, ctx context.Context) Message {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-ctx.Done():
		t.Fatalf("mailtest: no message arrived: %v", ctx.Err())
		return Message{}
	}
}

type session struct {
	out        chan<- Message
	user, pass string // wanted credentials; "" accepts mail without
	authed     string // who signed in
	from       string
	to         []string
}

func (s *session) AuthMechanisms() []string {
	if s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.user || pass != s.pass {
			return errors.New("wrong credentials")
		}
		s.authed = user
		return nil
	}), nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.user != "" && s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	var body io.Reader = m.Body
	if m.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	s.out <- Message{From: s.from, To: s.to, User: s.authed, Header: m.Header, Text: string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))}
	return nil
}
