package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/sumdb"
)

// runVerify runs `gomirror verify args...` in process and returns its
// stdout, stderr, the status it asked to exit with (-1 if none) and error.
func runVerify(t *testing.T, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	code = -1
	defer func(old func(int)) { exit = old }(exit)
	exit = func(c int) { code = c }
	stdout, stderr, err = testutil.RunCommand(t, newVerify(), nil, args...)
	return stdout, stderr, code, err
}

// storeModule writes the artifacts of a small module version into the
// storage directory dir, with recorded hashes, as the server stores them,
// and returns the key of its zip.
func storeModule(t *testing.T, dir, path, version string) string {
	t.Helper()
	src := t.TempDir()
	gomod := []byte("module " + path + "\n\ngo 1.21\n")
	os.WriteFile(filepath.Join(src, "go.mod"), gomod, 0o644)
	os.WriteFile(filepath.Join(src, "x.go"), []byte("package x\n"), 0o644)
	base := filepath.Join(dir, filepath.FromSlash(path), "@v", version)
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(base + ".zip")
	if err != nil {
		t.Fatal(err)
	}
	if err := modzip.CreateFromDir(f, module.Version{Path: path, Version: version}, src); err != nil {
		t.Fatal(err)
	}
	f.Close()
	zh, err := dirhash.HashZip(base+".zip", dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	mh, _ := sumdb.HashGoMod(gomod)
	for name, content := range map[string]string{
		".ziphash": zh + "\n",
		".mod":     string(gomod),
		".modhash": mh + "\n",
		".info":    `{"Version":"` + version + `","Time":"2024-01-02T03:04:05Z"}`,
	} {
		if err := os.WriteFile(base+name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path + "/@v/" + version + ".zip"
}

func TestVerifyUsageAndConfigErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"argument", []string{"--storage-dir", dir, "--sumdb", "off", "--upstream", "off", "extra"}, "no arguments"},
		{"unknown flag", []string{"--storage-dir", dir, "--no-such-flag"}, "no-such-flag"},
		{"bad setting", []string{"--storage-dir", dir, "--sumdb", "off", "--upstream", "off", "--fetch-timeout", "soon"}, "fetch-timeout"},
		{"missing storage dir", []string{"--storage-dir", filepath.Join(dir, "nope"), "--sumdb", "off", "--upstream", "off"}, "storage-dir"},
		{"bad sumdb", []string{"--storage-dir", dir, "--sumdb", "nosuchdb.example.test+00000000+AAAA", "--upstream", "off"}, "sumdb"},
		{"bad upstream", []string{"--storage-dir", dir, "--sumdb", "off", "--upstream", "ftp://127.0.0.1:1"}, "upstream"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code, err := runVerify(t, tt.args...)
			if code != 2 || err == nil {
				t.Fatalf("exit %d, err %v; want exit 2\nstdout: %s\nstderr: %s", code, err, stdout, stderr)
			}
			if lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr %q: want one line naming %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
}

func TestVerifyOutputExitStatusAndRepair(t *testing.T) {
	dir := t.TempDir()
	good := storeModule(t, dir, "corp.example/good", "v1.0.0")
	bad := storeModule(t, dir, "corp.example/bad", "v1.2.3")
	// With the checksum database off, recorded hashes are what counts.
	t.Setenv("GOMIRROR_STORAGE_DIR", dir) // settings come from the environment like serve's
	t.Setenv("GOMIRROR_SUMDB", "off")
	t.Setenv("GOMIRROR_UPSTREAM", "off")

	stdout, stderr, code, err := runVerify(t)
	if err != nil || code != -1 {
		t.Fatalf("clean: exit %d, %v\n%s", code, err, stderr)
	}
	if stdout != "verified 6 artifacts: ok 6, corrupt 0, unverifiable 0\n" {
		t.Errorf("clean: stdout %q", stdout)
	}

	b, err := os.ReadFile(filepath.Join(dir, bad))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	off, err := zr.File[len(zr.File)-1].DataOffset() // x.go's compressed bytes
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0xff
	os.WriteFile(filepath.Join(dir, bad), b, 0o644)
	os.Remove(filepath.Join(dir, "corp.example/good/@v/v1.0.0.modhash"))

	stdout, _, code, err = runVerify(t)
	if !errors.Is(err, errCorrupt) || code != -1 {
		t.Fatalf("corrupt: err %v, exit %d; want errCorrupt (exit 1 through main)", err, code)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "corrupt "+bad+": ") ||
		lines[1] != "unverifiable corp.example/good/@v/v1.0.0.mod: the checksum database is off and no hash was recorded when it was stored" ||
		lines[2] != "verified 6 artifacts: ok 4, corrupt 1, unverifiable 1" {
		t.Errorf("corrupt: stdout\n%s", stdout)
	}

	stdout, _, _, err = runVerify(t, "--json")
	if !errors.Is(err, errCorrupt) {
		t.Errorf("--json: %v", err)
	}
	var rep struct {
		Checked, OK  int
		Corrupt      []struct{ Key, Reason string }
		Unverifiable []struct{ Key, Reason string }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if rep.Checked != 6 || rep.OK != 4 || len(rep.Corrupt) != 1 || rep.Corrupt[0].Key != bad || rep.Corrupt[0].Reason == "" || len(rep.Unverifiable) != 1 {
		t.Errorf("--json: %+v", rep)
	}

	stdout, _, code, err = runVerify(t, "--repair", "--workers", "2")
	if !errors.Is(err, errCorrupt) || code != -1 {
		t.Errorf("--repair: err %v, exit %d; want errCorrupt (exit 1)", err, code)
	}
	if !strings.Contains(stdout, "\nrepaired "+bad+"\n") {
		t.Errorf("--repair: stdout\n%s", stdout)
	}
	for _, k := range []string{bad, bad + "hash"} {
		if _, err := os.Stat(filepath.Join(dir, k)); !os.IsNotExist(err) {
			t.Errorf("%s after repair: %v", k, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, good)); err != nil {
		t.Errorf("good zip after repair: %v", err)
	}
	stdout, _, _, err = runVerify(t)
	if err != nil || !strings.HasSuffix(stdout, "verified 5 artifacts: ok 4, corrupt 0, unverifiable 1\n") {
		t.Errorf("after repair: %v\n%s", err, stdout)
	}
}
