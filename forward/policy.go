package forward

import (
	"hash/maphash"
	"sync"
	"time"
	"unsafe"

	"github.com/clinchsso/clinch/auth"
)

// DefaultCacheBytes is the credential cache's budget when the Config names
// none (CLINCH_CACHE_MB's default).
const DefaultCacheBytes = 64 << 20

// The cache keeps what verify read from the store within a byte budget,
// and chooses what to forget so that a scan cannot flush the hot set: a
// burst of credentials seen once (a crawler with random cookies, a million
// sessions each used once) must not push out the few thousand that carry
// almost every request. The policy is S3-FIFO-like, our own:
//
//   - a new entry joins the small queue (a tenth of the budget); when it
//     reaches the head with no hit since it was inserted, it is dropped and
//     its key's fingerprint remembered in the ghost list; with a hit, it is
//     promoted to the main queue;
//   - an entry whose fingerprint is still in the ghost list (it was dropped
//     lately and came back) goes straight to the main queue;
//   - the main queue is a CLOCK: the entry at the head goes back to the
//     tail with one hit fewer while it has any, and is dropped otherwise.
//
// A hit only sets an atomic counter, under the read lock, so hits of many
// requests never serialise on the write lock. Revocation is not a
// policy's business: evict removes what a change touches at once, exactly
// as before the budget existed, and its dead queue slots are skipped.

// queue names the FIFO an entry sits in.
type queue uint8

const (
	inSmall queue = iota
	inMain
)

// maxHits caps the hit counter: an entry survives at most this many passes
// of the main queue's hand without a new hit.
const maxHits = 3

// Per-entry overheads beyond the strings: the struct, its map slot (key
// header, pointer, the map's spare capacity), its queue slot and its entry
// in the per-user index. Estimates: what matters is that the budget scales
// with what the entries really hold (cache_test.go checks it against the
// heap).
const (
	credOverhead     = int(unsafe.Sizeof(cred{})) + 112
	identityOverhead = int(unsafe.Sizeof(identity{})) + 5*24 + 6*16 + 64
	// An access token keeps its client's App as it was read.
	clientCost = 1024
)

func credSize(cr *cred) int32 {
	n := credOverhead + len(cr.id) + len(cr.userID) + len(cr.appID) + len(cr.keyID) + len(cr.service) + len(cr.acr)
	if cr.client != nil {
		n += clientCost
	}
	return int32(n)
}

func identitySize(id *identity) int64 {
	n := identityOverhead + len(id.id) + len(id.login[0]) + len(id.email[0]) + len(id.name[0]) + len(id.groupH[0])
	for _, g := range id.groups {
		n += 16 + len(g)
	}
	return int64(n)
}

// fifo is a queue of entries; removed entries stay as dead slots until the
// hand reaches them or compaction drops them.
type fifo struct {
	items []*cred
	head  int
	bytes int64 // live entries' sizes
	dead  int
}

func (q *fifo) push(cr *cred) {
	q.items = append(q.items, cr)
	q.bytes += int64(cr.size)
}

// pop returns the oldest live entry, or nil.
func (q *fifo) pop() *cred {
	for q.head < len(q.items) {
		cr := q.items[q.head]
		q.items[q.head] = nil
		q.head++
		if cr.dead {
			q.dead--
			continue
		}
		q.bytes -= int64(cr.size)
		q.compact()
		return cr
	}
	q.items, q.head = q.items[:0], 0
	return nil
}

// removed accounts for a live entry that was dropped from the map.
func (q *fifo) removed(cr *cred) {
	q.bytes -= int64(cr.size)
	q.dead++
	q.compact()
}

// compact reclaims the slots before head and the dead ones once they
// outnumber the live ones, so revocations under a budget that is never
// reached do not grow the queue.
func (q *fifo) compact() {
	live := len(q.items) - q.head - q.dead
	if q.head+q.dead < 1024 || q.head+q.dead < live {
		return
	}
	out := make([]*cred, 0, live+live/4)
	for _, cr := range q.items[q.head:] {
		if !cr.dead {
			out = append(out, cr)
		}
	}
	q.items, q.head, q.dead = out, 0, 0
}

