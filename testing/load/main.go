// Command load measures /api/verify under wrk against an empty net/http
// handler measured in the same run, and the server's memory before and
// after a flood of unauthenticated verify requests:
//
//	go run ./testing/load [-duration 10s] [-connections 32]
//
// Both servers run pinned to CPU 0 and wrk to CPU 1 (taskset), so the
// figures compare the handlers, not the scheduler. /api/verify is asked
// Caddy-style with a valid session cookie, through Clinch's whole
// middleware chain. The target (issue 3): verify's throughput at least 0.7
// of the empty handler's, its p99 at most 1.5 times the empty p99.
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func main() {
	serveEmpty := flag.String("serve-empty", "", "internal: serve the empty handler on this address")
	duration := flag.Duration("duration", 10*time.Second, "length of each measured wrk run")
	conns := flag.Int("connections", 32, "wrk connections")
	binary := flag.String("binary", "", "prebuilt clinch binary (default: go build)")
	flood := flag.Int("flood", 100000, "unauthenticated verify requests for the memory check")
	strict := flag.Bool("strict", false, "exit 1 when the target is missed")
	flag.Parse()
	if *serveEmpty != "" {
		err := http.ListenAndServe(*serveEmpty, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
		}))
		fmt.Fprintln(os.Stderr, "empty server:", err)
		os.Exit(1)
	}
	ok, err := run(*binary, *duration, *conns, *flood)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if !ok && *strict {
		os.Exit(1)
	}
}

// result is one wrk run.
type result struct {
	rps      float64
	p50, p99 time.Duration
	requests int
	non2xx   int
}

