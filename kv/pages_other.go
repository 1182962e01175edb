//go:build !linux

package kv

// ReleaseMappedPages does nothing outside Linux (see pages_linux.go).
func (s *Store) ReleaseMappedPages() (int64, error) { return 0, nil }
