// Package harness runs the real clinch binary for end-to-end tests: it builds
// the binary once per test process, starts it on a free loopback port with a
// temporary data directory, runs its admin commands, and gives tests an HTTP
// client that behaves like a browser (cookie jar, CSRF tokens, no automatic
// redirects).
//
// A suite's TestMain should call Main so the built binary is removed at the
// end:
//
//	func TestMain(m *testing.M) { harness.Main(m) }
//
// Set CLINCH_TEST_BINARY to a prebuilt binary to skip the build (scripts/test
// builds it once for every suite).
package harness

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// built is the one build of the binary per test process. A sync.Once is the
// only shared state here: building per test would cost seconds each.
var built = struct {
	once sync.Once
	dir  string // temp dir holding the binary; removed by Main
	path string
	err  error
}{}

// Main runs the tests and removes the binary built for them.
func Main(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// Binary returns the path of the clinch binary, building it on first use.
func Binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if p := os.Getenv("CLINCH_TEST_BINARY"); p != "" {
			built.path, built.err = filepath.Abs(p)
			return
		}
		root, err := ModuleRoot()
		if err != nil {
			built.err = err
			return
		}
		dir, err := os.MkdirTemp("", "clinch-e2e-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		out := filepath.Join(dir, "clinch")
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			built.err = fmt.Errorf("go build: %w\n%s", err, stderr.String())
			return
		}
		built.path = out
		fmt.Fprintf(os.Stderr, "harness: built %s in %v\n", out, time.Since(start).Round(time.Millisecond))
	})
	if built.err != nil {
		t.Fatalf("harness: cannot get the clinch binary: %v", built.err)
	}
	return built.path
}

// ModuleRoot returns the directory holding Clinch's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" && mod != os.DevNull {
			return filepath.Dir(mod), nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("harness: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Options describe one clinch installation: its data directory and the
// environment its server and CLI run with.
type Options struct {
	// Env is added to the process environment (after the harness defaults,
	// so it can override them). CLINCH_* and SECRET_KEY_BASE* variables of
	// the test process itself are never passed on.
	Env map[string]string
	// DataDir is CLINCH_DATA_DIR; a fresh t.TempDir() when empty.
	DataDir string
	// Args are extra arguments for `clinch serve`.
	Args []string
}

// Prepare fills in what Options leave out: a fresh data directory, a random
// SECRET_KEY_BASE and CLINCH_BCRYPT_COST=4 (fast). Keep the result and
// pass it to Start and CLI so they share the data directory and secret;
// calling Prepare twice on empty Options gives two installations.
func Prepare(t testing.TB, o Options) Options {
	t.Helper()
	env := make(map[string]string, len(o.Env)+2)
	for k, v := range o.Env {
		env[k] = v
	}
	if _, ok := env["SECRET_KEY_BASE"]; !ok {
		if _, ok := env["SECRET_KEY_BASE_FILE"]; !ok {
			env["SECRET_KEY_BASE"] = randomHex(t, 64)
		}
	}
	if _, ok := env["CLINCH_BCRYPT_COST"]; !ok {
		env["CLINCH_BCRYPT_COST"] = "4"
	}
	o.Env = env
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	return o
}

// environ is the environment of a clinch process: the test process's
// environment without Clinch's own variables, then the defaults and extra.
func environ(o Options, extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CLINCH_") || strings.HasPrefix(k, "SECRET_KEY_BASE") ||
			strings.HasPrefix(k, "OIDC_PRIVATE_KEY") || k == "FORCE_SSL" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "CLINCH_DATA_DIR="+o.DataDir)
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	for k, v := range o.Env {
		env = append(env, k+"="+v)
	}
	return env
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
