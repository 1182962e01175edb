package adminapi

import (
	"sync"
	"time"
)

// Failed token attempts per client address: after maxFailures within
// failWindow, the address gets 429 until the window ends. Kept in memory
// and bounded: a flood from many addresses cannot grow it past maxTracked.
const (
	maxFailures = 20
	failWindow  = time.Minute
	maxTracked  = 10_000
)

type failures struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*failWindowCount
}

type failWindowCount struct {
	start time.Time
	n     int
}

func newFailures(now func() time.Time) *failures {
	return &failures{now: now, m: map[string]*failWindowCount{}}
}

// blocked returns how long ip must wait, or 0.
func (f *failures) blocked(ip string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.m[ip]
	if !ok {
		return 0
	}
	left := failWindow - f.now().Sub(c.start)
	if left <= 0 {
		delete(f.m, ip)
		return 0
	}
	if c.n >= maxFailures {
		return left
	}
	return 0
}

// add counts a failure of ip.
func (f *failures) add(ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	c, ok := f.m[ip]
	if ok && now.Sub(c.start) >= failWindow {
		ok = false
	}
	if !ok {
		if len(f.m) >= maxTracked {
			for k, v := range f.m {
				if now.Sub(v.start) >= failWindow {
					delete(f.m, k)
				}
			}
			if len(f.m) >= maxTracked {
				return // full of live windows: count nothing new
			}
		}
		c = &failWindowCount{start: now}
		f.m[ip] = c
	}
	c.n++
}
