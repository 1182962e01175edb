package forward

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address of the client the proxy is asking about, for
// rules that name networks. It is known only when the proxy asking
// /api/verify is trusted (CLINCH_TRUSTED_PROXIES) and says who the client
// is in X-Forwarded-For: walking the list from the right, the first
// address that is not a trusted proxy, or the leftmost when all are. The
// address of an untrusted proxy is never taken for the client's (a
// proxy on the LAN would make every client look local); anything that
// does not parse makes it unknown. Unknown is the zero Addr.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !inPrefixes(trusted, peer.Addr().Unmap()) {
		return netip.Addr{}
	}
	lines := r.Header.Values("X-Forwarded-For")
	if len(lines) == 0 {
		return netip.Addr{}
	}
	// A proxy may add its hop as a line of its own: the lines are one list.
	parts := strings.Split(strings.Join(lines, ","), ",")
	var last netip.Addr
	for i := len(parts) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
		if err != nil || a.Zone() != "" {
			return netip.Addr{}
		}
		a = a.Unmap()
		if !inPrefixes(trusted, a) {
			return a
		}
		last = a
	}
	return last
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ipNetPrefix converts a *net.IPNet, IPv4 ones to 4-byte prefixes.
func ipNetPrefix(n *net.IPNet) (netip.Prefix, error) {
	if n == nil {
		return netip.Prefix{}, errors.New("nil network")
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, errors.New("bad network address")
	}
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, errors.New("non-canonical network mask")
	}
	if a.Is4In6() && bits == 128 {
		ones -= 96
	}
	return netip.PrefixFrom(a.Unmap(), ones).Masked(), nil
}
