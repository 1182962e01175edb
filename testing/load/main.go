// Command load measures /api/verify under wrk against an empty net/http
// handler, in alternating short rounds, with one and with a million live
// sessions, and the server's memory; with -soak it runs verify at full
// load for a long time while sessions are made and ended.
//
//	go run ./testing/load                                  # the whole table
//	go run ./testing/load -sessions 1000000 -access zipf   # one row
//	go run ./testing/load -soak 10m                        # the soak
//
// The servers (Clinch and the empty handler) run pinned to CPU 0 and wrk
// to CPU 1 (taskset), so the figures compare the handlers, not the
// scheduler. Sequential runs on a shared machine drift by ±20 %, so the
// empty handler and verify take turns in rounds of a few seconds (the
// order swapped every round) and each ratio is the median of the rounds'
// ratios. Both get the very same requests: /api/verify asked Caddy-style
// with a session cookie, through Clinch's whole middleware chain.
//
// The sessions are written straight into the store while the server is
// stopped (fill.go), as sign-ins would write them; the shipped binary has
// no route for making sessions in bulk.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

func main() {
	serveEmpty := flag.String("serve-empty", "", "internal: serve the empty handler on this address")
	rounds := flag.Int("rounds", 6, "rounds per row; each runs the empty handler and verify once")
	round := flag.Duration("round", 3*time.Second, "length of each wrk run in a round")
	conns := flag.Int("connections", 32, "wrk connections")
	binary := flag.String("binary", "", "prebuilt clinch binary (default: go build)")
	sessions := flag.Int("sessions", 0, "live sessions for one row (0: the whole table, 1 and 1,000,000; the soak's default is 300,000)")
	access := flag.String("access", "zipf", "with -sessions > 1: which session each request carries, uniform or zipf (s=1.1); the soak's default is uniform")
	flood := flag.Int("flood", 100000, "unauthenticated verify requests for the memory check (0: none)")
	cacheMB := flag.Int("cache-mb", 0, "CLINCH_CACHE_MB for the server (0: its default)")
	soak := flag.Duration("soak", 0, "run the soak for this long instead of the table")
	strict := flag.Bool("strict", false, "exit 1 when a target is missed")
	flag.Parse()
	if *serveEmpty != "" {
		err := http.ListenAndServe(*serveEmpty, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
		}))
		fmt.Fprintln(os.Stderr, "empty server:", err)
		os.Exit(1)
	}
	if *access != "uniform" && *access != "zipf" {
		fmt.Fprintln(os.Stderr, "load: -access is uniform or zipf")
		os.Exit(2)
	}
	l, err := setUp(*binary, *conns, *cacheMB)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	l.rounds, l.round = *rounds, *round
	var ok bool
	switch {
	case *soak > 0:
		// By default more sessions than the cache holds, asked uniformly:
		// the cache is full within the warm-up, so what grows after it is
		// not the cache filling up.
		n, a := *sessions, "uniform"
		if n == 0 {
			n = 300_000
		}
		flag.Visit(func(f *flag.Flag) {
			if f.Name == "access" {
				a = *access
			}
		})
		ok, err = l.soak(*soak, n, a)
	default:
		ok, err = l.table(*sessions, *access, *flood)
	}
	l.tearDown()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if !ok && *strict {
		os.Exit(1)
	}
}

// load is one run: the empty handler, Clinch, wrk.
type load struct {
	bench
	tmp    string
	empty  *exec.Cmd
	emptyU string
	srv    *server
	rounds int
	round  time.Duration
	rng    *rand.Rand
}

const (
	email    = "load@example.com"
	password = "correct horse battery staple"
)

// verifyHeaders are what Caddy's forward_auth sends.
var verifyHeaders = []string{
	"X-Forwarded-Method: GET", "X-Forwarded-Proto: https", "X-Forwarded-Host: app.example.com",
	"X-Forwarded-Uri: /some/page?x=1", "Accept: text/html",
}

