// Package config reads Clinch's settings from the environment, lets flags
// override them, and reports every problem at once.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is Clinch's runtime configuration.
type Config struct {
	Listen       string
	DataDir      string
	Host         *url.URL
	CookieDomain string
	// WebAuthnRPID is the passkeys' relying party id; "" turns passkeys
	// off (CLINCH_HOST is an IP address).
	WebAuthnRPID   string
	SecretKeyBase  []byte // nil until LoadSecret
	secretFromEnv  bool
	ForceSSL       bool
	LogLevel       slog.Level
	LogFormat      string // text | json
	OIDCPrivateKey []byte
	BcryptCost     int
	// CacheMB is the verify cache's budget in MiB (CLINCH_CACHE_MB).
	CacheMB        int
	TrustedProxies []*net.IPNet
	MetricsListen  string // "": /metrics is served on Listen
	// SMTP is where mail goes; SMTP.Address "" sends none.
	SMTP SMTP
	// MagicLinks: people may ask for a sign-in link by mail (when mail is
	// configured).
	MagicLinks bool
	// AuditRetention is how long audit events are kept.
	AuditRetention time.Duration
}

// SMTP is the mail server's settings, named as the original Clinch
// (ActionMailer) named them.
type SMTP struct {
	Address        string // SMTP_ADDRESS
	Port           int    // SMTP_PORT
	Domain         string // SMTP_DOMAIN, the EHLO name
	Username       string // SMTP_USERNAME
	Password       string // SMTP_PASSWORD or SMTP_PASSWORD_FILE
	Authentication string // SMTP_AUTHENTICATION: plain, login or none
	EnableStartTLS bool   // SMTP_ENABLE_STARTTLS
	TLS            bool   // SMTP_TLS: implicit TLS
	From           string // CLINCH_FROM_EMAIL
}

// Configured reports whether mail can be sent.
func (s SMTP) Configured() bool { return s.Address != "" }

// Env is how the environment is read; os.LookupEnv in production.
type Env func(string) (string, bool)

// ErrHelp is returned by Load when the flags ask for help (-h, --help);
// the caller prints Usage and exits 0.
var ErrHelp = flag.ErrHelp

