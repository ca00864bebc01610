package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
)

// runWarmCmd runs newWarm() with args, the go command it runs finding
// modules nowhere but through the mirror it is given.
func runWarmCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOPATH", filepath.Join(dir, "gopath"))
	t.Setenv("GOENV", "off")
	return testutil.RunCommand(t, newWarm(), nil, args...)
}

func TestWarmArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--mirror"},
		{[]string{"--mirror", "127.0.0.1:3000"}, "http or https"},
		{[]string{"--mirror", "http://127.0.0.1:1", "--jobs", "0"}, "--jobs"},
		{[]string{"--mirror", "http://127.0.0.1:1", "a/go.mod", "b/go.mod"}, "one go.mod"},
		{[]string{"--mirror", "http://127.0.0.1:1", "go.mod", "example.com/hello@v1.1.0"}, "one go.mod"},
	} {
		_, _, err := runWarmCmd(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("warm %q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestWarmModuleArgs(t *testing.T) {
	up := fakeproxy.New(t)
	// hello requires dep: dep's go.mod is read, its zip not needed.
	stdout, stderr, err := runWarmCmd(t, "--mirror", up.URL, "example.com/hello@v1.1.0")
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	want := "modules: 2\nfiles fetched: 5\nbytes: "
	if !strings.HasPrefix(stdout, want) || !strings.HasSuffix(stdout, "failures: 0\n") {
		t.Errorf("summary:\n%s\nwant it to start with:\n%s", stdout, want)
	}
	if up.Hits("/example.com/hello/@v/v1.1.0.zip") == 0 || up.Hits("/example.com/dep/@v/v1.0.0.mod") == 0 {
		t.Errorf("hello's zip or dep's go.mod not fetched:\n%s", strings.Join(up.Requests(), "\n"))
	}
	if n := up.Hits("/example.com/dep/@v/v1.0.0.zip"); n != 0 {
		t.Errorf("%d requests for dep's zip without --all, want 0", n)
	}
	stdout, stderr, err = runWarmCmd(t, "--mirror", up.URL, "--all", "example.com/hello@v1.1.0")
	if err != nil {
		t.Fatalf("--all: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if !strings.HasPrefix(stdout, "modules: 2\nfiles fetched: 6\n") {
		t.Errorf("--all summary:\n%s", stdout)
	}
	if n := up.Hits("/example.com/dep/@v/v1.0.0.zip"); n != 1 {
		t.Errorf("%d requests for dep's zip with --all, want 1", n)
	}
}

func TestWarmGoModFailure(t *testing.T) {
	up := fakeproxy.New(t)
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/example.com/dep/@v/v1.0.0.zip" {
			http.Error(w, "upstream broke", http.StatusBadGateway)
			return true
		}
		return false
	})
	dir := t.TempDir()
	gomod := filepath.Join(dir, "go.mod")
	content := "module example.com/app\n\ngo 1.21\n\nrequire (\n\texample.com/hello v1.1.0\n\texample.com/dep v1.0.0 // indirect\n)\n"
	if err := os.WriteFile(gomod, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// dep's zip is needed (go.mod requires it explicitly): its failure
	// fails warm, naming it.
	_, stderr, err := runWarmCmd(t, "--mirror", up.URL, gomod)
	if err == nil || !strings.Contains(err.Error(), "could not be downloaded") || !strings.Contains(err.Error(), "example.com/dep@v1.0.0") {
		t.Errorf("error %v\nstderr:\n%s", err, stderr)
	}
	if got, _ := os.ReadFile(gomod); string(got) != content {
		t.Errorf("go.mod changed:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
		t.Error("warm wrote a go.sum next to the go.mod")
	}
}

// extraProject is a project requiring example.com/lib, whose go.mod
// requires example.com/extra without importing it: extra is in the build
// list, its go.mod read, but neither `go mod download` nor `go build`
// fetches its zip. The upstream refuses extra's zip (403). It returns the
// upstream and the project's go.mod.
func extraProject(t *testing.T) (*fakeproxy.Server, string) {
	t.Helper()
	up := fakeproxy.New(t)
	if _, err := up.Add("example.com/extra", "v1.0.0", map[string][]byte{
		"go.mod":   []byte("module example.com/extra\n\ngo 1.21\n"),
		"extra.go": []byte("package extra\n"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Add("example.com/lib", "v1.0.0", map[string][]byte{
		"go.mod": []byte("module example.com/lib\n\ngo 1.21\n\nrequire example.com/extra v1.0.0\n"),
		"lib.go": []byte("package lib\n\nconst Name = \"lib\"\n"),
	}); err != nil {
		t.Fatal(err)
	}
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/example.com/extra/@v/v1.0.0.zip" {
			http.Error(w, "forbidden by upstream policy", http.StatusForbidden)
			return true
		}
		return false
	})
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire example.com/lib v1.0.0\n",
		"main.go": "package main\n\nimport \"example.com/lib\"\n\nfunc main() { println(lib.Name) }\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return up, filepath.Join(dir, "go.mod")
}

// TestWarmExtraZipRefused: a zip the build does not need, refused by the
// upstream, is a warning and not fetched at all without --all; with --all
// it is fetched, and its refusal is a warning (exit 0).
func TestWarmExtraZipRefused(t *testing.T) {
	up, gomod := extraProject(t)
	stdout, stderr, err := runWarmCmd(t, "--mirror", up.URL, gomod)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if n := up.Hits("/example.com/extra/@v/v1.0.0.zip"); n != 0 {
		t.Errorf("%d requests for the zip the build does not need, want 0", n)
	}
	for _, p := range []string{"/example.com/lib/@v/v1.0.0.zip", "/example.com/extra/@v/v1.0.0.mod"} {
		if up.Hits(p) == 0 {
			t.Errorf("%s not fetched", p)
		}
	}
	if !strings.Contains(stdout, "failures: 0\n") {
		t.Errorf("summary:\n%s", stdout)
	}

	stdout, stderr, err = runWarmCmd(t, "--mirror", up.URL, "--all", gomod)
	if err != nil {
		t.Fatalf("--all: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"failures: 0\n", "warnings: 1\n  example.com/extra@v1.0.0 .zip: 403 Forbidden: forbidden by upstream policy (not needed to build)\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--all summary lacks %q:\n%s", want, stdout)
		}
	}
}

// TestWarmChinese: under LANG=zh_CN.UTF-8 warm's progress, summary,
// warnings and errors are in Chinese.
func TestWarmChinese(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
	up, gomod := extraProject(t)
	stdout, stderr, err := runWarmCmd(t, "--mirror", up.URL, "--all", gomod)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"模块：2\n", "失败：0\n", "警告：1\n", "（构建不需要此文件）"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	for _, want := range []string{"正在通过 " + up.URL + " 解析", "warm：6/6 个文件"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	_, _, err = runWarmCmd(t)
	p, _ := printer(newWarm())
	if err == nil || p.Error(err) != "请用 --mirror 指定镜像的 URL" {
		t.Errorf("error %v, want it in Chinese", err)
	}
}

// TestWarmSumDB: --sumdb looks up every module version of the graph in the
// database go env GOSUMDB names, through the mirror.
func TestWarmSumDB(t *testing.T) {
	up, gomod := extraProject(t)
	t.Setenv("GOSUMDB", up.DBKey)
	t.Setenv("GONOSUMDB", "example.com/extra")
	stdout, stderr, err := runWarmCmd(t, "--mirror", up.URL, "--sumdb", gomod)
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, "checksum database lookups: 1\n") || !strings.Contains(stdout, "exempt (GONOSUMDB): 1\nlookup failures: 0\n") {
		t.Errorf("summary:\n%s", stdout)
	}
	prefix := "/sumdb/" + fakeproxy.DBName + "/lookup/"
	if up.Hits(prefix+"example.com/lib@v1.0.0") != 1 || up.Hits(prefix+"example.com/extra@v1.0.0") != 0 {
		t.Errorf("lookups:\n%s", strings.Join(up.Requests(), "\n"))
	}

	t.Setenv("GOSUMDB", "off")
	if _, _, err := runWarmCmd(t, "--mirror", up.URL, "--sumdb", gomod); err == nil || !strings.Contains(err.Error(), "GOSUMDB is off") {
		t.Errorf("GOSUMDB=off: error %v", err)
	}
}

// TestWarmSumDBPrivateAndFailures: with --sumdb, GOPRIVATE's paths are
// exempt when GONOSUMDB is unset (as the go command does), and a failed
// lookup makes warm exit with an error naming the count.
func TestWarmSumDBPrivateAndFailures(t *testing.T) {
	up := fakeproxy.New(t)
	t.Setenv("GOSUMDB", up.DBKey)
	t.Setenv("GONOSUMDB", "")
	t.Setenv("GOPRIVATE", "example.com/dep")
	stdout, stderr, err := runWarmCmd(t, "--mirror", up.URL, "--sumdb", "example.com/hello@v1.1.0")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, stderr, stdout)
	}
	if !strings.Contains(stdout, "checksum database lookups: 1\n") || !strings.Contains(stdout, "exempt (GONOSUMDB): 1\n") {
		t.Errorf("GOPRIVATE not exempt:\n%s", stdout)
	}
	if up.Hits("/sumdb/"+fakeproxy.DBName+"/lookup/example.com/dep@v1.0.0") != 0 {
		t.Error("a GOPRIVATE path was looked up")
	}

	t.Setenv("GOPRIVATE", "")
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/lookup/example.com/dep@v1.0.0") {
			http.Error(w, "gone", http.StatusGone)
			return true
		}
		return false
	})
	stdout, stderr, err = runWarmCmd(t, "--mirror", up.URL, "--sumdb", "example.com/hello@v1.1.0")
	if err == nil || !strings.Contains(err.Error(), "checksum database lookups failed: 1") {
		t.Errorf("a failed lookup: error %v\n%s%s", err, stderr, stdout)
	}
	if !strings.Contains(stdout, "example.com/dep@v1.0.0") {
		t.Errorf("the failed lookup is not named:\n%s", stdout)
	}
}
