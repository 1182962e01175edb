package ui

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/mail"
)

// The messages Clinch mails, each as a plain-text body (name.txt) and an
// HTML alternative (name.html inside mail/layout.html). The HTML goes
// through html/template, so a display name like "<b>Ann</b>" or a link's
// "&" arrive escaped.
//
//go:embed mail/*.txt mail/*.html
var mailFS embed.FS

// mailData is what a message template sees.
type mailData struct {
	Subject string
	Name    string // the person's display name
	Email   string // the account's address
	Link    string // the one-time link
}

// composeMail renders the message name for u with the link.
func composeMail(name, subject string, u *auth.User, link string) (mail.Message, error) {
	d := mailData{Subject: subject, Name: u.Name(), Email: u.Email, Link: link}
	tt, err := texttemplate.ParseFS(mailFS, "mail/"+name+".txt")
	if err != nil {
		return mail.Message{}, fmt.Errorf("ui: mail %s: %w", name, err)
	}
	ht, err := htmltemplate.ParseFS(mailFS, "mail/layout.html", "mail/"+name+".html")
	if err != nil {
		return mail.Message{}, fmt.Errorf("ui: mail %s: %w", name, err)
	}
	var text, html bytes.Buffer
	if err := tt.Execute(&text, d); err != nil {
		return mail.Message{}, fmt.Errorf("ui: mail %s: %w", name, err)
	}
	if err := ht.ExecuteTemplate(&html, "layout.html", d); err != nil {
		return mail.Message{}, fmt.Errorf("ui: mail %s: %w", name, err)
	}
	return mail.Message{To: u.Email, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}
