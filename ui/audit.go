package ui

import (
	"context"
	"net/http"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/auth"
)

// asUser is the request's context naming u as who acts, for the audit
// trail of a change the signed-in person makes to their own account (the
// client address is already there, see serve.go's auditOrigin).
func asUser(r *http.Request, u *auth.User) context.Context {
	o := audit.OriginOf(r.Context())
	o.Actor = u.ID
	return audit.WithOrigin(r.Context(), o)
}
