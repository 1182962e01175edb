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
	o = Prepare(t, o)
	port := FreePort(t)
	s := &Server{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port:    port,
		URL:     "http://" + net.JoinHostPort(host, strconv.Itoa(port)),
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
