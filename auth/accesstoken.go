package auth

import "time"

// AccessToken is what an OIDC access token stands for where it is
// presented as a Bearer credential (/api/verify). The oidc package issues
// and resolves tokens; forward only needs this.
type AccessToken struct {
	// UserID is the user the token acts for; "" for a service identity
	// (client_credentials).
	UserID string
	// Client is the OIDC app the token was issued to.
	Client *App
	// ExpiresAt is when the token stops working.
	ExpiresAt time.Time
}
