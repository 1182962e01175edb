package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

// OpenID Connect Back-Channel Logout 1.0: when a session ends, every app
// that received tokens in it and registered a backchannel_logout_uri gets
// a signed logout_token, posted from the server, off the request path.

const (
	backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"
	// backchannelQueue bounds the sessions waiting to be announced; a
	// burst beyond it (an admin signing out thousands at once) is logged
	// and dropped rather than held in memory without limit.
	backchannelQueue = 4096
	backchannelTries = 4
	// backchannelTimeout bounds one POST; the spec expects a quick answer.
	backchannelTimeout = 5 * time.Second
)

// recordSessionApp notes that app received a code in sess, so that app
// hears when sess ends. The note lives as long as the session can.
func (p *Provider) recordSessionApp(t *kv.Txn, sess *auth.Session, app *auth.App, now time.Time) error {
	ttl := sess.ExpiresAt.Sub(now)
	if ttl < time.Minute {
		ttl = time.Minute
	}
	sub, err := p.subject(t, sess.UserID, app.ID)
	if err != nil {
		return err
	}
	return t.Set(kv.PrefixOAuthSessionApp.Key(sess.ID+"/"+app.ID), []byte(sub), ttl)
}

// backchannel delivers logout tokens in the background.
type backchannel struct {
	p      *Provider
	queue  chan []string
	client *http.Client
	// retry is the wait before each retry.
	retry  []time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newBackchannel(p *Provider) *backchannel {
	ctx, cancel := context.WithCancel(context.Background())
	b := &backchannel{
		p: p, queue: make(chan []string, backchannelQueue), ctx: ctx, cancel: cancel,
		retry: []time.Duration{time.Second, 5 * time.Second, 20 * time.Second},
		client: &http.Client{
			Timeout: backchannelTimeout,
			// A logout endpoint answers; it does not send Clinch elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	b.wg.Add(1)
	go b.run()
	return b
}

// onChange hears committed changes; it must not block or call auth.
func (b *backchannel) onChange(ch auth.Change) {
	if len(ch.EndedSessions) == 0 {
		return
	}
	select {
	case b.queue <- ch.EndedSessions:
	default:
		b.p.log.Warn("back-channel logout: queue full; some applications will not hear of ended sessions", "sessions", len(ch.EndedSessions))
	}
}

func (b *backchannel) close() {
	b.cancel()
	b.wg.Wait()
}

func (b *backchannel) run() {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case ids := <-b.queue:
			for _, id := range ids {
				b.announce(id)
			}
		}
	}
}

type sessionApp struct{ appID, sub string }

// announce sends a logout token for session id to every app that used it.
func (b *backchannel) announce(id string) {
	p := b.p
	prefix := kv.PrefixOAuthSessionApp.Key(id + "/")
	var used []sessionApp
	err := p.store.Update(b.ctx, func(t *kv.Txn) error {
		used = used[:0]
		var keys [][]byte
		err := t.Scan(prefix, func(k, v []byte) error {
			keys = append(keys, append([]byte(nil), k...))
			used = append(used, sessionApp{appID: string(k[len(prefix):]), sub: string(v)})
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := t.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if b.ctx.Err() == nil {
			p.log.Error("back-channel logout: read session apps", "err", err)
		}
		return
	}
	for _, u := range used {
		app, err := p.auth.AppByID(b.ctx, u.appID)
		if err != nil || app.Type != auth.AppOIDC || app.BackchannelLogoutURI == "" {
			continue
		}
		tok, err := p.logoutToken(app, u.sub, p.sessionID(id))
		if err != nil {
			p.log.Error("back-channel logout: sign token", "err", err)
			continue
		}
		b.wg.Add(1)
		go b.deliver(app.ClientID, app.BackchannelLogoutURI, tok)
	}
}

// deliver posts the token, retrying on network errors and 5xx answers.
func (b *backchannel) deliver(clientID, uri, tok string) {
	defer b.wg.Done()
	body := url.Values{"logout_token": {tok}}.Encode()
	for try := 0; try < backchannelTries; try++ {
		if try > 0 {
			select {
			case <-b.ctx.Done():
				return
			case <-time.After(b.retry[min(try-1, len(b.retry)-1)]):
			}
		}
		req, err := http.NewRequestWithContext(b.ctx, http.MethodPost, uri, strings.NewReader(body))
		if err != nil {
			b.p.log.Error("back-channel logout: request", "client_id", clientID, "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.client.Do(req)
		if err == nil {
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent:
				b.p.m.backchannel.WithLabelValues("ok").Inc()
				return
			case resp.StatusCode < 500:
				// The app refused the token; sending it again changes nothing.
				b.p.m.backchannel.WithLabelValues("refused").Inc()
				b.p.log.Warn("back-channel logout refused", "client_id", clientID, "status", resp.StatusCode)
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if b.ctx.Err() != nil {
			return
		}
		b.p.log.Warn("back-channel logout failed", "client_id", clientID, "try", try+1, "err", err)
	}
	b.p.m.backchannel.WithLabelValues("failed").Inc()
}

// logoutToken signs a Logout Token (Back-Channel Logout §2.4).
func (p *Provider) logoutToken(app *auth.App, sub, sid string) (string, error) {
	now := p.now()
	claims := map[string]any{
		"iss": p.issuer, "aud": app.ClientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti": randomID(), "sub": sub, "sid": sid,
		"events": map[string]any{backchannelEvent: map[string]any{}},
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return p.keys.Sign(b)
}
