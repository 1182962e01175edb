package config

import (
	"fmt"
	"strings"
)

// setting is one configuration knob: its environment variable, the flag
// of `clinch serve` that overrides it ("" for secrets, which are never
// taken on the command line where `ps` shows them), its default as the
// flag sees it, and what it means.
type setting struct {
	env, flag, def, shownDefault, help string
	// file: NAME_FILE names a file holding the value instead.
	file bool
}

// settings returns every setting, in the order `clinch serve --help` lists
// them.
func settings() []setting {
	return []setting{
		{env: "CLINCH_LISTEN", flag: "listen", def: ":3000", help: "address to listen on"},
		{env: "CLINCH_DATA_DIR", flag: "data-dir", def: "./storage", help: "data directory: the store, the control socket, a generated secret"},
		{env: "CLINCH_HOST", flag: "host", shownDefault: "http://localhost:<port of CLINCH_LISTEN>", help: "Clinch's public URL (scheme and host, no path)"},
		{env: "CLINCH_COOKIE_DOMAIN", flag: "cookie-domain", shownDefault: "registrable domain of CLINCH_HOST", help: "Domain of the session cookie; host-only for localhost and IP addresses"},
		{env: "CLINCH_WEBAUTHN_RP_ID", flag: "webauthn-rp-id", shownDefault: "host of CLINCH_HOST", help: "passkeys' relying party ID: CLINCH_HOST's host or a parent domain of it (passkeys then work on every host under it)"},
		{env: "FORCE_SSL", flag: "force-ssl", def: "false", help: "mark cookies Secure and send HSTS even if CLINCH_HOST is http (TLS ends at a proxy)"},
		{env: "CLINCH_TRUSTED_PROXIES", flag: "trusted-proxies", shownDefault: "none", help: "comma-separated IPs/CIDRs whose X-Forwarded-For is believed"},
		{env: "CLINCH_LOG_LEVEL", flag: "log-level", def: "info", help: "debug, info, warn or error"},
		{env: "CLINCH_LOG_FORMAT", flag: "log-format", def: "text", help: "text or json"},
		{env: "CLINCH_BCRYPT_COST", flag: "bcrypt-cost", def: "12", help: "bcrypt cost for new password hashes, 4-16"},
		{env: "CLINCH_CACHE_MB", flag: "cache-mb", def: "64", help: "memory for /api/verify's sessions (40 bytes each: 64 MiB holds over a million), keys and users, in MiB (1-65536); loaded from the store at start; past it, the least used are read from the store again"},
		{env: "CLINCH_METRICS_LISTEN", flag: "metrics-listen", shownDefault: "none: /metrics on CLINCH_LISTEN", help: "serve /metrics only at this address (e.g. 127.0.0.1:9959); CLINCH_LISTEN then answers 404 for it"},
		{env: "CLINCH_AUDIT_RETENTION", flag: "audit-retention", def: "90d", help: "how long audit events are kept: days (90d) or a Go duration (720h), at least 1h"},
		{env: "CLINCH_MAGIC_LINKS", flag: "magic-links", def: "true", help: "offer \"Email me a sign-in link\" on the sign-in page (needs SMTP_ADDRESS); false turns sign-in links off"},
		{env: "SMTP_ADDRESS", flag: "smtp-address", shownDefault: "none: no mail is sent", help: "SMTP server's host name; set it to send password-reset mail"},
		{env: "SMTP_PORT", flag: "smtp-port", def: "587", help: "SMTP server's port (465 with SMTP_TLS=true)"},
		{env: "SMTP_DOMAIN", flag: "smtp-domain", def: "localhost", help: "name Clinch gives in EHLO"},
		{env: "SMTP_USERNAME", flag: "smtp-username", shownDefault: "none: no authentication", help: "SMTP user name"},
		{env: "SMTP_AUTHENTICATION", flag: "smtp-authentication", def: "plain", help: "plain, login or none"},
		{env: "SMTP_ENABLE_STARTTLS", flag: "smtp-enable-starttls", def: "true", help: "upgrade to TLS with STARTTLS when the server offers it; with a user name set, refuse to send without it"},
		{env: "SMTP_TLS", flag: "smtp-tls", def: "false", help: "speak TLS from the first byte (implicit TLS, usually port 465)"},
		{env: "CLINCH_FROM_EMAIL", flag: "from-email", shownDefault: "none (required with SMTP_ADDRESS)", help: "sender of Clinch's mail, e.g. \"Clinch <auth@example.com>\""},
		{env: "SMTP_PASSWORD", file: true, shownDefault: "none", help: "SMTP password"},
		{env: "SECRET_KEY_BASE", file: true, shownDefault: "generated into <data dir>/secret_key_base", help: "at least 32 characters; keys every stored token hash and encrypted value"},
		{env: "OIDC_PRIVATE_KEY", file: true, shownDefault: "generated, kept encrypted in the store", help: "PEM RSA key (>= 2048 bits) that signs ID tokens"},
	}
}

// Usage is the help of `clinch serve`: every setting with its environment
// variable, its flag and its default.
func Usage() string {
	var b strings.Builder
	b.WriteString("usage: clinch serve [flags]\n\n")
	b.WriteString("Runs the server (also what `clinch` with no arguments does). Every setting is\n")
	b.WriteString("read from its environment variable; the flag beside it overrides it. Secrets\n")
	b.WriteString("are read only from the environment, or from the file NAME_FILE names.\n\n")
	for _, s := range settings() {
		def := s.shownDefault
		if def == "" {
			def = s.def
		}
		if s.flag != "" {
			fmt.Fprintf(&b, "  %s, --%s (default: %s)\n", s.env, s.flag, def)
		} else {
			fmt.Fprintf(&b, "  %s or %s_FILE (environment only; default: %s)\n", s.env, s.env, def)
		}
		fmt.Fprintf(&b, "      %s\n", s.help)
		if s.file {
			fmt.Fprintf(&b, "      %s_FILE names a file holding the value (used when %s is unset)\n", s.env, s.env)
		}
	}
	return b.String()
}
