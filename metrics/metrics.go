// Package metrics holds Clinch's Prometheus registry, the HTTP middleware
// that counts requests by route pattern, and the collectors the pages need.
// Other modules register their own collectors (named clinch_*) on Registry.
package metrics

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sign-in results, the values of clinch_signins_total's result label.
const (
	SigninSuccess     = "success"
	SigninInvalid     = "invalid"
	SigninRateLimited = "rate_limited"
	SigninError       = "error"
)

// Unmatched is the route label of requests no pattern matched.
const Unmatched = "unmatched"

// Metrics is the registry and Clinch's own collectors.
type Metrics struct {
	Registry *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	signins  *prometheus.CounterVec
	audit    *prometheus.CounterVec
	active   atomic.Pointer[func() float64]
}

// New returns a registry with the Go and process collectors and Clinch's
// HTTP, sign-in and session metrics.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clinch_http_requests_total",
		Help: "HTTP requests by route pattern and status code.",
	}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "clinch_http_request_duration_seconds",
		Help:    "HTTP request duration by route pattern.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	m.signins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clinch_signins_total",
		Help: "Password sign-in attempts by result.",
	}, []string{"result"})
	for _, r := range []string{SigninSuccess, SigninInvalid, SigninRateLimited, SigninError} {
		m.signins.WithLabelValues(r) // show zeroes before the first attempt
	}
	m.audit = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "clinch_audit_events_total",
		Help: "Audit events recorded, by kind.",
	}, []string{"kind"})
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "clinch_active_sessions",
		Help: "Sessions that have not expired or been ended.",
	}, func() float64 {
		if fn := m.active.Load(); fn != nil {
			return (*fn)()
		}
		return 0
	})
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.duration, m.signins, m.audit, active,
	)
	return m
}

// SetActiveSessions gives the clinch_active_sessions gauge its source; it
// is called on each scrape.
func (m *Metrics) SetActiveSessions(fn func() float64) { m.active.Store(&fn) }

// SignIn counts one sign-in attempt with a Signin* result.
func (m *Metrics) SignIn(result string) { m.signins.WithLabelValues(result).Inc() }

// AuditEvent counts one recorded audit event of the kind.
func (m *Metrics) AuditEvent(kind string) { m.audit.WithLabelValues(kind).Inc() }

// AuditKinds makes every kind show a zero before its first event, so a
// rate() over it works from the start.
func (m *Metrics) AuditKinds(kinds ...string) {
	for _, k := range kinds {
		m.audit.WithLabelValues(k)
	}
}

// Handler serves the registry in the Prometheus text format (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Middleware counts requests and their duration by the ServeMux pattern
// that served them. ServeMux writes the pattern into the *http.Request it
// was given (r.Pattern), so this must wrap the mux with no middleware in
// between that replaces the request (r.WithContext): put it last in
// web.Chain. Requests no pattern matched are labelled "unmatched".
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &recorder{ResponseWriter: w}
		defer func() {
			code := rw.code
			v := recover()
			if v != nil && !rw.wrote {
				code = http.StatusInternalServerError
			}
			if code == 0 {
				code = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = Unmatched
			}
			m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
			if v != nil {
				panic(v) // for web.Recover, outside us
			}
		}()
		next.ServeHTTP(rw, r)
	})
}

// recorder remembers the status code.
type recorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote && code >= 200 {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.code, r.wrote = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush passes through for streaming handlers.
func (r *recorder) Flush() {
	if !r.wrote {
		r.code, r.wrote = http.StatusOK, true
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Hijack passes through for the rare handler that needs it.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := r.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, errors.ErrUnsupported
}
