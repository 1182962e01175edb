package kv

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// Badger's minute-by-minute block cache report is not a warning for a
// store read by random keys; every other Badger warning still is.
func TestBadgerLogger_BlockCacheReportIsDebug(t *testing.T) {
	for _, tc := range []struct {
		f     string
		level string
	}{
		{"Block cache might be too small. Metrics: hit: %d miss: %d", "DEBUG"},
		{"Cache life expectancy (in seconds): %d", "DEBUG"},
		{"Truncate value log to %d", "WARN"},
	} {
		var buf bytes.Buffer
		l := badgerLogger{l: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		l.Warningf(tc.f, 1, 2)
		if !strings.Contains(buf.String(), "level="+tc.level) {
			t.Errorf("%q logged as %s, want %s", tc.f, buf.String(), tc.level)
		}
	}
}
