package forward

import (
	"strings"
	"sync/atomic"
	"time"

	"github.com/clinchsso/clinch/auth"
)

// credKind is what a cached credential is.
type credKind uint8

const (
	credSession credKind = iota + 1
	credAPIKey
	credAccessToken
	credBasic // HTTP Basic credentials verified at one app (keyed by app and header)
)

// cred is a credential that was valid when it was read from the store. It
// lives in the cache under the HMAC of its token until it expires or a
// change evicts it.
type cred struct {
	kind    credKind
	id      string // session id, API key id or access token hash (the cache key)
	userID  string // "" for a service identity
	appID   string // API keys and Basic: the app the credential is good at
	keyID   string // Basic with an app password: the API key's id
	service string // access tokens without a user: the client's name for Remote-User
	// client is the OIDC app an access token was issued to, as it was when
	// cached; any app change drops every cached token.
	client  *auth.App
	acr     string // sessions: how the session was made (auth.ACRSecondFactor...)
	expires time.Time
	// lastTouch is when activity was last recorded (unix nanoseconds), so
	// the write happens at most once a minute per credential.
	lastTouch atomic.Int64

	// Eviction bookkeeping (see policy.go): hits since the entry was last
	// looked at by the eviction hand, set without the write lock; the
	// rest is guarded by the cache's mutex.
	hits  atomic.Uint32
	size  int32 // bytes charged against the budget
	where queue
	dead  bool // removed from the map; its queue slot is skipped
}

func (c *cred) valid(now time.Time) bool { return c.expires.IsZero() || now.Before(c.expires) }

// identity is what /api/verify needs of a user, with header values already
// sanitised so the hot path only copies strings.
type identity struct {
	size   int64 // bytes charged against the cache's budget
	id     string
	status auth.Status
	groups []string // ids, for auth.CanUse
	// Header values, each a ready []string so a response allocates none.
	login  []string // Remote-User
	email  []string // Remote-Email
	name   []string // Remote-Name
	groupH []string // Remote-Groups
	admin  []string // Remote-Admin: "true" or "false"
}

func newIdentity(u *auth.User, groups []*auth.Group) *identity {
	id := &identity{
		id:     u.ID,
		status: u.Status,
		login:  []string{headerValue(u.Login())},
		email:  []string{headerValue(u.Email)},
		name:   []string{headerValue(u.Name())},
		admin:  adminFalse,
	}
	if u.Admin {
		id.admin = adminTrue
	}
	var b strings.Builder
	for _, g := range groups {
		id.groups = append(id.groups, g.ID)
		n := strings.ReplaceAll(headerValue(g.Name), ",", "")
		if n == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
	}
	id.groupH = []string{b.String()}
	id.size = identitySize(id)
	return id
}

// The Remote-Admin values, shared read-only by every identity.
var (
	adminTrue  = []string{"true"}
	adminFalse = []string{"false"}
)

// headerValue drops what cannot go in a header value: CR, LF, NUL and the
// other control characters, and trims spaces at the ends.
func headerValue(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			clean = false
			break
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f {
				return -1
			}
			return r
		}, s)
	}
	return strings.TrimSpace(s)
}
