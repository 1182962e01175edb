package harness

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// OAuth2ProxyVersion is the release scripts/test builds from the Go module
// proxy (it has no Debian package).
const OAuth2ProxyVersion = "v7.8.1"

// OAuth2Proxy returns the path of the oauth2-proxy binary: the one named
// by CLINCH_TEST_OAUTH2_PROXY (scripts/test builds it and sets it), else
// the one scripts/test caches. Missing, the test fails with how to get it:
// a missing peer is never a skip.
func OAuth2Proxy(t testing.TB) string {
	t.Helper()
	p := os.Getenv("CLINCH_TEST_OAUTH2_PROXY")
	if p == "" {
		cache, err := os.UserCacheDir()
		if err == nil {
			p = filepath.Join(cache, "clinch-test", "oauth2-proxy-"+OAuth2ProxyVersion, "oauth2-proxy")
		}
	}
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return p
	}
	t.Fatalf("oauth2-proxy %s is needed by this test and is not built (looked for %q): run scripts/test, which builds it from the Go module proxy and caches it, or set CLINCH_TEST_OAUTH2_PROXY", OAuth2ProxyVersion, p)
	return ""
}

// StartOAuth2Proxy runs oauth2-proxy with args on 127.0.0.1:port (it adds
// --http-address; reserve the port with FreePort before configuring the
// proxy in front of it) and waits until it listens. It reaches
// Clinch as a program on another machine would, by name and over TLS: it
// runs in a private mount namespace (unshare -m) where /etc/hosts maps
// every name in names to 127.0.0.1, and trusts only caFile
// (SSL_CERT_FILE, Caddy's root). Nothing outside its process sees either.
func StartOAuth2Proxy(t testing.TB, port int, caFile string, names []string, args ...string) {
	t.Helper()
	bin := OAuth2Proxy(t)
	unshare := NeedTool(t, "unshare")
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	content := "127.0.0.1 localhost\n::1 localhost\n127.0.0.1 " + strings.Join(names, " ") + "\n"
	if err := os.WriteFile(hosts, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// unshare makes the mount namespace private (its default propagation),
	// so the bind mount never reaches the machine's /etc/hosts; exec
	// keeps one process to signal.
	script := `mount --bind "$1" /etc/hosts && shift && exec "$@"`
	flags := []string{"-m"}
	if os.Geteuid() != 0 {
		// Without root, a user namespace (where we are root) allows the
		// mount namespace and the bind mount.
		flags = []string{"-r", "-m"}
	}
	cmdArgs := append(append(flags, "sh", "-c", script, "sh", hosts, bin, "--http-address="+addr), args...)
	cmd := exec.Command(unshare, cmdArgs...)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+caFile, "SSL_CERT_DIR="+dir)
	RunPeer(t, "oauth2-proxy", cmd, port)
}
