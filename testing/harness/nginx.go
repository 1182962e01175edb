package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// DocsFile returns the path of a file in the repository's docs/ folder
// (docs/proxy/nginx.conf, ...), which the suites run as users would copy
// them.
func DocsFile(t testing.TB, rel string) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "docs", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// StartNginx runs nginx in the foreground with server (one or more server
// blocks) inside a minimal main configuration whose pid file, logs and
// temp paths are in a temp dir of the test, and waits until 127.0.0.1:port
// answers. nginx stops when the test ends.
func StartNginx(t testing.TB, server string, port int) {
	t.Helper()
	bin := NeedTool(t, "nginx")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(server), 0o600); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // workers must read the root-owned temp dir
	}
	main := fmt.Sprintf(`%sdaemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/site.conf;
}
`, user, dir)
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	RunPeer(t, "nginx", exec.Command(bin, "-c", cfg, "-p", dir, "-e", filepath.Join(dir, "error.log")), port)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("harness: nginx error.log:\n%s", b)
		}
	})
}
