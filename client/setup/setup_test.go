package setup

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/testutil"
)

// goCmd is the real go command in a sandbox: its own GOENV file (returned),
// HOME, GOPATH and GOCACHE, and none of the caller's GO* variables except
// those in extra.
func goCmd(t *testing.T, extra ...string) (gocmd.Cmd, string) {
	t.Helper()
	dir := t.TempDir()
	goenv := filepath.Join(dir, "config", "go", "env")
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GO") && k != "GOROOT" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GOENV="+goenv,
		"HOME="+testutil.QuietHome(t, filepath.Join(dir, "home")),
		"XDG_CONFIG_HOME=",
		"GOPATH="+filepath.Join(dir, "gopath"),
		"GOCACHE="+filepath.Join(dir, "gocache"),
		"GOTOOLCHAIN=local",
		"GOFLAGS=",
	)
	return gocmd.Cmd{Environ: append(env, extra...), Dir: dir}, goenv
}

// proxyServer answers the protocol for DefaultProbeModule and 404 for
// everything else.
func proxyServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/"+DefaultProbeModule+"/@v/list" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("v0.1.0\nv0.2.0\n"))
			return
		}
		http.Error(w, "not found: "+r.URL.Path, http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// writeEnv writes content to the GOENV file, or removes it if content is nil.
func writeEnv(t *testing.T, goenv string, content *string) {
	t.Helper()
	if content == nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(goenv), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goenv, []byte(*content), 0o666); err != nil {
		t.Fatal(err)
	}
}

// checkEnvFile fails unless the GOENV file holds want (nil: does not exist).
func checkEnvFile(t *testing.T, goenv string, want *string) {
	t.Helper()
	got, err := os.ReadFile(goenv)
	if want == nil {
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("GOENV file exists (%q, %v), want none", got, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("GOENV file: %v", err)
	}
	if string(got) != *want {
		t.Errorf("GOENV file = %q, want %q", got, *want)
	}
}

func ptr(s string) *string { return &s }

var initialFiles = map[string]*string{
	"custom":  ptr("GOPRIVATE=corp.internal/*\nGOPROXY=http://127.0.0.1:1/old,direct\n"),
	"empty":   ptr(""),
	"missing": nil,
	// A value equal to the default still counts as set in the file; a
	// comment splits the file into separately sorted runs.
	"default-valued": ptr("# kept\nGOFLAGS=-mod=mod\nGONOSUMDB=\n"),
}

func TestApplyUndoRoundTrip(t *testing.T) {
	srv := proxyServer(t)
	ctx := context.Background()
	for name, initial := range initialFiles {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g, goenv := goCmd(t)
			writeEnv(t, goenv, initial)
			settings, err := Settings(srv.URL+"/", map[string]string{
				"GOSUMDB": "off", "GOPRIVATE": "git.corp.internal", "GONOSUMDB": "a.internal", "GONOPROXY": "b.internal",
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(ctx, srv.Client(), settings[0].Value, ""); err != nil {
				t.Fatalf("Check: %v", err)
			}
			res, err := Apply(ctx, g, settings)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if res.StateFile != filepath.Join(filepath.Dir(goenv), StateFileName) || res.Kept {
				t.Errorf("Apply result = %+v", res)
			}
			inFile, _, err := ReadEnvFile(goenv)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range settings {
				if inFile[s.Key] != s.Value || res.Effective[s.Key] != s.Value {
					t.Errorf("after Apply %s: file %q, go env %q, want %q", s.Key, inFile[s.Key], res.Effective[s.Key], s.Value)
				}
			}
			if inFile["GOPROXY"] != srv.URL {
				t.Errorf("GOPROXY = %q, want %q (no trailing slash)", inFile["GOPROXY"], srv.URL)
			}

			if _, _, err := Undo(ctx, g); err != nil {
				t.Fatalf("Undo: %v", err)
			}
			checkEnvFile(t, goenv, initial)
			if _, err := os.Stat(res.StateFile); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("state file after Undo: %v", err)
			}
			if _, _, err := Undo(ctx, g); !errors.Is(err, ErrNoState) {
				t.Errorf("second Undo: %v, want ErrNoState", err)
			}
		})
	}
}

