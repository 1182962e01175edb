package config

import (
	"io"
	"strings"
	"testing"
)

func TestLoad_MetricsListen(t *testing.T) {
	c, err := Load(envOf(nil), nil, io.Discard)
	if err != nil || c.MetricsListen != "" {
		t.Fatalf("default: %q, %v; want /metrics on the main port", c.MetricsListen, err)
	}
	c, err = Load(envOf(map[string]string{"CLINCH_METRICS_LISTEN": "127.0.0.1:9959"}), nil, io.Discard)
	if err != nil || c.MetricsListen != "127.0.0.1:9959" {
		t.Fatalf("env: %q, %v", c.MetricsListen, err)
	}
	c, err = Load(envOf(map[string]string{"CLINCH_METRICS_LISTEN": "127.0.0.1:9959"}), []string{"--metrics-listen", "[::1]:9960"}, io.Discard)
	if err != nil || c.MetricsListen != "[::1]:9960" {
		t.Fatalf("flag: %q, %v", c.MetricsListen, err)
	}
	if _, err := Load(envOf(map[string]string{"CLINCH_METRICS_LISTEN": "9959"}), nil, io.Discard); err == nil || !strings.Contains(err.Error(), "CLINCH_METRICS_LISTEN") {
		t.Fatalf("a bad address: %v", err)
	}
}
