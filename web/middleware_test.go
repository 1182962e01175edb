package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "h") }), mw("a"), mw("b"), mw("c"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got := strings.Join(order, ""); got != "abch" {
		t.Errorf("order %q, want abch", got)
	}
}

func TestRequestID(t *testing.T) {
	var seen string
	var logged bytes.Buffer
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestIDFrom(r.Context())
		Logger(r, slog.New(slog.NewTextHandler(&logged, nil))).Info("hello")
	}))
	tests := []struct {
		in   string
		keep bool
	}{{"", false}, {"abc-123", true}, {"bad\nid", false}, {strings.Repeat("a", 65), false}}
	for _, tt := range tests {
		logged.Reset()
		req := httptest.NewRequest("GET", "/", nil)
		if tt.in != "" {
			req.Header.Set(RequestIDHeader, tt.in)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		out := rec.Header().Get(RequestIDHeader)
		if out == "" || out != seen {
			t.Errorf("in %q: header %q, context %q", tt.in, out, seen)
		}
		if (out == tt.in) != tt.keep {
			t.Errorf("in %q: got %q, keep=%v", tt.in, out, tt.keep)
		}
		if !strings.Contains(logged.String(), "request_id="+out) {
			t.Errorf("log line lacks the id: %s", logged.String())
		}
	}
}

func TestRecover(t *testing.T) {
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	h := RequestID(Recover(log, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("boom")
	})))
	req := httptest.NewRequest("GET", "/boom?fa_token=cfa_secretvalue", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: "cs_secretcookie"})
	req.Header.Set("Authorization", "Bearer cak_secretkey")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 500 {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	out := logged.String()
	for _, want := range []string{"boom", "goroutine", "path=/boom", "request_id="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q: %s", want, out)
		}
	}
	for _, secret := range []string{"cfa_secretvalue", "cs_secretcookie", "cak_secretkey"} {
		if strings.Contains(out, secret) {
			t.Errorf("log leaks %s", secret)
		}
	}
}

func TestRecover_AfterWriteKeepsStatus(t *testing.T) {
	h := Recover(nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusAccepted {
		t.Errorf("status %d, want the already written 202", rec.Code)
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, tt := range []struct {
		host     string
		forceSSL bool
		hsts     bool
	}{
		{"http://localhost:3000", false, false},
		{"http://192.0.2.2:3000", false, false},
		{"https://auth.example.com", false, true},
		// FORCE_SSL: TLS ends at a proxy in front, which Clinch cannot see.
		{"http://auth.example.com", true, true},
	} {
		u, err := url.Parse(tt.host)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		SecurityHeaders(NewSite(u, "", tt.forceSSL))(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		h := rec.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows inline: %q", csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") == "" {
			t.Errorf("headers %v", h)
		}
		if got := h.Get("Strict-Transport-Security"); (got != "") != tt.hsts || tt.hsts && got != "max-age=31536000; includeSubDomains" {
			t.Errorf("%s FORCE_SSL=%v: HSTS %q, want it: %v", tt.host, tt.forceSSL, got, tt.hsts)
		}
	}
}

func TestCSP_FormActionExtraOrigins(t *testing.T) {
	csp := CSP("https://app.example.com", "https://x.example; script-src *")
	if !strings.Contains(csp, "form-action 'self' https://app.example.com;") {
		t.Errorf("CSP %q", csp)
	}
	if strings.Contains(csp, "script-src *") {
		t.Errorf("CSP accepted an injected directive: %q", csp)
	}
}
