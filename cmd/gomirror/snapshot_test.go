package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/snapshot"
)

// snapshotCLI runs snapshot and env subcommands against one storage
// directory, with the fake upstream as the in-process mirror's upstream.
type snapshotCLI struct {
	t     *testing.T
	up    *fakeproxy.Server
	store string
	// stderr is the last command's standard error.
	stderr string
}

func newSnapshotCLI(t *testing.T) *snapshotCLI {
	dir := t.TempDir()
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOENV", "off")
	t.Setenv("GOPATH", filepath.Join(dir, "gopath"))
	return &snapshotCLI{t: t, up: fakeproxy.New(t), store: filepath.Join(dir, "store")}
}

// run runs `gomirror <cmd> args...`; code is the status it asked to exit
// with (-1 if none).
func (c *snapshotCLI) run(cmd *cobra.Command, args ...string) (stdout string, code int, err error) {
	c.t.Helper()
	code = -1
	defer func(old func(int)) { exit = old }(exit)
	exit = func(n int) { code = n }
	args = append(args, "--storage-dir", c.store, "--direct-dir", filepath.Join(c.t.TempDir(), "direct"),
		"--upstream", c.up.URL, "--sumdb", c.up.DBKey, "--vulndb", "off")
	stdout, stderr, err := testutil.RunCommand(c.t, cmd, nil, args...)
	c.stderr = stderr
	if err != nil {
		c.t.Logf("stderr: %s", stderr)
	}
	return stdout, code, err
}

func (c *snapshotCLI) ok(cmd *cobra.Command, args ...string) string {
	c.t.Helper()
	out, code, err := c.run(cmd, args...)
	if err != nil || code > 0 {
		c.t.Fatalf("%s %q: %v (exit %d)", cmd.Name(), args, err, code)
	}
	return out
}

func snap(t *testing.T, name string) *cobra.Command { return subcommand(t, newSnapshot(), name) }
func env(t *testing.T, name string) *cobra.Command  { return subcommand(t, newEnv(), name) }

