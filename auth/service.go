// Package auth is Clinch's identity domain: users, groups, sessions,
// passwords, sign-in rate limits and the admin operations on them. It stores
// everything through kv and knows nothing of HTTP.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"golang.org/x/crypto/bcrypt"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// Config wires a Service.
type Config struct {
	Store   *kv.Store
	Secrets *Secrets
	Logger  *slog.Logger
	// BcryptCost defaults to 12.
	BcryptCost int
	// Now defaults to time.Now; tests move the clock.
	Now func() time.Time
	// Passkeys says where passkeys work; the zero value turns them off.
	Passkeys PasskeyConfig
	// Audit keeps the audit trail (see Service.Audit); nil records
	// nothing.
	Audit Recorder
}

// Service is the one admin and identity service, used by the sign-in pages,
// the CLI (directly or through the control socket) and the other modules.
type Service struct {
	store   *kv.Store
	secrets *Secrets
	log     *slog.Logger
	cost    int
	now     func() time.Time
	audit   Recorder

	users    *kv.Collection[User]
	groups   *kv.Collection[Group]
	sessions *kv.Collection[Session]
	apps     *kv.Collection[App]
	apiKeys  *kv.Collection[APIKey]
	passkeys *kv.Collection[Passkey]
	// adminTokens authorize the JSON admin API.
	adminTokens *kv.Collection[AdminToken]

	// rp is the WebAuthn relying party; nil when passkeys are off.
	rp *webauthn.WebAuthn

	factors        *kv.Collection[secondFactors]
	pendingSignIns *kv.Collection[PendingSignIn]
	enrolments     *kv.Collection[totpEnrolment]

	// dummyHash makes a sign-in for an unknown user cost one bcrypt compare,
	// the same as a wrong password.
	dummyHash func() []byte

	mu          sync.RWMutex
	listeners   []func(Change)
	deleteHooks []func(*kv.Txn, string) error
	// appRevokeHooks and signOutHooks run inside the transactions that
	// deactivate or delete an app, and that end all of a user's sessions.
	appRevokeHooks []func(*kv.Txn, *App) error
	signOutHooks   []func(*kv.Txn, string) error
	// eventHooks hear security events (securityevent.go).
	eventHooks []func(SecurityEvent)
	// everyoneHooks run inside SignOutEveryone's transaction.
	everyoneHooks []func(*kv.Txn) error
}

