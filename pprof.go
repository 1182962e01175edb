//go:build pprof

package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
)

// A binary built with -tags pprof serves Go's profiles at the address in
// CLINCH_PPROF (e.g. 127.0.0.1:6060), for finding what stands in the way
// of testing/load's targets. The shipped binary has no such route.
func init() {
	addr := os.Getenv("CLINCH_PPROF")
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	go func() {
		slog.Warn("pprof", "err", http.ListenAndServe(addr, mux))
	}()
}
