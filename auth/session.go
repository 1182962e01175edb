package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// Session lifetimes.
const (
	SessionTTL         = 24 * time.Hour
	RememberSessionTTL = 30 * 24 * time.Hour
)

// Session is a signed-in browser. It is stored under the HMAC of its cookie
// token (its ID), so the store never holds a usable credential.
type Session struct {
	ID           string    `json:"id"` // HMAC of the token, base64url
	UserID       string    `json:"user_id"`
	IP           string    `json:"ip,omitempty"`
	UserAgent    string    `json:"user_agent,omitempty"`
	Device       string    `json:"device,omitempty"`
	Remember     bool      `json:"remember"`
	ACR          string    `json:"acr"`           // "1" password, "2" second factor or passkey
	AMR          []string  `json:"amr,omitempty"` // "pwd", "otp", "hwk", ...
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	LastActiveAt time.Time `json:"last_active_at"`
}

// StartSession creates a session for a user who has proved who they are,
// and records the sign-in on the user.
func (s *Service) StartSession(ctx context.Context, u *User, ip, ua string, remember bool, acr string, amr []string) (*Session, string, error) {
	return s.startSession(ctx, u, ip, ua, remember, acr, amr, nil)
}

func (s *Service) startSession(ctx context.Context, u *User, ip, ua string, remember bool, acr string, amr []string, rh *rehash) (*Session, string, error) {
	now := s.now().UTC()
	var sess *Session
	var token string
	// The session's keys are its own, so concurrent sign-ins of one user
	// never conflict here. The user record, which they all change, is
	// written apart and after, so a contended or failed write of it cannot
	// fail the sign-in.
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		sess, token, err = s.putSession(t, u, ip, ua, remember, acr, amr, now)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if err := s.recordSignIn(ctx, u.ID, now, rh); err != nil {
		s.log.Warn("auth: sign-in not recorded on the user", "user_id", u.ID, "err", err)
	}
	s.auditSignIn(ctx, u, sess, false)
	return sess, token, nil
}

// putSession stores a new session of u inside a transaction and returns it
// with its cookie token.
func (s *Service) putSession(t *kv.Txn, u *User, ip, ua string, remember bool, acr string, amr []string, now time.Time) (*Session, string, error) {
	now = now.UTC()
	token, id := s.secrets.NewToken(PrefixSessionToken)
	ttl := SessionTTL
	if remember {
		ttl = RememberSessionTTL
	}
	if len(ua) > 512 {
		ua = ua[:512]
	}
	sess := &Session{
		ID: id, UserID: u.ID, IP: ip, UserAgent: ua, Device: DeviceName(ua),
		Remember: remember, ACR: acr, AMR: slices.Clone(amr),
		CreatedAt: now, ExpiresAt: now.Add(ttl), LastActiveAt: now,
	}
	if err := s.sessions.Put(t, sess, ttl); err != nil {
		return nil, "", err
	}
	if err := t.Set(kv.PrefixSessionByUser.Key(u.ID+"/"+id), nil, ttl); err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// deleteSession removes a session and its index entry inside a
// transaction; the caller notifies.
func (s *Service) deleteSession(t *kv.Txn, sess *Session) error {
	if err := t.Delete(kv.PrefixSessionByUser.Key(sess.UserID + "/" + sess.ID)); err != nil {
		return err
	}
	return s.sessions.Delete(t, sess.ID)
}

// SessionByToken returns the live session for a cookie token, or ErrNotFound.
func (s *Service) SessionByToken(ctx context.Context, token string) (*Session, error) {
	if !HasPrefix(token, PrefixSessionToken) {
		return nil, ErrNotFound
	}
	return s.SessionByID(ctx, s.secrets.Hash(token))
}

// SessionByID returns the live session with the id (its token's hash).
func (s *Service) SessionByID(ctx context.Context, id string) (*Session, error) {
	var sess *Session
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		sess, err = s.sessions.Get(t, id)
		return err
	})
	if err != nil {
		return nil, mapKV(err, "session")
	}
	if !s.now().Before(sess.ExpiresAt) {
		return nil, ErrNotFound
	}
	return sess, nil
}

// sessionHead is the part of a stored Session that verify needs.
type sessionHead struct {
	UserID       string    `json:"user_id"`
	ACR          string    `json:"acr"`
	ExpiresAt    time.Time `json:"expires_at"`
	LastActiveAt time.Time `json:"last_active_at"`
}