// New returns a Service over an open store.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Secrets == nil {
		return nil, errors.New("auth: Store and Secrets are required")
	}
	s := &Service{
		store:   cfg.Store,
		secrets: cfg.Secrets,
		log:     cfg.Logger,
		cost:    cfg.BcryptCost,
		now:     cfg.Now,
		audit:   cfg.Audit,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cost == 0 {
		s.cost = 12
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.users = kv.NewCollection(kv.PrefixUser, func(u *User) string { return u.ID },
		kv.Index[User]{Prefix: kv.PrefixUserByEmail, Value: func(u *User) string { return u.Email }},
		kv.Index[User]{Prefix: kv.PrefixUserByUsername, Value: func(u *User) string { return u.Username }},
	)
	s.groups = kv.NewCollection(kv.PrefixGroup, func(g *Group) string { return g.ID },
		kv.Index[Group]{Prefix: kv.PrefixGroupByName, Value: func(g *Group) string { return g.Name }},
	)
	s.sessions = kv.NewCollection(kv.PrefixSession, func(x *Session) string { return x.ID })
	s.apps = kv.NewCollection(kv.PrefixApp, func(a *App) string { return a.ID },
		kv.Index[App]{Prefix: kv.PrefixAppBySlug, Value: func(a *App) string { return a.Slug }},
		kv.Index[App]{Prefix: kv.PrefixAppByClientID, Value: func(a *App) string { return a.ClientID }},
	)
	s.apiKeys = kv.NewCollection(kv.PrefixAPIKey, func(k *APIKey) string { return k.ID })
	s.passkeys = kv.NewCollection(kv.PrefixPasskey, func(p *Passkey) string { return p.ID },
		kv.Index[Passkey]{Prefix: kv.PrefixPasskeyByCred, Value: func(p *Passkey) string { return credKey(p.CredentialID) }},
	)
	s.adminTokens = kv.NewCollection(kv.PrefixAdminToken, func(k *AdminToken) string { return k.ID },
		kv.Index[AdminToken]{Prefix: kv.PrefixAdminTokenByName, Value: func(k *AdminToken) string { return k.Name }},
	)
	rp, err := newRelyingParty(cfg.Passkeys)
	if err != nil {
		return nil, err
	}
	s.rp = rp
	s.factors = kv.NewCollection(kv.PrefixSecondFactors, func(f *secondFactors) string { return f.UserID })
	s.pendingSignIns = kv.NewCollection(kv.PrefixSignIn, func(p *PendingSignIn) string { return p.ID })
	s.enrolments = kv.NewCollection(kv.PrefixTOTPEnrolment, func(e *totpEnrolment) string { return e.SessionID })
	// Made on first sign-in, not at start-up: admin commands run without a
	// server open a Service too and should not pay a bcrypt hash each time.
	s.dummyHash = sync.OnceValue(func() []byte {
		h, err := bcrypt.GenerateFromPassword([]byte("clinch-timing-equaliser"), s.cost)
		if err != nil {
			panic(fmt.Sprintf("auth: bcrypt: %v", err))
		}
		return h
	})
	return s, nil
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// ChangeKind says what changed.
type ChangeKind int

const (
	ChangeSession ChangeKind = iota // a session ended (SessionID set)
	ChangeUser                      // a user changed or was deleted (UserID set)
	ChangeGroups                    // group membership or definitions changed
	ChangeApps                      // applications changed
	ChangeAPIKey                    // an API key was revoked (KeyID set)
	ChangeToken                     // an OAuth token was revoked (TokenHash set)
)

// Change tells caches what to evict. It is sent after the write committed.
type Change struct {
	Kind      ChangeKind
	UserID    string
	SessionID string
	KeyID     string
	TokenHash string
	// EndedSessions are the ids of the sessions this change ended (one
	// sign-out, or every session of UserID on a password change, disable,
	// revoke or delete), for modules that tell others about it
	// (back-channel logout).
	EndedSessions []string
}

// Subscribe registers fn to hear every committed change. fn must be quick
// and must not call back into the Service.
func (s *Service) Subscribe(fn func(Change)) {
	s.mu.Lock()
	s.listeners = append(s.listeners, fn)
	s.mu.Unlock()
}

// Notify tells subscribers about a change; exported for modules (oidc)
// whose writes also invalidate caches.
func (s *Service) Notify(c Change) {
	s.mu.RLock()
	ls := s.listeners
	s.mu.RUnlock()
	for _, fn := range ls {
		fn(c)
	}
}

func mapKV(err error, what string) error {
	switch {
	case errors.Is(err, kv.ErrNotFound):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case errors.Is(err, kv.ErrConflict):
		return fmt.Errorf("%s: %w", what, ErrConflict)
	}
	return err
}

// ---- users ----

// NewUser is the input to CreateUser.
type NewUser struct {
	Email       string
	Username    string
	DisplayName string
	Password    string // empty: no password yet (pending invitation)
	Admin       bool
	Groups      []string
	Claims      string
}

// CreateUser validates and stores a user, adding it to the named groups in
// the same transaction.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (*User, error) {
	u, err := s.newUser(in)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(t *kv.Txn) error { return s.insertUser(t, u, in.Groups) })
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeGroups})
	e := userEvent(audit.UserCreated, u)
	e.After = userSnapshot(u)
	if len(in.Groups) > 0 {
		e.Detail = map[string]string{"groups": strings.Join(in.Groups, ",")}
	}
	s.Audit(ctx, e)
	return u, nil
}

func (s *Service) newUser(in NewUser) (*User, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, err
	}
	username, err := NormalizeUsername(in.Username)
	if err != nil {
		return nil, err
	}
	claims, err := NormalizeClaims(in.Claims)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &User{
		ID: NewID(), Email: email, Username: username,
		DisplayName: strings.TrimSpace(in.DisplayName), Admin: in.Admin,
		Status: StatusActive, Claims: claims, CreatedAt: now, UpdatedAt: now,
	}
	if len(u.DisplayName) > 200 {
		return nil, invalid("name", "is longer than 200 characters")
	}
	if in.Password == "" {
		u.Status = StatusPendingInvitation
	} else {
		if u.PasswordHash, err = s.hashPassword(in.Password); err != nil {
			return nil, err
		}
		u.PasswordVersion = 1
	}
	return u, nil
}

