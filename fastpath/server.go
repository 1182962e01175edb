// Package fastpath answers one hot path on plain HTTP/1.1 connections
// itself and hands everything else to a net/http server.
//
// Clinch's /api/verify is asked by a reverse proxy before every request
// to every protected app. Through net/http each answer pays for what the
// check never uses: a goroutine that watches the connection while the
// handler runs, a context per request, four deadline changes, the
// response header copied and sorted. Measured with one live session, that
// machinery, not the check, kept verify at about 0.74 of an empty
// net/http handler's throughput (testing/load).
//
// A Server accepts the connections. While a connection sends only simple
// GET requests for Path, it answers them in a loop of its own: read the
// head, build the *http.Request the handler expects, let the handler
// write into a small buffer, write the response. The parser takes a
// strict subset of HTTP/1.1 (see parse); at the first request it does not
// take, for any reason, the connection goes to the net/http server as it
// is, with what was read of it replayed first, and stays there. net/http
// then answers that request by its own rules, so the fast path adds no
// way to read a request that net/http would not.
package fastpath

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Server is the fast path in front of an http.Server.
type Server struct {
	// Path is answered here, by Handler; it must not end in "/".
	Path    string
	Handler http.Handler
	// HTTP serves the connections handed over. Its timeouts apply to them;
	// ReadHeaderTimeout, IdleTimeout and WriteTimeout apply here too.
	HTTP   *http.Server
	Logger *slog.Logger

	mu       sync.Mutex
	ln       net.Listener
	handoff  *handoff
	conns    map[*conn]struct{}
	shutting atomic.Bool
	ctx      context.Context
	cancel   context.CancelFunc
	date     dateCache
}

// bufSize is each connection's read buffer; a request head that does not
// fit goes to net/http (whose limit is larger).
const bufSize = 8 << 10

// Serve accepts connections on ln until Shutdown; it returns
// http.ErrServerClosed then.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.handoff = newHandoff(ln.Addr())
	s.conns = map[*conn]struct{}{}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.Unlock()
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.HTTP.Serve(s.handoff) }()
	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				<-httpDone
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors and the like: wait, as net/http does.
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				s.Logger.Warn("accept", "err", err, "retry_in", pause.String())
				time.Sleep(pause)
				continue
			}
			s.handoff.Close()
			<-httpDone
			return err
		}
		pause = 0
		c := &conn{s: s, nc: nc}
		if !s.track(c, true) {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle connections, waits for the
// requests under way, and shuts the net/http server down, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	err := s.HTTP.Shutdown(ctx)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() == 0 {
			break
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for c := range s.conns {
				c.nc.Close()
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-tick.C:
		}
	}
	if s.cancel != nil {
		s.cancel()
	}
	return err
}

// closeIdle closes the connections waiting for a request and returns how
// many connections are left.
func (s *Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.idle.Load() {
			c.nc.Close()
		}
	}
	return len(s.conns)
}

func (s *Server) track(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shutting.Load() {
			return false
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

// conn is one connection served by the fast path.
type conn struct {
	s    *Server
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	idle atomic.Bool
	w    writer
	// writeBy is the write deadline set last; it is moved at most once a
	// second, so a busy connection pays for it rarely.
	writeBy time.Time
}

func (c *conn) serve() {
	handed := false
	defer func() {
		if !handed {
			c.nc.Close()
		}
		c.s.track(c, false)
	}()
	defer func() {
		if p := recover(); p != nil {
			c.s.Logger.Error("fastpath: handler panicked; connection closed", "panic", p, "remote", c.nc.RemoteAddr().String())
		}
	}()
	c.br = bufio.NewReaderSize(c.nc, bufSize)
	c.bw = bufio.NewWriterSize(c.nc, 4<<10)
	ctx, cancel := context.WithCancel(c.s.ctx)
	defer cancel()
	remote := c.nc.RemoteAddr().String()
	srv := c.s.HTTP
	for first := true; ; first = false {
		if c.br.Buffered() == 0 {
			c.idle.Store(true)
			if c.s.shutting.Load() {
				return
			}
			// A new connection has the header timeout to send its first
			// request, as with net/http; a kept-alive one the idle timeout.
			if wait := srv.IdleTimeout; first && srv.ReadHeaderTimeout > 0 {
				c.nc.SetReadDeadline(time.Now().Add(srv.ReadHeaderTimeout))
			} else if wait > 0 {
				c.nc.SetReadDeadline(time.Now().Add(wait))
			}
			if _, err := c.br.Peek(1); err != nil {
				return
			}
			c.idle.Store(false)
		}
		if srv.ReadHeaderTimeout > 0 {
			c.nc.SetReadDeadline(time.Now().Add(srv.ReadHeaderTimeout))
		}
		head, err := c.readHead()
		if err != nil {
			return
		}
		var req request
		ok := head != nil
		if ok {
			req, ok = parse(head, c.s.Path)
		}
		if !ok {
			handed = c.handOver()
			return
		}
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, req.target, http.NoBody)
		if err != nil {
			handed = c.handOver()
			return
		}
		c.br.Discard(len(head))
		r.Header, r.Host, r.RemoteAddr, r.RequestURI = req.header, req.host, remote, req.target
		r.Close = !req.keepAlive
		if req.http10 {
			r.Proto, r.ProtoMinor = "HTTP/1.0", 0
		}
		c.w.reset()
		c.s.Handler.ServeHTTP(&c.w, r)
		closing := !req.keepAlive || c.s.shutting.Load()
		if srv.WriteTimeout > 0 {
			if now := time.Now(); now.Add(srv.WriteTimeout - time.Second).After(c.writeBy) {
				c.writeBy = now.Add(srv.WriteTimeout)
				c.nc.SetWriteDeadline(c.writeBy)
			}
		}
		c.w.writeTo(c.bw, req.http10, closing, c.s.date.get())
		// Pipelined requests are answered together.
		if c.br.Buffered() == 0 || closing {
			if err := c.bw.Flush(); err != nil {
				return
			}
		}
		if closing {
			return
		}
	}
}

// readHead returns the buffered bytes through the first blank line
// without consuming them; nil (and no error) when the head is larger than
// the buffer.
func (c *conn) readHead() ([]byte, error) {
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if i := bytes.Index(buf, headEnd); i >= 0 {
			return buf[:i+len(headEnd)], nil
		}
		if len(buf) == bufSize {
			return nil, nil
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return nil, nil
			}
			return nil, err
		}
	}
}