// SessionIdentity returns the live session with the id (its token's
// hash) together with its user and the user's groups, read in one
// transaction: a verify request that misses its cache pays one snapshot,
// not three. The session carries only ID, UserID, ACR, ExpiresAt and
// LastActiveAt. A session whose user is gone comes with a nil user. needUser,
// when set, is asked with the session's user id whether to read the user
// at all (the caller may hold it already); it must not call the Service.
func (s *Service) SessionIdentity(ctx context.Context, id string, needUser func(userID string) bool) (*Session, *User, []*Group, error) {
	var (
		sess   *Session
		u      *User
		groups []*Group
	)
	err := s.store.View(ctx, func(t *kv.Txn) error {
		b, err := t.Get(kv.PrefixSession.Key(id))
		if err != nil {
			return mapKV(err, "session")
		}
		// Only what verify uses is decoded: the device, address and
		// methods would cost a miss allocations and time parsing.
		var head sessionHead
		if err := json.Unmarshal(b, &head); err != nil {
			return fmt.Errorf("auth: decode session: %w", err)
		}
		sess = &Session{ID: id, UserID: head.UserID, ACR: head.ACR, ExpiresAt: head.ExpiresAt, LastActiveAt: head.LastActiveAt}
		if !s.now().Before(sess.ExpiresAt) || needUser != nil && !needUser(sess.UserID) {
			return nil
		}
		u, err = s.users.Get(t, sess.UserID)
		if errors.Is(err, kv.ErrNotFound) {
			u = nil
			return nil
		}
		if err != nil {
			return err
		}
		groups, err = s.userGroups(t, u.ID)
		return err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if !s.now().Before(sess.ExpiresAt) {
		return nil, nil, nil, ErrNotFound
	}
	return sess, u, groups, nil
}

// SessionHead is what /api/verify keeps of a live session.
type SessionHead struct {
	ID           string
	UserID       string
	ACR          string
	ExpiresAt    time.Time
	LastActiveAt time.Time
}

// LiveSessions returns up to n live sessions whose ids sort after after
// ("" starts at the first), in id order, read in one snapshot: a cache
// that loads the store's sessions at start pages through them with it.
func (s *Service) LiveSessions(ctx context.Context, after string, n int) ([]SessionHead, error) {
	out := make([]SessionHead, 0, n)
	start := kv.PrefixSession.Key(after + "\x00")
	if after == "" {
		start = kv.PrefixSession.Key("")
	}
	err := s.store.View(ctx, func(t *kv.Txn) error {
		out = out[:0]
		now := s.now()
		return t.ScanFrom(kv.PrefixSession.Key(""), start, func(k, v []byte) error {
			var head sessionHead
			if err := json.Unmarshal(v, &head); err != nil {
				return fmt.Errorf("auth: decode session: %w", err)
			}
			if now.Before(head.ExpiresAt) {
				out = append(out, SessionHead{ID: string(k[len(kv.PrefixSession):]), UserID: head.UserID, ACR: head.ACR,
					ExpiresAt: head.ExpiresAt, LastActiveAt: head.LastActiveAt})
			}
			if len(out) == n {
				return kv.ErrStop
			}
			return nil
		})
	})
	return out, err
}

// TouchSession records activity on a session. Callers coalesce: it writes.
func (s *Service) TouchSession(ctx context.Context, id string, at time.Time) error {
	return s.store.Update(ctx, func(t *kv.Txn) error {
		sess, err := s.sessions.Get(t, id)
		if err != nil {
			return mapKV(err, "session")
		}
		if !at.After(sess.LastActiveAt) {
			return nil
		}
		sess.LastActiveAt = at.UTC()
		ttl := sess.ExpiresAt.Sub(s.now())
		if ttl <= 0 {
			return nil
		}
		return s.sessions.Put(t, sess, ttl)
	})
}

// TouchSessions records activity on many sessions (id → when) in one
// transaction; sessions that are gone or expired are skipped.
func (s *Service) TouchSessions(ctx context.Context, touches map[string]time.Time) error {
	return s.store.Update(ctx, func(t *kv.Txn) error {
		now := s.now()
		for id, at := range touches {
			sess, err := s.sessions.Get(t, id)
			if errors.Is(err, kv.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			ttl := sess.ExpiresAt.Sub(now)
			if !at.After(sess.LastActiveAt) || ttl <= 0 {
				continue
			}
			sess.LastActiveAt = at.UTC()
			if err := s.sessions.Put(t, sess, ttl); err != nil {
				return err
			}
		}
		return nil
	})
}

// UserSessions lists a user's live sessions, newest first.
func (s *Service) UserSessions(ctx context.Context, userID string) ([]*Session, error) {
	var out []*Session
	now := s.now()
	err := s.store.View(ctx, func(t *kv.Txn) error {
		return t.Scan(kv.PrefixSessionByUser.Key(userID+"/"), func(k, _ []byte) error {
			id := string(k[len(kv.PrefixSessionByUser)+len(userID)+1:])
			sess, err := s.sessions.Get(t, id)
			if errors.Is(err, kv.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if now.Before(sess.ExpiresAt) {
				out = append(out, sess)
			}
			return nil
		})
	})
	sortNewest(out)
	return out, err
}

func sortNewest(ss []*Session) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && ss[j].CreatedAt.After(ss[j-1].CreatedAt); j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}

// EndSession deletes one session. userID, when set, must own it, so a user
// can only sign out their own devices.
func (s *Service) EndSession(ctx context.Context, id, userID string) error {
	_, err := s.endSession(ctx, id, userID)
	return err
}

// endSession is EndSession, returning the session it ended.
func (s *Service) endSession(ctx context.Context, id, userID string) (*Session, error) {
	var ended *Session
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		sess, err := s.sessions.Get(t, id)
		if err != nil {
			return mapKV(err, "session")
		}
		if userID != "" && sess.UserID != userID {
			return mapKV(kv.ErrNotFound, "session")
		}
		ended = sess
		return s.deleteSession(t, sess)
	})
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeSession, SessionID: id, UserID: ended.UserID, EndedSessions: []string{id}})
	return ended, nil
}