// ghosts remembers the fingerprints of entries the small queue dropped,
// as many as the main queue could hold, oldest forgotten first.
type ghosts struct {
	seed maphash.Seed
	ring []uint64
	next int
	set  map[uint64]struct{}
}

func newGhosts(n int) ghosts {
	return ghosts{seed: maphash.MakeSeed(), ring: make([]uint64, 0, n), set: make(map[uint64]struct{}, n)}
}

func (g *ghosts) fingerprint(key string) uint64 { return maphash.String(g.seed, key) | 1 }

func (g *ghosts) add(key string) {
	if cap(g.ring) == 0 {
		return
	}
	fp := g.fingerprint(key)
	if len(g.ring) < cap(g.ring) {
		g.ring = append(g.ring, fp)
	} else {
		delete(g.set, g.ring[g.next])
		g.ring[g.next] = fp
		g.next = (g.next + 1) % len(g.ring)
	}
	g.set[fp] = struct{}{}
}

// take reports whether key was remembered, and forgets it.
func (g *ghosts) take(key string) bool {
	fp := g.fingerprint(key)
	if _, ok := g.set[fp]; !ok {
		return false
	}
	delete(g.set, fp)
	return true
}

// cache holds credentials and identities read from the store. Every change
// the auth service announces evicts what it touches and bumps gen; a value
// read from the store is only inserted when gen has not moved since the read
// began, so a read that raced with a revocation can never be cached.
type cache struct {
	mu     sync.RWMutex
	gen    uint64
	creds  map[string]*cred
	users  map[string]*identity
	byUser map[string]map[string]struct{} // user id → cred keys

	budget      int64 // bytes for credentials and identities together
	bytes       int64
	small, main fifo
	ghost       ghosts
}

// ghostCost is what one remembered fingerprint takes: its ring slot and
// its map entry.
const ghostCost = 8 + 24

// newCache returns a cache that holds about budget bytes, the ghost list
// included.
func newCache(budget int64) *cache {
	if budget <= 0 {
		budget = DefaultCacheBytes
	}
	// As many ghosts as the budget holds small credentials, paid for out
	// of the budget.
	n := budget / int64(credOverhead+64)
	return &cache{
		creds:  map[string]*cred{},
		users:  map[string]*identity{},
		byUser: map[string]map[string]struct{}{},
		budget: budget - n*ghostCost,
		ghost:  newGhosts(int(n)),
	}
}

func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// get returns the credential and, when it has a user, the user's identity
// (nil when not cached), and counts a hit.
func (c *cache) get(key string) (*cred, *identity) {
	c.mu.RLock()
	cr := c.creds[key]
	var id *identity
	if cr != nil {
		if cr.hits.Load() < maxHits {
			cr.hits.Add(1)
		}
		if cr.userID != "" {
			id = c.users[cr.userID]
		}
	}
	c.mu.RUnlock()
	return cr, id
}

func (c *cache) user(id string) *identity {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.users[id]
}

// put caches a credential read at generation gen, unless something changed
// since.
func (c *cache) put(gen uint64, cr *cred, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	c.dropLocked(cr.id) // a concurrent miss may have put it first
	cr.size = credSize(cr)
	cr.hits.Store(0)
	cr.dead = false
	c.creds[cr.id] = cr
	if cr.userID != "" {
		set := c.byUser[cr.userID]
		if set == nil {
			set = map[string]struct{}{}
			c.byUser[cr.userID] = set
		}
		set[cr.id] = struct{}{}
	}
	if c.ghost.take(cr.id) {
		cr.where = inMain
		c.main.push(cr)
	} else {
		cr.where = inSmall
		c.small.push(cr)
	}
	c.bytes += int64(cr.size)
	c.shrink(now)
}

// putUser caches a user's projection read at generation gen, unless
// something changed since or none of the user's credentials is cached
// (the identity would then never be dropped with them).
func (c *cache) putUser(gen uint64, id *identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || len(c.byUser[id.id]) == 0 {
		return
	}
	if old := c.users[id.id]; old != nil {
		c.bytes -= old.size
	}
	c.users[id.id] = id
	c.bytes += id.size
	// No clock here: expired credentials are then kept like live ones
	// while the hand passes; verify drops them when they are next asked.
	c.shrink(time.Time{})
}

