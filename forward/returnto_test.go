package forward

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// A return URL that sign-in cannot follow leaves one info line saying why
// and naming the host, and never the URL's query, which may carry a token.
func TestReturnTo_LogsWhyItDrops(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	f.v.log = slog.New(slog.NewTextHandler(&logs, nil))
	_, sess := f.signIn("ann@example.com")
	tests := []struct {
		rd     string
		reason string // "" = followed, nothing logged
	}{
		{"https://wiki.example.com/x?secret=s3cr3t", ""},
		{"http://wiki.example.com/x?secret=s3cr3t", "plain-http app while Clinch is https"},
		{"https://unknown.example.org/x?secret=s3cr3t", "no forward_auth app covers this host"},
		{"https://old.example.com/x?secret=s3cr3t", "app covering this host (old) is inactive"},
	}
	for _, tt := range tests {
		t.Run(tt.rd, func(t *testing.T) {
			logs.Reset()
			u, err := url.Parse(tt.rd)
			if err != nil {
				t.Fatal(err)
			}
			_, ok := f.v.ReturnTo(context.Background(), u, sess)
			line := logs.String()
			if tt.reason == "" {
				if !ok || line != "" {
					t.Fatalf("ok = %v, log %q; want followed silently", ok, line)
				}
				return
			}
			if ok {
				t.Fatal("followed a URL it should drop")
			}
			if strings.Count(line, "\n") != 1 || !strings.Contains(line, "level=INFO") ||
				!strings.Contains(line, tt.reason) || !strings.Contains(line, "host="+u.Host) {
				t.Errorf("log %q, want one info line with %q and the host", line, tt.reason)
			}
			if strings.Contains(line, "s3cr3t") {
				t.Errorf("log carries the URL's query: %q", line)
			}
		})
	}
}