func (s *Service) insertUser(t *kv.Txn, u *User, groups []string) error {
	if _, err := s.users.GetBy(t, kv.PrefixUserByEmail, u.Email); err == nil {
		return fmt.Errorf("user with email %s: %w", u.Email, ErrConflict)
	}
	if u.Username != "" {
		if _, err := s.users.GetBy(t, kv.PrefixUserByUsername, u.Username); err == nil {
			return fmt.Errorf("user with username %s: %w", u.Username, ErrConflict)
		}
		// A username must not be someone else's email either, or sign-in by
		// "email or username" becomes ambiguous; '@' is refused in usernames.
	}
	if err := s.users.Put(t, u, 0); err != nil {
		return mapKV(err, "user")
	}
	for _, g := range groups {
		if err := s.addMember(t, g, u.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) hashPassword(p string) ([]byte, error) {
	if err := CheckPassword(p); err != nil {
		return nil, err
	}
	return bcrypt.GenerateFromPassword([]byte(p), s.cost)
}

// SetupFirstUser creates the first account, an admin, only while no user
// exists. Check and insert are one transaction, so two racing wizards cannot
// both win.
func (s *Service) SetupFirstUser(ctx context.Context, in NewUser) (*User, error) {
	in.Admin = true
	if in.Password == "" {
		return nil, invalid("password", "is required")
	}
	u, err := s.newUser(in)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		n, err := s.users.Count(t, 1)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrSetupDone
		}
		return s.insertUser(t, u, nil)
	})
	if err != nil {
		return nil, err
	}
	e := userEvent(audit.UserCreated, u)
	e.After, e.Detail = userSnapshot(u), map[string]string{"via": "first-run wizard"}
	s.Audit(ctx, e)
	return u, nil
}

// NeedsSetup reports whether no user exists yet.
func (s *Service) NeedsSetup(ctx context.Context) (bool, error) {
	var n int
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		n, err = s.users.Count(t, 1)
		return err
	})
	return n == 0, err
}

// User returns a user by id.
func (s *Service) User(ctx context.Context, id string) (*User, error) {
	var u *User
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		u, err = s.users.Get(t, id)
		return err
	})
	return u, mapKV(err, "user")
}

// UserByEmail returns a user by (normalised) email.
func (s *Service) UserByEmail(ctx context.Context, email string) (*User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	var u *User
	err = s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		u, err = s.users.GetBy(t, kv.PrefixUserByEmail, e)
		return err
	})
	return u, mapKV(err, "user "+e)
}

// userByEmail looks up a normalised email inside a transaction.
func (s *Service) userByEmail(t *kv.Txn, email string) (*User, error) {
	u, err := s.users.GetBy(t, kv.PrefixUserByEmail, email)
	return u, mapKV(err, "user "+email)
}

func (s *Service) userByLogin(t *kv.Txn, login string) (*User, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	if strings.Contains(login, "@") {
		return s.users.GetBy(t, kv.PrefixUserByEmail, login)
	}
	return s.users.GetBy(t, kv.PrefixUserByUsername, login)
}

// Users lists every user, ordered by email.
func (s *Service) Users(ctx context.Context) ([]*User, error) {
	var out []*User
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		out, err = s.users.All(t)
		return err
	})
	slices.SortFunc(out, func(a, b *User) int { return strings.Compare(a.Email, b.Email) })
	return out, err
}

// updateUser applies fn to the user with the email in one transaction,
// and records it as user.updated with the user before and after.
func (s *Service) updateUser(ctx context.Context, email string, fn func(t *kv.Txn, u *User) error) (*User, error) {
	return s.updateUserAs(ctx, audit.UserUpdated, email, fn)
}

// updateUserAs is updateUser recording an event of another kind.
func (s *Service) updateUserAs(ctx context.Context, kind audit.Kind, email string, fn func(t *kv.Txn, u *User) error) (*User, error) {
	return s.updateUserEndingAs(ctx, kind, email, func(t *kv.Txn, u *User) ([]string, error) { return nil, fn(t, u) })
}

// updateUserEnding is updateUser for changes that may end the user's
// sessions: fn returns the ids it ended, which go out with the change (and
// in the event's detail as a count).
func (s *Service) updateUserEnding(ctx context.Context, email string, fn func(t *kv.Txn, u *User) ([]string, error)) (*User, error) {
	return s.updateUserEndingAs(ctx, audit.UserUpdated, email, fn)
}

// updateUserEndingAs is updateUserEnding recording an event of another
// kind.
func (s *Service) updateUserEndingAs(ctx context.Context, kind audit.Kind, email string, fn func(t *kv.Txn, u *User) ([]string, error)) (*User, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	var u *User
	var before json.RawMessage
	var ended []string
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		u, err = s.userByEmail(t, e)
		if err != nil {
			return err
		}
		before = userSnapshot(u)
		if ended, err = fn(t, u); err != nil {
			return err
		}
		u.UpdatedAt = s.now().UTC()
		return mapKV(s.users.Put(t, u, 0), "user")
	})
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: u.ID, EndedSessions: ended})
	ev := userEvent(kind, u)
	ev.Before, ev.After = before, userSnapshot(u)
	if len(ended) > 0 {
		ev.Detail = map[string]string{"sessions_ended": strconv.Itoa(len(ended))}
	}
	s.Audit(ctx, ev)
	return u, nil
}

