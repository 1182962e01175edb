package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// SocketName is the control socket's file name in the data directory.
const SocketName = "control.sock"

// SocketPath is where the control socket of the data directory lives.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

type execRequest struct {
	Args  []string `json:"args"`
	Stdin []byte   `json:"stdin,omitempty"`
}

type execResponse struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Exit   int    `json:"exit"`
}

// Listen opens the control socket with mode 0600. Call it only while holding
// the store (the Badger directory lock), so a stale socket left by a killed
// server can be replaced safely.
func Listen(dataDir string) (net.Listener, error) {
	p := SocketPath(dataDir)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control: remove stale socket: %w", err)
	}
	// The umask is process-wide; instead of changing it, the socket is
	// chmod'ed right after bind, and the data directory itself is 0700, so
	// nobody else can reach it in between.
	ln, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("control: listen: %w", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: chmod socket: %w", err)
	}
	return ln, nil
}

// Server answers admin commands on the control socket.
type Server struct {
	Env    *Env
	Backup func(ctx context.Context, w io.Writer) error
	Logger *slog.Logger
}

// Serve answers on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/exec", s.exec)
	mux.HandleFunc("GET /v1/backup", s.backup)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	var req execRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 2*MaxInputFile)).Decode(&req); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	env := *s.Env
	env.Stdin = req.Stdin
	var resp execResponse
	resp.Stdout, resp.Stderr, resp.Exit = Exec(r.Context(), &env, req.Args)
	if s.Logger != nil {
		// The command name only: arguments may carry emails, never secrets,
		// but keep the line short.
		if cmd, _, ok := Find(req.Args); ok {
			s.Logger.Info("admin command", "command", cmd.Name, "exit", resp.Exit)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := s.Backup(r.Context(), w); err != nil {
		// Headers are gone; abort the stream so the client sees a broken
		// body rather than a truncated file that looks whole.
		panic(http.ErrAbortHandler)
	}
}

// Client talks to a running server's control socket.
type Client struct {
	http *http.Client
}

// ErrNoServer means no server answers on the data directory's socket.
var ErrNoServer = errors.New("control: no server is running on this data directory")

// Dial connects to the control socket of dataDir, or returns ErrNoServer.
func Dial(ctx context.Context, dataDir string) (*Client, error) {
	p := SocketPath(dataDir)
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, "unix", p)
	if err != nil {
		return nil, ErrNoServer
	}
	conn.Close()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", p)
		},
	}
	return &Client{http: &http.Client{Transport: tr}}, nil
}

// Exec runs a command in the server.
func (c *Client) Exec(ctx context.Context, args []string, stdin []byte) (stdout, stderr string, exit int, err error) {
	body, _ := json.Marshal(execRequest{Args: args, Stdin: stdin})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://clinch/v1/exec", bytes.NewReader(body))
	if err != nil {
		return "", "", 1, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", "", 1, fmt.Errorf("control: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", 1, fmt.Errorf("control: server answered %s", resp.Status)
	}
	var r execResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return "", "", 1, fmt.Errorf("control: %w", err)
	}
	return r.Stdout, r.Stderr, r.Exit, nil
}

// Backup streams a backup from the server into w.
func (c *Client) Backup(ctx context.Context, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://clinch/v1/backup", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("control: server answered %s", resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("control: backup stream broken: %w", err)
	}
	return nil
}
