package gitserver

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/testutil"
)

// SSH is a real OpenSSH server on 127.0.0.1 that serves a Server's
// repositories over git's SSH transport, accepting one client key and
// running every command through git-shell.
type SSH struct {
	// Addr is host:port of the server.
	Addr string
	// User is the login name in the repository URLs.
	User string
	// ClientKey is the private key the server accepts (no passphrase).
	ClientKey string
	// KnownHosts is a known_hosts file holding the server's host key.
	KnownHosts string

	root string // the Server's repository root
}

// StartSSH serves s's repositories over SSH until the end of the test. It
// skips the test, loudly, if sshd, ssh-keygen or git-shell is missing.
func StartSSH(t testing.TB, s *Server) *SSH {
	t.Helper()
	sshd := lookTool(t, "sshd", "/usr/sbin/sshd")
	keygen := lookTool(t, "ssh-keygen", "")
	gitShell := lookTool(t, "git-shell", "")
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "host_ed25519")
	clientKey := filepath.Join(dir, "client_ed25519")
	for _, key := range []string{hostKey, clientKey} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "gitserver", "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	clientPub, err := os.ReadFile(clientKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	line := fmt.Sprintf("command=\"%s -c \\\"$SSH_ORIGINAL_COMMAND\\\"\",no-port-forwarding,no-pty,no-agent-forwarding %s", gitShell, clientPub)
	if err := os.WriteFile(authorized, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	config := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(config, []byte(strings.Join([]string{
		"ListenAddress " + addr,
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + authorized,
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes no",
		"PermitRootLogin prohibit-password",
		"AllowUsers " + u.Username,
		"LogLevel VERBOSE",
		"",
	}, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", config)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			fmt.Fprintf(&s.stderr, "sshd: %s\n", sc.Text())
			if !once && strings.Contains(sc.Text(), "Server listening") {
				once = true
				close(listening)
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	select {
	case <-listening:
	case err := <-exited:
		t.Fatalf("sshd exited: %v\n%s", err, s.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("sshd did not start listening\n%s", s.stderr.String())
	}
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(dir, "known_hosts")
	fields := strings.Fields(string(pub))
	if err := os.WriteFile(known, []byte(fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, fields[0], fields[1])), 0o644); err != nil {
		t.Fatal(err)
	}
	return &SSH{Addr: addr, User: u.Username, ClientKey: clientKey, KnownHosts: known, root: s.Root}
}

// GitConfig writes a git config file that sends every https://Host/ URL to
// this SSH server and returns its path. Point GIT_CONFIG_GLOBAL at it.
func (h *SSH) GitConfig(t testing.TB) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "gitconfig")
	base := fmt.Sprintf("ssh://%s@%s%s/", h.User, h.Addr, filepath.ToSlash(h.root))
	cfg := fmt.Sprintf("[url %q]\n\tinsteadOf = https://%s/\n", base, Host)
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// lookTool finds a program in PATH (or at fallback) or skips the test.
func lookTool(t testing.TB, name, fallback string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if fallback != "" {
		if _, err := os.Stat(fallback); err == nil {
			return fallback
		}
	}
	t.Skipf("!!! SKIPPING: %s not found (install openssh-server / openssh-client / git); the SSH transport tests cannot run without it !!!", name)
	return ""
}