// Load reads the environment, then the flags in args (which override it).
// It returns every problem in one error; nothing is written.
func Load(env Env, args []string, stderr io.Writer) (*Config, error) {
	get := func(k string) string {
		if v, ok := env(k); ok && v != "" {
			return v
		}
		return ""
	}
	fs := flag.NewFlagSet("clinch serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	val := map[string]*string{}
	for _, s := range settings() {
		if s.flag == "" {
			continue
		}
		v := get(s.env)
		if v == "" {
			v = s.def
		}
		val[s.env] = fs.String(s.flag, v, s.help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		fmt.Fprintf(stderr, "clinch serve: %v (see clinch serve --help)\n", err)
		return nil, &UsageError{Err: err}
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintf(stderr, "clinch serve: %v (see clinch serve --help)\n", err)
		return nil, &UsageError{Err: err}
	}

	var problems []string
	c := &Config{Listen: *val["CLINCH_LISTEN"], DataDir: *val["CLINCH_DATA_DIR"], LogFormat: strings.ToLower(*val["CLINCH_LOG_FORMAT"])}

	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		problems = append(problems, fmt.Sprintf("CLINCH_LISTEN %q is not host:port", c.Listen))
	}
	if c.DataDir == "" {
		problems = append(problems, "CLINCH_DATA_DIR is empty")
	}
	host := *val["CLINCH_HOST"]
	if host == "" {
		host = DefaultHost(port)
	}
	u, err := url.Parse(host)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil:
		problems = append(problems, fmt.Sprintf("CLINCH_HOST %q must be an absolute http(s) URL like https://auth.example.com", host))
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		problems = append(problems, fmt.Sprintf("CLINCH_HOST %q must not have a path, query or fragment", host))
	default:
		u.Path = ""
		u.Host = strings.ToLower(u.Host)
		c.Host = u
	}
	c.CookieDomain = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(*val["CLINCH_COOKIE_DOMAIN"])), ".")
	if c.CookieDomain != "" && c.Host != nil {
		h := c.Host.Hostname()
		if h != c.CookieDomain && !strings.HasSuffix(h, "."+c.CookieDomain) {
			problems = append(problems, fmt.Sprintf("CLINCH_COOKIE_DOMAIN %q does not cover CLINCH_HOST's host %q", c.CookieDomain, h))
		}
	}
	if c.Host != nil {
		var problem string
		if c.WebAuthnRPID, problem = webauthnRPID(*val["CLINCH_WEBAUTHN_RP_ID"], c.Host); problem != "" {
			problems = append(problems, problem)
		}
	}
	forceSSL := *val["FORCE_SSL"]
	if c.ForceSSL, err = strconv.ParseBool(forceSSL); err != nil {
		problems = append(problems, fmt.Sprintf("FORCE_SSL %q is not true or false", forceSSL))
	}
	magic := *val["CLINCH_MAGIC_LINKS"]
	if c.MagicLinks, err = strconv.ParseBool(magic); err != nil {
		problems = append(problems, fmt.Sprintf("CLINCH_MAGIC_LINKS %q is not true or false", magic))
	}
	retention := *val["CLINCH_AUDIT_RETENTION"]
	if c.AuditRetention, err = ParseDays(retention); err != nil || c.AuditRetention < time.Hour {
		problems = append(problems, fmt.Sprintf("CLINCH_AUDIT_RETENTION %q is not a duration of at least 1h, like 90d or 720h", retention))
	}
	logLevel := *val["CLINCH_LOG_LEVEL"]
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		problems = append(problems, fmt.Sprintf("CLINCH_LOG_LEVEL %q is not one of debug, info, warn, error", logLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		problems = append(problems, fmt.Sprintf("CLINCH_LOG_FORMAT %q is not text or json", *val["CLINCH_LOG_FORMAT"]))
	}
	bcryptCost := *val["CLINCH_BCRYPT_COST"]
	if c.BcryptCost, err = strconv.Atoi(bcryptCost); err != nil || c.BcryptCost < 4 || c.BcryptCost > 16 {
		problems = append(problems, fmt.Sprintf("CLINCH_BCRYPT_COST %q is not a number from 4 to 16", bcryptCost))
	}
	for _, p := range strings.Split(*val["CLINCH_TRUSTED_PROXIES"], ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			if ip := net.ParseIP(p); ip != nil && ip.To4() != nil {
				p += "/32"
			} else {
				p += "/128"
			}
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("CLINCH_TRUSTED_PROXIES entry %q is not an IP or CIDR", p))
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, n)
	}
	cacheMB := *val["CLINCH_CACHE_MB"]
	if c.CacheMB, err = strconv.Atoi(cacheMB); err != nil || c.CacheMB < 1 || c.CacheMB > 65536 {
		problems = append(problems, fmt.Sprintf("CLINCH_CACHE_MB %q is not a number of MiB from 1 to 65536", cacheMB))
	}
	if c.MetricsListen = *val["CLINCH_METRICS_LISTEN"]; c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			problems = append(problems, fmt.Sprintf("CLINCH_METRICS_LISTEN %q is not host:port", c.MetricsListen))
		}
	}
	problems = append(problems, c.loadSMTP(val, get)...)

	if v := get("SECRET_KEY_BASE"); v != "" {
		c.SecretKeyBase, c.secretFromEnv = []byte(v), true
	} else if f := get("SECRET_KEY_BASE_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, fmt.Sprintf("SECRET_KEY_BASE_FILE: %v", err))
		} else {
			c.SecretKeyBase, c.secretFromEnv = []byte(strings.TrimSpace(string(b))), true
		}
	}
	if c.secretFromEnv && len(c.SecretKeyBase) < 32 {
		problems = append(problems, "SECRET_KEY_BASE must be at least 32 characters (generate one with: openssl rand -hex 64)")
	}
	if v := get("OIDC_PRIVATE_KEY"); v != "" {
		c.OIDCPrivateKey = []byte(v)
	} else if f := get("OIDC_PRIVATE_KEY_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, fmt.Sprintf("OIDC_PRIVATE_KEY_FILE: %v", err))
		}
		c.OIDCPrivateKey = b
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return c, nil
}

// ParseDays reads a Go duration or a whole number of days ("90d"), which
// time.ParseDuration lacks; negative values are refused.
func ParseDays(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("config: %q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("config: %q is not a duration like 90d or 12h", s)
	}
	return v, nil
}

// DefaultHost is CLINCH_HOST when none is set: http://localhost on the
// port Clinch listens on, so changing only CLINCH_LISTEN works.
func DefaultHost(listenPort string) string {
	if listenPort == "" || listenPort == "0" {
		listenPort = "3000"
	}
	return "http://localhost:" + listenPort
}

// Error lists every configuration problem.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// UsageError is a bad flag.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// secretFileName is where a generated SECRET_KEY_BASE is kept.
const secretFileName = "secret_key_base"

// EnsureSecret makes sure a SECRET_KEY_BASE is available: from the
// environment, else from the data directory, else generated once and kept
// there with mode 0600. generated reports the last case, which callers log
// as a warning: losing that file signs everyone out and makes encrypted
// values unreadable.
func (c *Config) EnsureSecret() (generated bool, err error) {
	if c.secretFromEnv {
		return false, nil
	}
	p := filepath.Join(c.DataDir, secretFileName)
	b, err := os.ReadFile(p)
	if err == nil {
		c.SecretKeyBase = []byte(strings.TrimSpace(string(b)))
		if len(c.SecretKeyBase) < 32 {
			return false, fmt.Errorf("config: %s is shorter than 32 characters", p)
		}
		return false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("config: read %s: %w", p, err)
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return false, fmt.Errorf("config: create data dir: %w", err)
	}
	var raw [64]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return false, err
	}
	secret := hex.EncodeToString(raw[:])
	// O_EXCL: two processes starting at once must not both write one.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return c.EnsureSecret()
	}
	if err != nil {
		return false, fmt.Errorf("config: write %s: %w", p, err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	c.SecretKeyBase = []byte(secret)
	return true, nil
}

// Logger builds the slog logger the configuration asks for.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