func TestSnapshotCommands(t *testing.T) {
	c := newSnapshotCLI(t)
	if out := c.ok(snap(t, "create"), "v1", "example.com/hello@v1.1.0"); !strings.Contains(out, "snapshot v1 created: 2 module versions (2 with zips)") {
		t.Errorf("create: %q", out)
	}
	// From a project directory: its go.mod's graph.
	proj := t.TempDir()
	gomod := "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.2.0\n"
	if err := os.WriteFile(filepath.Join(proj, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	c.ok(snap(t, "create"), "v2", "--from", proj)
	if _, _, err := c.run(snap(t, "create"), "v1", "example.com/hello@v1.0.0"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("create of an existing name: %v", err)
	}
	if _, code, _ := c.run(snap(t, "create"), "../x", "example.com/hello@v1.0.0"); code != 2 {
		t.Errorf("create with an invalid name: exit %d, want 2", code)
	}
	if out := c.ok(snap(t, "list")); !strings.Contains(out, "v1 ") || !strings.Contains(out, "v2 ") {
		t.Errorf("list:\n%s", out)
	}
	if out := c.ok(snap(t, "show"), "v2"); !strings.Contains(out, "example.com/hello  v1.2.0  h1:") {
		t.Errorf("show:\n%s", out)
	}
	// An invalid name is a usage error (2) for every subcommand.
	for _, tc := range []struct {
		cmd  *cobra.Command
		args []string
	}{
		{snap(t, "show"), []string{"../x"}},
		{snap(t, "diff"), []string{"v1", "../x"}},
		{snap(t, "delete"), []string{".x"}},
		{snap(t, "export"), []string{"a/b", "-o", "-"}},
		{env(t, "show"), []string{"../prod"}},
		{env(t, "promote"), []string{"pr od", "v1"}},
		{env(t, "promote"), []string{"prod", "../v1"}},
		{env(t, "rollback"), []string{"x y"}},
	} {
		if _, code, err := c.run(tc.cmd, tc.args...); code != 2 || err == nil || !strings.Contains(err.Error(), "invalid name") {
			t.Errorf("%s %q: exit %d, %v; want exit 2 naming the invalid name", tc.cmd.Name(), tc.args, code, err)
		}
	}
	// diff exits 1 when the snapshots differ (0 when not: below), as diff(1).
	out, _, err := c.run(snap(t, "diff"), "v1", "v2")
	if code, msg := exitStatus(err, i18n.English()); code != 1 || msg != "" {
		t.Errorf("diff of different snapshots: exit %d %q (%v), want 1 and no message", code, msg, err)
	}
	if !strings.Contains(out, "- example.com/hello v1.1.0\n") || !strings.Contains(out, "+ example.com/hello v1.2.0\n") {
		t.Errorf("diff:\n%s", out)
	}

	// Export, then import under another name: fetched and checked.
	file := filepath.Join(t.TempDir(), "deps-prod-v1.8.0.json")
	c.ok(snap(t, "export"), "v1", "-o", file)
	if out := c.ok(snap(t, "import"), file, "--name", "v1-copy"); !strings.Contains(out, "snapshot v1-copy imported: 2 module versions") {
		t.Errorf("import: %q", out)
	}
	if out := c.ok(snap(t, "diff"), "v1", "v1-copy"); out != "" {
		t.Errorf("diff of an imported copy:\n%s", out)
	}
	// A manifest whose hash the mirror's files do not match is refused.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m1 := strings.Index(string(data), `"hash": "h1:`) + len(`"hash": "h1:`)
	bad := string(data[:m1]) + flip(data[m1]) + string(data[m1+1:])
	badFile := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(badFile, []byte(bad), 0o644)
	if _, _, err := c.run(snap(t, "import"), badFile, "--name", "bad"); err == nil || !strings.Contains(err.Error(), "says") {
		t.Errorf("import of a manifest with a wrong hash: %v", err)
	}
	os.WriteFile(badFile, []byte(strings.Replace(string(data), `"format"`, `"formats"`, 1)), 0o644)
	if _, _, err := c.run(snap(t, "import"), badFile, "--name", "bad"); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("import of a manifest with an unknown field: %v", err)
	}
	// --no-fetch: checked against the hashes the store recorded; one
	// that differs (another module's hash) or a file not stored refuses.
	if out := c.ok(snap(t, "import"), file, "--name", "v1-nofetch", "--no-fetch"); !strings.Contains(out, "snapshot v1-nofetch imported") {
		t.Errorf("import --no-fetch of what the store holds: %q", out)
	}
	os.WriteFile(badFile, []byte(bad), 0o644)
	if _, code, err := c.run(snap(t, "import"), badFile, "--name", "bad", "--no-fetch"); err == nil || !strings.Contains(err.Error(), "the stored zip's hash is") || code == 2 {
		t.Errorf("import --no-fetch of a manifest with a wrong hash: %v (exit %d)", err, code)
	}
	absent := strings.Replace(string(data), "example.com/hello", "example.com/hellx", -1)
	os.WriteFile(badFile, []byte(absent), 0o644)
	if _, _, err := c.run(snap(t, "import"), badFile, "--name", "bad", "--no-fetch"); err == nil || !strings.Contains(err.Error(), "is not stored") {
		t.Errorf("import --no-fetch of a manifest naming files the store lacks: %v", err)
	}
	// A file whose name is not valid here: refused, unless --name gives one.
	os.WriteFile(badFile, []byte(strings.Replace(string(data), `"name": "v1"`, `"name": "../v1"`, 1)), 0o644)
	if _, _, err := c.run(snap(t, "import"), badFile); err == nil {
		t.Error("import of a manifest with an invalid name succeeded")
	}
	if out := c.ok(snap(t, "import"), badFile, "--name", "renamed"); !strings.Contains(out, "snapshot renamed imported") {
		t.Errorf("import --name of a manifest with an invalid name: %q", out)
	}
	// A file that cannot be read is a failure (1), not a usage error (2).
	if _, code, err := c.run(snap(t, "import"), filepath.Join(t.TempDir(), "missing.json")); err == nil || code == 2 {
		t.Errorf("import of a missing file: %v, exit %d; want an error, not exit 2", err, code)
	}
	if out, _, _ := c.run(snap(t, "list")); strings.Contains(out, "bad") {
		t.Errorf("a refused import was recorded:\n%s", out)
	}

	// Environments.
	c.ok(env(t, "promote"), "prod", "v1")
	c.ok(env(t, "promote"), "prod", "v2")
	if out := c.ok(env(t, "list")); !strings.Contains(out, "prod  v2") {
		t.Errorf("env list:\n%s", out)
	}
	if _, _, err := c.run(snap(t, "delete"), "v2"); err == nil || !strings.Contains(err.Error(), "in use by environment prod") {
		t.Errorf("delete of the snapshot in force: %v", err)
	}
	if _, _, err := c.run(snap(t, "delete"), "v1"); err == nil || !strings.Contains(err.Error(), "in use by environment prod: a rollback") {
		t.Errorf("delete of the snapshot a rollback returns to: %v", err)
	}
	c.ok(env(t, "rollback"), "prod")
	out = c.ok(env(t, "show"), "prod")
	if !strings.HasPrefix(out, "environment prod: snapshot v1\n") || strings.Count(out, "\n") != 5 {
		t.Errorf("env show:\n%s", out)
	}
	c.ok(snap(t, "delete"), "v2")
	if _, _, err := c.run(snap(t, "show"), "v2"); err == nil {
		t.Error("show of a deleted snapshot succeeded")
	}
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

// TestCreateFromProjectGraphOnlyZipRefused: a module in the project's graph
// only (example.com/dep: example.com/hello's requirement, the project at go
// 1.21 requiring hello alone) whose zip upstream refuses (403) does not
// fail `snapshot create --from` or `bundle export --from`: its zip is not
// one the go command downloads for the project, and the manifest records
// it go.mod-only.
func TestCreateFromProjectGraphOnlyZipRefused(t *testing.T) {
	c := newSnapshotCLI(t)
	c.up.Inject(fakeproxy.Paths("/example.com/dep/@v/v1.0.0.zip"), fakeproxy.Status(http.StatusForbidden, "This module version is not available"))
	proj := t.TempDir()
	if err := os.WriteFile(filepath.Join(proj, "go.mod"), []byte("module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := c.ok(snap(t, "create"), "big", "--from", proj); !strings.Contains(out, "snapshot big created: 2 module versions (1 with zips)") {
		t.Errorf("create: %q", out)
	}
	m, err := snapshot.Decode(strings.NewReader(c.ok(snap(t, "show"), "big", "--json")))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Modules {
		if zip := e.Hash != ""; zip != (e.Path == "example.com/hello") || e.GoModHash == "" {
			t.Errorf("entry %+v: want a zip hash for example.com/hello only, a go.mod hash for each", e)
		}
	}

	file := filepath.Join(t.TempDir(), "big.bundle")
	out, code, err := c.run(newBundle(), "export", "--from", proj, "-o", file, "--private", "", "--nosumdb", "", "--database", "off")
	if err != nil || code > 0 {
		t.Fatalf("bundle export --from: %v (exit %d)", err, code)
	}
	if !strings.Contains(out, "2 module versions") {
		t.Errorf("bundle export output %q", out)
	}
	// The in-process mirror logs warnings and errors only, for bundle
	// export as for snapshot create.
	c.ok(snap(t, "create"), "big2", "--from", proj)
	if strings.Contains(c.stderr, "INFO") {
		t.Errorf("snapshot create printed the in-process mirror's INFO lines:\n%s", c.stderr)
	}
	c.run(newBundle(), "export", "--from", proj, "-o", file, "--private", "", "--nosumdb", "", "--database", "off")
	if strings.Contains(c.stderr, "INFO") {
		t.Errorf("bundle export printed the in-process mirror's INFO lines:\n%s", c.stderr)
	}
	// Unless --log-level asks for them.
	c.run(newBundle(), "export", "--from", proj, "-o", file, "--private", "", "--nosumdb", "", "--database", "off", "--log-level", "info")
	if !strings.Contains(c.stderr, "INFO") {
		t.Errorf("bundle export --log-level info printed no INFO line:\n%s", c.stderr)
	}
}
