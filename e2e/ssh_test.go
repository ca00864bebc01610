package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/gitserver"
	"github.com/gomirror/gomirror/internal/testutil"
)

// TestPrivateModuleOverSSH fetches a private module from a real sshd on
// loopback with the key and known_hosts file gomirror is configured with,
// and shows that a missing key or an unknown host key fails at once instead
// of prompting. (The go command probes several schemes and reports only "no
// secure protocol found"; git's own reason stays in its probe.)
func TestPrivateModuleOverSSH(t *testing.T) {
	srv := gitserver.New(t)
	repo := srv.InitRepo(t, "sshmod")
	repo.Commit(t, map[string]string{
		"go.mod":    "module " + repo.ModulePath() + "\n\ngo 1.21\n",
		"sshmod.go": "package sshmod\n\nconst Via = \"ssh\"\n",
	}, "v1.0.0")
	repo.Tag(t, "v1.0.0")
	h := gitserver.StartSSH(t, srv)

	otherHost := filepath.Join(t.TempDir(), "other_known_hosts")
	// A well-formed host key that is not the server's.
	if err := os.WriteFile(otherHost, []byte(fmt.Sprintf("[127.0.0.1]:%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHvXNs2mJSGdXaAu6Xqd2S5ZKSvaFt7GpJkIKrjG8TI\n", strings.Split(h.Addr, ":")[1])), 0o644); err != nil {
		t.Fatal(err)
	}
	up := fakeproxy.New(t)
	start := func(t *testing.T, args ...string) *mirror {
		env := []string{
			"GIT_CONFIG_GLOBAL=" + h.GitConfig(t),
			"GIT_CONFIG_NOSYSTEM=1",
			"HOME=" + testutil.QuietHome(t, t.TempDir()), // no ~/.ssh to fall back on
		}
		return startMirrorEnv(t, env, append([]string{"--storage-dir", t.TempDir(), "--direct-dir", gitserver.TempDir(t),
			"--upstream", up.URL, "--sumdb", up.DBKey, "--private", gitserver.Host}, args...)...)
	}
	zip := "/" + repo.ModulePath() + "/@v/v1.0.0.zip"

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantText string
	}{
		{"key and known host", []string{"--vcs-ssh-key", h.ClientKey, "--vcs-ssh-known-hosts", h.KnownHosts}, http.StatusOK, ""},
		{"no key", []string{"--vcs-ssh-known-hosts", h.KnownHosts}, http.StatusBadGateway, "no secure protocol found"},
		{"host key not known", []string{"--vcs-ssh-key", h.ClientKey, "--vcs-ssh-known-hosts", otherHost}, http.StatusBadGateway, "no secure protocol found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := start(t, tt.args...)
			resp, err := http.Get(m.URL + zip)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tt.wantCode || !strings.Contains(body, tt.wantText) {
				t.Fatalf("GET %s = %d %q; want %d with %q\n%s", zip, resp.StatusCode, tail(body, 5), tt.wantCode, tt.wantText, tail(m.logs.String(), 20))
			}
			if tt.wantCode == http.StatusOK && !strings.HasPrefix(body, "PK") {
				t.Errorf("the zip does not look like a zip: %q", body[:min(len(body), 20)])
			}
		})
	}
	for _, r := range up.Requests() {
		if strings.Contains(r, "sshmod") {
			t.Errorf("the public upstream was asked about the private module: %s", r)
		}
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
