package kv

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// A Migration moves the store from schema version From to From+1. It runs in
// one transaction with the version bump, so a crash leaves either the old or
// the new layout, never a mix.
type Migration struct {
	From int
	Name string
	Run  func(*Txn) error
}

var schemaKey = PrefixMeta.Key("schema")

// SchemaVersionOf reads the stored schema version; 0 means a fresh store.
func (s *Store) SchemaVersionOf(ctx context.Context) (int, error) {
	var v int
	err := s.View(ctx, func(t *Txn) error {
		var err error
		v, err = readSchema(t)
		return err
	})
	return v, err
}

func readSchema(t *Txn) (int, error) {
	b, err := t.Get(schemaKey)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(string(b))
	if err != nil {
		return 0, fmt.Errorf("kv: corrupt schema version %q", b)
	}
	return v, nil
}

func (s *Store) migrate(ctx context.Context, migs []Migration, target int) error {
	cur, err := s.SchemaVersionOf(ctx)
	if err != nil {
		return err
	}
	if cur > target {
		return fmt.Errorf("kv: store has schema %d, this binary knows up to %d; use a newer clinch", cur, target)
	}
	if cur == 0 {
		// A fresh store starts at the current layout.
		empty := true
		err := s.View(ctx, func(t *Txn) error {
			return t.Scan(nil, func(k, _ []byte) error { empty = false; return ErrStop })
		})
		if err != nil {
			return err
		}
		if empty {
			return s.Update(ctx, func(t *Txn) error {
				return t.Set(schemaKey, []byte(strconv.Itoa(target)), 0)
			})
		}
		cur = 1
	}
	for cur < target {
		var m *Migration
		for i := range migs {
			if migs[i].From == cur {
				m = &migs[i]
			}
		}
		if m == nil {
			return fmt.Errorf("kv: no migration from schema %d", cur)
		}
		next := cur + 1
		err := s.Update(ctx, func(t *Txn) error {
			if err := m.Run(t); err != nil {
				return err
			}
			return t.Set(schemaKey, []byte(strconv.Itoa(next)), 0)
		})
		if err != nil {
			return fmt.Errorf("kv: migration %q (%d→%d): %w", m.Name, cur, next, err)
		}
		cur = next
	}
	return nil
}
