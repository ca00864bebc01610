package main

import (
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/internal/testutil"
)

// setupSandbox points the go command that `gomirror setup` runs at a
// temporary GOENV file holding initial (none if nil), and returns its path.
// The test's environment is changed, so these tests do not run in parallel.
func setupSandbox(t *testing.T, initial *string) string {
	t.Helper()
	dir := t.TempDir()
	goenv := filepath.Join(dir, "config", "go", "env")
	t.Setenv("GOENV", goenv)
	t.Setenv("HOME", testutil.QuietHome(t, filepath.Join(dir, "home")))
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("GOPATH", filepath.Join(dir, "gopath"))
	t.Setenv("GOCACHE", filepath.Join(dir, "gocache"))
	t.Setenv("GOTOOLCHAIN", "local")
	t.Setenv("GOFLAGS", "")
	for _, k := range setup.Keys {
		t.Setenv(k, "") // empty is unset for the go command
	}
	if initial != nil {
		if err := os.MkdirAll(filepath.Dir(goenv), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goenv, []byte(*initial), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	return goenv
}

// runSetup runs `gomirror setup args...` through the root command.
func runSetup(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return testutil.RunCommand(t, newRoot(), nil, append([]string{"setup"}, args...)...)
}

func fakeProxy(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/"+setup.DefaultProbeModule+"/@v/list" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("v0.1.0\n"))
			return
		}
		http.Error(w, "not found", http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func readFileOr(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSetupCommandUndo(t *testing.T) {
	for name, initial := range map[string]*string{
		"custom":  ptrTo("GOPRIVATE=corp.internal/*\nGOPROXY=http://127.0.0.1:1/old\n"),
		"nothing": nil,
	} {
		t.Run(name, func(t *testing.T) {
			srv := fakeProxy(t)
			goenv := setupSandbox(t, initial)
			before := readFileOr(t, goenv)

			_, stderr, err := runSetup(t, "--private", "git.corp.internal", "--sumdb", "off", srv.URL)
			if err != nil {
				t.Fatalf("setup: %v\n%s", err, stderr)
			}
			want := "GOPRIVATE=git.corp.internal\nGOPROXY=" + srv.URL + "\nGOSUMDB=off\n"
			if got := readFileOr(t, goenv); got != want {
				t.Errorf("GOENV file after setup = %q, want %q", got, want)
			}
			state := filepath.Join(filepath.Dir(goenv), setup.StateFileName)
			if !strings.Contains(stderr, state) || !strings.Contains(stderr, "gomirror setup --undo") {
				t.Errorf("stderr does not name the state file and undo:\n%s", stderr)
			}

			// A second setup keeps the original saved state.
			if _, stderr, err := runSetup(t, srv.URL+"/again"); err != nil {
				t.Fatalf("second setup: %v\n%s", err, stderr)
			}

			if _, stderr, err := runSetup(t, "--undo"); err != nil {
				t.Fatalf("undo: %v\n%s", err, stderr)
			}
			if got := readFileOr(t, goenv); got != before {
				t.Errorf("GOENV file after undo = %q, want %q", got, before)
			}
			if _, err := os.Stat(state); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("state file after undo: %v", err)
			}

			_, _, err = runSetup(t, "--undo")
			if err == nil || !strings.Contains(err.Error(), "nothing to undo") {
				t.Errorf("undo without state = %v, want 'nothing to undo'", err)
			}
		})
	}
}

func TestSetupCommandRefusesNonProxy(t *testing.T) {
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html><body>welcome</body></html>"))
	}))
	defer html.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	}))
	defer broken.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	for _, tc := range []struct{ name, url, want string }{
		{"html", html.URL, "want text/plain"},
		{"500", broken.URL, "500 Internal Server Error"},
		{"closed port", closed, "does not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			initial := "GOPROXY=http://127.0.0.1:1/old\n"
			goenv := setupSandbox(t, &initial)
			for _, args := range [][]string{{tc.url}, {"--print", tc.url}} {
				stdout, _, err := runSetup(t, args...)
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nothing changed") {
					t.Errorf("setup %v = %v, want a refusal containing %q", args, err, tc.want)
				}
				if stdout != "" {
					t.Errorf("setup %v printed %q", args, stdout)
				}
			}
			if got := readFileOr(t, goenv); got != initial {
				t.Errorf("GOENV file = %q, want it unchanged", got)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(goenv), setup.StateFileName)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("state file written: %v", err)
			}
		})
	}
}

