package main

import (
	"github.com/clinchsso/clinch/config"
	"github.com/clinchsso/clinch/mail"
	"github.com/clinchsso/clinch/ui"
)

// newMailer is the SMTP sender the settings describe, or nil when no
// SMTP_ADDRESS is set (then no mail is sent, and the pages say so).
func newMailer(c config.SMTP) ui.Mailer {
	if !c.Configured() {
		return nil
	}
	return &mail.SMTP{
		Host: c.Address, Port: c.Port, HELO: c.Domain,
		Username: c.Username, Password: c.Password, Auth: c.Authentication,
		StartTLS: c.EnableStartTLS, ImplicitTLS: c.TLS, From: c.From,
	}
}
