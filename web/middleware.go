package web

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
)

// Chain wraps h in mws, the first one outermost: Chain(h, a, b) is a(b(h)).
func Chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// ErrorFunc renders an error page; ui.Handler.RenderError has this shape.
// Middleware that refuses a request calls it so the refusal looks like the
// rest of the site.
type ErrorFunc func(w http.ResponseWriter, r *http.Request, status int, title, message string)

// plainError is the ErrorFunc used when none is given.
func plainError(w http.ResponseWriter, _ *http.Request, status int, title, message string) {
	http.Error(w, title+": "+message, status)
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyCSRF
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

// RequestID gives each request an id: a sane one from a proxy's
// X-Request-Id is kept so logs line up across hops, otherwise a random one.
// The id is echoed in the response and available through RequestIDFrom and
// Logger.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

// validRequestID accepts short ids of URL-safe characters, so a client
// cannot put line breaks or megabytes into our logs.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// RequestIDFrom returns the request id in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// Logger returns l with the request's id attached, for log lines about r.
func Logger(r *http.Request, l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	if id := RequestIDFrom(r.Context()); id != "" {
		return l.With("request_id", id)
	}
	return l
}

// ContextLogger is Logger for code that has the request's context but not
// the request.
func ContextLogger(ctx context.Context, l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	if id := RequestIDFrom(ctx); id != "" {
		return l.With("request_id", id)
	}
	return l
}

// Recover turns a panic in a handler into a 500 page and a log line with
// the stack. It logs method and path only: queries, headers and cookies may
// carry tokens. fail may be nil (plain text).
func Recover(log *slog.Logger, fail ErrorFunc) func(http.Handler) http.Handler {
	if fail == nil {
		fail = plainError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v) // net/http's way to abort a response silently
				}
				Logger(r, log).Error("panic in handler",
					"method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if !sw.wrote {
					sw.Header().Del("Set-Cookie")
					fail(sw, r, http.StatusInternalServerError, "Something went wrong",
						"The server hit an unexpected error. Please try again.")
				}
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// statusWriter remembers whether the response has started.
type statusWriter struct {
	http.ResponseWriter
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		s.wrote = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush and friends.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush keeps streaming handlers working through the wrapper.
func (s *statusWriter) Flush() {
	s.wrote = true
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Hijack passes through for the rare handler that needs it.
func (s *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := s.ResponseWriter.(http.Hijacker); ok {
		s.wrote = true
		return h.Hijack()
	}
	return nil, nil, errors.ErrUnsupported
}