func TestSetupCommandPrint(t *testing.T) {
	srv := fakeProxy(t)
	initial := "GOPROXY=http://127.0.0.1:1/old\n"
	goenv := setupSandbox(t, &initial)
	for shell, want := range map[string]string{
		"sh":         "export GOPROXY='" + srv.URL + "'\nexport GOPRIVATE='it'\\''s.internal'\n",
		"fish":       "set -gx GOPROXY '" + srv.URL + "'\nset -gx GOPRIVATE 'it\\'s.internal'\n",
		"powershell": "$env:GOPROXY = '" + srv.URL + "'\n$env:GOPRIVATE = 'it''s.internal'\n",
	} {
		stdout, stderr, err := runSetup(t, "--print", "--shell", shell, "--private", "it's.internal", srv.URL)
		if err != nil {
			t.Fatalf("%s: %v\n%s", shell, err, stderr)
		}
		if stdout != want {
			t.Errorf("%s:\n got %q\nwant %q", shell, stdout, want)
		}
	}
	// sh is the default; --no-check prints without asking the URL.
	stdout, _, err := runSetup(t, "--print", "--no-check", "http://127.0.0.1:1/")
	if err != nil || stdout != "export GOPROXY='http://127.0.0.1:1'\n" {
		t.Errorf("--print --no-check = %q, %v", stdout, err)
	}
	if got := readFileOr(t, goenv); got != initial {
		t.Errorf("--print changed the GOENV file: %q", got)
	}
}

func TestSetupCommandUsageErrors(t *testing.T) {
	setupSandbox(t, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "give the mirror URL"},
		{[]string{"--undo", "http://127.0.0.1:1"}, "unknown command"},
		{[]string{"--undo", "--print"}, "--undo takes no other flags"},
		{[]string{"--shell", "fish", "http://127.0.0.1:1"}, "--shell goes with --print"},
		{[]string{"--print", "--shell", "csh", "http://127.0.0.1:1"}, `unknown shell "csh"`},
		{[]string{"direct"}, "want http://"},
	} {
		_, _, err := runSetup(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("setup %q = %v, want error containing %q", tc.args, err, tc.want)
		}
	}
}

func ptrTo(s string) *string { return &s }

// TestSetupCommandHidesCredentials: a mirror URL with a token as its user
// name is written to the GOENV file as given, but setup never prints the
// token (setup, --profile, --list, --undo write to terminals and CI logs);
// --print, whose output is meant for eval, does.
func TestSetupCommandHidesCredentials(t *testing.T) {
	srv := fakeProxy(t)
	initial := "GOPROXY=http://oldtok3n@127.0.0.1:1/old\n"
	goenv := setupSandbox(t, &initial)
	withToken := strings.Replace(srv.URL, "http://", "http://tok3nAsUser@", 1)
	var all strings.Builder
	for _, args := range [][]string{{withToken}, {"--profile", "corp", withToken}, {"--list"}, {"--undo"}} {
		stdout, stderr, err := runSetup(t, args...)
		if err != nil {
			t.Fatalf("setup %q: %v\n%s", args, err, stderr)
		}
		all.WriteString(stdout + stderr)
		if args[0] == withToken {
			if got := readFileOr(t, goenv); !strings.Contains(got, "GOPROXY="+withToken) {
				t.Errorf("GOENV file %q, want the URL as given", got)
			}
		}
	}
	for _, secret := range []string{"tok3nAsUser", "oldtok3n"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("setup printed %s:\n%s", secret, all.String())
		}
	}
	if !strings.Contains(all.String(), "GOPROXY="+srv.URL) {
		t.Errorf("setup did not say what it wrote:\n%s", all.String())
	}
	stdout, _, err := runSetup(t, "--print", withToken)
	if err != nil || !strings.Contains(stdout, withToken) {
		t.Errorf("--print: %v\n%s", err, stdout)
	}
}
