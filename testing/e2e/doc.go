// Package e2e holds Clinch's end-to-end tests of the foundation: the real
// binary, started by testing/harness, driven over HTTP, through its admin
// commands and from Chromium. The tests are in the _test.go files; see
// testing/README.md for what each one covers and how to run it alone.
package e2e
