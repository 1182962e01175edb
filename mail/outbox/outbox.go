// Package outbox takes Clinch's mail off the request path: Send puts a
// message in a bounded queue kept in the store and returns; one worker
// (Run) delivers the queue through a mail sender, trying again with
// exponential backoff, and gives a message up after a few attempts. The
// queue is in the store, sealed with the at-rest key, so a restart loses
// nothing and a copy of the data directory shows no link.
package outbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/mail"
)

// Defaults for Config's zero values.
const (
	DefaultCapacity = 1000
	DefaultAttempts = 6
	// DefaultBackoff is the wait before the second attempt; each further
	// wait doubles, so six attempts span about a quarter of an hour: a
	// sign-in link lives 15 minutes, a reset link an hour.
	DefaultBackoff = 30 * time.Second
	// MaxBackoff caps one wait.
	MaxBackoff = 30 * time.Minute
)

var (
	// ErrFull is a Send refused because the queue holds Capacity messages.
	ErrFull = errors.New("outbox: the mail queue is full")
	// ErrStopped is a Send after Close.
	ErrStopped = errors.New("outbox: stopped")
)

// Sender delivers one message; *mail.SMTP and mail.Log are two.
type Sender interface {
	Send(ctx context.Context, m mail.Message) error
}

// Sealer encrypts queued messages at rest; *auth.Secrets is one.
type Sealer interface {
	Seal(plaintext []byte, label string) []byte
	Open(ciphertext []byte, label string) ([]byte, error)
}

// Metrics counts deliveries; *metrics.Metrics is one.
type Metrics interface {
	MailSent()
	MailFailed()
}

// Config is what an Outbox needs.
type Config struct {
	Store  *kv.Store
	Sealer Sealer
	Sender Sender
	Logger *slog.Logger
	// Metrics may be nil.
	Metrics Metrics
	// Capacity bounds the queue (DefaultCapacity when 0).
	Capacity int
	// Attempts is how often a message is tried before it is given up
	// (DefaultAttempts when 0).
	Attempts int
	// Backoff is the wait after the first failed attempt (DefaultBackoff
	// when 0); it doubles after each further one, up to MaxBackoff.
	Backoff time.Duration
}

