package main

import (
	"context"
	"log/slog"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/config"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/mail"
	"github.com/clinchsso/clinch/mail/outbox"
	"github.com/clinchsso/clinch/metrics"
)

// newSMTP is the SMTP server the settings describe, or nil when no
// SMTP_ADDRESS is set.
func newSMTP(c config.SMTP) *mail.SMTP {
	if !c.Configured() {
		return nil
	}
	return &mail.SMTP{
		Host: c.Address, Port: c.Port, HELO: c.Domain,
		Username: c.Username, Password: c.Password, Auth: c.Authentication,
		StartTLS: c.EnableStartTLS, ImplicitTLS: c.TLS, From: c.From,
	}
}

// newOutbox is the server's mail queue. It delivers through SMTP, or, when
// none is configured, writes each message to the log (at WARN, link
// included) so nothing queued is silently lost.
func newOutbox(ctx context.Context, c config.SMTP, store *kv.Store, secrets *auth.Secrets, log *slog.Logger, m *metrics.Metrics) (*outbox.Outbox, error) {
	var sender outbox.Sender = mail.Log{Logger: log}
	if s := newSMTP(c); s != nil {
		sender = s
	}
	return outbox.New(ctx, outbox.Config{Store: store, Sealer: secrets, Sender: sender, Logger: log.With("component", "mail"), Metrics: m})
}
