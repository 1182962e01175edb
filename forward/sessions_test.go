package forward

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// tableID is a session id shaped like a real one (base64url of 32 bytes).
func tableID(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(i)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func tableEntry(t testing.TB, i int, user string) sessionEntry {
	t.Helper()
	k, ok := sessionKey(tableID(i))
	if !ok {
		t.Fatalf("no key for %q", tableID(i))
	}
	return sessionEntry{key: k, userID: user, acr: auth.ACRPassword, expires: cacheNow.Add(time.Hour), lastActive: cacheNow}
}

func putOne(t testing.TB, tb *sessionTable, e sessionEntry) {
	t.Helper()
	if stale, full := tb.put(tb.generation(), []sessionEntry{e}, nil, cacheNow, true); stale || full {
		t.Fatalf("put: stale %v, full %v", stale, full)
	}
}

func has(tb *sessionTable, e sessionEntry, now time.Time) bool {
	_, ok, _ := tb.get(&e.key, now)
	return ok
}

func TestSessionKey(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{tableID(1), true},
		{tableID(1)[:42], false},
		{tableID(1) + "A", false},
		{"*" + tableID(1)[1:], false},
		{"", false},
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", false}, // zero is the free slot's key
	} {
		if _, ok := sessionKey(tt.id); ok != tt.ok {
			t.Errorf("sessionKey(%q) ok = %v, want %v", tt.id, ok, tt.ok)
		}
	}
}

// TestSessionTable_Changes: what each announced change does to a cached
// session.
func TestSessionTable_Changes(t *testing.T) {
	ident := &identity{id: "ann", size: 100}
	tests := []struct {
		name      string
		change    auth.Change
		hit       bool // the session still answers from memory
		identKept bool
	}{
		{"its session ended", auth.Change{Kind: auth.ChangeSession, SessionID: tableID(1)}, false, true},
		{"another session ended", auth.Change{Kind: auth.ChangeSession, SessionID: tableID(2)}, true, true},
		{"its user changed", auth.Change{Kind: auth.ChangeUser, UserID: "ann"}, false, false},
		{"another user changed", auth.Change{Kind: auth.ChangeUser, UserID: "bob"}, true, true},
		{"groups changed", auth.Change{Kind: auth.ChangeGroups}, true, false},
		{"apps changed", auth.Change{Kind: auth.ChangeApps}, true, true},
		{"a token was revoked", auth.Change{Kind: auth.ChangeToken, UserID: "ann"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newSessionTable(1 << 20)
			e := tableEntry(t, 1, "ann")
			if stale, _ := tb.put(tb.generation(), []sessionEntry{e}, ident, cacheNow, true); stale {
				t.Fatal("stale")
			}
			putOne(t, tb, tableEntry(t, 2, "bob"))
			h, ok, _ := tb.get(&e.key, cacheNow)
			if !ok || h.ident != ident || h.cred.acr != auth.ACRPassword || h.cred.kind != credSession {
				t.Fatalf("before: ok %v, %+v", ok, h)
			}
			tb.evict(tt.change)
			h, ok, _ = tb.get(&e.key, cacheNow)
			if ok != tt.hit {
				t.Errorf("hit = %v, want %v", ok, tt.hit)
			}
			if got := tb.userOf("ann") != nil; got != tt.identKept {
				t.Errorf("identity kept = %v, want %v", got, tt.identKept)
			}
		})
	}
}

// A session read before a change and put after it is not cached: it may
// be the very session the change ended.
func TestSessionTable_ReadBeforeAChangeIsNotCached(t *testing.T) {
	tb := newSessionTable(1 << 20)
	e := tableEntry(t, 1, "ann")
	gen := tb.generation()
	tb.evict(auth.Change{Kind: auth.ChangeSession, SessionID: tableID(1)})
	if stale, _ := tb.put(gen, []sessionEntry{e}, nil, cacheNow, true); !stale {
		t.Error("put after a change did not say stale")
	}
	if has(tb, e, cacheNow) {
		t.Error("a session read before the change was cached")
	}
}

func TestSessionTable_Expiry(t *testing.T) {
	tb := newSessionTable(1 << 20)
	e := tableEntry(t, 1, "ann")
	e.expires = cacheNow.Add(90 * time.Second)
	putOne(t, tb, e)
	if !has(tb, e, cacheNow.Add(89*time.Second)) {
		t.Error("live session missed")
	}
	if _, ok, held := tb.get(&e.key, cacheNow.Add(90*time.Second)); ok || !held {
		t.Errorf("at expiry: ok %v, held %v", ok, held)
	}
	expired := tableEntry(t, 2, "ann")
	expired.expires = cacheNow
	putOne(t, tb, expired)
	if _, _, held := tb.get(&expired.key, cacheNow); held {
		t.Error("an expired session was cached")
	}
}

