package forward

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// The session table keeps every session verify has seen (and, after a
// start, the store's live sessions, loaded in the background) in one flat
// array without pointers: 40 bytes a session, so the default 64 MiB holds
// over a million, the garbage collector never walks them, and a request
// with any of them reads nothing from the store. The other credentials
// (API keys, access tokens, Basic) are few and stay in the cache of
// policy.go.
//
// The array is an open-addressing hash table with linear probing, keyed
// by the first 16 bytes of the session id (itself an HMAC of the cookie,
// so the keys are uniform and nobody outside can aim at a slot). When the
// budget is reached, a CLOCK hand evicts: each hit adds one to an entry's
// counter (at most maxHits), the hand takes one off as it passes, and the
// first entry it finds at zero goes. A session seen once is therefore
// dropped at the hand's first visit, and a scan of such sessions cannot
// push out the ones that carry the traffic.
//
// A user's sessions point at the user's row, which holds their identity
// (the header values) and an epoch: a change to the user bumps the epoch,
// which makes every session of theirs a miss at once without finding
// them, and the next request reads the session again (or finds it gone).

// sessionSlot is one cached session; key all zero means free.
type sessionSlot struct {
	key     [16]byte
	expires uint32 // unix seconds, rounded down
	user    uint32 // row in users
	epoch   uint32 // the row's epoch when the session was read
	touched uint32 // unix seconds of the last activity recorded (atomic)
	hits    uint32 // atomic; capped at maxHits
	acr     uint32 // index in acrs
}

const slotBytes = 40

// userRowBytes is what a user's row costs besides the id: the row and its
// map entry.
const userRowBytes = 32 + 48

// sessionUser is a user some cached session belongs to.
type sessionUser struct {
	id    string
	epoch uint32
	ident *identity // nil until read (again)
}

type sessionTable struct {
	mu    sync.RWMutex
	gen   uint64 // bumped by every change, as cache.gen
	slots []sessionSlot
	live  int
	hand  int
	// budget bounds the array and the users' rows and identities together; the
	// array starts small and doubles, so a small installation uses little
	// memory.
	budget    int64
	userBytes int64
	byID      map[string]uint32
	users     []sessionUser
	// creds are the shared, read-only *cred a session of each acr is
	// answered with (decide reads kind and acr).
	acrs  []string
	creds []*cred
}

// sessionKey is the table key of a session id (unpadded base64url of a
// 32-byte HMAC); ok is false for anything else, which is then never
// cached.
func sessionKey(id string) (k [16]byte, ok bool) {
	if len(id) != 43 {
		return k, false
	}
	var raw [33]byte
	// 22 characters decode to 16 bytes and 4 bits; 24 to exactly 18.
	if _, err := base64.RawURLEncoding.Decode(raw[:], []byte(id[:24])); err != nil {
		return k, false
	}
	copy(k[:], raw[:16])
	return k, k != [16]byte{}
}

func newSessionTable(budget int64) *sessionTable {
	budget = max(budget, 16*slotBytes)
	return &sessionTable{
		slots:  make([]sessionSlot, min(1024, budget/slotBytes)),
		budget: budget,
		byID:   map[string]uint32{},
	}
}

// count is how many sessions the table holds.
func (t *sessionTable) count() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.live
}

func (t *sessionTable) generation() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.gen
}

// home is where probing for k starts in an array of n slots.
func home(k *[16]byte, n int) int {
	hi, _ := bits.Mul64(binary.LittleEndian.Uint64(k[:8]), uint64(n))
	return int(hi)
}

// find returns k's slot, or -1.
func (t *sessionTable) find(k *[16]byte) int {
	n := len(t.slots)
	for i := home(k, n); ; {
		s := &t.slots[i]
		if s.key == *k {
			return i
		}
		if s.key == [16]byte{} {
			return -1
		}
		if i++; i == n {
			i = 0
		}
	}
}

// sessionHit is what get found.
type sessionHit struct {
	cred   *cred
	user   uint32
	userID string
	ident  *identity // nil: read the user, then setIdent
	touch  bool      // activity is due to be recorded
}

