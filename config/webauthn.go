package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// webauthnRPID decides the passkeys' relying party id: the explicit value
// (CLINCH_WEBAUTHN_RP_ID) when set, else CLINCH_HOST's host. It returns ""
// when passkeys cannot work (CLINCH_HOST is an IP address and nothing else
// was set), and a problem when the explicit value is wrong: browsers accept
// only a domain that is CLINCH_HOST's host or a parent of it, and never a
// public suffix such as co.uk.
func webauthnRPID(explicit string, host *url.URL) (string, string) {
	h := strings.ToLower(host.Hostname())
	rp := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(explicit)), ".")
	if rp == "" {
		if net.ParseIP(h) != nil {
			return "", ""
		}
		return h, ""
	}
	switch {
	case strings.ContainsAny(rp, ":/@?#[] "):
		return "", fmt.Sprintf("CLINCH_WEBAUTHN_RP_ID %q must be a domain name like example.com, without scheme, port or path", explicit)
	case net.ParseIP(rp) != nil:
		return "", fmt.Sprintf("CLINCH_WEBAUTHN_RP_ID %q is an IP address; passkeys need a domain name", explicit)
	case !validDomain(rp):
		return "", fmt.Sprintf("CLINCH_WEBAUTHN_RP_ID %q is not a valid domain name", explicit)
	case h != rp && !strings.HasSuffix(h, "."+rp):
		return "", fmt.Sprintf("CLINCH_WEBAUTHN_RP_ID %q does not cover CLINCH_HOST's host %q: it must be that host or a parent domain of it", explicit, h)
	}
	if rp != h {
		if ps, _ := publicsuffix.PublicSuffix(rp); ps == rp || !strings.Contains(rp, ".") {
			return "", fmt.Sprintf("CLINCH_WEBAUTHN_RP_ID %q is a public suffix, which browsers refuse; use a domain you own, such as the parent of CLINCH_HOST's host", explicit)
		}
	}
	return rp, ""
}

// validDomain reports whether s is a DNS name: labels of letters, digits
// and inner hyphens, 63 bytes at most, 253 in all.
func validDomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
