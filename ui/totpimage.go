package ui

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/png"

	"github.com/pquerna/otp"

	"github.com/clinchsso/clinch/auth"
)

// qrSize is the width and height of the QR code image, in pixels.
const qrSize = 240

// totpImage puts a TOTP secret on a set-up page: as text, and as a QR code
// of its otpauth:// URI, a PNG drawn here and inlined as a data: URI (the
// CSP allows data: images, and no script is involved). The issuer the
// app shows is "Clinch (HOST)", the account the user's email.
func (h *Handler) totpImage(pg *page, u *auth.User, secret string) error {
	uri, err := auth.TOTPKeyURI("Clinch ("+h.site.Host.Hostname()+")", u.Email, secret)
	if err != nil {
		return err
	}
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		return fmt.Errorf("ui: totp key: %w", err)
	}
	img, err := k.Image(qrSize, qrSize)
	if err != nil {
		return fmt.Errorf("ui: qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("ui: qr code: %w", err)
	}
	pg.TOTPSecret, pg.Account = secret, u.Email
	// Typed as a URL: html/template would otherwise refuse a data: URI.
	pg.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
	return nil
}