func TestApplyTwiceKeepsOriginal(t *testing.T) {
	srv := proxyServer(t)
	ctx := context.Background()
	g, goenv := goCmd(t)
	initial := initialFiles["custom"]
	writeEnv(t, goenv, initial)

	first, err := Settings(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, g, first); err != nil {
		t.Fatal(err)
	}
	// The second one changes GOPROXY again and a variable the first did
	// not touch.
	second, err := Settings(srv.URL+"/other", map[string]string{"GOPRIVATE": "x.internal", "GONOPROXY": "y.internal"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Apply(ctx, g, second)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Kept {
		t.Error("second Apply did not report keeping the saved state")
	}
	st, err := ReadState(res.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Saved{
		"GOPROXY":   {InFile: true, Value: "http://127.0.0.1:1/old,direct", Effective: "http://127.0.0.1:1/old,direct"},
		"GOPRIVATE": {InFile: true, Value: "corp.internal/*", Effective: "corp.internal/*"},
		"GONOPROXY": {InFile: false, Effective: "corp.internal/*"}, // defaults to GOPRIVATE
	}
	if len(st.Vars) != len(want) || !st.GOENVExisted || st.GOENV != goenv {
		t.Errorf("state = %+v", st)
	}
	for k, w := range want {
		if st.Vars[k] != w {
			t.Errorf("saved %s = %+v, want %+v", k, st.Vars[k], w)
		}
	}
	if _, _, err := Undo(ctx, g); err != nil {
		t.Fatal(err)
	}
	checkEnvFile(t, goenv, initial)
}

// An OS environment variable overrides the GOENV file; what is saved and
// restored is still the file's value, not the environment's.
func TestApplyUndoWithEnvironmentOverride(t *testing.T) {
	srv := proxyServer(t)
	ctx := context.Background()
	g, goenv := goCmd(t, "GOPROXY=http://127.0.0.1:2/from-env")
	initial := initialFiles["custom"]
	writeEnv(t, goenv, initial)
	settings, _ := Settings(srv.URL, nil)
	var warn strings.Builder
	g.Stderr = &warn
	res, err := Apply(ctx, g, settings)
	if err != nil {
		t.Fatal(err)
	}
	if res.Effective["GOPROXY"] != "http://127.0.0.1:2/from-env" {
		t.Errorf("effective GOPROXY = %q", res.Effective["GOPROXY"])
	}
	if !strings.Contains(warn.String(), "does not override") {
		t.Errorf("go env -w warning not passed on: %q", warn.String())
	}
	st, err := ReadState(res.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Vars["GOPROXY"]; got.Value != "http://127.0.0.1:1/old,direct" || got.Effective != "http://127.0.0.1:2/from-env" {
		t.Errorf("saved GOPROXY = %+v", got)
	}
	if _, _, err := Undo(ctx, g); err != nil {
		t.Fatal(err)
	}
	checkEnvFile(t, goenv, initial)
}

func TestUndoWithoutState(t *testing.T) {
	g, goenv := goCmd(t)
	initial := initialFiles["custom"]
	writeEnv(t, goenv, initial)
	_, _, err := Undo(context.Background(), g)
	if !errors.Is(err, ErrNoState) {
		t.Fatalf("Undo = %v, want ErrNoState", err)
	}
	checkEnvFile(t, goenv, initial)
}

func TestApplyGOENVOff(t *testing.T) {
	g, _ := goCmd(t, "GOENV=off")
	_, err := Apply(context.Background(), g, []Setting{{"GOPROXY", "http://127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "GOENV is off") {
		t.Fatalf("Apply with GOENV=off: %v", err)
	}
}

// failWrite is the real go command, except that go env -w fails.
type failWrite struct{ gocmd.Cmd }

func (f failWrite) Run(ctx context.Context, args ...string) ([]byte, error) {
	if len(args) >= 2 && args[0] == "env" && args[1] == "-w" {
		return nil, errors.New("go env -w: injected failure")
	}
	return f.Cmd.Run(ctx, args...)
}

// A failing go env -w changes nothing, the state file included.
func TestApplyFailureLeavesNoState(t *testing.T) {
	ctx := context.Background()
	g, goenv := goCmd(t)
	initial := initialFiles["custom"]
	writeEnv(t, goenv, initial)
	if _, err := Apply(ctx, failWrite{g}, []Setting{{"GOPROXY", "http://127.0.0.1:1"}}); err == nil {
		t.Fatal("Apply succeeded")
	}
	checkEnvFile(t, goenv, initial)
	if _, err := os.Stat(StatePath(goenv)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state file after a failed Apply: %v", err)
	}

	// With a state file from an earlier Apply, it is left as it was.
	if _, err := Apply(ctx, g, []Setting{{"GOPROXY", "http://127.0.0.1:1"}}); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(StatePath(goenv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, failWrite{g}, []Setting{{"GOPROXY", "http://127.0.0.1:2"}, {"GOPRIVATE", "z.internal"}}); err == nil {
		t.Fatal("Apply succeeded")
	}
	after, err := os.ReadFile(StatePath(goenv))
	if err != nil || string(after) != string(before) {
		t.Errorf("state file changed by a failed Apply:\n%s\nwant\n%s (%v)", after, before, err)
	}
	if _, err := Apply(ctx, g, []Setting{{"GOENV", "/x"}}); err == nil {
		t.Error("Apply of GOENV accepted")
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	handler := func(status int, ctype, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if ctype != "" {
				w.Header().Set("Content-Type", ctype)
			}
			w.WriteHeader(status)
			w.Write([]byte(body))
		}
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name    string
		h       http.Handler
		url     string
		wantErr string // "" means accepted
	}{
		{name: "list", h: handler(200, "text/plain; charset=utf-8", "v1.0.0\nv1.1.0 2020-01-01T00:00:00Z\n")},
		{name: "empty list", h: handler(200, "text/plain", "")},
		{name: "oversized list", h: handler(200, "text/plain", strings.Repeat("v1.0.0\n", (1<<20)/7+10)), wantErr: "list is too large"},
		{name: "one huge line", h: handler(200, "text/plain", "v"+strings.Repeat("1", 200<<10)+"\n"), wantErr: "line too long"},
		{name: "404 text", h: handler(404, "text/plain; charset=utf-8", "not found: unknown module")},
		{name: "410 text", h: handler(410, "text/plain", "gone")},
		{name: "html 200", h: handler(200, "text/html; charset=utf-8", "<!doctype html><html><body>hello</body></html>"), wantErr: "want text/plain"},
		{name: "sniffed html 200", h: handler(200, "", "<!doctype html><html><body>hello</body></html>"), wantErr: "want text/plain"},
		{name: "html 404", h: handler(404, "text/html", "<html>nope</html>"), wantErr: "want text/plain"},
		{name: "text 200 not versions", h: handler(200, "text/plain", "hello world\n"), wantErr: `"hello" is not a version`},
		{name: "500", h: handler(500, "text/plain", "boom"), wantErr: "500 Internal Server Error (boom)"},
		{name: "401", h: handler(401, "text/plain", "unauthorized"), wantErr: "401 Unauthorized"},
		{name: "closed port", url: closedURL, wantErr: "does not answer"},
		{name: "not a URL scheme", url: "ftp://127.0.0.1/x", wantErr: "want http://"},
		{name: "list syntax", url: "http://127.0.0.1:1,direct", wantErr: "not a GOPROXY list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url
			var client *http.Client
			if tc.h != nil {
				srv := httptest.NewServer(tc.h)
				defer srv.Close()
				u, client = srv.URL, srv.Client()
			}
			err := Check(ctx, client, u, "")
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Check = %v, want accepted", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Check = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckEscapesProbe(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.Path
		w.Header().Set("Content-Type", "text/plain")
	}))
	defer srv.Close()
	if err := Check(context.Background(), srv.Client(), srv.URL+"/prefix/", "corp.internal/BigModule"); err != nil {
		t.Fatal(err)
	}
	if want := "/prefix/corp.internal/!big!module/@v/list"; got != want {
		t.Errorf("probe path = %q, want %q", got, want)
	}
}

func TestCheckFileURL(t *testing.T) {
	dir := t.TempDir()
	if err := Check(context.Background(), nil, "file://"+filepath.ToSlash(dir), ""); err != nil {
		t.Errorf("existing directory: %v", err)
	}
	if err := Check(context.Background(), nil, "file://"+filepath.ToSlash(dir)+"/missing", ""); err == nil {
		t.Error("missing directory accepted")
	}
}

func TestExports(t *testing.T) {
	settings := []Setting{
		{"GOPROXY", "http://127.0.0.1:3000"},
		{"GOPRIVATE", `it's\a $HOME "x" ‘y’`},
	}
	want := map[string]string{
		"sh": `export GOPROXY='http://127.0.0.1:3000'
export GOPRIVATE='it'\''s\a $HOME "x" ‘y’'
`,
		"fish": `set -gx GOPROXY 'http://127.0.0.1:3000'
set -gx GOPRIVATE 'it\'s\\a $HOME "x" ‘y’'
`,
		"powershell": `$env:GOPROXY = 'http://127.0.0.1:3000'
$env:GOPRIVATE = 'it''s\a $HOME "x" ‘‘y’’'
`,
	}
	for shell, w := range want {
		got, err := Exports(shell, settings)
		if err != nil {
			t.Fatal(err)
		}
		if got != w {
			t.Errorf("%s:\n got %s\nwant %s", shell, got, w)
		}
	}
	if _, err := Exports("csh", settings); err == nil {
		t.Error("unknown shell accepted")
	}
	if _, err := Exports("sh", []Setting{{"GOPROXY", "a\nb"}}); err == nil {
		t.Error("newline accepted")
	}
}

// TestExportsRunInShell evaluates the printed commands in each shell that
// is installed and checks that the values come out unchanged.
func TestExportsRunInShell(t *testing.T) {
	settings := []Setting{{"GOPRIVATE", `it's\a $HOME "x" ‘y’ ` + "`id`"}}
	for shell, argv := range map[string][]string{
		"sh":         {"sh", "-c"},
		"fish":       {"fish", "-c"},
		"powershell": {"pwsh", "-NoProfile", "-Command"},
	} {
		t.Run(shell, func(t *testing.T) {
			if _, err := exec.LookPath(argv[0]); err != nil {
				t.Skipf("%s not installed", argv[0])
			}
			script, err := Exports(shell, settings)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(argv[0], append(argv[1:], script+"\nprintenv GOPRIVATE")...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := strings.TrimRight(string(out), "\r\n"); got != settings[0].Value {
				t.Errorf("%s gives %q, want %q", shell, got, settings[0].Value)
			}
		})
	}
}

// TestNormalizeURLIsTheOneURLCheck: list separators, white space, control
// characters, queries and other schemes are refused, with the URL's
// credentials left out of the error; ProxyList joins only what it accepts.
func TestNormalizeURLIsTheOneURLCheck(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://h.example/x,off", "not a GOPROXY list"},
		{"https://h.example/p|https://c.example", "not a GOPROXY list"},
		{"https://h.example/a b", "white space"},
		{"https://h.example/a\tb", "white space"},
		{"https://h.example/\x1b[31m", "control"},
		{"https://u:s3cr3t@h.example/a b", "white space"},
		{"https://h.example/?x=1", "no query"},
		{"https://h.example/?", "no query"},
		{"ftp://h.example", "want http://, https:// or file://"},
	} {
		_, err := NormalizeURL(tc.url)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("NormalizeURL(%q) = %v, want %q (without credentials)", tc.url, err, tc.want)
		}
	}
	if got, err := NormalizeURL("https://u:p@h.example/x/"); err != nil || got != "https://u:p@h.example/x" {
		t.Errorf("a URL with credentials (valid in GOPROXY): %q, %v", got, err)
	}
	if got, err := ProxyList("https://a.example/", "http://127.0.0.1:1", "direct"); err != nil || got != "https://a.example,http://127.0.0.1:1,direct" {
		t.Errorf("ProxyList = %q, %v", got, err)
	}
	if _, err := ProxyList("https://a.example/x,off", "direct"); err == nil {
		t.Errorf("ProxyList took a list element holding a list")
	}
}
