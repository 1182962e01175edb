package e2e

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clinchsso/clinch/testing/harness"
)

// /metrics on the main port is public wherever Clinch is: anyone learns
// sign-in failure counts, session counts and request rates. With
// CLINCH_METRICS_LISTEN set, the metrics move to that address alone and
// the main port answers 404 for them.
func TestMetrics_OffMainPortWhenListenSet(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))
	srv := harness.Start(t, harness.Options{Env: map[string]string{"CLINCH_METRICS_LISTEN": addr}})
	c := harness.NewClient()
	harness.Get(t, c, srv.URL+"/signin")

	resp, body := harness.Get(t, c, srv.URL+"/metrics")
	if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "clinch_") {
		t.Errorf("GET /metrics on the main port: %s, want 404 without metrics\n%.300s", resp.Status, body)
	}
	resp, body = harness.Get(t, c, "http://"+addr+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics on %s: %s", addr, resp.Status)
	}
	// The main port's traffic is what it counts.
	for _, want := range []string{`route="GET /signin"`, "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics on %s has no %s\n%s", addr, want, body)
		}
	}
	// The metrics address serves the metrics and nothing else.
	for _, p := range []string{"/", "/signin", "/healthz", "/api/verify"} {
		if resp, _ := harness.Get(t, c, "http://"+addr+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on the metrics address: %s, want 404", p, resp.Status)
		}
	}
	if !strings.Contains(srv.Log(t), addr) {
		t.Errorf("the log does not say where the metrics are served")
	}

	// A bad address is a configuration error like any other.
	o := harness.Prepare(t, harness.Options{
		DataDir: filepath.Join(t.TempDir(), "data"),
		Env:     map[string]string{"CLINCH_METRICS_LISTEN": "nowhere"},
	})
	if _, errOut, code := harness.CLI(t, o, "", "serve"); code != 1 || !strings.Contains(errOut, "CLINCH_METRICS_LISTEN") {
		t.Errorf("CLINCH_METRICS_LISTEN=nowhere: exit %d, want 1 naming it\n%s", code, errOut)
	}
}
