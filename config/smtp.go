package config

import (
	"fmt"
	"net/mail"
	"os"
	"strconv"
	"strings"
)

// loadSMTP reads the SMTP_* settings and CLINCH_FROM_EMAIL into c.SMTP and
// returns their problems. Nothing is checked unless SMTP_ADDRESS is set,
// apart from values that cannot mean anything.
func (c *Config) loadSMTP(val map[string]*string, get func(string) string) []string {
	var problems []string
	s := SMTP{
		Address:        strings.TrimSpace(*val["SMTP_ADDRESS"]),
		Domain:         strings.TrimSpace(*val["SMTP_DOMAIN"]),
		Username:       *val["SMTP_USERNAME"],
		Authentication: strings.ToLower(strings.TrimSpace(*val["SMTP_AUTHENTICATION"])),
		From:           strings.TrimSpace(*val["CLINCH_FROM_EMAIL"]),
	}
	var err error
	port := *val["SMTP_PORT"]
	if s.Port, err = strconv.Atoi(port); err != nil || s.Port < 1 || s.Port > 65535 {
		problems = append(problems, fmt.Sprintf("SMTP_PORT %q is not a port number", port))
	}
	if s.EnableStartTLS, err = strconv.ParseBool(*val["SMTP_ENABLE_STARTTLS"]); err != nil {
		problems = append(problems, fmt.Sprintf("SMTP_ENABLE_STARTTLS %q is not true or false", *val["SMTP_ENABLE_STARTTLS"]))
	}
	if s.TLS, err = strconv.ParseBool(*val["SMTP_TLS"]); err != nil {
		problems = append(problems, fmt.Sprintf("SMTP_TLS %q is not true or false", *val["SMTP_TLS"]))
	}
	switch s.Authentication {
	case "plain", "login", "none":
	default:
		problems = append(problems, fmt.Sprintf("SMTP_AUTHENTICATION %q is not plain, login or none", *val["SMTP_AUTHENTICATION"]))
	}
	if v := get("SMTP_PASSWORD"); v != "" {
		s.Password = v
	} else if f := get("SMTP_PASSWORD_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, fmt.Sprintf("SMTP_PASSWORD_FILE: %v", err))
		}
		s.Password = strings.TrimSpace(string(b))
	}
	if s.Address != "" {
		if s.From == "" {
			problems = append(problems, "CLINCH_FROM_EMAIL is required when SMTP_ADDRESS is set (the sender of Clinch's mail)")
		} else if _, err := mail.ParseAddress(s.From); err != nil {
			problems = append(problems, fmt.Sprintf("CLINCH_FROM_EMAIL %q is not an email address", s.From))
		}
		if s.Password != "" && s.Username == "" {
			problems = append(problems, "SMTP_PASSWORD is set but SMTP_USERNAME is not")
		}
	}
	c.SMTP = s
	return problems
}
