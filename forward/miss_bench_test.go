package forward

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/auth"
	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/web"
)

// BenchmarkVerifyMiss is /api/verify with a cookie the cache does not
// hold: 200,000 sessions on disk, a cache of 1 MiB, uniform access, so
// nearly every request reads its session from the store (the cost the
// million-session rows of testing/load are made of).
func BenchmarkVerifyMiss(b *testing.B) {
	ctx := context.Background()
	store, err := kv.Open(ctx, b.TempDir(), kv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	sec, err := auth.NewSecrets([]byte(strings.Repeat("s", 32)))
	if err != nil {
		b.Fatal(err)
	}
	svc, err := auth.New(auth.Config{Store: store, Secrets: sec, BcryptCost: 4})
	if err != nil {
		b.Fatal(err)
	}
	must(b)(svc.CreateGroup(ctx, "staff", "", ""))
	u, err := svc.CreateUser(ctx, auth.NewUser{Email: "ann@example.com", Username: "ann", Password: "correct horse", Groups: []string{"staff"}})
	if err != nil {
		b.Fatal(err)
	}
	must3(b)(svc.CreateApp(ctx, auth.AppInput{Name: "Wiki", Type: auth.AppForwardAuth, Domain: "wiki.example.com", AllowedGroups: []string{"staff"}}))
	const n = 200_000
	toks := make([]string, 0, n)
	now := time.Now().UTC()
	for len(toks) < n {
		err := store.Update(ctx, func(t *kv.Txn) error {
			for range 1000 {
				tok, id := sec.NewToken(auth.PrefixSessionToken)
				s, _ := json.Marshal(&auth.Session{ID: id, UserID: u.ID, IP: "127.0.0.1", UserAgent: "bench", ACR: auth.ACRPassword,
					AMR: []string{auth.AMRPassword}, CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastActiveAt: now})
				if err := t.Set(kv.PrefixSession.Key(id), s, time.Hour); err != nil {
					return err
				}
				toks = append(toks, tok)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	host, _ := url.Parse("https://auth.example.com")
	v, err := New(Config{Auth: svc, Secrets: sec, Site: web.NewSite(host, "", false), CacheBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	reqs := make([]*http.Request, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range reqs {
		r := httptest.NewRequest("GET", Path, nil)
		r.Header = caddyHeaders("https", "wiki.example.com", "/some/page?q=1")
		r.Header.Set("Accept", browserAccept)
		r.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: toks[rng.IntN(n)]})
		reqs[i] = r
	}
	w := &discardWriter{h: http.Header{}}
	v.ServeHTTP(w, reqs[0])
	if w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		clear(w.h)
		v.ServeHTTP(w, reqs[i%len(reqs)])
	}
}