// Status is what an administrator needs to know about the mail.
type Status struct {
	// Transport names where mail goes ("smtp host:port", or the log).
	Transport string `json:"transport"`
	// Queued messages wait for their first or a later attempt.
	Queued   int `json:"queued"`
	Capacity int `json:"capacity"`
	// Oldest is when the oldest queued message was queued; zero when none.
	Oldest time.Time `json:"oldest,omitzero"`
	// Sent and Failed count messages delivered and given up since the
	// server started.
	Sent   uint64 `json:"sent"`
	Failed uint64 `json:"failed"`
	// LastFailure and LastError are the latest failed attempt, whether
	// retried or given up; zero and "" when none since the start.
	LastFailure time.Time `json:"last_failure,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// record is one queued message in the store. The message itself (address,
// subject, bodies with their links) is sealed under the record's key.
type record struct {
	ID       string    `json:"id"`
	Queued   time.Time `json:"queued"`
	Attempts int       `json:"attempts"`
	Next     time.Time `json:"next"`
	Sealed   []byte    `json:"sealed"`
}

var records = kv.NewCollection(kv.PrefixMailOutbox, func(r *record) string { return r.ID })

// Outbox is the queue and its worker.
type Outbox struct {
	cfg  Config
	wake chan struct{}

	mu          sync.Mutex
	depth       int
	stopped     bool
	sent        uint64
	failed      uint64
	lastFailure time.Time
	lastError   string
}

// New returns the outbox over the queue the store holds; call Run to
// deliver it.
func New(ctx context.Context, cfg Config) (*Outbox, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Sender == nil || cfg.Logger == nil {
		return nil, errors.New("outbox: Store, Sealer, Sender and Logger are required")
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	o := &Outbox{cfg: cfg, wake: make(chan struct{}, 1)}
	err := cfg.Store.View(ctx, func(t *kv.Txn) error {
		n, err := records.Count(t, 0)
		o.depth = n
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: count queue: %w", err)
	}
	return o, nil
}

// Send queues m and returns at once; the worker delivers it. A message
// that could never be sent (bad address, line break in the subject) is
// refused here, and so is one that does not fit the queue (ErrFull).
func (o *Outbox) Send(ctx context.Context, m mail.Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("outbox: encode: %w", err)
	}
	now := time.Now()
	r := &record{ID: newID(now), Queued: now, Next: now}
	r.Sealed = o.cfg.Sealer.Seal(plain, sealLabel(r.ID))

	// The lock makes check-and-add one step, so concurrent Sends cannot
	// overshoot the capacity; this process is the store's only writer.
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped {
		return ErrStopped
	}
	if o.depth >= o.cfg.Capacity {
		return fmt.Errorf("%w (%d messages)", ErrFull, o.cfg.Capacity)
	}
	// No TTL: the write is synced, and the worker removes the record
	// once it is delivered or given up.
	if err := o.cfg.Store.Update(ctx, func(t *kv.Txn) error { return records.Put(t, r, 0) }); err != nil {
		return fmt.Errorf("outbox: queue: %w", err)
	}
	o.depth++
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// Depth is the number of queued messages.
func (o *Outbox) Depth() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.depth
}

// Status reports the queue and the latest failure.
func (o *Outbox) Status(ctx context.Context) (Status, error) {
	var oldest time.Time
	err := o.cfg.Store.View(ctx, func(t *kv.Txn) error {
		// Keys are in queueing order: the first record is the oldest.
		return records.Each(t, func(r *record) error {
			oldest = r.Queued
			return kv.ErrStop
		})
	})
	if err != nil {
		return Status{}, fmt.Errorf("outbox: status: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return Status{
		Transport: transportName(o.cfg.Sender),
		Queued:    o.depth, Capacity: o.cfg.Capacity, Oldest: oldest,
		Sent: o.sent, Failed: o.failed,
		LastFailure: o.lastFailure, LastError: o.lastError,
	}, nil
}

// Close refuses further Sends; messages queued stay in the store for the
// next start.
func (o *Outbox) Close() {
	o.mu.Lock()
	o.stopped = true
	o.mu.Unlock()
}

// Run delivers the queue until ctx ends. A delivery cut short by ctx stays
// queued and is tried again at the next start (the server may then see it
// twice, which beats never).
func (o *Outbox) Run(ctx context.Context) {
	for {
		next, err := o.deliverDue(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			o.cfg.Logger.Error("mail queue", "err", err)
			next = time.Now().Add(o.cfg.Backoff)
		}
		var timer *time.Timer
		var due <-chan time.Time
		if !next.IsZero() {
			timer = time.NewTimer(time.Until(next))
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-o.wake:
		case <-due:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// deliverDue tries every message whose time has come, oldest first, and
// returns when the earliest of the others is due (zero when none waits).
func (o *Outbox) deliverDue(ctx context.Context) (time.Time, error) {
	var queue []*record
	err := o.cfg.Store.View(ctx, func(t *kv.Txn) error {
		var err error
		queue, err = records.All(t)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	for _, r := range queue {
		if ctx.Err() != nil {
			return time.Time{}, ctx.Err()
		}
		if r.Next.After(time.Now()) {
			if next.IsZero() || r.Next.Before(next) {
				next = r.Next
			}
			continue
		}
		retry, err := o.attempt(ctx, r)
		if err != nil {
			return time.Time{}, err
		}
		if !retry.IsZero() && (next.IsZero() || retry.Before(next)) {
			next = retry
		}
	}
	return next, nil
}

// attempt tries one message and records the outcome in the store: gone
// when delivered or given up, else its next time, which it returns.
func (o *Outbox) attempt(ctx context.Context, r *record) (time.Time, error) {
	log := o.cfg.Logger.With("mail_id", r.ID)
	var m mail.Message
	plain, err := o.cfg.Sealer.Open(r.Sealed, sealLabel(r.ID))
	if err == nil {
		err = json.Unmarshal(plain, &m)
	}
	if err != nil {
		// Sealed under another SECRET_KEY_BASE, or damaged: it can never
		// be read, so it is given up at once.
		return time.Time{}, o.giveUp(ctx, log, r, "", fmt.Errorf("unreadable queued message: %w", err))
	}
	r.Attempts++
	err = o.cfg.Sender.Send(ctx, m)
	if ctx.Err() != nil {
		return time.Time{}, nil // shutting down: stays queued as it was
	}
	if err == nil {
		if err := o.remove(ctx, r.ID); err != nil {
			return time.Time{}, err
		}
		if _, toLog := o.cfg.Sender.(mail.Log); toLog {
			// Written for the administrator, not delivered: neither the
			// log line nor the counters may say it was sent.
			log.Info("mail written to the log, not sent (SMTP is not configured)", "subject", m.Subject)
			return time.Time{}, nil
		}
		log.Info("mail sent", "subject", m.Subject, "attempts", r.Attempts)
		o.mu.Lock()
		o.sent++
		o.mu.Unlock()
		if o.cfg.Metrics != nil {
			o.cfg.Metrics.MailSent()
		}
		return time.Time{}, nil
	}
	if r.Attempts >= o.cfg.Attempts || errors.Is(err, mail.ErrInvalid) || errors.Is(err, mail.ErrRejected) {
		return time.Time{}, o.giveUp(ctx, log, r, m.Subject, err)
	}
	o.noteFailure(err)
	r.Next = time.Now().Add(o.backoff(r.Attempts))
	if err := o.cfg.Store.Update(ctx, func(t *kv.Txn) error { return records.Put(t, r, 0) }); err != nil {
		return time.Time{}, fmt.Errorf("outbox: reschedule: %w", err)
	}
	log.Warn("mail not sent; will try again", "subject", m.Subject, "attempts", r.Attempts, "retry_at", r.Next.UTC().Format(time.RFC3339), "err", err)
	return r.Next, nil
}

// giveUp removes a message that will not be delivered, counts it and says
// so at ERROR: the subject and the reason, never the address, body or
// link.
func (o *Outbox) giveUp(ctx context.Context, log *slog.Logger, r *record, subject string, reason error) error {
	if err := o.remove(ctx, r.ID); err != nil {
		return err
	}
	log.Error("mail given up", "subject", subject, "attempts", r.Attempts, "err", reason)
	o.noteFailure(reason)
	o.mu.Lock()
	o.failed++
	o.mu.Unlock()
	if o.cfg.Metrics != nil {
		o.cfg.Metrics.MailFailed()
	}
	return nil
}

func (o *Outbox) noteFailure(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastFailure = time.Now()
	o.lastError = err.Error()
}

func (o *Outbox) remove(ctx context.Context, id string) error {
	err := o.cfg.Store.Update(ctx, func(t *kv.Txn) error { return records.Delete(t, id) })
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("outbox: remove: %w", err)
	}
	o.mu.Lock()
	o.depth--
	o.mu.Unlock()
	return nil
}

// backoff is the wait after the attempt-th failed attempt.
func (o *Outbox) backoff(attempt int) time.Duration {
	d := o.cfg.Backoff
	for i := 1; i < attempt && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// newID orders records by queueing time (fixed-width nanoseconds) and
// keeps two Sends in the same nanosecond apart.
func newID(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%020d-%s", now.UnixNano(), hex.EncodeToString(b[:]))
}

func sealLabel(id string) string { return string(kv.PrefixMailOutbox.Key(id)) }

func transportName(s Sender) string {
	if n, ok := s.(fmt.Stringer); ok {
		return n.String()
	}
	return fmt.Sprintf("%T", s)
}
