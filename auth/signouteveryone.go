package auth

import (
	"context"
	"strconv"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// OnSignOutEveryone registers a hook that runs inside SignOutEveryone's
// transaction, so other modules' grants (OIDC tokens) end with the
// sessions.
func (s *Service) OnSignOutEveryone(fn func(t *kv.Txn) error) {
	s.mu.Lock()
	s.everyoneHooks = append(s.everyoneHooks, fn)
	s.mu.Unlock()
}

// SignOutEveryone ends every session and, through the hooks, every grant,
// in one transaction: after a suspected break-in, nobody stays signed in
// anywhere. It returns how many sessions ended. Everyone, the admin who
// asked included, signs in again.
func (s *Service) SignOutEveryone(ctx context.Context) (int, error) {
	byUser := map[string][]string{}
	n := 0
	s.mu.RLock()
	hooks := s.everyoneHooks
	s.mu.RUnlock()
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		clear(byUser)
		n = 0
		var all []*Session
		err := s.sessions.Each(t, func(x *Session) error {
			all = append(all, x)
			return nil
		})
		if err != nil {
			return err
		}
		for _, x := range all {
			if err := s.deleteSession(t, x); err != nil {
				return err
			}
			byUser[x.UserID] = append(byUser[x.UserID], x.ID)
			n++
		}
		for _, h := range hooks {
			if err := h(t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for uid, ended := range byUser {
		s.Notify(Change{Kind: ChangeUser, UserID: uid, EndedSessions: ended})
	}
	// Access tokens of people who had no session left are cached too.
	s.Notify(Change{Kind: ChangeToken})
	s.Audit(ctx, audit.Event{Kind: audit.SignOutEverywhere, Detail: map[string]string{
		"scope": "everyone", "sessions_ended": strconv.Itoa(n), "users": strconv.Itoa(len(byUser))}})
	return n, nil
}
