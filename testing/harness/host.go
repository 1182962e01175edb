package harness

import (
	"net"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// StartHost is Start with CLINCH_HOST http://HOST:PORT instead of
// http://localhost:PORT: suites that need Clinch on a name sharing a cookie
// domain with proxied apps (auth.clinch.localhost beside
// app.clinch.localhost) use it. Their client must dial 127.0.0.1 for that
// name, since Go's resolver does not map *.localhost to loopback.
func StartHost(t testing.TB, o Options, host string) *Server {
	t.Helper()
	port := FreePort(t)
	return startAt(t, o, port, "http://"+net.JoinHostPort(host, strconv.Itoa(port)))
}

// StartBehind starts clinch on a free loopback port with CLINCH_HOST set to
// publicURL, the address people reach it at through a reverse proxy (for
// example https://auth.clinch.test:8443 served by Caddy). srv.URL is then
// publicURL and srv.Addr the direct address the proxy forwards to. The
// caller sets CLINCH_TRUSTED_PROXIES in o.Env when the proxy's
// X-Forwarded-* headers must be believed.
func StartBehind(t testing.TB, o Options, publicURL string) *Server {
	t.Helper()
	return startAt(t, o, FreePort(t), publicURL)
}

func startAt(t testing.TB, o Options, port int, publicURL string) *Server {
	t.Helper()
	o = Prepare(t, o)
	s := &Server{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port:    port,
		URL:     publicURL,
		DataDir: o.DataDir,
		LogPath: filepath.Join(t.TempDir(), "clinch.log"),
		opts:    o,
	}
	t.Cleanup(func() {
		s.stop(syscall.SIGTERM)
		if t.Failed() {
			s.DumpLog(t)
		}
	})
	s.start(t)
	return s
}