// get returns the cached session k, if live at now and still of the
// user's current epoch (ok), counts a hit, and claims the activity write
// when one is due; held says k has a slot, live or not.
func (t *sessionTable) get(k *[16]byte, now time.Time) (h sessionHit, ok, held bool) {
	sec := unixSeconds(now)
	t.mu.RLock()
	defer t.mu.RUnlock()
	i := t.find(k)
	if i < 0 {
		return h, false, false
	}
	s := &t.slots[i]
	u := &t.users[s.user]
	if s.expires <= sec || s.epoch != u.epoch {
		return h, false, true
	}
	if atomic.LoadUint32(&s.hits) < maxHits {
		atomic.AddUint32(&s.hits, 1)
	}
	h = sessionHit{cred: t.creds[s.acr], user: s.user, userID: u.id, ident: u.ident}
	if last := atomic.LoadUint32(&s.touched); sec-last >= uint32(touchEvery/time.Second) {
		h.touch = atomic.CompareAndSwapUint32(&s.touched, last, sec)
	}
	return h, true, true
}

// sessionEntry is a session as read from the store.
type sessionEntry struct {
	key        [16]byte
	userID     string
	acr        string
	expires    time.Time
	lastActive time.Time
}

// put caches sessions read at generation gen, unless something changed
// since (stale); ident, when not nil, is the user of the first one as
// read then. Without evict, as the loader at start asks so that it never
// pushes out what requests brought in, it stops when the table is full.
func (t *sessionTable) put(gen uint64, es []sessionEntry, ident *identity, now time.Time, evict bool) (stale, full bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen {
		return true, false
	}
	sec := unixSeconds(now)
	for n, e := range es {
		exp := unixSeconds(e.expires)
		if exp <= sec {
			continue
		}
		row := t.userRow(e.userID)
		if n == 0 && ident != nil && t.users[row].ident == nil {
			t.setIdentLocked(row, ident)
		}
		if i := t.find(&e.key); i >= 0 {
			s := &t.slots[i]
			s.expires, s.user, s.epoch, s.acr = exp, row, t.users[row].epoch, t.acrIndex(e.acr)
			continue
		}
		if !t.room(sec, evict) {
			return false, true
		}
		t.insert(sessionSlot{key: e.key, expires: exp, user: row, epoch: t.users[row].epoch,
			touched: unixSeconds(e.lastActive), acr: t.acrIndex(e.acr)})
	}
	return false, false
}

// setIdent caches the identity of the user in row, read at generation gen.
func (t *sessionTable) setIdent(gen uint64, row uint32, ident *identity) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen == gen && t.users[row].id == ident.id {
		t.setIdentLocked(row, ident)
	}
}

func (t *sessionTable) setIdentLocked(row uint32, ident *identity) {
	if old := t.users[row].ident; old != nil {
		t.userBytes -= old.size
	}
	t.users[row].ident = ident
	if ident != nil {
		t.userBytes += ident.size
	}
}

// userOf returns the cached identity of the user, or nil.
func (t *sessionTable) userOf(userID string) *identity {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if row, ok := t.byID[userID]; ok {
		return t.users[row].ident
	}
	return nil
}

func (t *sessionTable) userRow(id string) uint32 {
	if row, ok := t.byID[id]; ok {
		return row
	}
	row := uint32(len(t.users))
	t.users = append(t.users, sessionUser{id: id})
	t.byID[id] = row
	// A row stays for as long as the process: users are far fewer than
	// sessions, and a session may point at its row at any time.
	t.userBytes += userRowBytes + int64(len(id))
	return row
}

func (t *sessionTable) acrIndex(acr string) uint32 {
	for i, a := range t.acrs {
		if a == acr {
			return uint32(i)
		}
	}
	t.acrs = append(t.acrs, acr)
	t.creds = append(t.creds, &cred{kind: credSession, acr: acr})
	return uint32(len(t.acrs) - 1)
}

// room makes space for one more entry: by growing while the budget
// allows, else (with evict) by evicting one. A table three quarters full
// grows or evicts.
func (t *sessionTable) room(sec uint32, evict bool) bool {
	for (t.live+1)*4 > len(t.slots)*3 {
		// Double, or take the last step to exactly what the budget holds.
		if n := min(2*len(t.slots), int((t.budget-t.userBytes)/slotBytes)); n > len(t.slots) {
			t.resize(n)
			continue
		}
		if !evict || !t.evictOne(sec) {
			return false
		}
	}
	return true
}

// reserve makes room for n sessions at once, within the budget, so that
// loading a million does not copy the array at every doubling.
func (t *sessionTable) reserve(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	want := min((t.live+n)*4/3+16, int((t.budget-t.userBytes)/slotBytes))
	if want > len(t.slots) {
		t.resize(want)
	}
}

func (t *sessionTable) resize(n int) {
	old := t.slots
	t.slots = make([]sessionSlot, n)
	t.live = 0
	for i := range old {
		if old[i].key != [16]byte{} {
			t.insert(old[i])
		}
	}
}