func run(binary string, duration time.Duration, conns, flood int) (bool, error) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		return false, errors.New("wrk is not installed: apt-get install -y wrk")
	}
	var serverPin, clientPin []string
	if ts, err := exec.LookPath("taskset"); err == nil {
		serverPin, clientPin = []string{ts, "-c", "0"}, []string{ts, "-c", "1"}
	} else {
		fmt.Println("taskset not found: running unpinned (figures will be noisier)")
	}
	tmp, err := os.MkdirTemp("", "clinch-load-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(tmp)
	if binary == "" {
		binary = filepath.Join(tmp, "clinch")
		cmd := exec.Command("go", "build", "-o", binary, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return false, fmt.Errorf("go build (run from the module root): %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return false, err
	}

	emptyAddr, clinchAddr := freeAddr(), freeAddr()
	ea := append(append([]string{}, serverPin...), self, "-serve-empty", emptyAddr)
	empty := exec.Command(ea[0], ea[1:]...)
	if err := empty.Start(); err != nil {
		return false, err
	}
	defer stop(empty)

	secret := make([]byte, 32)
	rand.Read(secret)
	env := append(os.Environ(),
		"CLINCH_LISTEN="+clinchAddr, "CLINCH_HOST=http://"+clinchAddr,
		"CLINCH_DATA_DIR="+filepath.Join(tmp, "data"), "SECRET_KEY_BASE="+hex.EncodeToString(secret),
		"CLINCH_BCRYPT_COST=4", "CLINCH_LOG_LEVEL=warn")
	args := append(append([]string{}, serverPin...), binary, "serve")
	srv := exec.Command(args[0], args[1:]...)
	srv.Env = env
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return false, err
	}
	defer stop(srv)
	if err := waitHTTP("http://"+clinchAddr+"/readyz", 30*time.Second); err != nil {
		return false, err
	}
	if err := waitHTTP("http://"+emptyAddr+"/", 10*time.Second); err != nil {
		return false, err
	}

	const email, password = "load@example.com", "correct horse battery staple"
	for _, c := range [][]string{
		{"user", "create", "--email", email, "--password-stdin"},
		{"app", "create", "--type", "forward_auth", "--name", "Load", "--slug", "load", "--domain", "app.example.com"},
	} {
		cmd := exec.Command(binary, c...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(password)
		if out, err := cmd.CombinedOutput(); err != nil {
			return false, fmt.Errorf("clinch %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	token, err := signIn("http://"+clinchAddr, email, password)
	if err != nil {
		return false, err
	}
	verify := "http://" + clinchAddr + "/api/verify"
	headers := []string{
		"X-Forwarded-Method: GET", "X-Forwarded-Proto: https", "X-Forwarded-Host: app.example.com",
		"X-Forwarded-Uri: /some/page?x=1", "Accept: text/html",
	}
	if err := checkVerify(verify, headers, token); err != nil {
		return false, err
	}
	pid := findPID(binary)

	wrkRun := func(target string, d time.Duration, hdrs []string) (result, error) {
		a := append(append([]string{}, clientPin...), wrk, "-t1", "-c"+strconv.Itoa(conns), "-d"+d.String(), "--latency")
		for _, h := range hdrs {
			a = append(a, "-H", h)
		}
		a = append(a, target)
		out, err := exec.Command(a[0], a[1:]...).CombinedOutput()
		if err != nil {
			return result{}, fmt.Errorf("wrk: %v\n%s", err, out)
		}
		return parseWrk(string(out))
	}
	authed := append(append([]string{}, headers...), "Cookie: clinch_session="+token)

	// Warm up both (JIT-free Go still has caches, pools and TCP to settle).
	for _, w := range []struct {
		u string
		h []string
	}{{"http://" + emptyAddr + "/", nil}, {verify, authed}} {
		if _, err := wrkRun(w.u, 2*time.Second, w.h); err != nil {
			return false, err
		}
	}
	// The baseline gets the very same request (headers and cookie), so the
	// ratio is what verify adds to net/http reading that request.
	emptyRes, err := wrkRun("http://"+emptyAddr+"/", duration, authed)
	if err != nil {
		return false, err
	}
	bareRes, err := wrkRun("http://"+emptyAddr+"/", duration, nil)
	if err != nil {
		return false, err
	}
	verifyRes, err := wrkRun(verify, duration, authed)
	if err != nil {
		return false, err
	}
	if verifyRes.non2xx > 0 || emptyRes.non2xx > 0 {
		return false, fmt.Errorf("non-2xx answers under load: verify %d, empty %d", verifyRes.non2xx, emptyRes.non2xx)
	}

	rssBefore := rss(pid)
	sent := 0
	for sent < flood {
		r, err := wrkRun(verify, 3*time.Second, headers) // no cookie: "not signed in"
		if err != nil {
			return false, err
		}
		sent += r.requests
	}
	time.Sleep(2 * time.Second)
	rssAfter := rss(pid)

	tput := verifyRes.rps / emptyRes.rps
	lat := float64(verifyRes.p99) / float64(emptyRes.p99)
	fmt.Printf("wrk -t1 -c%d -d%s --latency, servers on CPU 0, wrk on CPU 1\n\n", conns, duration)
	fmt.Printf("%-30s %12s %10s %10s\n", "handler", "requests/s", "p50", "p99")
	fmt.Printf("%-30s %12.0f %10s %10s\n", "empty, bare GET (reference)", bareRes.rps, bareRes.p50, bareRes.p99)
	fmt.Printf("%-30s %12.0f %10s %10s\n", "empty, same request", emptyRes.rps, emptyRes.p50, emptyRes.p99)
	fmt.Printf("%-30s %12.0f %10s %10s\n", "/api/verify (valid cookie)", verifyRes.rps, verifyRes.p50, verifyRes.p99)
	fmt.Printf("\nthroughput ratio %.2f (target >= 0.70), p99 ratio %.2f (target <= 1.50)\n", tput, lat)
	if pid > 0 {
		fmt.Printf("clinch RSS before %d unauthenticated requests: %.1f MiB, after: %.1f MiB\n", sent, float64(rssBefore)/(1<<20), float64(rssAfter)/(1<<20))
	}
	ok := tput >= 0.7 && lat <= 1.5
	if ok {
		fmt.Println("target met")
	} else {
		fmt.Println("target MISSED")
	}
	return ok, nil
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func stop(c *exec.Cmd) {
	c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.Process.Kill()
	}
}

func waitHTTP(u string, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v", u, timeout)
}

var csrfRE = regexp.MustCompile(`name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"`)

// signIn signs in through the sign-in form and returns the session token.
func signIn(base, email, password string) (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/signin")
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		return "", errors.New("no csrf_token on /signin")
	}
	tok := string(m[1]) + string(m[2])
	req, _ := http.NewRequest(http.MethodPost, base+"/signin", strings.NewReader(url.Values{
		"csrf_token": {tok}, "login": {email}, "password": {password},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = c.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "clinch_session" && ck.Value != "" {
			return ck.Value, nil
		}
	}
	return "", fmt.Errorf("sign-in answered %s without a session cookie", resp.Status)
}

func checkVerify(u string, headers []string, token string) error {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	req.AddCookie(&http.Cookie{Name: "clinch_session", Value: token})
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Remote-User") == "" {
		return fmt.Errorf("verify with the cookie answered %s (Remote-User %q), want 200", resp.Status, resp.Header.Get("Remote-User"))
	}
	return nil
}

// findPID finds the clinch server process by its binary path.
func findPID(binary string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) >= 2 && args[0] == binary && args[1] == "serve" {
			return pid
		}
	}
	return 0
}

func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

var (
	rpsRE    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reqRE    = regexp.MustCompile(`(\d+) requests in`)
	non2xxRE = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	pctlRE   = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

func parseWrk(out string) (result, error) {
	var r result
	m := rpsRE.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := reqRE.FindStringSubmatch(out); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if m := non2xxRE.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	for _, m := range pctlRE.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		d := time.Duration(v * float64(unit))
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, fmt.Errorf("no latency distribution in wrk output:\n%s", out)
	}
	return r, nil
}
