package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// Invitations.
//
// Inviting creates a pending_invitation user (or re-invites one) and makes
// a single-use token (PrefixInviteToken) whose HMAC is stored with
// InviteTTL, naming the user and the user's InviteVersion: every new
// invitation bumps the version, which voids the links sent before.
// Accepting sets the first password and makes the user active. Active and
// disabled users cannot be invited, and their old links do not work.
const InviteTTL = 7 * 24 * time.Hour

// ErrNotInvitable: the user with the email is active or disabled.
var ErrNotInvitable = errors.New("the user is not awaiting an invitation")

type inviteRecord struct {
	UserID        string    `json:"uid"`
	InviteVersion uint64    `json:"iv"`
	ExpiresAt     time.Time `json:"exp"`
}

// Invite makes an invitation link for the email. With no user having it, it
// creates a pending_invitation user from in (in.Password must be empty);
// with a pending_invitation user it re-invites them, voiding every link
// sent before, and adds them to in.Groups (in's name and other fields are
// then left as they are). Active and disabled users give ErrNotInvitable.
// created says whether the user is new.
func (s *Service) Invite(ctx context.Context, in NewUser) (token string, u *User, created bool, err error) {
	if in.Password != "" {
		return "", nil, false, invalid("password", "is set by the person invited")
	}
	fresh, err := s.newUser(in)
	if err != nil {
		return "", nil, false, err
	}
	tok, hash := s.secrets.NewToken(PrefixInviteToken)
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		created = false
		old, err := s.users.GetBy(t, kv.PrefixUserByEmail, fresh.Email)
		switch {
		case errors.Is(err, kv.ErrNotFound):
			u, created = fresh, true
			u.InviteVersion = 1
			if err := s.insertUser(t, u, in.Groups); err != nil {
				return err
			}
		case err != nil:
			return err
		case old.Status != StatusPendingInvitation:
			return fmt.Errorf("invite %s (%s): %w", old.Email, old.Status, ErrNotInvitable)
		default:
			u = old
			u.InviteVersion++
			u.UpdatedAt = s.now().UTC()
			if err := mapKV(s.users.Put(t, u, 0), "user"); err != nil {
				return err
			}
			for _, g := range in.Groups {
				if err := s.addMember(t, g, u.ID); err != nil {
					return err
				}
			}
		}
		b, err := json.Marshal(inviteRecord{UserID: u.ID, InviteVersion: u.InviteVersion, ExpiresAt: s.now().Add(InviteTTL)})
		if err != nil {
			return err
		}
		return t.Set(kv.PrefixInvitation.Key(hash), b, InviteTTL)
	})
	if err != nil {
		return "", nil, false, err
	}
	s.Notify(Change{Kind: ChangeGroups})
	e := userEvent(audit.InvitationCreated, u)
	e.Detail = map[string]string{"new_user": strconv.FormatBool(created)}
	if len(in.Groups) > 0 {
		e.Detail["groups"] = strings.Join(in.Groups, ",")
	}
	if created {
		e.After = userSnapshot(u)
	}
	s.Audit(ctx, e)
	return tok, u, created, nil
}

// InvitationUser returns the user an invitation token is for, without using
// it up: the page the link opens asks for the password first. An unknown,
// used, expired or void token gives ErrNotFound.
func (s *Service) InvitationUser(ctx context.Context, token string) (*User, error) {
	var u *User
	err := s.store.View(ctx, func(t *kv.Txn) error {
		var err error
		u, err = s.invitationUser(t, token)
		return err
	})
	return u, err
}

func (s *Service) invitationUser(t *kv.Txn, token string) (*User, error) {
	u, rec, err := readLink[inviteRecord](s, t, token, PrefixInviteToken, kv.PrefixInvitation, "invitation link")
	if err != nil {
		return nil, err
	}
	if u.Status != StatusPendingInvitation || u.InviteVersion != rec.InviteVersion {
		return nil, fmt.Errorf("invitation link: %w", ErrNotFound)
	}
	return u, nil
}

// Acceptance is the input to AcceptInvitation.
type Acceptance struct {
	Token     string // the invitation token
	Password  string // the first password
	IP        string
	UserAgent string
	// Previous and Pending are the browser's session and pending sign-in
	// cookies, if any, as in SignIn.
	Previous, Pending string
}

// AcceptInvitation uses up an invitation token, sets the user's first
// password and makes the user active; then, the password being proven,
// the sign-in pipeline goes on from its first step as after Authenticate:
// a session (acr "1", amr ["pwd"]) at once, or a pending sign-in at the
// second-factor set-up when one is required of the user. A password that
// breaks the rules (*InvalidError) leaves the token usable; a token that
// is unknown, used, expired or void gives ErrNotFound.
func (s *Service) AcceptInvitation(ctx context.Context, in Acceptance) (*SignInResult, error) {
	if err := CheckPassword(in.Password); err != nil {
		return nil, err
	}
	if _, err := s.InvitationUser(ctx, in.Token); err != nil {
		return nil, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(in.Password), s.cost)
	if err != nil {
		return nil, err
	}
	var u *User
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		if u, err = s.invitationUser(t, in.Token); err != nil {
			return err
		}
		if err := t.Delete(kv.PrefixInvitation.Key(s.secrets.Hash(in.Token))); err != nil {
			return err
		}
		u.PasswordHash = h
		u.PasswordVersion++
		u.Status = StatusActive
		u.UpdatedAt = s.now().UTC()
		return mapKV(s.users.Put(t, u, 0), "user")
	})
	if errors.Is(err, kv.ErrTxnConflict) {
		// Another request used the token at the same moment.
		return nil, fmt.Errorf("invitation link: %w", ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	s.Notify(Change{Kind: ChangeUser, UserID: u.ID})
	e := userEvent(audit.InvitationAccepted, u)
	e.Actor, e.IP = u.ID, in.IP
	s.Audit(ctx, e)
	p := &PendingSignIn{
		UserID: u.ID, AMR: []string{AMRPassword}, IP: in.IP, UserAgent: in.UserAgent,
		Replaces: s.sessionIDOf(in.Previous), PasswordVersion: u.PasswordVersion, CreatedAt: s.now(),
	}
	return s.continueSignIn(ctx, p, in.Pending)
}
