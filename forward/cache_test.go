package forward

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
)

var cacheNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// sessionCred is a credential shaped like a real session's: a 43-byte key
// (base64url HMAC) and a 26-byte user id.
func sessionCred(i int, user string) *cred {
	return &cred{kind: credSession, id: fmt.Sprintf("%043d", i), userID: user, acr: auth.ACRPassword, expires: cacheNow.Add(time.Hour)}
}

// accounted checks the cache's byte count against its entries and returns
// it.
func accounted(t *testing.T, c *cache) int64 {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	var sum int64
	for _, cr := range c.creds {
		sum += int64(cr.size)
	}
	for _, id := range c.users {
		sum += id.size
	}
	if sum != c.bytes {
		t.Fatalf("cache counts %d bytes, its entries hold %d", c.bytes, sum)
	}
	if q := c.small.bytes + c.main.bytes; q != func() int64 {
		var n int64
		for _, cr := range c.creds {
			n += int64(cr.size)
		}
		return n
	}() {
		t.Fatalf("queues count %d bytes, the map %d", q, c.bytes)
	}
	return c.bytes
}

// A scan of credentials each seen once (a million sessions used once, a
// crawler's random cookies) leaves the hot set, which carries the traffic,
// in the cache.
func TestCache_ScanDoesNotEvictHotSet(t *testing.T) {
	per := int64(credSize(sessionCred(0, "u")))
	c := newCache(1000 * per) // room for about 1000 credentials
	const hot = 300
	for i := range hot {
		c.put(c.generation(), sessionCred(i, fmt.Sprintf("user%d", i%10)), cacheNow)
	}
	for range 3 {
		for i := range hot {
			if cr, _ := c.get(fmt.Sprintf("%043d", i)); cr == nil {
				t.Fatalf("hot key %d missing before the scan", i)
			}
		}
	}
	for i := range 100_000 {
		c.put(c.generation(), sessionCred(1_000_000+i, "scanner"), cacheNow)
		if i%1000 == 0 {
			// The hot set keeps being used during the scan, as it
			// would be.
			for j := range hot {
				c.get(fmt.Sprintf("%043d", j))
			}
		}
	}
	c.mu.RLock()
	missing := 0
	for i := range hot {
		if c.creds[fmt.Sprintf("%043d", i)] == nil {
			missing++
		}
	}
	n := len(c.creds)
	c.mu.RUnlock()
	if missing > 0 {
		t.Errorf("%d of %d hot credentials evicted by a scan", missing, hot)
	}
	if n > 1000 {
		t.Errorf("cache holds %d credentials, budget is for 1000", n)
	}
	if b := accounted(t, c); b > c.budget {
		t.Errorf("cache holds %d bytes, budget %d", b, c.budget)
	}
}