// RevokeSession is EndSession for a session ended on purpose from a list
// of sessions (the owner's "sign out" beside one device, or an admin's),
// not a plain sign-out: it is recorded in the audit trail, with the
// device and address the session had.
func (s *Service) RevokeSession(ctx context.Context, id, userID string) error {
	sess, err := s.endSession(ctx, id, userID)
	if err != nil {
		return err
	}
	s.Audit(ctx, audit.Event{Kind: audit.SessionRevoked, Subject: sess.UserID,
		Detail: map[string]string{"session_ip": sess.IP, "session_device": sess.Device}})
	return nil
}

// RevokeSessions ends every session of the user with the email and returns
// how many there were.
func (s *Service) RevokeSessions(ctx context.Context, email string) (int, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return 0, err
	}
	var uid string
	var ended []string
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		u, err := s.userByEmail(t, e)
		if err != nil {
			return err
		}
		uid = u.ID
		ended, err = s.deleteUserSessions(t, u.ID)
		return err
	})
	if err != nil {
		return 0, err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: uid, EndedSessions: ended})
	s.Audit(ctx, audit.Event{Kind: audit.SignOutEverywhere, Subject: uid, Email: e, Detail: map[string]string{"sessions_ended": strconv.Itoa(len(ended))}})
	return len(ended), nil
}

// deleteUserSessions removes every session of the user and returns their
// ids. Callers notify with ChangeUser, which evicts every cached session of
// that user, and pass the ids on as EndedSessions.
func (s *Service) deleteUserSessions(t *kv.Txn, userID string) ([]string, error) {
	return s.deleteUserSessionsExcept(t, userID, "")
}

// deleteUserSessionsExcept is deleteUserSessions sparing the session with
// the id keep (the browser that asked, on a password change). The
// sign-out hooks still run: the user's OIDC grants end all the same.
func (s *Service) deleteUserSessionsExcept(t *kv.Txn, userID, keep string) ([]string, error) {
	var keys [][]byte
	prefix := kv.PrefixSessionByUser.Key(userID + "/")
	err := t.Scan(prefix, func(k, _ []byte) error {
		if keep != "" && string(k[len(prefix):]) == keep {
			return nil
		}
		keys = append(keys, append([]byte(nil), k...))
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	hooks := s.signOutHooks
	s.mu.RUnlock()
	for _, h := range hooks {
		if err := h(t, userID); err != nil {
			return nil, err
		}
	}
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		id := string(k[len(prefix):])
		if err := t.Delete(kv.PrefixSession.Key(id)); err != nil {
			return nil, err
		}
		if err := t.Delete(k); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// CountActiveSessions counts live sessions; for the metrics gauge.
func (s *Service) CountActiveSessions(ctx context.Context) (int, error) {
	var n int
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		n, err = s.sessions.Count(t, 0)
		return err
	})
	return n, err
}
