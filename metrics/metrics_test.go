package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape status %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMiddleware_CountsByPattern(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hi")) })
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) })
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	h := m.Middleware(mux)
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/users/1", nil),
		httptest.NewRequest("GET", "/users/2", nil),
		httptest.NewRequest("POST", "/signin", nil),
		httptest.NewRequest("GET", "/nope", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed; web.Recover must see it")
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/boom", nil))
	}()
	out := scrape(t, m)
	for _, want := range []string{
		`clinch_http_requests_total{code="200",route="GET /users/{id}"} 2`,
		`clinch_http_requests_total{code="401",route="POST /signin"} 1`,
		`clinch_http_requests_total{code="404",route="unmatched"} 1`,
		`clinch_http_requests_total{code="500",route="GET /boom"} 1`,
		`clinch_http_request_duration_seconds_count{route="GET /users/{id}"} 2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	if strings.Contains(out, "/users/1") {
		t.Error("raw paths leaked into labels")
	}
}

func TestRegistry_HasGoProcessSigninsAndSessions(t *testing.T) {
	m := New()
	m.SignIn(SigninSuccess)
	m.SignIn(SigninRateLimited)
	m.SignIn(SigninRateLimited)
	m.SetActiveSessions(func() float64 { return 7 })
	out := scrape(t, m)
	for _, want := range []string{
		"go_goroutines", "process_resident_memory_bytes",
		`clinch_signins_total{result="success"} 1`,
		`clinch_signins_total{result="rate_limited"} 2`,
		`clinch_signins_total{result="invalid"} 0`,
		"clinch_active_sessions 7",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

func TestAuditEvents_CountedByKind(t *testing.T) {
	m := New()
	m.AuditKinds("signin", "signin.failed", "user.updated")
	m.AuditEvent("signin.failed")
	m.AuditEvent("signin.failed")
	m.AuditEvent("signin")
	out := scrape(t, m)
	for _, want := range []string{
		`clinch_audit_events_total{kind="signin"} 1`,
		`clinch_audit_events_total{kind="signin.failed"} 2`,
		`clinch_audit_events_total{kind="user.updated"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}
