// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp)
// on 127.0.0.1 for tests, and hands over what it receives.
package mailtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync/atomic"
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
	// Header is the parsed header. Text is the plain-text body (the
	// text/plain part of a multipart message) and HTML the text/html
	// part, "" when there is none; both decoded (quoted-printable or
	// base64) and with CRLF turned into LF.
	Header mail.Header
	Text   string
	HTML   string
	// ContentType is the top-level media type, e.g. "text/plain" or
	// "multipart/alternative".
	ContentType string
}

// Server is a running SMTP server; it stops when the test ends.
type Server struct {
	Host string
	Port int
	msgs chan Message
	// refusals counts the deliveries refused so far.
	refusals   atomic.Int64
	refuse     int64
	refuseCode int
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
	// Refuse answers the first Refuse deliveries (their DATA) with a
	// failure; -1 refuses every one. RefuseCode is the reply code: 451
	// (try again later) when 0, or a permanent one such as 550.
	Refuse     int
	RefuseCode int
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
	s := &Server{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, msgs: make(chan Message, 16), refuse: int64(o.Refuse), refuseCode: o.RefuseCode}
	if s.refuseCode == 0 {
		s.refuseCode = 451
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, user: o.Username, pass: o.Password}, nil
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

// Refused is how many deliveries the server has refused so far.
func (s *Server) Refused() int { return int(s.refusals.Load()) }

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
	srv        *Server
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
	if s.srv.refuse < 0 || s.srv.refusals.Load() < s.srv.refuse {
		io.Copy(io.Discard, r)
		s.srv.refusals.Add(1)
		if s.srv.refuseCode >= 500 {
			return &smtp.SMTPError{Code: s.srv.refuseCode, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "mailtest: refused for good"}
		}
		return &smtp.SMTPError{Code: s.srv.refuseCode, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailtest: try again later"}
	}
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	msg := Message{From: s.from, To: s.to, User: s.authed, Header: m.Header}
	if err := readBody(&msg, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Body, true); err != nil {
		return err
	}
	s.srv.msgs <- msg
	return nil
}

// readBody fills msg's Text or HTML from one part, or from each part of a
// multipart/alternative or multipart/mixed body.
func readBody(msg *Message, ctype, cte string, r io.Reader, top bool) error {
	media, params, err := mime.ParseMediaType(ctype)
	if ctype == "" {
		media, err = "text/plain", nil
	}
	if err != nil {
		return fmt.Errorf("mailtest: content type %q: %w", ctype, err)
	}
	if top {
		msg.ContentType = media
	}
	if strings.HasPrefix(media, "multipart/") {
		mr := multipart.NewReader(r, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("mailtest: part: %w", err)
			}
			if err := readBody(msg, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, false); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &lineJoiner{r: r})
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("mailtest: body: %w", err)
	}
	text := string(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
	if media == "text/html" {
		msg.HTML = text
	} else {
		msg.Text = text
	}
	return nil
}

// lineJoiner drops the line breaks of a base64 body.
type lineJoiner struct{ r io.Reader }

func (l *lineJoiner) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}