// shrink drops entries until the cache is within its budget.
func (c *cache) shrink(now time.Time) {
	for c.bytes > c.budget {
		var cr *cred
		if c.small.bytes > c.budget/10 || c.main.bytes == 0 {
			cr = c.small.pop()
			if cr == nil {
				cr = c.main.pop()
			} else if cr.hits.Load() > 0 && cr.valid(now) {
				// Used since it came in: it has earned a place.
				cr.hits.Store(0)
				cr.where = inMain
				c.main.push(cr)
				continue
			} else {
				c.ghost.add(cr.id)
			}
		} else {
			cr = c.main.pop()
			if cr != nil && cr.valid(now) {
				if h := cr.hits.Load(); h > 0 {
					cr.hits.Store(h - 1)
					c.main.push(cr)
					continue
				}
			}
		}
		if cr == nil {
			return // nothing left to drop: identities alone over budget
		}
		c.forget(cr)
	}
}

// drop removes one credential that turned out expired or gone.
func (c *cache) drop(key string) {
	c.mu.Lock()
	c.dropLocked(key)
	c.mu.Unlock()
}

// dropLocked removes a credential that may still sit in a queue.
func (c *cache) dropLocked(key string) {
	cr := c.creds[key]
	if cr == nil {
		return
	}
	if cr.where == inMain {
		c.main.removed(cr)
	} else {
		c.small.removed(cr)
	}
	cr.dead = true
	c.forget(cr)
}

// forget removes a credential already out of its queue (or marked dead in
// it) from the map and the per-user index; the user's identity goes with
// their last cached credential.
func (c *cache) forget(cr *cred) {
	delete(c.creds, cr.id)
	c.bytes -= int64(cr.size)
	if set := c.byUser[cr.userID]; set != nil {
		delete(set, cr.id)
		if len(set) == 0 {
			delete(c.byUser, cr.userID)
			c.dropUser(cr.userID)
		}
	}
}

func (c *cache) dropUser(id string) {
	if u := c.users[id]; u != nil {
		c.bytes -= u.size
		delete(c.users, id)
	}
}

// evict applies one announced change. It never calls back into the auth
// service (Subscribe forbids it).
func (c *cache) evict(ch auth.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch ch.Kind {
	case auth.ChangeSession:
		c.dropLocked(ch.SessionID)
	case auth.ChangeAPIKey:
		c.dropLocked(ch.KeyID)
		// Basic credentials are cached by header, not by key id.
		for k, cr := range c.creds {
			if cr.kind == credBasic && cr.keyID == ch.KeyID {
				c.dropLocked(k)
			}
		}
	case auth.ChangeToken:
		switch {
		case ch.TokenHash != "":
			c.dropLocked(ch.TokenHash)
		default:
			// "Some tokens" (of a user, or of everyone): drop every
			// cached access token that could be among them.
			for k, cr := range c.creds {
				if cr.kind == credAccessToken && (ch.UserID == "" || cr.userID == ch.UserID) {
					c.dropLocked(k)
				}
			}
		}
	case auth.ChangeUser:
		// Status, password (which ends sessions), membership, deletion:
		// the user's projection and every credential of theirs go, and
		// are read again (or found gone) on the next request.
		c.dropUser(ch.UserID)
		for k := range c.byUser[ch.UserID] {
			c.dropLocked(k)
		}
	case auth.ChangeGroups:
		for id := range c.users {
			c.dropUser(id)
		}
	case auth.ChangeApps:
		// The host table has its own generation. Access tokens carry their
		// client as it was: a deactivated, deleted or re-grouped client,
		// or a forward_auth app that stopped accepting it, must not keep
		// its tokens alive in here; nor may Basic credentials outlive an
		// app that stopped accepting passwords. Sessions and API keys stay.
		for k, cr := range c.creds {
			if cr.kind == credAccessToken || cr.kind == credBasic {
				c.dropLocked(k)
			}
		}
	}
}