// SetPassword replaces a user's password and ends every session of theirs.
func (s *Service) SetPassword(ctx context.Context, email, password string) (*User, error) {
	h, err := s.hashPassword(password)
	if err != nil {
		return nil, err
	}
	wasActive := false
	u, err := s.updateUserEndingAs(ctx, audit.PasswordChanged, email, func(t *kv.Txn, u *User) ([]string, error) {
		wasActive = u.Status == StatusActive
		u.PasswordHash = h
		u.PasswordVersion++
		if u.Status == StatusPendingInvitation {
			u.Status = StatusActive
		}
		return s.deleteUserSessions(t, u.ID)
	})
	// A first password (an invitation's) is no change to tell about.
	if err == nil && wasActive {
		s.announce(ctx, EventPasswordChanged, u.ID, u, "")
	}
	return u, err
}

// SetStatus enables or disables a user. Disabling ends their sessions and
// refuses the last active admin.
func (s *Service) SetStatus(ctx context.Context, email string, st Status) (*User, error) {
	return s.updateUserEnding(ctx, email, func(t *kv.Txn, u *User) ([]string, error) {
		if st == StatusDisabled && u.Admin && u.Status == StatusActive {
			if err := s.ensureOtherAdmin(t, u.ID); err != nil {
				return nil, err
			}
		}
		u.Status = st
		if st != StatusActive {
			return s.deleteUserSessions(t, u.ID)
		}
		return nil, nil
	})
}

// SetUserClaims replaces a user's custom claims.
func (s *Service) SetUserClaims(ctx context.Context, email, claims string) (*User, error) {
	c, err := NormalizeClaims(claims)
	if err != nil {
		return nil, err
	}
	return s.updateUser(ctx, email, func(_ *kv.Txn, u *User) error { u.Claims = c; return nil })
}

func (s *Service) ensureOtherAdmin(t *kv.Txn, exceptID string) error {
	found := false
	err := s.users.Each(t, func(o *User) error {
		if o.ID != exceptID && o.Admin && o.Status == StatusActive {
			found = true
			return kv.ErrStop
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !found {
		return ErrLastAdmin
	}
	return nil
}

// DeleteUser removes a user, their sessions, API keys and group memberships.
func (s *Service) DeleteUser(ctx context.Context, email string) error {
	e, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	var id string
	var ended []string
	var before json.RawMessage
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		u, err := s.userByEmail(t, e)
		if err != nil {
			return err
		}
		id = u.ID
		before = userSnapshot(u)
		if u.Admin && u.Status == StatusActive {
			if err := s.ensureOtherAdmin(t, u.ID); err != nil {
				return err
			}
		}
		if ended, err = s.deleteUserSessions(t, u.ID); err != nil {
			return err
		}
		if err := s.deleteUserAPIKeys(t, u.ID); err != nil {
			return err
		}
		if err := s.deleteUserPasskeys(t, u.ID); err != nil {
			return err
		}
		if err := s.deleteFactors(t, u.ID); err != nil {
			return err
		}
		gs, err := s.userGroups(t, u.ID)
		if err != nil {
			return err
		}
		for _, g := range gs {
			if i := slices.Index(g.Members, u.ID); i >= 0 {
				g.Members = slices.Delete(g.Members, i, i+1)
				if err := s.saveGroup(t, g); err != nil {
					return err
				}
			}
		}
		for _, hook := range s.userDeleteHooks() {
			if err := hook(t, u.ID); err != nil {
				return err
			}
		}
		return s.users.Delete(t, u.ID)
	})
	if err != nil {
		return err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: id, EndedSessions: ended})
	s.Notify(Change{Kind: ChangeGroups})
	s.Audit(ctx, audit.Event{Kind: audit.UserDeleted, Subject: id, Email: e, Before: before})
	return nil
}

// OnUserDelete registers a hook that runs inside the transaction that
// deletes a user, so other modules' records (tokens, consents) go with it.
func (s *Service) OnUserDelete(fn func(t *kv.Txn, userID string) error) {
	s.mu.Lock()
	s.deleteHooks = append(s.deleteHooks, fn)
	s.mu.Unlock()
}

// OnSignOutEverywhere registers a hook that runs inside every transaction
// that ends all of a user's sessions (sessions revoke, password change,
// disable, delete), so the user's OIDC grants end with them.
func (s *Service) OnSignOutEverywhere(fn func(t *kv.Txn, userID string) error) {
	s.mu.Lock()
	s.signOutHooks = append(s.signOutHooks, fn)
	s.mu.Unlock()
}

func (s *Service) userDeleteHooks() []func(*kv.Txn, string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.deleteHooks
}

// deleteUserAPIKeys removes every API key the user owns.
func (s *Service) deleteUserAPIKeys(t *kv.Txn, userID string) error {
	keys, err := s.apiKeys.All(t)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.UserID == userID {
			if err := s.apiKeys.Delete(t, k.ID); err != nil {
				return err
			}
		}
	}
	return nil
}
