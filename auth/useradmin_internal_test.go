package auth

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clinchsso/clinch/kv"
	"github.com/clinchsso/clinch/kv/kvtest"
)

// manyUsers is a service holding n users, user00000@example.com on,
// written straight into the store in large transactions (CreateUser's one
// synced transaction per user would take minutes for 10,000).
func manyUsers(tb testing.TB, n int) *Service {
	tb.Helper()
	sec, err := NewSecrets([]byte(strings.Repeat("u", 32)))
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{Store: kvtest.Open(tb), Secrets: sec, BcryptCost: 4})
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now().UTC()
	for start := 0; start < n; start += 1000 {
		err := s.store.Update(context.Background(), func(t *kv.Txn) error {
			for i := start; i < min(start+1000, n); i++ {
				u := &User{ID: NewID(), Email: fmt.Sprintf("user%05d@example.com", i), Username: fmt.Sprintf("u%05d", i),
					DisplayName: fmt.Sprintf("Person %d", i), Status: StatusActive, CreatedAt: now, UpdatedAt: now}
				if err := s.users.Put(t, u, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return s
}

// Paging through 10,000 users by cursor sees each exactly once, in email
// order, 100 to a page.
func TestFindUsers_10000ByCursor(t *testing.T) {
	s := manyUsers(t, 10000)
	ctx := context.Background()
	after, seen, pages := "", 0, 0
	for {
		p, err := s.FindUsers(ctx, UserQuery{After: after, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, u := range p.Users {
			if want := fmt.Sprintf("user%05d@example.com", seen); u.Email != want {
				t.Fatalf("user %d is %s, want %s", seen, u.Email, want)
			}
			seen++
		}
		if p.Next == "" {
			break
		}
		if len(p.Users) != 100 || p.Next != p.Users[99].Email {
			t.Fatalf("page %d: %d users, next %q", pages, len(p.Users), p.Next)
		}
		after = p.Next
	}
	if seen != 10000 || pages != 100 {
		t.Fatalf("saw %d users on %d pages, want 10000 on 100", seen, pages)
	}
	p, err := s.FindUsers(ctx, UserQuery{Search: "PERSON 9999", Limit: 10})
	if err != nil || len(p.Users) != 1 || p.Users[0].Email != "user09999@example.com" || p.Next != "" {
		t.Fatalf("search: %+v, %v", p, err)
	}
}

// A page read by cursor does not read the users before it: with the
// first user's record unreadable, the first page fails and a later page
// still works. Loading everything per request would fail both.
func TestFindUsers_CursorReadsOnlyItsPage(t *testing.T) {
	s := manyUsers(t, 300)
	ctx := context.Background()
	first, err := s.FindUsers(ctx, UserQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	id := first.Users[0].ID
	err = s.store.Update(ctx, func(t *kv.Txn) error { return t.Set(kv.PrefixUser.Key(id), []byte("{broken"), 0) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindUsers(ctx, UserQuery{Limit: 50}); err == nil {
		t.Fatal("the first page read a broken record without error")
	}
	p, err := s.FindUsers(ctx, UserQuery{After: "user00100@example.com", Limit: 50})
	if err != nil {
		t.Fatalf("a later page read the records before it: %v", err)
	}
	if len(p.Users) != 50 || p.Users[0].Email != "user00101@example.com" {
		t.Fatalf("later page: %d users from %s", len(p.Users), p.Users[0].Email)
	}
}

// BenchmarkFindUsers_10000 reports a page of 50 at the start and deep in
// 10,000 users (about the same: the cursor seeks), and a search that
// reads to the end.
func BenchmarkFindUsers_10000(b *testing.B) {
	s := manyUsers(b, 10000)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		q    UserQuery
	}{
		{"first", UserQuery{Limit: 50}},
		{"deep", UserQuery{After: "user09000@example.com", Limit: 50}},
		{"search-rare", UserQuery{Search: "person 9999", Limit: 50}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.FindUsers(ctx, bc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
