package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/clinchsso/clinch/audit"
	"github.com/clinchsso/clinch/kv"
)

// Sign-in links ("magic links").
//
// A person asks for a link by email; the link carries a single-use token
// (PrefixMagicToken) whose HMAC is stored with MagicLinkTTL, naming the
// user, the address it was mailed to and where the sign-in goes (rd,
// authz). A link whose address is no longer the user's is void, since the
// old mailbox may be someone else's now. Only active users get one;
// unknown, disabled and pending_invitation addresses get ErrNotFound
// alike, and the pages give all of them the same answer. Requests are
// limited like password resets: MagicIPRequests per client address and
// MagicAddressRequests per address asked for (an HMAC of the normalised
// email, known or not), per MagicWindow.
//
// The link proves the mailbox, which is one factor: using it is the first
// step of the sign-in pipeline, as the password is (acr "1", amr
// ["email"]), so a user with a second factor still has to give it, and a
// user who must have one sets it up first. That is what lets the link
// work in any browser (asked for on a laptop, opened on a phone) without
// being worth more than a password reset, which proves the same mailbox.
const (
	MagicLinkTTL         = 15 * time.Minute
	MagicWindow          = time.Hour
	MagicIPRequests      = 10
	MagicAddressRequests = 3
)

// Rate-limit scopes of sign-in link requests.
const (
	ScopeMagicIP      = "magic_ip"
	ScopeMagicAddress = "magic_address"
)

// AMREmail is the method of a sign-in by a mailed link.
const AMREmail = "email"

type magicRecord struct {
	UserID    string    `json:"uid"`
	Email     string    `json:"email"`
	RD        string    `json:"rd,omitempty"`
	Authz     string    `json:"authz,omitempty"`
	ExpiresAt time.Time `json:"exp"`
}

// LimitMagicLink counts one sign-in link request for email from ip and
// fails with a *RateLimitError when either is over its limit. Its cost and
// answer do not depend on whether an account has the address.
func (s *Service) LimitMagicLink(ctx context.Context, email, ip string) error {
	return s.limitMailedLink(ctx, email, ip, mailedLinkLimits{
		ipScope: ScopeMagicIP, addressScope: ScopeMagicAddress,
		perIP: MagicIPRequests, perAddress: MagicAddressRequests, window: MagicWindow,
	})
}

// MagicRequest is the input to NewMagicLink.
type MagicRequest struct {
	Email string
	// RD and Authz are where the sign-in goes, as in SignIn.
	RD, Authz string
}

// NewMagicLink makes a sign-in link token for the active user with the
// email. Unknown, disabled and pending_invitation users give ErrNotFound.
func (s *Service) NewMagicLink(ctx context.Context, in MagicRequest) (string, *User, error) {
	e, err := NormalizeEmail(in.Email)
	if err != nil {
		return "", nil, fmt.Errorf("sign-in link: %w", ErrNotFound)
	}
	tok, hash := s.secrets.NewToken(PrefixMagicToken)
	var u *User
	err = s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		if u, err = s.userByEmail(t, e); err != nil {
			return err
		}
		if u.Status != StatusActive {
			return fmt.Errorf("sign-in link: %w", ErrNotFound)
		}
		b, err := json.Marshal(magicRecord{UserID: u.ID, Email: u.Email, RD: in.RD, Authz: in.Authz, ExpiresAt: s.now().Add(MagicLinkTTL)})
		if err != nil {
			return err
		}
		return t.Set(kv.PrefixMagicLink.Key(hash), b, MagicLinkTTL)
	})
	if err != nil {
		return "", nil, err
	}
	s.Audit(ctx, userEvent(audit.MagicLinkRequested, u))
	return tok, u, nil
}

// MagicLink is what a sign-in link is for: its user and the sign-in's
// destination.
type MagicLink struct {
	User      *User
	RD, Authz string
}

// MagicLinkInfo returns what a sign-in link is for, without using it up:
// the page the link opens asks for a click first, so mail scanners that
// follow links cannot burn it. An unknown, used or expired token, or one
// whose user is no longer active, gives ErrNotFound.
func (s *Service) MagicLinkInfo(ctx context.Context, token string) (*MagicLink, error) {
	var l *MagicLink
	err := s.store.View(ctx, func(t *kv.Txn) error {
		u, rec, err := s.magicLink(t, token)
		if err == nil {
			l = &MagicLink{User: u, RD: rec.RD, Authz: rec.Authz}
		}
		return err
	})
	return l, err
}

func (s *Service) magicLink(t *kv.Txn, token string) (*User, *magicRecord, error) {
	u, rec, err := readLink[magicRecord](s, t, token, PrefixMagicToken, kv.PrefixMagicLink, "sign-in link")
	if err != nil {
		return nil, nil, err
	}
	if u.Status != StatusActive || rec.Email != u.Email {
		return nil, nil, fmt.Errorf("sign-in link: %w", ErrNotFound)
	}
	return u, rec, nil
}

// MagicSignIn is the input to UseMagicLink.
type MagicSignIn struct {
	Token     string
	IP        string
	UserAgent string
	Remember  bool
	// Previous and Pending are the browser's session and pending sign-in
	// cookies, as in SignIn.
	Previous, Pending string
}

// UseMagicLink uses up a sign-in link and takes the sign-in on from its
// first step, as Authenticate does after a right password: a session (acr
// "1", amr ["email"]) when the user has no second factor and needs none,
// else a pending sign-in at the second factor (or its set-up). The result
// carries the RD and Authz the link was asked for with. A token that is
// unknown, used or expired gives ErrNotFound.
func (s *Service) UseMagicLink(ctx context.Context, in MagicSignIn) (*SignInResult, error) {
	var u *User
	var rec *magicRecord
	err := s.store.Update(ctx, func(t *kv.Txn) error {
		var err error
		if u, rec, err = s.magicLink(t, in.Token); err != nil {
			return err
		}
		return t.Delete(kv.PrefixMagicLink.Key(s.secrets.Hash(in.Token)))
	})
	if errors.Is(err, kv.ErrTxnConflict) {
		// Another request used the token at the same moment.
		return nil, fmt.Errorf("sign-in link: %w", ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	p := &PendingSignIn{
		UserID: u.ID, AMR: []string{AMREmail}, Remember: in.Remember, RD: rec.RD, Authz: rec.Authz,
		IP: in.IP, UserAgent: in.UserAgent, Replaces: s.sessionIDOf(in.Previous),
		PasswordVersion: u.PasswordVersion, CreatedAt: s.now(),
	}
	res, err := s.continueSignIn(ctx, p, in.Pending)
	if errors.Is(err, ErrNoSignIn) {
		// Disabled between the link and the session.
		return nil, fmt.Errorf("sign-in link: %w", ErrNotFound)
	}
	return res, err
}
