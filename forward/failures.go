package forward

import (
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Failed credentials at /api/verify are limited per client address: a
// bearer token or a Basic password guessed from one address gets
// failLimit tries per failWindow, then 429 until the window ends.
//
// Only requests that present credentials (an Authorization header) are
// counted or checked: anonymous traffic, and browsers with a stale
// cookie, write nothing and grow nothing here, and the hot path of a
// request with a session cookie never takes the lock.
const (
	failLimit  = 50
	failWindow = time.Minute
	// failMaxAddrs bounds the table (about 64 bytes an entry). When it is
	// full of live windows, arbitrary ones are forgotten: an attacker with
	// that many addresses is not slowed by a per-address limit anyway.
	failMaxAddrs = 1 << 16
)

type failWindowCount struct {
	start time.Time
	n     uint32
}

// failures counts failed credentials per client address (IPv6 by /64,
// since one host commonly holds a whole /64).
type failures struct {
	mu sync.Mutex
	m  map[netip.Addr]failWindowCount
}

func newFailures() *failures {
	return &failures{m: make(map[netip.Addr]failWindowCount)}
}

// failKey is the address a request's failures count against: the client
// the trusted proxy names, else the peer that asks /api/verify (the proxy
// itself, when CLINCH_TRUSTED_PROXIES does not name it: then all its
// clients share one count). The zero Addr means none is known.
func failKey(r *http.Request, trusted []netip.Prefix) netip.Addr {
	a := clientAddr(r, trusted)
	if !a.IsValid() {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return netip.Addr{}
		}
		a = peer.Addr().Unmap()
	}
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			a = p.Addr()
		}
	}
	return a
}

// blocked reports how long a is still refused, or 0.
func (f *failures) blocked(a netip.Addr, now time.Time) time.Duration {
	if !a.IsValid() {
		return 0
	}
	f.mu.Lock()
	c, ok := f.m[a]
	f.mu.Unlock()
	if !ok || c.n < failLimit {
		return 0
	}
	if left := c.start.Add(failWindow).Sub(now); left > 0 {
		return left
	}
	return 0
}

// fail counts one failure for a.
func (f *failures) fail(a netip.Addr, now time.Time) {
	if !a.IsValid() {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[a]
	if !ok || now.Sub(c.start) >= failWindow {
		if !ok && len(f.m) >= failMaxAddrs {
			f.makeRoom(now)
		}
		c = failWindowCount{start: now}
	}
	if c.n < failLimit {
		c.n++
	}
	f.m[a] = c
}

// makeRoom drops the windows that have ended; when too few have, it
// forgets arbitrary entries too, a sixteenth of the table at once so that
// a flood of new addresses does not sweep the table on every failure.
// f.mu is held.
func (f *failures) makeRoom(now time.Time) {
	for a, c := range f.m {
		if now.Sub(c.start) >= failWindow {
			delete(f.m, a)
		}
	}
	for a := range f.m {
		if len(f.m) <= failMaxAddrs-failMaxAddrs/16 {
			return
		}
		delete(f.m, a)
	}
}

func (f *failures) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}
