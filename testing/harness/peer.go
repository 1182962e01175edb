package harness

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// peerTimeout bounds a peer's start (until its port answers) and its stop.
const peerTimeout = 20 * time.Second

// RunPeer starts cmd (Caddy, nginx, oauth2-proxy, ...) with its output in
// name.log under a temp dir of the test, waits until something listens on
// 127.0.0.1:port, and stops it when the test ends (interrupt, then kill
// after peerTimeout). A failed test gets the peer's log. If the peer exits
// before it listens, the test fails with its log.
func RunPeer(t testing.TB, name string, cmd *exec.Cmd, port int) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("harness: start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); lf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(peerTimeout):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("harness: %s log (%s):\n%s", name, logPath, b)
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(peerTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("harness: %s exited before listening on %s:\n%s", name, addr, b)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("harness: %s did not listen on %s within %v", name, addr, peerTimeout)
}
