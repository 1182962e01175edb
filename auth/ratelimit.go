package auth

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/clinchsso/clinch/kv"
)

// limit is a fixed-window counter kept in the store with a TTL, so it
// survives restarts and needs no sweeper.
type limit struct {
	name   string
	max    uint32
	window time.Duration
}

func (l limit) key(subject string, now time.Time) ([]byte, time.Time) {
	start := now.Truncate(l.window)
	k := kv.PrefixRateLimit.Key(l.name + "/" + start.UTC().Format("20060102T150405") + "/" + subject)
	return k, start.Add(l.window)
}

// check fails when the subject has used up the window, without counting.
func (s *Service) check(ctx context.Context, l limit, subject string, now time.Time) error {
	k, end := l.key(subject, now)
	var n uint32
	err := s.store.View(ctx, func(t *kv.Txn) error {
		b, err := t.Get(k)
		if errors.Is(err, kv.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(b) == 4 {
			n = binary.BigEndian.Uint32(b)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n >= l.max {
		return &RateLimitError{RetryAfter: end.Sub(now), Scope: l.name}
	}
	return nil
}

// hit counts one event and fails when it is over the limit.
func (s *Service) hit(ctx context.Context, l limit, subject string, now time.Time) error {
	k, end := l.key(subject, now)
	var n uint32
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		b, err := t.Get(k)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return err
		}
		n = 0
		if len(b) == 4 {
			n = binary.BigEndian.Uint32(b)
		}
		if n > l.max {
			return nil // already over; no need to write again
		}
		n++
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], n)
		return t.Set(k, v[:], end.Sub(now))
	})
	if err != nil {
		return err
	}
	if n > l.max {
		return &RateLimitError{RetryAfter: end.Sub(now), Scope: l.name}
	}
	return nil
}
