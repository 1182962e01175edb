package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// server is the clinch binary serving one data directory, pinned to CPU 0.
type server struct {
	binary  string
	pin     []string
	addr    string
	env     []string
	dataDir string
	secret  string
	cmd     *exec.Cmd
	ready   time.Time // when the running server first answered
}

func newServer(binary, tmp string, pin []string, extraEnv ...string) *server {
	secret := make([]byte, 32)
	rand.Read(secret)
	s := &server{binary: binary, pin: pin, addr: freeAddr(), dataDir: filepath.Join(tmp, "data"), secret: hex.EncodeToString(secret)}
	s.env = append(os.Environ(),
		"CLINCH_LISTEN="+s.addr, "CLINCH_HOST=http://"+s.addr,
		"CLINCH_DATA_DIR="+s.dataDir, "SECRET_KEY_BASE="+s.secret,
		"CLINCH_BCRYPT_COST=4", "CLINCH_LOG_LEVEL=warn")
	s.env = append(s.env, extraEnv...)
	return s
}

func (s *server) start() error {
	args := append(append([]string{}, s.pin...), s.binary, "serve")
	s.cmd = exec.Command(args[0], args[1:]...)
	s.cmd.Env = s.env
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return err
	}
	err := waitHTTP("http://"+s.addr+"/readyz", 120*time.Second)
	s.ready = time.Now()
	return err
}

func (s *server) stop() {
	if s.cmd != nil {
		stop(s.cmd)
		s.cmd = nil
	}
}

// pid is the clinch process itself (taskset execs it, keeping the pid).
func (s *server) pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// clinch runs a command of the binary against the same data directory
// (over the control socket while the server runs).
func (s *server) clinch(stdin string, args ...string) (string, error) {
	cmd := exec.Command(s.binary, args...)
	cmd.Env = s.env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("clinch %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (s *server) base() string { return "http://" + s.addr }

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
	case <-time.After(30 * time.Second):
		c.Process.Kill()
		<-done
	}
}

func waitHTTP(u string, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v", u, timeout)
}

// memory is a process's resident set: VmRSS, and the part of it that is
// anonymous memory (the Go heap and Badger's caches) rather than pages of
// mapped store files, which the kernel may drop and read again.
type memory struct{ rss, anon int64 }

func (m memory) String() string {
	return fmt.Sprintf("%.0f MiB (anon %.0f MiB)", float64(m.rss)/(1<<20), float64(m.anon)/(1<<20))
}

func rss(pid int) memory {
	var m memory
	if pid == 0 {
		return m
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	kb := func(v string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n << 10
	}
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			m.rss = kb(v)
		}
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			m.anon = kb(v)
		}
	}
	return m
}

// cpuTime is the CPU time (user and system) a process has used so far.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces), from ")".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// waitLoaded waits until the server holds n sessions in memory (its
// clinch_verify_sessions_in_memory gauge), and says how long that took
// it became ready.
func (s *server) waitLoaded(n int, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	c := &http.Client{Timeout: 5 * time.Second}
	last := -1.0
	for time.Since(start) < limit {
		resp, err := c.Get(s.base() + "/metrics")
		if err == nil {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "clinch_verify_sessions_in_memory "); ok {
					last, _ = strconv.ParseFloat(v, 64)
				}
			}
			resp.Body.Close()
		}
		if last >= float64(n) {
			took := time.Since(s.ready)
			// The server gives memory back right after the load.
			time.Sleep(3 * time.Second)
			return took, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("after %s the server holds %.0f sessions in memory, want %d", limit, last, n)
}
