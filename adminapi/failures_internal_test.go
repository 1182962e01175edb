package adminapi

import (
	"strconv"
	"testing"
	"time"
)

// A flood of wrong tokens from many addresses cannot grow the counters
// past maxTracked; once their windows are over, new addresses are counted
// again.
func TestFailures_Bounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := newFailures(func() time.Time { return now })
	for i := range maxTracked + 500 {
		f.add("198.51.100." + strconv.Itoa(i))
	}
	if len(f.m) != maxTracked {
		t.Fatalf("tracking %d addresses, want at most %d", len(f.m), maxTracked)
	}
	now = now.Add(failWindow)
	f.add("203.0.113.1")
	if len(f.m) != 1 {
		t.Errorf("after the window: tracking %d addresses, want the 1 new one", len(f.m))
	}
	for range maxFailures - 1 {
		f.add("203.0.113.1")
	}
	if f.blocked("203.0.113.1") == 0 {
		t.Error("an address with maxFailures failures is not blocked")
	}
	if f.blocked("203.0.113.2") != 0 {
		t.Error("another address is blocked")
	}
}
