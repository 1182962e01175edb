package ui

import (
	"context"
	"strings"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/mail"
)

// Security mails: a person hears about every change of how they sign in
// (auth.SecurityEvent), so that a change they did not make is noticed.
// They are sent from here only, for every way the change was made (the
// account and security pages, a sign-in that set up a factor, an
// administrator's command), because auth announces each event once, from
// the method that committed it. Main registers SecurityMail with
// auth.Service.OnSecurityEvent.

// SecurityMail mails the person about ev, after the change and off the
// request's path. Without SMTP the queue writes it to the log, where the
// administrator sees it; with no Mailer at all it only logs that none went.
// It has the shape auth.Service.OnSecurityEvent wants.
func (h *Handler) SecurityMail(ev auth.SecurityEvent) {
	if ev.User == nil {
		return
	}
	if h.mailer == nil {
		h.log.Info("security mail not sent: mail is off", "event", string(ev.Kind), "user_id", ev.User.ID)
		return
	}
	for _, m := range securityMessages(ev, h.site.Host.String()) {
		ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
		h.sendWith(ctx, cancel, h.log, "security ("+string(ev.Kind)+")", ev.User.ID, m)
	}
}

// securityMessages are the mails for ev: one to the account's address,
// and for an email change one to the old address as well.
func securityMessages(ev auth.SecurityEvent, site string) []mail.Message {
	u := ev.User
	var subject, what string
	switch ev.Kind {
	case auth.EventTOTPAdded:
		subject, what = "Two-step verification was turned on", "An authenticator app was set up as a second step for signing in to your account."
	case auth.EventTOTPRemoved:
		subject, what = "Two-step verification was turned off", "The authenticator app and the backup codes of your account were removed: they no longer work."
	case auth.EventBackupCodesRegenerated:
		subject, what = "New backup codes were made", "A new set of backup codes was made for your account; the old codes no longer work."
	case auth.EventPasskeyAdded:
		subject, what = "A passkey was added", "A passkey"+named(ev.Detail)+" was added to your account. It can sign you in."
	case auth.EventPasskeyRemoved:
		subject, what = "A passkey was removed", "The passkey"+named(ev.Detail)+" was removed from your account. It no longer signs you in."
	case auth.EventSecondFactorsReset:
		subject, what = "Your second factors were reset", "An administrator removed every second factor of your account (authenticator app, backup codes and passkeys) and signed you out everywhere."
	case auth.EventPasswordChanged:
		subject, what = "Your password was changed", "The password of your account was changed. Browsers and apps signed in with the old one were signed out."
	case auth.EventEmailChanged:
		subject = "Your email address was changed"
		what = "The email address of your account was changed from " + ev.OldEmail + " to " + u.Email + ". Sign in with the new address from now on."
	default:
		return nil
	}
	text := "Hello " + u.Name() + ",\n\n" + what + "\n" +
		"When: " + ev.At.UTC().Format("2 Jan 2006, 15:04 UTC") + "\n\n" +
		"If this was you, there is nothing to do. If it was not, someone else may be able to sign in as you: " +
		"reset your password at " + strings.TrimSuffix(site, "/") + pathForgot + " and tell your administrator.\n"
	msgs := []mail.Message{{To: u.Email, Subject: subject, Text: text}}
	if ev.Kind == auth.EventEmailChanged && ev.OldEmail != "" && ev.OldEmail != u.Email {
		msgs = append(msgs, mail.Message{To: ev.OldEmail, Subject: subject, Text: text})
	}
	return msgs
}

// named is ` "NAME"` for a passkey's name, or nothing.
func named(name string) string {
	if name == "" {
		return ""
	}
	return ` "` + name + `"`
}
