//go:build unix

package main

import "syscall"

// restrictUmask makes whatever Clinch creates (the store's files, the
// generated secret, backups, the control socket) private to its owner,
// whatever umask it was started with.
func restrictUmask() { syscall.Umask(0o077) }
