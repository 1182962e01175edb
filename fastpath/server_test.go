package fastpath

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// echo answers with what it was asked, so two servers can be compared.
func echo(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s host=%q close=%v body=%v\n", r.Method, r.RequestURI, r.URL.Path+"?"+r.URL.RawQuery, r.Host, r.Close, r.Body != nil)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, r.Header[k])
	}
	h := w.Header()
	h["Remote-User"] = []string{"ann"}
	h["X-Evil"] = []string{"a\r\nInjected: 1"}
	h["Cache-Control"] = []string{"no-store"}
	status := http.StatusOK
	if r.URL.Query().Get("status") == "302" {
		h["Location"] = []string{"https://auth.example.com/signin?rd=x"}
		status = http.StatusFound
	}
	if r.URL.Query().Get("empty") != "" {
		w.WriteHeader(status)
		return
	}
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	w.WriteHeader(status)
	io.WriteString(w, b.String())
}

// servers starts net/http alone and the fast path in front of net/http,
// both with echo; the fast path's answers carry X-Fast.
func servers(t *testing.T, configure ...func(*http.Server)) (plain, fast string, s *Server) {
	t.Helper()
	hs := &http.Server{Handler: http.HandlerFunc(echo), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln1)
	t.Cleanup(func() { hs.Close() })

	s = &Server{
		Path: "/api/verify",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["X-Fast"] = []string{"1"}
			echo(w, r)
		}),
		HTTP: &http.Server{Handler: http.HandlerFunc(echo), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second},
	}
	for _, f := range configure {
		f(s.HTTP)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln2) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln1.Addr().String(), ln2.Addr().String(), s
}

// answer is a response reduced to what the comparison looks at.
type answer struct {
	status int
	header http.Header
	body   string
	closed bool // the server closed the connection after it
}

// exchange sends raw on a new connection and reads n responses.
func exchange(t *testing.T, addr, raw string, n int) []answer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []answer
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d of %q: %v", len(out)+1, raw, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, answer{status: resp.StatusCode, header: resp.Header, body: string(body)})
	}
	c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := br.ReadByte(); err == io.EOF {
		out[len(out)-1].closed = true
	}
	return out
}

const get = "GET /api/verify HTTP/1.1\r\nHost: clinch.example.com\r\n"

