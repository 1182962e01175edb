package kv

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Index declares a unique secondary index on a collection: Value returns the
// indexed value of a record, or "" when the record is not indexed (an
// optional username, say).
type Index[T any] struct {
	Prefix Prefix
	Value  func(*T) string
}

// Collection is a typed set of records under one prefix, encoded as JSON,
// with unique indexes that change in the same transaction as their record.
type Collection[T any] struct {
	prefix  Prefix
	id      func(*T) string
	indexes []Index[T]
}

// NewCollection declares a collection. id returns a record's primary key.
func NewCollection[T any](prefix Prefix, id func(*T) string, indexes ...Index[T]) *Collection[T] {
	return &Collection[T]{prefix: prefix, id: id, indexes: indexes}
}

// Get returns the record with the id, or ErrNotFound.
func (c *Collection[T]) Get(t *Txn, id string) (*T, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	b, err := t.Get(c.prefix.Key(id))
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("kv: decode %s%s: %w", c.prefix, id, err)
	}
	return v, nil
}

// GetBy returns the record whose index value is val, or ErrNotFound.
func (c *Collection[T]) GetBy(t *Txn, idx Prefix, val string) (*T, error) {
	if val == "" {
		return nil, ErrNotFound
	}
	id, err := t.Get(idx.Key(val))
	if err != nil {
		return nil, err
	}
	return c.Get(t, string(id))
}

// Put inserts or replaces v. A unique index value held by another record
// fails with an error wrapping ErrConflict and naming the index; nothing is
// written then. ttl > 0 makes the record (and its index entries) expire.
func (c *Collection[T]) Put(t *Txn, v *T, ttl time.Duration) error {
	id := c.id(v)
	if id == "" {
		return errors.New("kv: record without id")
	}
	old, err := c.Get(t, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	for _, ix := range c.indexes {
		nv := ix.Value(v)
		ov := ""
		if old != nil {
			ov = ix.Value(old)
		}
		if nv != "" && nv != ov {
			holder, err := t.Get(ix.Prefix.Key(nv))
			switch {
			case err == nil && string(holder) != id:
				return fmt.Errorf("%w: %s%s", ErrConflict, ix.Prefix, nv)
			case err != nil && !errors.Is(err, ErrNotFound):
				return err
			}
		}
		if ov != "" && ov != nv {
			if err := t.Delete(ix.Prefix.Key(ov)); err != nil {
				return err
			}
		}
		if nv != "" {
			if err := t.Set(ix.Prefix.Key(nv), []byte(id), ttl); err != nil {
				return err
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("kv: encode %s%s: %w", c.prefix, id, err)
	}
	return t.Set(c.prefix.Key(id), b, ttl)
}

// Delete removes the record and its index entries. A missing record is
// ErrNotFound.
func (c *Collection[T]) Delete(t *Txn, id string) error {
	old, err := c.Get(t, id)
	if err != nil {
		return err
	}
	for _, ix := range c.indexes {
		if ov := ix.Value(old); ov != "" {
			if err := t.Delete(ix.Prefix.Key(ov)); err != nil {
				return err
			}
		}
	}
	return t.Delete(c.prefix.Key(id))
}

// Each calls fn for every record in key order.
func (c *Collection[T]) Each(t *Txn, fn func(*T) error) error {
	return t.Scan([]byte(c.prefix), func(k, b []byte) error {
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("kv: decode %s: %w", k, err)
		}
		return fn(v)
	})
}

// EachBy calls fn for every record that has a value in the index idx, in
// the order of those values, starting with the first value greater than
// after ("" starts at the first). Return ErrStop from fn to end early; a
// page of n records costs n reads, however many come before it.
func (c *Collection[T]) EachBy(t *Txn, idx Prefix, after string, fn func(*T) error) error {
	start := idx.Key(after)
	if after != "" {
		// The smallest key greater than idx+after.
		start = append(start, 0)
	}
	return t.ScanFrom([]byte(idx), start, func(_, id []byte) error {
		v, err := c.Get(t, string(id))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fn(v)
	})
}

// All returns every record in key order.
func (c *Collection[T]) All(t *Txn) ([]*T, error) {
	var out []*T
	err := c.Each(t, func(v *T) error { out = append(out, v); return nil })
	return out, err
}

// Count returns the number of records, stopping early at limit when limit > 0.
func (c *Collection[T]) Count(t *Txn, limit int) (int, error) {
	n := 0
	err := t.Scan([]byte(c.prefix), func(_, _ []byte) error {
		n++
		if limit > 0 && n >= limit {
			return ErrStop
		}
		return nil
	})
	return n, err
}