var headEnd = []byte("\r\n\r\n")

// handOver gives the connection, with everything read but not answered,
// to net/http.
func (c *conn) handOver() bool {
	buf, _ := c.br.Peek(c.br.Buffered())
	if err := c.bw.Flush(); err != nil {
		return false
	}
	c.nc.SetDeadline(time.Time{})
	rc := &replayConn{Conn: c.nc, pending: bytes.Clone(buf)}
	return c.s.handoff.give(rc)
}

// replayConn reads what the fast path had read before the socket.
type replayConn struct {
	net.Conn
	pending []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

// handoff is the listener net/http accepts handed-over connections from.
type handoff struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (h *handoff) give(c net.Conn) bool {
	select {
	case h.conns <- c:
		return true
	case <-h.closed:
		return false
	}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.closed:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.closed) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

// writer is the http.ResponseWriter of one fast-path request: the handler
// writes into it, and the response goes out in one piece when it returns.
type writer struct {
	h      http.Header
	status int
	body   []byte
}

func (w *writer) reset() {
	if w.h == nil {
		w.h = make(http.Header, 8)
	} else {
		clear(w.h)
	}
	w.status = 0
	w.body = w.body[:0]
}

func (w *writer) Header() http.Header { return w.h }

func (w *writer) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// writeTo writes the response: status line, Date, Content-Length, the
// handler's headers (each value stripped of control characters, as
// net/http does with line breaks), and the body.
func (w *writer) writeTo(bw *bufio.Writer, http10, closing bool, date []byte) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	if http10 {
		bw.WriteString("HTTP/1.0 ")
	} else {
		bw.WriteString("HTTP/1.1 ")
	}
	var num [3]byte
	bw.Write(strconv.AppendInt(num[:0], int64(status), 10))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(status))
	bw.WriteString("\r\nDate: ")
	bw.Write(date)
	bw.WriteString("\r\nContent-Length: ")
	var n [20]byte
	bw.Write(strconv.AppendInt(n[:0], int64(len(w.body)), 10))
	bw.WriteString("\r\n")
	switch {
	case closing:
		bw.WriteString("Connection: close\r\n")
	case http10:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	for name, vs := range w.h {
		if !httpguts.ValidHeaderFieldName(name) {
			continue
		}
		switch name {
		case "Content-Length", "Date", "Connection", "Transfer-Encoding":
			continue
		}
		for _, v := range vs {
			bw.WriteString(name)
			bw.WriteString(": ")
			writeValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	bw.Write(w.body)
}

// writeValue writes v with control characters (CR and LF among them) as
// spaces, and the ends trimmed.
func writeValue(bw *bufio.Writer, v string) {
	v = textproto.TrimString(v)
	start := 0
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			bw.WriteString(v[start:i])
			bw.WriteByte(' ')
			start = i + 1
		}
	}
	bw.WriteString(v[start:])
}

// dateCache formats the Date header once a second.
type dateCache struct {
	v atomic.Pointer[dateValue]
}

type dateValue struct {
	sec int64
	b   []byte
}

func (d *dateCache) get() []byte {
	now := time.Now()
	if v := d.v.Load(); v != nil && v.sec == now.Unix() {
		return v.b
	}
	v := &dateValue{sec: now.Unix(), b: now.UTC().AppendFormat(nil, http.TimeFormat)}
	d.v.Store(v)
	return v.b
}
