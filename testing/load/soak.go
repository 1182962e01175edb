package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"
)

// soak runs verify at full load for d over n filled sessions while, beside
// it, people sign in and out (the sign-out button, and an admin's `clinch
// user sessions revoke`). It checks that wrk saw no error and no refusal,
// that every ended session is refused on its very next request, and that
// RSS stays flat once warmed up.
func (l *load) soak(d time.Duration, n int, access string) (bool, error) {
	ctx := context.Background()
	tokens, note, err := l.fill(ctx, n)
	if err != nil {
		return false, err
	}
	fmt.Println(note)
	seq := filepath.Join(l.tmp, "seq-"+access)
	if err := writeSequence(seq, tokens, access, 1_000_000, l.rng); err != nil {
		return false, err
	}
	tokens = nil
	const people = 8
	for i := range people {
		if _, err := l.srv.clinch(password, "user", "create", "--email", soakEmail(i), "--password-stdin"); err != nil {
			return false, err
		}
	}
	tr := &traffic{headers: verifyHeaders, seqPath: seq, seqLen: 1_000_000}
	verifyU := l.srv.base() + "/api/verify"
	if _, err := l.run(verifyU, 10*time.Second, tr); err != nil {
		return false, err
	}

	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var (
		wrkRes result
		wrkErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		wrkRes, wrkErr = l.run(verifyU, d, tr)
	}()

	type sample struct {
		at  time.Duration
		mem memory
	}
	var samples []sample
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				samples = append(samples, sample{time.Since(start), rss(l.srv.pid())})
			}
		}
	}()

	var c churn
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.run(l.srv, done)
	}()
	wg.Wait()
	if wrkErr != nil {
		return false, wrkErr
	}

	fmt.Printf("\nsoak: %s of verify at full load (wrk -t1 -c%d), %d live sessions, %s access\n", d, l.conns, n, access)
	fmt.Printf("verify: %d requests, %.0f req/s, p50 %s, p99 %s; non-2xx %d, socket errors %d\n",
		wrkRes.requests, wrkRes.rps, wrkRes.p50, wrkRes.p99, wrkRes.non2xx, wrkRes.sockErrs)
	fmt.Printf("meanwhile: %d sign-ins (each verified at once: %d refused), %d sessions ended (%d by sign-out, %d by `clinch user sessions revoke`), %d refused on their next request, %d still let in; %d other errors\n",
		c.signIns, c.newRefused, c.ended(), c.signOuts, c.revokes, c.refused, c.stale, c.errors)
	if c.firstErr != nil {
		fmt.Printf("first error: %v\n", c.firstErr)
	}
	// Flat: the typical RSS of the last fifth of the run is within
	// max(16 MiB, 10 %) of the typical RSS of the fifth right after the
	// warm-up. Both are medians of their samples (every 5 s), so one
	// compaction's passing spike at either end is not taken for the level;
	// the highest sample is printed too.
	warm := max(d/5, 30*time.Second)
	var peak memory
	var head, tail []float64
	fmt.Printf("RSS:")
	for i, s := range samples {
		if s.at > warm && s.mem.rss > peak.rss {
			peak = s.mem
		}
		if s.at > warm && s.at <= warm+d/5 {
			head = append(head, float64(s.mem.rss))
		}
		if s.at >= d-d/5 {
			tail = append(tail, float64(s.mem.rss))
		}
		if i%12 == 0 || i == len(samples)-1 {
			fmt.Printf(" %s %s;", s.at.Round(time.Second), s.mem)
		}
	}
	fmt.Println()
	var base, late int64
	if len(head) > 0 && len(tail) > 0 {
		base, late = int64(median(head)), int64(median(tail))
	}
	growth := late - base
	flat := base > 0 && late > 0 && growth <= max(16<<20, base/10)
	fmt.Printf("RSS after warm-up (%s), median of the next fifth: %.0f MiB; median of the last fifth: %.0f MiB; highest after warm-up: %s; growth %.1f MiB (flat: within max(16 MiB, 10 %%): %s)\n",
		warm.Round(time.Second), float64(base)/(1<<20), float64(late)/(1<<20), peak, float64(growth)/(1<<20), metOrNot(flat))
	ok := wrkRes.non2xx == 0 && wrkRes.sockErrs == 0 && c.stale == 0 && c.newRefused == 0 && c.errors == 0 && c.ended() > 0 && flat
	if ok {
		fmt.Println("soak passed: 0 errors, every ended session refused on its next request, RSS flat")
	} else {
		fmt.Println("soak FAILED")
	}
	return ok, nil
}

func soakEmail(i int) string { return fmt.Sprintf("soak%d@example.com", i) }

// churn signs people in and ends their sessions until done.
type churn struct {
	signIns, newRefused    int
	signOuts, revokes      int
	refused, stale, errors int
	firstErr               error
}

func (c *churn) ended() int { return c.signOuts + c.revokes }

func (c *churn) fail(err error) {
	c.errors++
	if c.firstErr == nil {
		c.firstErr = err
	}
}

func (c *churn) run(s *server, done <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		case <-time.After(200 * time.Millisecond):
		}
		who := i % 8
		// Many client addresses (the server trusts 127.0.0.1 as a proxy),
		// so the per-address sign-in limit is not what is tested here.
		b := newBrowser(s.base(), fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255))
		tok, err := b.signIn(soakEmail(who), password)
		if err != nil {
			c.fail(err)
			continue
		}
		c.signIns++
		for range 2 { // a miss, then a cached hit
			st, err := verifyStatus(s.base(), verifyHeaders, tok)
			if err != nil {
				c.fail(err)
			} else if st != http.StatusOK {
				c.newRefused++
			}
		}
		if i%5 == 4 {
			// An admin ends every session of the person.
			if _, err := s.clinch("", "user", "sessions", "revoke", "--email", soakEmail(who)); err != nil {
				c.fail(err)
				continue
			}
			c.revokes++
		} else {
			if err := b.signOut(); err != nil {
				c.fail(err)
				continue
			}
			c.signOuts++
		}
		st, err := verifyStatus(s.base(), verifyHeaders, tok)
		switch {
		case err != nil:
			c.fail(err)
		case st == http.StatusOK:
			c.stale++
		default:
			c.refused++
		}
	}
}
