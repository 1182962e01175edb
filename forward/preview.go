package forward

import (
	"net/http"

	"github.com/clinchsso/clinch/auth"
)

// PreviewHeaders are the identity headers /api/verify would send for user
// (a member of groups) at app when it lets the request through, built by
// the same code as the hot path so the admin's preview cannot drift from
// what the proxy receives. Access rules may still refuse a path; a
// bypass rule blanks the headers.
func PreviewHeaders(app *auth.App, user *auth.User, groups []*auth.Group) http.Header {
	t := compileApps(0, []*auth.App{app})
	fa := t.byID[app.ID]
	h := http.Header{}
	if fa == nil {
		return h
	}
	(&Verifier{}).allow(h, fa, Caller{user: newIdentity(user, groups)})
	return h
}