func (t *sessionTable) insert(s sessionSlot) {
	n := len(t.slots)
	i := home(&s.key, n)
	for t.slots[i].key != [16]byte{} {
		if i++; i == n {
			i = 0
		}
	}
	t.slots[i] = s
	t.live++
}

// evictOne moves the hand to an entry to drop: an expired one, one of an
// older epoch, or one whose hits ran out. It gives up (false) only on an
// empty table.
func (t *sessionTable) evictOne(sec uint32) bool {
	if t.live == 0 {
		return false
	}
	n := len(t.slots)
	for {
		if t.hand >= n {
			t.hand = 0
		}
		s := &t.slots[t.hand]
		if s.key == [16]byte{} {
			t.hand++
			continue
		}
		stale := s.expires <= sec || s.epoch != t.users[s.user].epoch
		if !stale && s.hits > 0 {
			s.hits--
			t.hand++
			continue
		}
		t.deleteAt(t.hand)
		return true
	}
}

// deleteAt frees slot i and moves back the entries after it that probing
// would otherwise no longer reach (no tombstones).
func (t *sessionTable) deleteAt(i int) {
	n := len(t.slots)
	t.slots[i] = sessionSlot{}
	t.live--
	for j := i + 1; ; j++ {
		if j == n {
			j = 0
		}
		s := &t.slots[j]
		if s.key == [16]byte{} {
			return
		}
		h := home(&s.key, n)
		// s may fill the hole when the hole is no nearer its home than it
		// is: moving it there keeps it reachable from h.
		if (j-h+n)%n >= (j-i+n)%n {
			t.slots[i] = *s
			*s = sessionSlot{}
			i = j
		}
	}
}

// drop removes the session k (found expired or gone).
func (t *sessionTable) drop(k *[16]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := t.find(k); i >= 0 {
		t.deleteAt(i)
	}
}

// evict applies one announced change.
func (t *sessionTable) evict(ch auth.Change) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.gen++
	switch ch.Kind {
	case auth.ChangeSession:
		if k, ok := sessionKey(ch.SessionID); ok {
			if i := t.find(&k); i >= 0 {
				t.deleteAt(i)
			}
		}
	case auth.ChangeUser:
		// Status, password (which ends sessions), membership, deletion:
		// every session of the user is read again on its next request.
		if row, ok := t.byID[ch.UserID]; ok {
			t.users[row].epoch++
			t.setIdentLocked(row, nil)
		}
	case auth.ChangeGroups:
		for i := range t.users {
			t.setIdentLocked(uint32(i), nil)
		}
	}
}

func unixSeconds(t time.Time) uint32 {
	s := t.Unix()
	switch {
	case s <= 0:
		return 0
	case s >= 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(s)
}

// loadPage is how many sessions the loader reads per snapshot.
const loadPage = 4096

// loadSessions fills the session table from the store after a start, a
// page at a time, until the table is full or every live session is in:
// after a restart, the requests of a million live sessions would
// otherwise each pay a store read the first time they come back. A page
// read while something changed is read again, so nothing revoked during
// the load is cached.
func (v *Verifier) loadSessions() {
	defer close(v.loaded)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-v.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	start := time.Now()
	if total, err := v.auth.CountActiveSessions(ctx); err == nil {
		v.sessions.reserve(total)
	}
	after, n, retries := "", 0, 0
	for ctx.Err() == nil {
		gen := v.sessions.generation()
		page, err := v.auth.LiveSessions(ctx, after, loadPage)
		if err != nil {
			if ctx.Err() == nil {
				v.log.Warn("verify: load sessions", "err", err)
			}
			return
		}
		es := make([]sessionEntry, 0, len(page))
		for _, h := range page {
			if k, ok := sessionKey(h.ID); ok {
				es = append(es, sessionEntry{key: k, userID: h.UserID, acr: h.ACR, expires: h.ExpiresAt, lastActive: h.LastActiveAt})
			}
		}
		stale, full := v.sessions.put(gen, es, nil, v.auth.Now(), false)
		if stale && retries < 10 {
			retries++
			continue
		}
		retries = 0
		n += len(es)
		if full || len(page) < loadPage {
			if n > 0 {
				v.log.Info("verify: sessions loaded into memory", "sessions", n, "full", full, "took", time.Since(start).Round(time.Millisecond).String())
			}
			if v.onLoad != nil {
				v.onLoad(n)
			}
			return
		}
		after = page[len(page)-1].ID
	}
}
