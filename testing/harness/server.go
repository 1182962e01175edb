package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the harness. Generous because two cores are shared by the
// compiler, the server, the peers and the tests.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 15 * time.Second
	cliTimeout   = 60 * time.Second
)

// Server is a running clinch server.
type Server struct {
	// URL is its CLINCH_HOST: http://localhost:PORT from Start (localhost,
	// not 127.0.0.1, so cookies and WebAuthn behave as for a user), or the
	// public URL given to StartHost or StartBehind.
	URL string
	// Addr is the listen address, 127.0.0.1:PORT.
	Addr string
	// Port is the TCP port.
	Port int
	// DataDir is CLINCH_DATA_DIR.
	DataDir string
	// LogPath is the file the server's stdout and stderr go to.
	LogPath string

	opts Options
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has been waited for
	log  *os.File
}

// Start prepares o (see Prepare), starts `clinch serve` on a free loopback
// port and waits until /readyz answers 200. The server is stopped when the
// test ends; its log is printed if the test failed.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	return StartHost(t, o, "localhost")
}

// Options returns the prepared options the server runs with (data dir,
// secret), for running the CLI against the same installation after Stop.
func (s *Server) Options() Options { return s.opts }

// Env returns the environment the server runs with.
func (s *Server) Env() []string {
	return environ(s.opts, map[string]string{
		"CLINCH_LISTEN": s.Addr,
		"CLINCH_HOST":   s.URL,
	})
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	bin := Binary(t)
	lf, err := os.OpenFile(s.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(lf, "--- harness: starting %s serve %s\n", bin, strings.Join(s.opts.Args, " "))
	cmd := exec.Command(bin, append([]string{"serve"}, s.opts.Args...)...)
	cmd.Env = s.Env()
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("harness: start clinch: %v", err)
	}
	s.cmd, s.log, s.done = cmd, lf, make(chan struct{})
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(readyTimeout); err != nil {
		s.stop(syscall.SIGKILL)
		t.Fatalf("harness: clinch did not become ready: %v", err) // the cleanup prints the log
	}
}

func (s *Server) waitReady(timeout time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("the process exited: %v", s.cmd.ProcessState)
		default:
		}
		resp, err := c.Get("http://" + s.Addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz answered %s", resp.Status)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no 200 from /readyz within %v (last: %v)", timeout, last)
}

// stop signals the process and waits for it; after stopTimeout it kills it.
func (s *Server) stop(sig syscall.Signal) (exited bool) {
	if s.cmd == nil {
		return true
	}
	defer func() {
		s.log.Close()
		s.cmd = nil
	}()
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
		return true
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.done
		return false
	}
}

// Stop sends SIGTERM and waits for the server to exit; a server that does
// not exit in time is killed and the test fails.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	ps := s.cmd
	if !s.stop(syscall.SIGTERM) {
		t.Errorf("harness: clinch did not exit within %v of SIGTERM; killed", stopTimeout)
		return
	}
	if !ps.ProcessState.Success() {
		t.Errorf("harness: clinch exited with %v after SIGTERM", ps.ProcessState)
	}
}

// Kill sends SIGKILL and waits: a crash, with no chance to flush anything.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.stop(syscall.SIGKILL)
}

// Running reports whether the server process is running.
func (s *Server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Restart stops the server (SIGTERM) if it runs and starts it again on the
// same port, data directory and environment.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.start(t)
}

// DumpLog prints the server's log to the test log.
func (s *Server) DumpLog(t testing.TB) {
	t.Helper()
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Logf("harness: no server log: %v", err)
		return
	}
	t.Logf("harness: server log (%s):\n%s", s.LogPath, b)
}

// Log returns the server's log so far.
func (s *Server) Log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// CLI runs `clinch args...` with the server's environment, so it talks to
// this server through the control socket in its data directory (or opens
// the store itself when the server is stopped).
func (s *Server) CLI(t testing.TB, stdin string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	return run(t, s.Env(), stdin, args)
}

// CLI runs `clinch args...` against the installation o (prepared with
// Prepare) without a server of the harness.
func CLI(t testing.TB, o Options, stdin string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	return run(t, environ(o, nil), stdin, args)
}

func run(t testing.TB, env []string, stdin string, args []string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case ctx.Err() != nil:
		t.Fatalf("harness: clinch %s did not finish within %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), cliTimeout, out.String(), errb.String())
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	default:
		t.Fatalf("harness: run clinch %s: %v", strings.Join(args, " "), err)
	}
	return "", "", -1
}

// MustCLI is CLI that fails the test unless the command exits 0, and
// returns its stdout.
func (s *Server) MustCLI(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	out, errOut, code := s.CLI(t, stdin, args...)
	if code != 0 {
		t.Fatalf("clinch %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}
