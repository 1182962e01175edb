package forward

import (
	"strings"
	"sync"
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
}

func (c *cred) valid(now time.Time) bool { return c.expires.IsZero() || now.Before(c.expires) }

// identity is what /api/verify needs of a user, with header values already
// sanitised so the hot path only copies strings.
type identity struct {
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

// maxCreds bounds the cache; past it, expired entries are swept and, if
// that is not enough, everything is dropped (it refills from the store).
const maxCreds = 100_000

// cache holds credentials and identities read from the store. Every change
// the auth service announces evicts what it touches and bumps gen; a value
// read from the store is only inserted when gen has not moved since the read
// began, so a read that raced with a revocation can never be cached.
type cache struct {
	mu     sync.RWMutex
	gen    uint64
	creds  map[string]*cred
	users  map[string]*identity
	byUser map[string]map[string]struct{} // user id → cred keys
}

func newCache() *cache {
	return &cache{
		creds:  map[string]*cred{},
		users:  map[string]*identity{},
		byUser: map[string]map[string]struct{}{},
	}
}

func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// get returns the credential and, when it has a user, the user's identity
// (nil when not cached).
func (c *cache) get(key string) (*cred, *identity) {
	c.mu.RLock()
	cr := c.creds[key]
	var id *identity
	if cr != nil && cr.userID != "" {
		id = c.users[cr.userID]
	}
	c.mu.RUnlock()
	return cr, id
}

func (c *cache) user(id string) *identity {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.users[id]
}

// put caches a credential read at generation gen, unless something changed
// since.
func (c *cache) put(gen uint64, cr *cred, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.creds) >= maxCreds {
		c.sweep(now)
	}
	c.creds[cr.id] = cr
	if cr.userID != "" {
		set := c.byUser[cr.userID]
		if set == nil {
			set = map[string]struct{}{}
			c.byUser[cr.userID] = set
		}
		set[cr.id] = struct{}{}
	}
}

func (c *cache) putUser(gen uint64, id *identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.users[id.id] = id
	}
}

func (c *cache) sweep(now time.Time) {
	for k, cr := range c.creds {
		if !cr.valid(now) {
			c.dropLocked(k)
		}
	}
	if len(c.creds) >= maxCreds {
		c.creds = map[string]*cred{}
		c.byUser = map[string]map[string]struct{}{}
	}
}

// drop removes one credential that turned out expired or gone.
func (c *cache) drop(key string) {
	c.mu.Lock()
	c.dropLocked(key)
	c.mu.Unlock()
}

func (c *cache) dropLocked(key string) {
	cr := c.creds[key]
	if cr == nil {
		return
	}
	delete(c.creds, key)
	if set := c.byUser[cr.userID]; set != nil {
		delete(set, key)
		if len(set) == 0 {
			delete(c.byUser, cr.userID)
		}
	}
}

// evict applies one announced change. It never calls back into the auth
// service (Subscribe forbids it).
func (c *cache) evict(ch auth.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	switch ch.Kind {
	case auth.ChangeSession:
		c.dropLocked(ch.SessionID)
	case auth.ChangeAPIKey:
		c.dropLocked(ch.KeyID)
		// Basic credentials are cached by header, not by key id.
		for k, cr := range c.creds {
			if cr.kind == credBasic && cr.keyID == ch.KeyID {
				c.dropLocked(k)
			}
		}
	case auth.ChangeToken:
		switch {
		case ch.TokenHash != "":
			c.dropLocked(ch.TokenHash)
		default:
			// "Some tokens" (of a user, or of everyone): drop every
			// cached access token that could be among them.
			for k, cr := range c.creds {
				if cr.kind == credAccessToken && (ch.UserID == "" || cr.userID == ch.UserID) {
					c.dropLocked(k)
				}
			}
		}
	case auth.ChangeUser:
		// Status, password (which ends sessions), membership, deletion:
		// the user's projection and every credential of theirs go, and
		// are read again (or found gone) on the next request.
		delete(c.users, ch.UserID)
		for k := range c.byUser[ch.UserID] {
			delete(c.creds, k)
		}
		delete(c.byUser, ch.UserID)
	case auth.ChangeGroups:
		clear(c.users)
	case auth.ChangeApps:
		// The host table has its own generation. Access tokens carry their
		// client as it was: a deactivated, deleted or re-grouped client,
		// or a forward_auth app that stopped accepting it, must not keep
		// its tokens alive in here; nor may Basic credentials outlive an
		// app that stopped accepting passwords. Sessions and API keys stay.
		for k, cr := range c.creds {
			if cr.kind == credAccessToken || cr.kind == credBasic {
				c.dropLocked(k)
			}
		}
	}
}
