package forward

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/testing/harness"
)

// Clinch itself behind Caddy and behind nginx, each terminating TLS with
// the README's configuration (docs/proxy/clinch.Caddyfile and
// clinch-nginx.conf), CLINCH_HOST https and CLINCH_TRUSTED_PROXIES set as
// the README says: the wizard treats the browser on this machine as local
// (the proxy's X-Forwarded-For is believed), cookies are Secure, HSTS is
// sent, sign-out and sign-in work over https, and Clinch does not warn
// about plain http.
func TestClinchBehindTLSProxy(t *testing.T) {
	for _, proxy := range []struct {
		name  string
		start func(t *testing.T, port int, clinchAddr string) *x509.CertPool
	}{{"caddy", startCaddyForClinch}, {"nginx", startNginxForClinch}} {
		t.Run(proxy.name, func(t *testing.T) {
			port := harness.FreePort(t)
			base := "https://" + authHost + ":" + strconv.Itoa(port)
			srv := harness.Start(t, harness.Options{Env: map[string]string{
				"CLINCH_HOST":            base,
				"CLINCH_TRUSTED_PROXIES": "127.0.0.1",
			}})
			roots := proxy.start(t, port, srv.Addr)
			c := harness.NewClient()
			tr := loopback()
			tr.TLSClientConfig = &tls.Config{RootCAs: roots}
			c.Transport = tr

			resp, body := harness.Get(t, c, base+"/signup")
			if resp.StatusCode != http.StatusOK || strings.Contains(body, `name="setup_code"`) {
				t.Fatalf("wizard through %s: %s; asks for a setup code: %v (is X-Forwarded-For believed?)\n%s",
					proxy.name, resp.Status, strings.Contains(body, `name="setup_code"`), harness.Text(body))
			}
			if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
				t.Errorf("Strict-Transport-Security %q", got)
			}
			tok, _ := harness.CSRFToken(body)
			resp, body = harness.Post(t, c, base+"/signup", map[string][]string{"csrf_token": {tok}, "email": {"ann@example.com"},
				"name": {"Ann"}, "password": {password}, "password_confirm": {password}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("wizard POST through %s: %s\n%s", proxy.name, resp.Status, harness.Text(body))
			}
			for _, ck := range resp.Cookies() {
				if ck.Name == "clinch_session" && !ck.Secure {
					t.Error("the session cookie is not Secure behind TLS")
				}
			}
			resp, body = harness.Get(t, c, base+"/")
			if resp.StatusCode != http.StatusOK || !strings.Contains(harness.Text(body), "ann@example.com") {
				t.Fatalf("home through %s: %s\n%s", proxy.name, resp.Status, harness.Text(body))
			}
			tok, _ = harness.CSRFToken(body)
			if resp, _ := harness.Post(t, c, base+"/signout", map[string][]string{"csrf_token": {tok}}); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-out: %s", resp.Status)
			}
			tok = harness.Form(t, c, base+"/signin")
			resp, body = harness.Post(t, c, base+"/signin", map[string][]string{"csrf_token": {tok}, "login": {"ann@example.com"}, "password": {password}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-in through %s: %s\n%s", proxy.name, resp.Status, harness.Text(body))
			}
			if log := srv.Log(t); strings.Contains(log, "plain http") || strings.Contains(log, "form refused") {
				t.Errorf("Clinch behind TLS logged a plain-http warning or a refused form:\n%s", log)
			}
		})
	}
}

// startCaddyForClinch runs docs/proxy/clinch.Caddyfile with Caddy's own
// local CA (as for any *.localhost name) and returns that CA.
func startCaddyForClinch(t *testing.T, port int, clinchAddr string) *x509.CertPool {
	bin := harness.NeedTool(t, "caddy")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "Caddyfile")
	// No admin port, no trust-store changes, no redirect server on :80.
	wrapper := "{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\tauto_https disable_redirects\n}\n\nimport " +
		docsFile(t, "clinch.Caddyfile") + "\n"
	if err := os.WriteFile(cfg, []byte(wrapper), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(),
		"CLINCH_SITE=https://"+authHost+":"+strconv.Itoa(port),
		"CLINCH_UPSTREAM="+clinchAddr,
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HOME="+dir,
	)
	startProcess(t, port, filepath.Join(dir, "caddy.log"), cmd)
	root := filepath.Join(dir, "data", "caddy", "pki", "authorities", "local", "root.crt")
	var rootPEM []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(root); err == nil && len(b) > 0 {
			rootPEM = b
			break
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("Caddy's local CA is not at %s", root)
	}
	// The root exists before the site's certificate does: until Caddy has
	// issued it, a handshake ends in "tls: internal error". Wait (bounded)
	// for one that verifies.
	var last error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{ServerName: authHost, RootCAs: pool}}
		conn, err := d.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			conn.Close()
			return pool
		}
		last = err
	}
	t.Fatalf("Caddy did not complete a TLS handshake for %s: %v", authHost, last)
	return nil
}

// startNginxForClinch runs docs/proxy/clinch-nginx.conf with its name,
// port, certificate and upstream replaced, and a certificate made here.
func startNginxForClinch(t *testing.T, port int, clinchAddr string) *x509.CertPool {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir, authHost)
	b, err := os.ReadFile(docsFile(t, "clinch-nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	site := strings.NewReplacer(
		"listen 443 ssl;", "listen 127.0.0.1:"+strconv.Itoa(port)+" ssl;",
		"/etc/ssl/certs/auth.example.com.pem", certFile,
		"/etc/ssl/private/auth.example.com.key", keyFile,
		"auth.example.com", authHost,
		"127.0.0.1:3000", clinchAddr,
	).Replace(string(b))
	for _, want := range []string{clinchAddr, authHost, strconv.Itoa(port), certFile, keyFile} {
		if !strings.Contains(site, want) {
			t.Fatalf("docs/proxy/clinch-nginx.conf no longer has the placeholder for %s", want)
		}
	}
	harness.StartNginx(t, site, port)
	return pool
}

// selfSigned writes a certificate and key for host into dir and returns
// their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir, host string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}
