package vcscred_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/gitserver"
	"github.com/gomirror/gomirror/vcscred"
)

// lsRemote runs git ls-remote on the repository's module URL with env and
// reports its combined output and error.
func lsRemote(t *testing.T, repo *gitserver.Repo, srv *gitserver.Server, env []string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", "ls-remote", "https://"+gitserver.Host+"/"+repo.Name)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + srv.PlainGitConfig(t),
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=true",
	}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestGitUsesTheCredentialStore(t *testing.T) {
	const secret = "tok-3f9a'with space"
	srv := gitserver.New(t, gitserver.WithBasicAuth("builder", secret))
	repo := srv.InitRepo(t, "private")
	head := repo.Commit(t, map[string]string{"go.mod": "module " + repo.ModulePath() + "\n"}, "init")

	if out, err := lsRemote(t, repo, srv, nil); err == nil {
		t.Fatalf("git ls-remote without credentials succeeded against a server that requires them:\n%s", out)
	}

	tests := []struct {
		name  string
		setup func(t *testing.T) vcscred.Config
	}{
		{"secret from an environment variable", func(t *testing.T) vcscred.Config {
			return vcscred.Config{
				Credentials: []vcscred.Credential{{Host: srv.URL, Username: "builder", PasswordEnv: "GIT_TOKEN"}},
				LookupEnv: func(k string) (string, bool) {
					if k == "GIT_TOKEN" {
						return secret, true
					}
					return "", false
				},
			}
		}},
		{"secret from a file", func(t *testing.T) vcscred.Config {
			f := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return vcscred.Config{Credentials: []vcscred.Credential{{Host: srv.URL, Username: "builder", PasswordFile: f}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cred")
			env, err := vcscred.Setup(dir, tt.setup(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range env {
				if strings.Contains(kv, "tok-3f9a") {
					t.Errorf("the secret is in the environment: %s", kv)
				}
			}
			out, err := lsRemote(t, repo, srv, env)
			if err != nil {
				t.Fatalf("git ls-remote with the credential store: %v\n%s", err, out)
			}
			if !strings.Contains(out, head) {
				t.Errorf("ls-remote output lacks HEAD %s:\n%s", head, out)
			}
			assertMode(t, dir, 0o700)
			assertMode(t, filepath.Join(dir, "git-credentials"), 0o600)
		})
	}
}

func TestNetrcEntriesReachGitAndTheGoCommand(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "netrc")
	content := "machine git.corp.example\n  login ci\n  password s3cr3t\nmachine other.example login bob password pw2\n"
	if err := os.WriteFile(rc, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env, err := vcscred.Setup(dir, vcscred.Config{Netrc: rc})
	if err != nil {
		t.Fatal(err)
	}
	store, err := os.ReadFile(filepath.Join(dir, "git-credentials"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"https://ci:s3cr3t@git.corp.example", "https://bob:pw2@other.example"} {
		if !strings.Contains(string(store), want) {
			t.Errorf("credential store lacks %q:\n%s", want, store)
		}
	}
	netrc := envValue(env, "NETRC")
	b, err := os.ReadFile(netrc)
	if err != nil {
		t.Fatalf("NETRC=%q: %v", netrc, err)
	}
	if !strings.Contains(string(b), "machine git.corp.example login ci password s3cr3t") {
		t.Errorf("generated netrc lacks the entry:\n%s", b)
	}
}

func TestSetupErrorsNameTheEntryNotTheSecret(t *testing.T) {
	tests := []struct {
		name    string
		cfg     vcscred.Config
		wantErr string
	}{
		{"unset environment variable", vcscred.Config{Credentials: []vcscred.Credential{{Host: "git.corp.example", Username: "u", PasswordEnv: "NOPE_NOT_SET"}},
			LookupEnv: func(string) (string, bool) { return "", false }}, "NOPE_NOT_SET is not set"},
		{"missing password file", vcscred.Config{Credentials: []vcscred.Credential{{Host: "git.corp.example", Username: "u", PasswordFile: "/nonexistent/token"}}}, "no such file"},
		{"host with a path", vcscred.Config{Credentials: []vcscred.Credential{{Host: "git.corp.example/team", Username: "u", PasswordEnv: "X"}}}, "bad host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := vcscred.Setup(t.TempDir(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Setup error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSSHCommand(t *testing.T) {
	env, err := vcscred.Setup(t.TempDir(), vcscred.Config{SSHKey: "/keys/deploy key", SSHKnownHosts: "/keys/known_hosts"})
	if err != nil {
		t.Fatal(err)
	}
	ssh := envValue(env, "GIT_SSH_COMMAND")
	for _, want := range []string{"BatchMode=yes", "StrictHostKeyChecking=yes", "IdentitiesOnly=yes", "-i '/keys/deploy key'", "UserKnownHostsFile=/keys/known_hosts"} {
		if !strings.Contains(ssh, want) {
			t.Errorf("GIT_SSH_COMMAND=%q lacks %q", ssh, want)
		}
	}
}

func TestNoCredentialsStillResetsInheritedHelpers(t *testing.T) {
	env, err := vcscred.Setup(t.TempDir(), vcscred.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if envValue(env, "GIT_CONFIG_KEY_0") != "credential.helper" || envValue(env, "GIT_CONFIG_VALUE_0") != "" {
		t.Errorf("env = %q: want an empty credential.helper first", env)
	}
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}
