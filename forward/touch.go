package forward

import (
	"context"
	"errors"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// maxTouchBatch bounds how many session activity records one store
// transaction writes.
const maxTouchBatch = 256

// maxTouchRate bounds the session activity records written per second.
// "Last active" is only shown to people; with a million live sessions in
// use, writing each once a minute would take most of a core from
// answering. Past the rate the queue fills, further touches are dropped,
// and the request after touchEvery tries again, so "last active" lags
// under heavy traffic rather than costing it.
const maxTouchRate = 250

// write records t and whatever else is already queued: sessions in one
// transaction (with a million live sessions, a transaction per touch would
// keep a core busy), API keys one by one (they are few).
func (v *Verifier) write(t touch) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sessions := map[string]time.Time{}
	add := func(t touch) {
		switch t.kind {
		case credSession:
			if t.at.After(sessions[t.id]) {
				sessions[t.id] = t.at
			}
		case credAPIKey:
			v.logTouch(v.auth.TouchAPIKey(ctx, t.id, t.at))
		}
	}
	add(t)
more:
	for len(sessions) < maxTouchBatch {
		select {
		case t := <-v.touches:
			add(t)
		default:
			break more
		}
	}
	if len(sessions) > 0 {
		v.logTouch(v.auth.TouchSessions(ctx, sessions))
		pause := time.NewTimer(time.Duration(len(sessions)) * time.Second / maxTouchRate)
		defer pause.Stop()
		select {
		case <-pause.C:
		case <-v.stop:
		}
	}
}

func (v *Verifier) logTouch(err error) {
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		v.log.Warn("verify: record activity", "err", err)
	}
}
