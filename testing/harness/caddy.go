package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Caddy is a Caddy server with TLS from its own local CA (`local_certs`),
// serving names under one parent test domain (auth.clinch.test,
// app.clinch.test, ...) on one HTTPS port of 127.0.0.1. Make it with
// NewCaddy, which only reserves the ports, so that Clinch can be started
// with its public URL (c.URL("auth")) before Caddy proxies to it; then
// call Start with the site blocks.
type Caddy struct {
	// Domain is the parent domain, e.g. clinch.test.
	Domain string
	// Port is the HTTPS port every site is served on.
	Port int
	// HTTPPort is Caddy's plain-HTTP port (redirects to HTTPS).
	HTTPPort int
	// Dir holds the Caddyfile and XDG_DATA_HOME, so the CA stays in the
	// test's temp dir and nothing is installed in the system trust store.
	Dir string
	// RootCA is the PEM file of Caddy's local root certificate, set by
	// Start: what a Go client must trust to reach the sites.
	RootCA string
}

// CaddySite is one site: Name is the label under the parent domain
// ("auth" → auth.clinch.test), or a full host name (see Host), and Body the Caddyfile directives inside its
// block. A site may instead come from a file, such as docs/proxy/Caddyfile:
// Import names it, and the file's site address must be the site's host
// (through the {$VAR} placeholders given to Start).
type CaddySite struct {
	Name   string
	Body   string
	Import string
}

// NewCaddy reserves the ports and the directory of a Caddy for names under
// domain. Nothing runs until Start.
func NewCaddy(t testing.TB, domain string) *Caddy {
	t.Helper()
	return &Caddy{Domain: domain, Port: FreePort(t), HTTPPort: FreePort(t), Dir: t.TempDir()}
}

// Host returns name's full host name, e.g. auth.clinch.test. A name with
// a dot is a full host name already (an app outside the parent domain,
// such as wiki.elsewhere.test) and is returned as it is.
func (c *Caddy) Host(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return name + "." + c.Domain
}

// URL returns https://NAME.DOMAIN:PORT, the address browsers use.
func (c *Caddy) URL(name string) string {
	return "https://" + net.JoinHostPort(c.Host(name), strconv.Itoa(c.Port))
}

// ReverseProxy is a site body that proxies everything to addr.
func ReverseProxy(addr string) string { return "reverse_proxy " + addr }

// Start writes the Caddyfile with the sites (env holds the values of the
// {$VAR} placeholders of imported files), runs Caddy, and waits
// until every site completes a TLS handshake with a certificate of
// Caddy's CA. Caddy stops when the test ends.
func (c *Caddy) Start(t testing.TB, env map[string]string, sites ...CaddySite) {
	t.Helper()
	bin := NeedTool(t, "caddy")
	// The admin endpoint is off (its default port may be taken on a
	// shared machine); default_bind keeps every site, imported ones too,
	// on loopback; HTTP/3 is off so Caddy claims no UDP port nobody
	// reserved; skip_install_trust keeps the CA out of the system's
	// store; OCSP stapling has nothing to fetch on a closed network.
	var b strings.Builder
	fmt.Fprintf(&b, "{\n\tadmin off\n\tdefault_bind 127.0.0.1\n\tservers {\n\t\tprotocols h1 h2\n\t}\n\tlocal_certs\n\tskip_install_trust\n\tocsp_stapling off\n\thttps_port %d\n\thttp_port %d\n}\n", c.Port, c.HTTPPort)
	for _, s := range sites {
		if s.Import != "" {
			fmt.Fprintf(&b, "\nimport %s\n", s.Import)
			continue
		}
		fmt.Fprintf(&b, "\n%s {\n\t%s\n}\n", c.Host(s.Name), strings.ReplaceAll(strings.TrimSpace(s.Body), "\n", "\n\t"))
	}
	cfg := filepath.Join(c.Dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(),
		"XDG_DATA_HOME="+filepath.Join(c.Dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(c.Dir, "config"),
		"HOME="+c.Dir,
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	RunPeer(t, "caddy", cmd, c.Port)
	c.RootCA = filepath.Join(c.Dir, "data", "caddy", "pki", "authorities", "local", "root.crt")

	// Caddy issues its certificates in the background after it listens;
	// wait until each name is served with one that chains to the root.
	names := make([]string, 0, len(sites))
	for _, s := range sites {
		names = append(names, c.Host(s.Name))
	}
	deadline := time.Now().Add(peerTimeout)
	var last error
	for time.Now().Before(deadline) {
		if last = c.handshakes(names); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("harness: caddy did not serve TLS for %v within %v: %v\nCaddyfile:\n%s", names, peerTimeout, last, b.String())
}

func (c *Caddy) handshakes(names []string) error {
	pool, err := c.pool()
	if err != nil {
		return err
	}
	for _, n := range names {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{ServerName: n, RootCAs: pool}}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)))
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		conn.Close()
	}
	return nil
}

func (c *Caddy) pool() (*x509.CertPool, error) {
	pem, err := os.ReadFile(c.RootCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no certificate in " + c.RootCA)
	}
	return pool, nil
}

// Client returns an HTTP client for the sites, as a program on the
// machine would use them: names under the domain are dialled on
// 127.0.0.1 (keeping the port), and only Caddy's root is trusted. It
// follows redirects and gives up after 10 s.
func (c *Caddy) Client(t testing.TB) *http.Client {
	t.Helper()
	pool, err := c.pool()
	if err != nil {
		t.Fatalf("harness: caddy's root: %v", err)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	suffix := "." + c.Domain
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				if strings.HasSuffix(host, suffix) {
					addr = net.JoinHostPort("127.0.0.1", port)
				}
				return d.DialContext(ctx, network, addr)
			},
		},
	}
}
