package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestServeHelpShowsNoSecretsAndNamesTheFileSettings runs `gomirror serve
// --help` with secrets in the environment: none may show, and the help of
// the settings that take secrets points to the file settings.
func TestServeHelpShowsNoSecretsAndNamesTheFileSettings(t *testing.T) {
	const secret = "e2e-help-s3cret"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gomirrorBin, "serve", "--help")
	cmd.Env = append(os.Environ(), "GOMIRROR_UPSTREAM=http://alice:"+secret+"@127.0.0.1:1", "GOMIRROR_S3_SECRET_KEY="+secret,
		"GOMIRROR_REDIS=redis://:"+secret+"@127.0.0.1:6379/0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("serve --help: %v\n%s", err, out)
	}
	if bytes.Contains(out, []byte(secret)) {
		t.Errorf("serve --help shows a secret:\n%s", out)
	}
	for _, want := range []string{"--s3-secret-key-file", "--s3-access-key-file", "--redis-password-file", "--upstream-netrc",
		"--admin-listen", "--admin-auth", "--trusted-proxies", "use s3-secret-key-file", "put credentials in upstream-netrc", "use redis-password-file"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("serve --help lacks %q", want)
		}
	}
}

var operatorListening = regexp.MustCompile(`msg="gomirror operator endpoints listening" addr=\S+ url=(\S+)`)

// TestOperatorEndpointsOnAdminListen runs the binary with the upstream's
// credentials in a .netrc file and the operator endpoints on a separate
// admin port, and builds a project through it with the go command: the
// main listener hides them, the admin port serves them, the upstream gets
// its credentials and nothing shows them.
func TestOperatorEndpointsOnAdminListen(t *testing.T) {
	const secret = "e2e-netrc-s3cret"
	up := fakeproxy.New(t)
	var authed atomic.Int64
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); ok && u == "alice" && p == secret {
			authed.Add(1)
			return false
		}
		http.Error(w, "credentials needed", http.StatusUnauthorized)
		return true
	})
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte(fmt.Sprintf("machine %s login alice password %s\n", strings.TrimPrefix(up.URL, "http://"), secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	m := startMirror(t, "--upstream", up.URL, "--sumdb", up.DBKey, "--storage-dir", t.TempDir(),
		"--upstream-netrc", netrc, "--admin-listen", "127.0.0.1:0")
	mm := operatorListening.FindStringSubmatch(m.logs.String())
	if mm == nil {
		t.Fatalf("no admin listener in the log:\n%s", m.logs)
	}
	admin := mm[1]

	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/hello\"\n)\n\nfunc main() { fmt.Println(hello.Hello()) }\n",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := goEnv(t, m.URL, up.DBKey)
	mustGo(ctx, t, project, env, "mod", "tidy")
	if out := mustGo(ctx, t, project, env, "run", "."); !strings.Contains(out, "hello v1.1.0") {
		t.Errorf("program output %q", out)
	}
	if authed.Load() == 0 {
		t.Error("the upstream never got the credentials from upstream-netrc")
	}

	for _, p := range []string{"/metrics", "/upstreams"} {
		if _, err := httpGet(m.URL + p); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("GET %s on the main listener: %v; want 404", p, err)
		}
	}
	metrics, err := httpGet(admin + "/metrics")
	if err != nil || !strings.Contains(metrics, "gomirror_http_requests_total") {
		t.Errorf("GET /metrics on the admin listener: %v", err)
	}
	upstreams, err := httpGet(admin + "/upstreams")
	if err != nil || !strings.Contains(upstreams, up.URL) {
		t.Errorf("GET /upstreams on the admin listener: %v %s", err, upstreams)
	}
	for what, text := range map[string]string{"/metrics": metrics, "/upstreams": upstreams, "the log": m.logs.String()} {
		if strings.Contains(text, secret) {
			t.Errorf("%s shows the upstream's password", what)
		}
	}
}
