package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
	"github.com/clinchsso/clinch/mail"
	"github.com/clinchsso/clinch/mail/mailtest"
	"github.com/clinchsso/clinch/mail/outbox"
)

const link = "https://auth.example.com/password-reset?token=crs_SECRETLINK"

func message() mail.Message {
	return mail.Message{To: "ann@example.com", Subject: "Reset your password",
		Text: "Open " + link + "\n", HTML: `<p><a href="` + link + `">Reset</a></p>`}
}

func secrets(t *testing.T) *auth.Secrets {
	t.Helper()
	s, err := auth.NewSecrets(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// events reports each message sent or given up, so tests wait for the
// worker without sleeping.
type events struct{ sent, failed chan struct{} }

func newEvents() *events {
	return &events{sent: make(chan struct{}, 16), failed: make(chan struct{}, 16)}
}
func (e *events) MailSent()   { e.sent <- struct{}{} }
func (e *events) MailFailed() { e.failed <- struct{}{} }

func wait(t *testing.T, ctx context.Context, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-ctx.Done():
		t.Fatalf("no %s: %v", what, ctx.Err())
	}
}

// syncBuffer is a log sink the worker goroutine and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	box    *outbox.Outbox
	events *events
	log    *syncBuffer
}

// start runs an outbox over store that sends to srv, with a backoff short
// enough that retries follow each other at once.
func start(t *testing.T, ctx context.Context, store *kv.Store, srv *mailtest.Server, attempts int) *fixture {
	t.Helper()
	f := &fixture{events: newEvents(), log: &syncBuffer{}}
	box, err := outbox.New(ctx, outbox.Config{
		Store: store, Sealer: secrets(t),
		Sender:  &mail.SMTP{Host: srv.Host, Port: srv.Port, From: "Clinch <auth@example.com>"},
		Logger:  slog.New(slog.NewTextHandler(f.log, nil)),
		Metrics: f.events, Attempts: attempts, Backoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.box = box
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { box.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	return f
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestOutbox_DeliversTextAndHTML(t *testing.T) {
	ctx := timeout(t)
	srv := mailtest.Start(t)
	f := start(t, ctx, kvtest.Open(t), srv, 0)
	if err := f.box.Send(ctx, message()); err != nil {
		t.Fatal(err)
	}
	m := srv.Next(t, ctx)
	if m.ContentType != "multipart/alternative" || m.Text != message().Text || m.HTML != message().HTML {
		t.Errorf("arrived as %s, text %q, html %q", m.ContentType, m.Text, m.HTML)
	}
	wait(t, ctx, f.events.sent, "sent event")
	st, err := f.box.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued != 0 || st.Sent != 1 || st.Failed != 0 || !st.LastFailure.IsZero() {
		t.Errorf("status after one delivery: %+v", st)
	}
}

func TestOutbox_RetriesAfterARefusal(t *testing.T) {
	ctx := timeout(t)
	srv := mailtest.StartWith(t, mailtest.Options{Refuse: 2})
	f := start(t, ctx, kvtest.Open(t), srv, 3)
	if err := f.box.Send(ctx, message()); err != nil {
		t.Fatal(err)
	}
	if m := srv.Next(t, ctx); m.Text != message().Text {
		t.Errorf("text %q", m.Text)
	}
	wait(t, ctx, f.events.sent, "sent event")
	if n := srv.Refused(); n != 2 {
		t.Errorf("server refused %d deliveries, want 2", n)
	}
	st, err := f.box.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 1 || st.Failed != 0 || st.Queued != 0 || !strings.Contains(st.LastError, "451") {
		t.Errorf("status: %+v", st)
	}
}

// After the last attempt the message is given up: counted, shown by
// Status with the server's reason, and logged at ERROR without the
// address, the body or the link.
func TestOutbox_GivesUpAfterTheLastAttempt(t *testing.T) {
	ctx := timeout(t)
	srv := mailtest.StartWith(t, mailtest.Options{Refuse: -1})
	f := start(t, ctx, kvtest.Open(t), srv, 3)
	before := time.Now()
	if err := f.box.Send(ctx, message()); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, f.events.failed, "failed event")
	if n := srv.Refused(); n != 3 {
		t.Errorf("server saw %d attempts, want 3", n)
	}
	st, err := f.box.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Failed != 1 || st.Sent != 0 || st.Queued != 0 || st.LastFailure.Before(before) || !strings.Contains(st.LastError, "try again later") {
		t.Errorf("status: %+v", st)
	}
	logs := f.log.String()
	if !strings.Contains(logs, `level=ERROR msg="mail given up"`) || !strings.Contains(logs, "attempts=3") {
		t.Errorf("no ERROR line for the given-up message:\n%s", logs)
	}
	for _, secret := range []string{"SECRETLINK", "ann@example.com", "Open "} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows %q:\n%s", secret, logs)
		}
	}
}

// A message queued before a stop is delivered after the next start, and
// the store never holds the link in the clear.
func TestOutbox_QueueSurvivesARestart(t *testing.T) {
	ctx := timeout(t)
	dir := t.TempDir()
	store, err := kv.Open(ctx, dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := outbox.New(ctx, outbox.Config{Store: store, Sealer: secrets(t), Sender: mail.Log{Logger: slog.New(slog.DiscardHandler)}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// No worker runs: the message stays queued when the server stops.
	if err := first.Send(ctx, message()); err != nil {
		t.Fatal(err)
	}
	first.Close()
	if err := first.Send(ctx, message()); !errors.Is(err, outbox.ErrStopped) {
		t.Errorf("Send after Close = %v, want ErrStopped", err)
	}
	err = store.View(ctx, func(tx *kv.Txn) error {
		return tx.Scan([]byte(kv.PrefixMailOutbox), func(k, v []byte) error {
			if bytes.Contains(v, []byte("SECRETLINK")) || bytes.Contains(v, []byte("ann@example.com")) {
				t.Errorf("%s holds the message in the clear: %s", k, v)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	store, err = kv.Open(ctx, dir, kv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := mailtest.Start(t)
	f := start(t, ctx, store, srv, 0)
	if m := srv.Next(t, ctx); m.Text != message().Text || m.HTML != message().HTML || m.To[0] != "ann@example.com" {
		t.Errorf("after the restart: to %v, text %q, html %q", m.To, m.Text, m.HTML)
	}
	wait(t, ctx, f.events.sent, "sent event")
	if d := f.box.Depth(); d != 0 {
		t.Errorf("depth %d after delivery", d)
	}
}

func TestOutbox_RefusesWhatCannotBeQueued(t *testing.T) {
	ctx := timeout(t)
	box, err := outbox.New(ctx, outbox.Config{Store: kvtest.Open(t), Sealer: secrets(t), Sender: mail.Log{Logger: slog.New(slog.DiscardHandler)}, Logger: slog.New(slog.DiscardHandler), Capacity: 2})
	if err != nil {
		t.Fatal(err)
	}
	bad := []mail.Message{
		{To: "ann@example.com\r\nBcc: eve@example.com", Subject: "x", Text: "y"},
		{To: "ann@example.com", Subject: "x\r\nBcc: eve@example.com", Text: "y"},
		{To: "not an address", Subject: "x", Text: "y"},
	}
	for _, m := range bad {
		if err := box.Send(ctx, m); !errors.Is(err, mail.ErrInvalid) {
			t.Errorf("Send(%q, %q) = %v, want ErrInvalid", m.To, m.Subject, err)
		}
	}
	for i := range 2 {
		if err := box.Send(ctx, message()); err != nil {
			t.Fatalf("Send %d: %v", i+1, err)
		}
	}
	if err := box.Send(ctx, message()); !errors.Is(err, outbox.ErrFull) {
		t.Errorf("Send to a full queue = %v, want ErrFull", err)
	}
	if st, err := box.Status(ctx); err != nil || st.Queued != 2 || st.Capacity != 2 || st.Oldest.IsZero() {
		t.Errorf("Status = %+v, %v", st, err)
	}
}

// A permanent refusal (5xx) is given up at once: trying again would only
// be refused again.
func TestOutbox_GivesUpAtOnceOnAPermanentRefusal(t *testing.T) {
	ctx := timeout(t)
	srv := mailtest.StartWith(t, mailtest.Options{Refuse: -1, RefuseCode: 550})
	f := start(t, ctx, kvtest.Open(t), srv, 5)
	if err := f.box.Send(ctx, message()); err != nil {
		t.Fatal(err)
	}
	wait(t, ctx, f.events.failed, "failed event")
	if n := srv.Refused(); n != 1 {
		t.Errorf("server saw %d attempts, want 1", n)
	}
	if st, err := f.box.Status(ctx); err != nil || st.Failed != 1 || !strings.Contains(st.LastError, "550") {
		t.Errorf("Status = %+v, %v", st, err)
	}
}

// Without SMTP the message is written to the log for the administrator:
// it leaves the queue, but it is not counted or logged as sent.
func TestOutbox_WrittenToTheLogIsNotSent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, logged := newEvents(), &syncBuffer{}
	box, err := outbox.New(ctx, outbox.Config{
		Store: kvtest.Open(t), Sealer: secrets(t),
		Sender:  mail.Log{Logger: slog.New(slog.NewTextHandler(logged, nil))},
		Logger:  slog.New(slog.NewTextHandler(logged, nil)),
		Metrics: ev, Backoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { box.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	if err := box.Send(ctx, mail.Message{To: "ann@example.com", Subject: "Reset your password", Text: "https://auth.example.com/password-reset?token=crs_x"}); err != nil {
		t.Fatal(err)
	}
	// The worker logs after it has taken the message off the queue.
	for box.Depth() > 0 || !strings.Contains(logged.String(), "not sent (SMTP is not configured)") {
		select {
		case <-ctx.Done():
			t.Fatalf("the message was not written to the log and taken off the queue:\n%s", logged)
		case <-time.After(5 * time.Millisecond):
		}
	}
	st, err := box.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != 0 || st.Failed != 0 || len(ev.sent) != 0 {
		t.Errorf("status %+v, %d sent events: a message written to the log counted as sent", st, len(ev.sent))
	}
	out := logged.String()
	if strings.Contains(out, `msg="mail sent"`) || !strings.Contains(out, "not sent (SMTP is not configured)") {
		t.Errorf("log:\n%s", out)
	}
}