// TestServer_AnswersLikeNetHTTP sends each request to net/http alone and
// to the fast path: the answers must be the same, and only the simple
// requests for the path may be answered by the fast path itself.
func TestServer_AnswersLikeNetHTTP(t *testing.T) {
	plain, fast, _ := servers(t)
	tests := []struct {
		name     string
		raw      string
		wantFast bool
	}{
		{"simple", get + "Cookie: clinch_session=cs_x\r\nX-Forwarded-Host: app.example.com\r\n\r\n", true},
		{"query", "GET /api/verify?rd=https%3A%2F%2Fa.example.com%2F HTTP/1.1\r\nHost: c\r\n\r\n", true},
		{"redirect answer", "GET /api/verify?status=302&empty=1 HTTP/1.1\r\nHost: c\r\n\r\n", true},
		{"empty 200", "GET /api/verify?empty=1 HTTP/1.1\r\nHost: c\r\n\r\n", true},
		{"lowercase names and padding", "GET /api/verify HTTP/1.1\r\nhost: c\r\ncookie:   a=b  \r\nx-forwarded-uri:/p?q=1\r\n\r\n", true},
		{"repeated header", get + "Cookie: a=1\r\nCookie: b=2\r\n\r\n", true},
		{"content-length 0", get + "Content-Length: 0\r\n\r\n", true},
		{"connection close", get + "Connection: close\r\n\r\n", true},
		{"close on the first of two Connection lines", get + "Connection: close\r\nConnection: keep-alive\r\n\r\n", true},
		{"host with sub-delims", "GET /api/verify HTTP/1.1\r\nHost: a!b$c\r\n\r\n", true},
		{"HTTP/1.0", "GET /api/verify HTTP/1.0\r\n\r\n", true},
		{"HTTP/1.0 keep-alive", "GET /api/verify HTTP/1.0\r\nConnection: keep-alive\r\nHost: c\r\n\r\n", true},
		{"obs-text value", get + "X-Name: caf\xc3\xa9\r\n\r\n", true},
		{"other path", "GET /api/verifyx HTTP/1.1\r\nHost: c\r\n\r\n", false},
		{"sub path", "GET /api/verify/ HTTP/1.1\r\nHost: c\r\n\r\n", false},
		{"encoded path", "GET /api/verif%79 HTTP/1.1\r\nHost: c\r\n\r\n", false},
		{"absolute form", "GET http://c/api/verify HTTP/1.1\r\nHost: c\r\n\r\n", false},
		{"fragment", "GET /api/verify#x HTTP/1.1\r\nHost: c\r\n\r\n", false},
		{"POST with a body", "POST /api/verify HTTP/1.1\r\nHost: c\r\nContent-Length: 3\r\n\r\nabc", false},
		{"HEAD", "HEAD /api/verify HTTP/1.1\r\nHost: c\r\n\r\n", false},
		{"GET with a body", get + "Content-Length: 3\r\n\r\nabc", false},
		{"two lengths", get + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n", false},
		{"chunked", get + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
		{"expect", get + "Expect: 100-continue\r\n\r\n", false},
		{"upgrade", get + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", false},
		{"no host", "GET /api/verify HTTP/1.1\r\nCookie: a=b\r\n\r\n", false},
		{"two hosts", get + "Host: other.example.com\r\n\r\n", false},
		{"bad host", "GET /api/verify HTTP/1.1\r\nHost: c d\r\n\r\n", false},
		{"space before colon", get + "Cookie : a=b\r\n\r\n", false},
		{"folded line", get + "Cookie: a=b\r\n c=d\r\n\r\n", false},
		{"bare LF inside", get + "Cookie: a=b\nX-Injected: 1\r\n\r\n", false},
		{"NUL in value", get + "Cookie: a\x00b\r\n\r\n", false},
		{"HTTP/2 preface-like", "GET /api/verify HTTP/2.0\r\nHost: c\r\n\r\n", false},
		{"double space", "GET  /api/verify HTTP/1.1\r\nHost: c\r\n\r\n", false},
		{"head larger than the buffer", get + "Cookie: " + strings.Repeat("a", bufSize) + "\r\n\r\n", false},
		{"too many header lines", get + strings.Repeat("X-A: 1\r\n", maxHeaders+1) + "\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := exchange(t, plain, tt.raw, 1)[0]
			got := exchange(t, fast, tt.raw, 1)[0]
			if isFast := got.header.Get("X-Fast") == "1"; isFast != tt.wantFast {
				t.Errorf("answered by the fast path: %v, want %v", isFast, tt.wantFast)
			}
			if got.status != want.status || got.body != want.body {
				t.Errorf("fast path: %d %q\nnet/http:  %d %q", got.status, got.body, want.status, want.body)
			}
			for _, h := range []string{"Remote-User", "X-Evil", "Cache-Control", "Location", "Content-Type", "Content-Length"} {
				if g, w := got.header.Values(h), want.header.Values(h); !slices.Equal(g, w) {
					t.Errorf("%s: fast path %q, net/http %q", h, g, w)
				}
			}
			if tt.wantFast && got.header.Get("Date") == "" {
				t.Error("no Date")
			}
			if got.closed != want.closed {
				t.Errorf("connection closed after it: fast path %v, net/http %v", got.closed, want.closed)
			}
		})
	}
}

// One connection that goes from the fast path to net/http mid-way gets
// every answer, in order: pipelined requests included.
func TestServer_HandsOverMidConnection(t *testing.T) {
	_, fast, _ := servers(t)
	raw := get + "X-N: 1\r\n\r\n" +
		get + "X-N: 2\r\n\r\n" +
		"GET /other HTTP/1.1\r\nHost: c\r\nX-N: 3\r\n\r\n" +
		get + "X-N: 4\r\n\r\n"
	got := exchange(t, fast, raw, 4)
	for i, a := range got {
		if !strings.Contains(a.body, fmt.Sprintf("X-N=[\"%d\"]", i+1)) {
			t.Errorf("answer %d is for another request: %q", i+1, a.body)
		}
		wantFast := i < 2
		if (a.header.Get("X-Fast") == "1") != wantFast {
			t.Errorf("answer %d by the fast path: %v, want %v", i+1, !wantFast, wantFast)
		}
	}
}

// Requests sent one after another on a kept-alive connection, each waited
// for, are all answered by the fast path.
func TestServer_KeepAlive(t *testing.T) {
	_, fast, _ := servers(t)
	c, err := net.Dial("tcp", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 50 {
		if _, err := io.WriteString(c, get+"\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.Header.Get("X-Fast") != "1" || resp.StatusCode != 200 {
			t.Fatalf("request %d: %d fast=%q", i, resp.StatusCode, resp.Header.Get("X-Fast"))
		}
	}
}

// Shutdown closes idle connections at once, and Serve returns
// ErrServerClosed (checked in servers' cleanup).
func TestServer_ShutdownClosesIdleConnections(t *testing.T) {
	_, fast, s := servers(t)
	c, err := net.Dial("tcp", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	io.WriteString(c, get+"\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("idle connection after Shutdown: %v, want EOF", err)
	}
	if _, err := net.DialTimeout("tcp", fast, time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// A client that stops sending in the middle of a head is cut off at the
// header timeout, as net/http would.
func TestServer_SlowHeadIsCutOff(t *testing.T) {
	_, fast, _ := servers(t, func(h *http.Server) { h.ReadHeaderTimeout = 200 * time.Millisecond })
	c, err := net.Dial("tcp", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /api/verify HTTP/1.1\r\nHost: c\r\n")
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after a stalled head: %v, want the connection closed", err)
	}
}

// FuzzParse checks the parser against net/http's: whatever it takes,
// http.ReadRequest takes too, ending at the same byte, with the same
// target, host, headers and connection handling.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		get + "Cookie: clinch_session=cs_x\r\n\r\n",
		"GET /api/verify?x=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		get + "Content-Length: 0\r\nCookie: a\r\ncookie: b\r\n\r\n",
		get + "X: caf\xc3\xa9 \t\r\n\r\nGET /api/verify HTTP/1.1\r\n",
		get + "Connection: close, x\r\n\r\n",
		get + "Connection: close\r\nConnection: keep-alive\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		i := bytes.Index(data, headEnd)
		if i < 0 {
			return
		}
		head := data[:i+len(headEnd)]
		req, ok := parse(head, "/api/verify")
		if !ok {
			return
		}
		br := bufio.NewReaderSize(bytes.NewReader(data), len(data)+16)
		r, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("parse took %q, net/http refuses it: %v", head, err)
		}
		if used := len(data) - br.Buffered(); used != len(head) {
			t.Fatalf("parse ends at %d, net/http at %d: %q", len(head), used, data)
		}
		if r.Method != http.MethodGet || r.RequestURI != req.target || r.Host != req.host || r.Close == req.keepAlive {
			t.Fatalf("net/http: %s %q host %q close %v; parse: %q host %q keep-alive %v",
				r.Method, r.RequestURI, r.Host, r.Close, req.target, req.host, req.keepAlive)
		}
		if r.ContentLength > 0 || len(r.TransferEncoding) > 0 {
			t.Fatalf("net/http sees a body in %q", head)
		}
		for k, v := range r.Header {
			if !slices.Equal(req.header[k], v) {
				t.Fatalf("%s: net/http %q, parse %q", k, v, req.header[k])
			}
		}
		for k := range req.header {
			if _, ok := r.Header[k]; !ok {
				t.Fatalf("parse has %s, net/http does not", k)
			}
		}
	})
}

// A new connection that sends nothing is closed at the header timeout,
// not kept for the idle timeout.
func TestServer_SilentNewConnectionIsCutOff(t *testing.T) {
	_, fast, _ := servers(t, func(h *http.Server) { h.ReadHeaderTimeout = 200 * time.Millisecond }) // IdleTimeout stays 5 s
	c, err := net.Dial("tcp", fast)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Before the idle timeout: a read that times out here means the
	// connection was kept.
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("silent connection: %v, want it closed", err)
	}
}