// TestSessionTable_AgainstAMap drives inserts, drops and evictions at
// random and checks every answer against a map: linear probing with
// backward-shift deletion must never lose or invent an entry, through
// growth and through evictions at the budget.
func TestSessionTable_AgainstAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tb := newSessionTable(3000 * slotBytes)
	ref := map[int]bool{}
	for step := range 60000 {
		i := rng.IntN(5000)
		e := tableEntry(t, i, fmt.Sprint("u", i%7))
		switch rng.IntN(3) {
		case 0, 1:
			putOne(t, tb, e)
			ref[i] = true
		case 2:
			tb.evict(auth.Change{Kind: auth.ChangeSession, SessionID: tableID(i)})
			delete(ref, i)
		}
		if step%997 == 0 {
			tb.mu.RLock()
			live, n := tb.live, len(tb.slots)
			tb.mu.RUnlock()
			count := 0
			for j := range 5000 {
				in := has(tb, tableEntry(t, j, ""), cacheNow)
				if in && !ref[j] {
					t.Fatalf("step %d: %d is cached but was dropped", step, j)
				}
				if in {
					count++
				}
			}
			if count != live {
				t.Fatalf("step %d: %d found, table counts %d", step, count, live)
			}
			if live*4 > n*3 {
				t.Fatalf("step %d: %d live in %d slots", step, live, n)
			}
		}
		// Evictions drop entries the map still has; forget them there
		// once they are gone, so the check above stays exact.
		if step%997 == 996 {
			for j := range ref {
				if !has(tb, tableEntry(t, j, ""), cacheNow) {
					delete(ref, j)
				}
			}
		}
	}
}

// A scan of sessions each seen once leaves the hot set in the table.
func TestSessionTable_ScanDoesNotEvictHotSet(t *testing.T) {
	tb := newSessionTable(4000 * slotBytes) // room for about 3000
	const hot = 500
	for i := range hot {
		putOne(t, tb, tableEntry(t, i, "u"))
	}
	touchHot := func() {
		for i := range hot {
			tb.get(&[]sessionEntry{tableEntry(t, i, "u")}[0].key, cacheNow)
		}
	}
	for range 3 {
		touchHot()
	}
	for i := hot; i < hot+30000; i++ {
		putOne(t, tb, tableEntry(t, i, "u"))
		if i%1000 == 0 {
			touchHot()
		}
	}
	kept := 0
	for i := range hot {
		if has(tb, tableEntry(t, i, "u"), cacheNow) {
			kept++
		}
	}
	if kept < hot*95/100 {
		t.Errorf("%d of %d hot sessions survived a scan of 30,000", kept, hot)
	}
}

// TestSessionTable_HeapPerSession measures what a cached session really
// costs on the heap: the budget's arithmetic must match it, and a million
// sessions must fit the default budget.
func TestSessionTable_HeapPerSession(t *testing.T) {
	const n = 200_000
	es := make([]sessionEntry, n)
	for i := range es {
		es[i] = tableEntry(t, i, fmt.Sprint("user", i%100))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tb := newSessionTable(DefaultCacheBytes)
	if stale, full := tb.put(tb.generation(), es, nil, cacheNow, true); stale || full {
		t.Fatalf("stale %v, full %v", stale, full)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	t.Logf("%.1f bytes per cached session (%d slots for %d)", per, len(tb.slots), n)
	// 40-byte slots at most three quarters full, at least a third after
	// a doubling: between 53 and 120 bytes.
	if per > 125 {
		t.Errorf("%.1f bytes per session", per)
	}
	runtime.KeepAlive(tb)
	runtime.KeepAlive(es)
	big := newSessionTable(DefaultCacheBytes - DefaultCacheBytes/16)
	if capacity := int(big.budget/slotBytes) * 3 / 4; capacity < 1_000_000 {
		t.Errorf("the default budget holds %d sessions, want a million", capacity)
	}
}

// TestVerify_LoadsSessionsAtStart: a Verifier started on a store with
// live sessions has them in memory before their first request, and
// answers them with the store closed once it has read their user.
func TestVerify_LoadsSessionsAtStart(t *testing.T) {
	f := newFixture(t)
	var toks []string
	for range 50 {
		tok, _ := f.signIn("ann@example.com")
		toks = append(toks, tok)
	}
	ended, endedSess := f.signIn("ann@example.com")
	if err := f.svc.EndSession(context.Background(), endedSess.ID, ""); err != nil {
		t.Fatal(err)
	}
	v, err := New(Config{Auth: f.svc, Secrets: f.secrets, Site: f.v.site})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v.sessions.mu.RLock()
		live := v.sessions.live
		v.sessions.mu.RUnlock()
		if live == len(toks) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions loaded, want %d", live, len(toks))
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.v = v
	if w := f.do(req{h: wiki("/"), cookie: toks[0]}); w.Code != 200 {
		t.Fatalf("first request: %d", w.Code)
	}
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	for i, tok := range toks {
		if w := f.do(req{h: wiki("/"), cookie: tok}); w.Code != 200 || w.Header().Get("Remote-User") != "ann" {
			t.Fatalf("session %d with the store closed: %d", i, w.Code)
		}
	}
	if w := f.do(req{h: wiki("/"), cookie: ended}); w.Code == 200 {
		t.Error("an ended session was loaded")
	}
}
