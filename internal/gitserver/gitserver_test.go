package gitserver_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/gitserver"
)

// gitCmd runs git isolated from the user's and the system's git config,
// never prompting, with extra environment env.
func gitCmd(dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0")
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func TestCloneServesCommitsTagsAndBranches(t *testing.T) {
	s := gitserver.New(t)
	r := s.InitRepo(t, "owner/hello")
	first := r.Commit(t, map[string]string{"a.txt": "one\n", "dir/b.txt": "two\n"}, "first")
	r.Tag(t, "v1.0.0")
	second := r.Commit(t, map[string]string{"a.txt": "changed\n"}, "second")
	r.Branch(t, "dev")

	if first == second || len(first) != 40 || len(second) != 40 {
		t.Fatalf("Commit hashes %q, %q: want two distinct 40-hex hashes", first, second)
	}

	out, err := gitCmd(t.TempDir(), nil, "ls-remote", r.URL()).CombinedOutput()
	if err != nil {
		t.Fatalf("git ls-remote: %v\n%s", err, out)
	}
	refs := string(out)
	for _, want := range []string{
		first + "\trefs/tags/v1.0.0",
		second + "\trefs/heads/main",
		second + "\trefs/heads/dev",
	} {
		if !strings.Contains(refs, want) {
			t.Errorf("ls-remote output lacks %q:\n%s", want, refs)
		}
	}

	dst := filepath.Join(t.TempDir(), "clone")
	if out, err := gitCmd(t.TempDir(), nil, "clone", "-q", "--branch", "v1.0.0", r.URL(), dst).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	for name, want := range map[string]string{"a.txt": "one\n", "dir/b.txt": "two\n"} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Errorf("clone at v1.0.0: %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if !slices.ContainsFunc(s.Requests(), func(p string) bool { return p == "/owner/hello/git-upload-pack" }) {
		t.Errorf("server requests %q: want a git-upload-pack request for the repository", s.Requests())
	}
}

func TestBasicAuth(t *testing.T) {
	s := gitserver.New(t, gitserver.WithBasicAuth("alice", "s3cret"))
	r := s.InitRepo(t, "private")
	hash := r.Commit(t, map[string]string{"x.txt": "x\n"}, "only")

	noCreds := s.URL + "/private"
	wrongCreds := strings.Replace(s.URL, "://", "://alice:wrong@", 1) + "/private"
	tests := []struct {
		name   string
		url    string
		wantOK bool
	}{
		{"no credentials are refused", noCreds, false},
		{"a wrong password is refused", wrongCreds, false},
		{"the right credentials are accepted", r.URL(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := gitCmd(t.TempDir(), nil, "ls-remote", tt.url).CombinedOutput()
			if tt.wantOK {
				if err != nil || !strings.Contains(string(out), hash) {
					t.Fatalf("git ls-remote = %v\n%s\nwant success listing %s", err, out, hash)
				}
				return
			}
			if err == nil {
				t.Fatalf("git ls-remote succeeded without valid credentials:\n%s", out)
			}
		})
	}
}

// TestGoCommandFetchesModule shows the resolution scheme the package
// documents: the go command, with GOPROXY=direct and only Env added, fetches
// Host/<repo>.git from the server, with and without basic auth.
func TestGoCommandFetchesModule(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command in PATH: %v", err)
	}
	tests := []struct {
		name string
		opts []gitserver.Option
	}{
		{"without auth", nil},
		{"with basic auth", []gitserver.Option{gitserver.WithBasicAuth("bob", "pa55")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := gitserver.New(t, tt.opts...)
			r := s.InitRepo(t, "hello")
			gomod := "module " + r.ModulePath() + "\n\ngo 1.21\n"
			hash := r.Commit(t, map[string]string{"go.mod": gomod, "hello.go": "package hello\n"}, "first")
			r.Tag(t, "v1.0.0")

			dir := gitserver.TempDir(t)
			cmd := exec.Command(goBin, "mod", "download", "-json", r.ModulePath()+"@v1.0.0")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(),
				"GOPROXY=direct", "GOSUMDB=off", "GOFLAGS=", "GOENV=off", "GOTOOLCHAIN=local",
				"GOMODCACHE="+filepath.Join(dir, "modcache"), "GIT_TERMINAL_PROMPT=0")
			cmd.Env = append(cmd.Env, s.Env(t)...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go mod download: %v\n%s", err, out)
			}
			var m struct {
				Version, GoMod, Error string
				Origin                struct{ Hash string }
			}
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("decoding %s: %v", out, err)
			}
			if m.Error != "" || m.Version != "v1.0.0" || m.Origin.Hash != hash {
				t.Fatalf("go mod download = %s; want v1.0.0 at %s", out, hash)
			}
			got, err := os.ReadFile(m.GoMod)
			if err != nil || string(got) != gomod {
				t.Errorf("downloaded go.mod = %q, %v; want %q", got, err, gomod)
			}
			if len(s.Requests()) == 0 {
				t.Error("the go command never contacted the git server")
			}
		})
	}
}
