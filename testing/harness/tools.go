package harness

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// installHint says how a peer is installed (see PEERS.md); scripts/test
// installs them all when missing.
func installHint(name string) string {
	switch name {
	case "argon2", "caddy", "cadaver", "chromium", "oathtool", "wrk":
		return "apt-get install -y " + name
	case "nginx":
		return "apt-get install -y nginx-light"
	case "node", "npm":
		return "apt-get install -y nodejs npm"
	case "taskset", "unshare":
		return "apt-get install -y util-linux"
	}
	return "install " + name
}

// NeedTool returns the path of the program name, or fails the test with
// the command that installs it. A missing peer is a failure, never a skip,
// with or without CI=true: a green run must mean the peers were exercised.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// nginx lives in /usr/sbin, which is not on every user's PATH.
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s is needed by this test and is not installed: run `%s` (scripts/test installs every peer)", name, installHint(name))
	return ""
}

// handedOut remembers the ports FreePort gave this test process: the kernel
// may offer a just-closed port again, and two peers of one test (Caddy and
// oauth2-proxy, say) told to listen on the same port fail in confusing ways
// ("first record does not look like a TLS handshake").
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no other FreePort call of this process has returned.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("harness: find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		handedOut.Lock()
		seen := handedOut.ports[port]
		handedOut.ports[port] = true
		handedOut.Unlock()
		if !seen {
			return port
		}
	}
	t.Fatal("harness: no fresh free port after 100 tries")
	return 0
}
