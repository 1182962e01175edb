package web

import (
	"net"
	"net/http/httptest"
	"testing"
)

func TestClientIP(t *testing.T) {
	_, lan, _ := net.ParseCIDR("10.0.0.0/8")
	_, lo, _ := net.ParseCIDR("127.0.0.1/32")
	trusted := []*net.IPNet{lan, lo}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"no proxy", "198.51.100.7:5555", nil, "198.51.100.7"},
		{"untrusted peer's header is ignored", "198.51.100.7:5555", []string{"1.2.3.4"}, "198.51.100.7"},
		{"one trusted hop", "127.0.0.1:5555", []string{"203.0.113.9"}, "203.0.113.9"},
		{"client-written entries left of the real one", "127.0.0.1:5555", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted hops", "127.0.0.1:5555", []string{"203.0.113.9, 10.1.2.3"}, "203.0.113.9"},
		{"garbage stops the walk", "127.0.0.1:5555", []string{"203.0.113.9, nonsense"}, "127.0.0.1"},
		{"IPv6 client", "127.0.0.1:5555", []string{"2001:db8::1"}, "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, trusted); got != tt.want {
				t.Errorf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

// Behind HAProxy-style proxies that add their hop as a separate header
// line, only the first line was read: a client that sent its own
// X-Forwarded-For line picked its address (and escaped the per-IP limit).
func TestClientIP_XForwardedForOverSeveralLines(t *testing.T) {
	_, lo, _ := net.ParseCIDR("127.0.0.1/32")
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:4444"
	r.Header.Add("X-Forwarded-For", "6.6.6.6")     // written by the client
	r.Header.Add("X-Forwarded-For", "203.0.113.9") // added by the proxy
	if got := ClientIP(r, []*net.IPNet{lo}); got != "203.0.113.9" {
		t.Fatalf("ClientIP = %q, want the address the proxy saw (203.0.113.9)", got)
	}
}