func setUp(binary string, conns, cacheMB int) (*load, error) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return nil, errors.New("wrk is not installed: apt-get install -y wrk")
	}
	var serverPin, clientPin []string
	if ts, err := exec.LookPath("taskset"); err == nil {
		serverPin, clientPin = []string{ts, "-c", "0"}, []string{ts, "-c", "1"}
	} else {
		fmt.Println("taskset not found: running unpinned (figures will be noisier)")
	}
	tmp, err := os.MkdirTemp("", "clinch-load-")
	if err != nil {
		return nil, err
	}
	l := &load{bench: bench{wrk: wrk, pin: clientPin, conns: conns, tmp: tmp}, tmp: tmp, rng: rand.New(rand.NewPCG(1, 2))}
	if binary == "" {
		binary = filepath.Join(tmp, "clinch")
		cmd := exec.Command("go", "build", "-o", binary, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("go build (run from the module root): %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	emptyAddr := freeAddr()
	ea := append(append([]string{}, serverPin...), self, "-serve-empty", emptyAddr)
	l.empty = exec.Command(ea[0], ea[1:]...)
	if err := l.empty.Start(); err != nil {
		return nil, err
	}
	l.emptyU = "http://" + emptyAddr + "/api/verify"
	if err := waitHTTP("http://"+emptyAddr+"/", 10*time.Second); err != nil {
		return nil, err
	}
	var extra []string
	if cacheMB > 0 {
		extra = append(extra, fmt.Sprintf("CLINCH_CACHE_MB=%d", cacheMB))
	}
	// The soak signs in from many addresses through this "proxy".
	extra = append(extra, "CLINCH_TRUSTED_PROXIES=127.0.0.1")
	l.srv = newServer(binary, tmp, serverPin, extra...)
	if err := l.srv.start(); err != nil {
		return nil, err
	}
	for _, c := range [][]string{
		{"user", "create", "--email", email, "--password-stdin"},
		{"app", "create", "--type", "forward_auth", "--name", "Load", "--slug", "load", "--domain", "app.example.com"},
	} {
		if _, err := l.srv.clinch(password, c...); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *load) tearDown() {
	if l.srv != nil {
		l.srv.stop()
	}
	if l.empty != nil {
		stop(l.empty)
	}
	os.RemoveAll(l.tmp)
}

// row is one line of the table.
type row struct {
	label          string
	verify, empty  result // medians over the rounds
	tput, p99      float64
	mem            memory // after the row's rounds
	target         string
	ok             bool
	verifyRequests int
	// CPU time the server used per answered request, summed over the
	// rounds: unlike req/s it holds on a machine where other processes
	// take CPU 0 too.
	verifyCPU, emptyCPU time.Duration
}

// measure warms up, then runs the rounds for one kind of traffic.
func (l *load) measure(label string, tr *traffic) (row, error) {
	verifyU := l.srv.base() + "/api/verify"
	r := row{label: label}
	warm := max(l.round, 3*time.Second)
	if _, err := l.run(l.emptyU, warm, tr); err != nil {
		return r, err
	}
	// With many sessions the cache fills first (a Zipf row meets some
	// 300,000 distinct sessions in its million draws): measure the steady
	// state, not the cold start.
	verifyWarm := 2 * warm
	if tr.seqPath != "" {
		verifyWarm = 30 * time.Second
	}
	if _, err := l.run(verifyU, verifyWarm, tr); err != nil {
		return r, err
	}
	var vs, es []result
	var tputs, p99s []float64
	var vCPU, eCPU time.Duration
	var vReq, eReq int
	for i := range l.rounds {
		order := []string{l.emptyU, verifyU}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		var v, e result
		for _, u := range order {
			pid := l.srv.pid()
			if u != verifyU {
				pid = l.empty.Process.Pid
			}
			c0 := cpuTime(pid)
			res, err := l.run(u, l.round, tr)
			if err != nil {
				return r, err
			}
			if u == verifyU {
				vCPU, vReq = vCPU+cpuTime(pid)-c0, vReq+res.requests
			} else {
				eCPU, eReq = eCPU+cpuTime(pid)-c0, eReq+res.requests
			}
			if res.non2xx > 0 || res.sockErrs > 0 {
				return r, fmt.Errorf("%s, %s: %d non-2xx answers, %d socket errors in round %d", label, u, res.non2xx, res.sockErrs, i+1)
			}
			if u == verifyU {
				v = res
			} else {
				e = res
			}
		}
		vs, es = append(vs, v), append(es, e)
		tputs = append(tputs, v.rps/e.rps)
		p99s = append(p99s, float64(v.p99)/float64(e.p99))
		r.verifyRequests += v.requests
	}
	r.verify, r.empty = medianResult(vs), medianResult(es)
	r.tput, r.p99 = median(tputs), median(p99s)
	r.verifyCPU, r.emptyCPU = vCPU/time.Duration(max(vReq, 1)), eCPU/time.Duration(max(eReq, 1))
	r.mem = rss(l.srv.pid())
	return r, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianResult(rs []result) result {
	var rps, p50, p99 []float64
	for _, r := range rs {
		rps, p50, p99 = append(rps, r.rps), append(p50, float64(r.p50)), append(p99, float64(r.p99))
	}
	return result{rps: median(rps), p50: time.Duration(median(p50)), p99: time.Duration(median(p99))}
}

// table measures the rows: with sessions 0, one session, then a million
// with Zipf and with uniform access; otherwise the one row asked for.
func (l *load) table(sessions int, access string, flood int) (bool, error) {
	ctx := context.Background()
	start := time.Now()
	fmt.Printf("wrk -t1 -c%d on CPU 1, servers on CPU 0; %d rounds of %s each for the empty handler and verify (alternating), medians\n\n", l.conns, l.rounds, l.round)
	var rows []row
	var fillNote string
	var fillMem memory
	if sessions <= 1 {
		tok, err := newBrowser(l.srv.base(), "").signIn(email, password)
		if err != nil {
			return false, err
		}
		if st, err := verifyStatus(l.srv.base(), verifyHeaders, tok); err != nil || st != http.StatusOK {
			return false, fmt.Errorf("verify with the cookie: %d %v", st, err)
		}
		r, err := l.measure("1", &traffic{headers: verifyHeaders, cookie: tok})
		if err != nil {
			return false, err
		}
		r.target = "≥ 0.85×, p99 ≤ 1.2×"
		r.ok = r.tput >= 0.85 && r.p99 <= 1.2
		rows = append(rows, r)
		fmt.Println(r.line())
	}
	if sessions != 1 {
		n := sessions
		if n == 0 {
			n = 1_000_000
		}
		accesses := []string{access}
		if sessions == 0 {
			accesses = []string{"zipf", "uniform"}
		}
		tokens, note, err := l.fill(ctx, n)
		if err != nil {
			return false, err
		}
		// RSS after the fill: the server restarted on the filled store,
		// answered a first round of requests, and loaded the sessions
		// into memory in the background.
		took, err := l.srv.waitLoaded(n, 3*time.Minute)
		if err != nil {
			return false, err
		}
		fillNote = note + fmt.Sprintf("; after the restart, all %d in memory within %s", n, took.Round(100*time.Millisecond))
		fillMem = rss(l.srv.pid())
		for _, a := range accesses {
			seq := filepath.Join(l.tmp, "seq-"+a)
			if err := writeSequence(seq, tokens, a, 1_000_000, l.rng); err != nil {
				return false, err
			}
			r, err := l.measure(fmt.Sprintf("%d, %s", n, a), &traffic{headers: verifyHeaders, seqPath: seq, seqLen: 1_000_000})
			if err != nil {
				return false, err
			}
			if a == "zipf" {
				r.target, r.ok = "≥ 0.8×", r.tput >= 0.8
			} else {
				r.target, r.ok = "≥ 0.5×", r.tput >= 0.5
			}
			rows = append(rows, r)
			fmt.Println(r.line())
		}
	}
	ok := true
	fmt.Printf("\n| live sessions (random cookie per request) | verify / empty throughput | verify p99 / empty p99 | verify req/s (empty) | verify p99 (empty) | RSS after the row | target | |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Printf("| %s | **%.2f** | **%.2f** | %.0f (%.0f) | %s (%s) | %s | %s | %s |\n", r.label, r.tput, r.p99,
			r.verify.rps, r.empty.rps, r.verify.p99.Round(10*time.Microsecond), r.empty.p99.Round(10*time.Microsecond), r.mem, r.target, metOrNot(r.ok))
		ok = ok && r.ok
	}
	if fillNote != "" {
		memOK := fillMem.rss <= 256<<20
		fmt.Printf("\n%s\nRSS after the fill (restarted on the filled store, first requests answered): %s (target ≤ 256 MiB: %s)\n", fillNote, fillMem, metOrNot(memOK))
		ok = ok && memOK
	}
	if flood > 0 {
		flat, err := l.flood(flood)
		if err != nil {
			return false, err
		}
		ok = ok && flat
	}
	fmt.Printf("\ntook %s\n", time.Since(start).Round(time.Second))
	if ok {
		fmt.Println("every target met")
	} else {
		fmt.Println("target MISSED")
	}
	return ok, nil
}

func (r row) line() string {
	return fmt.Sprintf("%-22s verify %6.0f req/s p99 %8s | empty %6.0f req/s p99 %8s | ratio %.2f, p99 ratio %.2f | server CPU per request: verify %s, empty %s | RSS %s",
		r.label, r.verify.rps, r.verify.p99.Round(10*time.Microsecond), r.empty.rps, r.empty.p99.Round(10*time.Microsecond), r.tput, r.p99,
		r.verifyCPU.Round(100*time.Nanosecond), r.emptyCPU.Round(100*time.Nanosecond), r.mem)
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// fill stops the server, writes n sessions into its store, starts it again
// and checks a few of them; it returns their tokens.
func (l *load) fill(ctx context.Context, n int) ([]string, string, error) {
	l.srv.stop()
	path := filepath.Join(l.tmp, "tokens")
	t0 := time.Now()
	if err := fillSessions(ctx, l.srv, email, n, path); err != nil {
		return nil, "", fmt.Errorf("fill: %w", err)
	}
	took := time.Since(t0)
	if err := l.srv.start(); err != nil {
		return nil, "", err
	}
	tokens, err := readLines(path)
	if err != nil {
		return nil, "", err
	}
	if len(tokens) != n {
		return nil, "", fmt.Errorf("fill wrote %d tokens, want %d", len(tokens), n)
	}
	for i := range 20 {
		tok := tokens[l.rng.IntN(len(tokens))]
		if i == 0 {
			tok = tokens[0]
		}
		if st, err := verifyStatus(l.srv.base(), verifyHeaders, tok); err != nil || st != http.StatusOK {
			return nil, "", fmt.Errorf("verify with a filled session: %d %v", st, err)
		}
	}
	note := fmt.Sprintf("%d sessions written into the store in %s; store on disk %.0f MiB", n, took.Round(100*time.Millisecond), float64(dataDirSize(l.srv.dataDir))/(1<<20))
	return tokens, note, nil
}

// flood sends unauthenticated requests and reports whether RSS stayed flat
// (within 8 MiB: they must create no session, no cache entry, no write).
func (l *load) flood(n int) (bool, error) {
	verifyU := l.srv.base() + "/api/verify"
	time.Sleep(time.Second)
	before := rss(l.srv.pid())
	sent := 0
	for sent < n {
		r, err := l.run(verifyU, 3*time.Second, &traffic{headers: verifyHeaders})
		if err != nil {
			return false, err
		}
		if r.sockErrs > 0 {
			return false, fmt.Errorf("flood: %d socket errors", r.sockErrs)
		}
		sent += r.requests
	}
	time.Sleep(2 * time.Second)
	after := rss(l.srv.pid())
	flat := after.rss-before.rss <= 8<<20
	fmt.Printf("anonymous flood of %d requests: RSS %s → %s (flat within 8 MiB: %s)\n", sent, before, after, metOrNot(flat))
	return flat, nil
}
