package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
)

// fillSessions writes n live sessions of the user with the email straight
// into the stopped server's store, as sign-ins would have written them
// (auth.Session under the HMAC of a fresh token, and the per-user index),
// and writes their cookie tokens to a file, one per line. Signing in a
// million times through the form would take hours of bcrypt; no HTTP route
// in the shipped binary exists for this, by design.
func fillSessions(ctx context.Context, s *server, email string, n int, tokensPath string) error {
	store, err := kv.Open(ctx, s.dataDir, kv.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	sec, err := auth.NewSecrets([]byte(s.secret))
	if err != nil {
		return err
	}
	svc, err := auth.New(auth.Config{Store: store, Secrets: sec, BcryptCost: 4})
	if err != nil {
		return err
	}
	u, err := svc.UserByEmail(ctx, email)
	if err != nil {
		return err
	}
	f, err := os.Create(tokensPath)
	if err != nil {
		return err
	}
	defer f.Close()
	const batch = 1000
	workers := max(1, min(4, runtime.NumCPU()))
	jobs := make(chan int)
	var (
		mu    sync.Mutex
		first error
	)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for count := range jobs {
				toks, err := writeSessions(ctx, store, sec, u.ID, count)
				mu.Lock()
				if err == nil {
					for _, t := range toks {
						_, err = fmt.Fprintln(f, t)
					}
				}
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	for left := n; left > 0; left -= batch {
		jobs <- min(batch, left)
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return first
	}
	return f.Sync()
}

func writeSessions(ctx context.Context, store *kv.Store, sec *auth.Secrets, userID string, n int) ([]string, error) {
	now := time.Now().UTC()
	ttl := auth.RememberSessionTTL
	toks := make([]string, 0, n)
	err := store.Update(ctx, func(t *kv.Txn) error {
		toks = toks[:0]
		for range n {
			tok, id := sec.NewToken(auth.PrefixSessionToken)
			ua := "Mozilla/5.0 (X11; Linux x86_64) load"
			sess := auth.Session{ID: id, UserID: userID, IP: "127.0.0.1", UserAgent: ua, Device: auth.DeviceName(ua),
				Remember: true, ACR: auth.ACRPassword, AMR: []string{auth.AMRPassword},
				CreatedAt: now, ExpiresAt: now.Add(ttl), LastActiveAt: now}
			b, err := json.Marshal(&sess)
			if err != nil {
				return err
			}
			if err := t.Set(kv.PrefixSession.Key(id), b, ttl); err != nil {
				return err
			}
			if err := t.Set(kv.PrefixSessionByUser.Key(userID+"/"+id), nil, ttl); err != nil {
				return err
			}
			toks = append(toks, tok)
		}
		return nil
	})
	return toks, err
}

// dataDirSize is the store's size on disk.
func dataDirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