// Without any hits a scan still only churns the small queue, so entries
// that earned their place before it (the main queue) stay.
func TestCache_ScanWithoutHitsKeepsMain(t *testing.T) {
	per := int64(credSize(sessionCred(0, "u")))
	c := newCache(100 * per)
	for i := range 50 {
		c.put(c.generation(), sessionCred(i, "u"), cacheNow)
		c.get(fmt.Sprintf("%043d", i))
	}
	for i := range 50_000 {
		c.put(c.generation(), sessionCred(1_000_000+i, "scanner"), cacheNow)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	for i := range 50 {
		if c.creds[fmt.Sprintf("%043d", i)] == nil {
			t.Fatalf("credential %d, used before the scan, was evicted by it", i)
		}
	}
}

// A key evicted from the small queue and seen again soon (its fingerprint
// is a ghost) comes back into the main queue, where a scan cannot reach it.
func TestCache_GhostReadmits(t *testing.T) {
	per := int64(credSize(sessionCred(0, "u")))
	c := newCache(100 * per)
	c.put(c.generation(), sessionCred(7, "u"), cacheNow)
	for i := range 150 {
		c.put(c.generation(), sessionCred(1000+i, "s"), cacheNow)
	}
	if cr, _ := c.get(fmt.Sprintf("%043d", 7)); cr != nil {
		t.Fatal("an unused credential survived a scan of new ones")
	}
	c.put(c.generation(), sessionCred(7, "u"), cacheNow)
	c.mu.RLock()
	where := c.creds[fmt.Sprintf("%043d", 7)].where
	c.mu.RUnlock()
	if where != inMain {
		t.Errorf("a returning credential went to queue %d, want main", where)
	}
}

// The byte budget holds: what the cache counts stays under the budget
// however much is put, the count matches its entries through evictions and
// revocations, and the heap it really takes is within the estimate.
func TestCache_ByteBudgetHolds(t *testing.T) {
	const budget = 4 << 20
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	c := newCache(budget)
	for i := range 200_000 {
		u := fmt.Sprintf("%026d", i%5000)
		c.put(c.generation(), sessionCred(i, u), cacheNow)
		if i%3 == 0 {
			c.putUser(c.generation(), newIdentity(&auth.User{ID: u, Email: u + "@example.com", Username: "user" + u, Status: auth.StatusActive}, []*auth.Group{{ID: "G1", Name: "staff"}}))
		}
		if i%7 == 0 {
			c.get(fmt.Sprintf("%043d", i-i%100))
		}
		if i%50_000 == 0 {
			c.evict(auth.Change{Kind: auth.ChangeUser, UserID: u})
			c.evict(auth.Change{Kind: auth.ChangeGroups})
		}
		if b := c.bytes; b > budget {
			t.Fatalf("after %d puts the cache counts %d bytes, budget %d", i+1, b, budget)
		}
	}
	accounted(t, c)
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// The estimate may be off by some; twice the budget means it is not
	// counting what entries really hold.
	if grown > 2*budget {
		t.Errorf("heap grew %d bytes for a cache of %d", grown, budget)
	}
	c.mu.RLock()
	n := len(c.creds)
	c.mu.RUnlock()
	if n < 1000 {
		t.Errorf("only %d credentials in %d bytes: the estimate is far too high", n, budget)
	}
	runtime.KeepAlive(c)
}

// Revocations under a budget that is never reached (sessions made and
// ended all day) do not grow the queues: dead slots are compacted away.
func TestCache_RevocationsDoNotGrowQueues(t *testing.T) {
	c := newCache(64 << 20)
	for i := range 100_000 {
		cr := sessionCred(i, "u")
		c.put(c.generation(), cr, cacheNow)
		c.evict(auth.Change{Kind: auth.ChangeSession, SessionID: cr.id})
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.creds) != 0 || c.bytes != 0 {
		t.Errorf("after ending every session: %d credentials, %d bytes", len(c.creds), c.bytes)
	}
	if n := len(c.small.items) + len(c.main.items); n > 2048 {
		t.Errorf("queues hold %d slots for no live entry", n)
	}
}

// Every kind of revocation still removes what it names at once, wherever
// the policy has put the entry.
func TestCache_EvictionRemovesFromEitherQueue(t *testing.T) {
	per := int64(credSize(sessionCred(0, "u")))
	c := newCache(20 * per)
	a, b := sessionCred(1, "ann"), sessionCred(2, "bob")
	c.put(c.generation(), a, cacheNow)
	c.get(a.id) // a will be promoted to main by the churn below
	c.put(c.generation(), b, cacheNow)
	for i := range 30 {
		c.put(c.generation(), sessionCred(100+i, "s"), cacheNow)
	}
	c.mu.RLock()
	if c.creds[a.id] == nil || c.creds[a.id].where != inMain {
		c.mu.RUnlock()
		t.Fatal("a used credential was not promoted")
	}
	c.mu.RUnlock()
	c.put(c.generation(), b, cacheNow) // b again, in small or main
	c.evict(auth.Change{Kind: auth.ChangeUser, UserID: "ann"})
	c.evict(auth.Change{Kind: auth.ChangeSession, SessionID: b.id})
	if cr, _ := c.get(a.id); cr != nil {
		t.Error("a revoked user's credential in the main queue is still cached")
	}
	if cr, _ := c.get(b.id); cr != nil {
		t.Error("an ended session is still cached")
	}
	accounted(t, c)
}

// A read that raced with a change is not cached (generations), and an
// identity is only cached alongside a credential of its user.
func TestCache_StaleReadsAreNotCached(t *testing.T) {
	c := newCache(1 << 20)
	gen := c.generation()
	c.evict(auth.Change{Kind: auth.ChangeSession, SessionID: "other"})
	c.put(gen, sessionCred(1, "ann"), cacheNow)
	if cr, _ := c.get(fmt.Sprintf("%043d", 1)); cr != nil {
		t.Error("a credential read before a change was cached")
	}
	c.putUser(c.generation(), newIdentity(&auth.User{ID: "ann", Email: "ann@example.com"}, nil))
	if c.user("ann") != nil {
		t.Error("an identity without a cached credential was cached")
	}
}

// Hits, puts and evictions from many goroutines at once (run with -race).
func TestCache_Concurrent(t *testing.T) {
	per := int64(credSize(sessionCred(0, "u")))
	c := newCache(500 * per)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				k := (i * (w + 1)) % 2000
				if cr, _ := c.get(fmt.Sprintf("%043d", k)); cr == nil {
					c.put(c.generation(), sessionCred(k, fmt.Sprintf("u%d", k%20)), cacheNow)
				}
				if i%500 == 0 {
					c.evict(auth.Change{Kind: auth.ChangeUser, UserID: fmt.Sprintf("u%d", i%20)})
				}
			}
		}()
	}
	wg.Wait()
	if b := accounted(t, c); b > c.budget {
		t.Errorf("%d bytes over a budget of %d", b, c.budget)
	}
}
