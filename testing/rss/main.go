// Command rss measures the resident memory of a running clinch: idle after
// start-up, and idle again after 10,000 users were created through the
// control socket. It prints the figures the README quotes:
//
//	go run ./testing/rss
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clinchsso/clinch/control"
)

func main() {
	users := flag.Int("users", 10000, "users to create")
	settle := flag.Duration("settle", 5*time.Second, "idle time before each reading")
	flag.Parse()
	if err := run(*users, *settle); err != nil {
		fmt.Fprintln(os.Stderr, "rss:", err)
		os.Exit(1)
	}
}

func run(users int, settle time.Duration) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "clinch-rss-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "clinch")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	data := filepath.Join(tmp, "data")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "CLINCH_LISTEN="+addr, "CLINCH_HOST=http://"+addr, "CLINCH_DATA_DIR="+data, "CLINCH_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(settle)
	idle, err := rss(cmd.Process.Pid)
	if err != nil {
		return err
	}
	c, err := control.Dial(ctx, data)
	if err != nil {
		return err
	}
	start := time.Now()
	for i := range users {
		// Users are created without a password (pending invitation): the
		// figure is about the store, not about bcrypt's cost.
		out, errOut, code, err := c.Exec(ctx, []string{"user", "create", "--email", "user" + strconv.Itoa(i) + "@example.com", "--name", "User " + strconv.Itoa(i)}, nil)
		if err != nil || code != 0 {
			return fmt.Errorf("create user %d: %v %s %s", i, err, out, errOut)
		}
	}
	took := time.Since(start)
	time.Sleep(settle)
	after, err := rss(cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Printf("idle RSS after start-up: %.1f MiB\n", float64(idle)/1024)
	fmt.Printf("idle RSS after %d users: %.1f MiB (created in %s, %.0f users/s)\n", users, float64(after)/1024, took.Round(time.Millisecond), float64(users)/took.Seconds())
	return nil
}

// rss reads VmRSS (KiB) from /proc.
func rss(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}
