package verify

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/sumdbtest"
	"github.com/gomirror/gomirror/layout"
	fsstore "github.com/gomirror/gomirror/storage/fs"
)

// exempt is the nosumdb pattern of the tests: modules under it are never
// looked up in the checksum database.
const exempt = "private.example"

type modVer struct{ path, version string }

// stored lists the module versions fill puts in storage.
var stored = []modVer{
	{"example.com/hello", "v1.0.0"},
	{"example.com/hello", "v1.1.0"},
	{"example.com/hello", "v1.2.0"},
	{"example.com/hello/v2", "v2.0.0"},
	{"example.com/dep", "v1.0.0"},
	{"example.com/MixedCase", "v1.0.0"},
	{"example.com/legacy", "v2.1.0+incompatible"},
	{"private.example/secret", "v1.0.0"},
	{"private.example/secret", "v1.1.0"},
}

// newUpstream returns the fake upstream with the exempt module added.
func newUpstream(t *testing.T) *fakeproxy.Server {
	t.Helper()
	up := fakeproxy.New(t)
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		if _, err := up.Add("private.example/secret", v, map[string][]byte{
			"go.mod":    []byte("module private.example/secret\n\ngo 1.21\n"),
			"secret.go": []byte("package secret\n\nconst Version = \"" + v + "\"\n"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	return up
}

// mustHashKey returns the key of the recorded hash of the artifact at key.
func mustHashKey(t *testing.T, key string) string {
	t.Helper()
	hashKey, ok := layout.HashKey(key)
	if !ok {
		t.Fatalf("%s has no recorded hash", key)
	}
	return hashKey
}

// newMirror returns a cache.Mirror over the storage at dir that verifies
// against up's checksum database, except for the exempt modules, and a
// function that waits for its background writes.
func newMirror(t *testing.T, dir string, up *fakeproxy.Server) (*cache.Mirror, func()) {
	t.Helper()
	store, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, chain := sumdbtest.Verifier(t, up, store.Unsynced(), exempt)
	m := cache.New(cache.Options{Storage: store, Upstream: chain, Verifier: v, Logger: slog.New(slog.DiscardHandler)})
	wait := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if err := v.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(wait)
	return m, wait
}

// escaped returns path@version with its escaped forms (layout.Escape), as
// the Mirror's methods take it.
func escaped(t *testing.T, path, version string) layout.Module {
	t.Helper()
	em, err := layout.Escape(module.Version{Path: path, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return em
}

// fill stores every module version in stored through a real Mirror over
// up, and returns the storage directory.
func fill(t *testing.T, up *fakeproxy.Server) string {
	t.Helper()
	dir := t.TempDir()
	m, wait := newMirror(t, dir, up)
	ctx := context.Background()
	for _, mv := range stored {
		if _, _, err := m.Info(ctx, escaped(t, mv.path, mv.version)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.GoMod(ctx, escaped(t, mv.path, mv.version)); err != nil {
			t.Fatal(err)
		}
		obj, _, err := m.Zip(ctx, escaped(t, mv.path, mv.version))
		if err != nil {
			t.Fatal(err)
		}
		obj.Body.Close()
	}
	wait()
	return dir
}

// options assembles verification of dir like `gomirror verify` does.
func options(t *testing.T, dir, upstreamList, sumDB string) Options {
	t.Helper()
	cfg := config.Defaults()
	cfg.StorageDir, cfg.Upstream, cfg.SumDB, cfg.NoSumDB = dir, upstreamList, sumDB, exempt
	opts, err := FromConfig(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

func run(t *testing.T, opts Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	t.Logf("verify:\n%s", text.String())
	return rep
}

func key(t *testing.T, path, version, ext string) string {
	t.Helper()
	p, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := module.EscapeVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	return p + "/@v/" + v + ext
}

// files lists the files under dir outside .gomirror/, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() && rel == ".gomirror" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func problemKeys(ps []Problem) []string {
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	return keys
}

// flipZipByte flips the first byte of the compressed data of the first
// non-empty file in the zip at p.
func flipZipByte(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.CompressedSize64 == 0 {
			continue
		}
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		b[off] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("%s: no file with data", p)
}

// otherZip writes at p a valid module zip of path@version with other files
// than the upstream's.
func otherZip(t *testing.T, p, path, version string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+path+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "evil.go"), []byte("package secret\n\nfunc init() { panic(1) }\n"), 0o644)
	if err := modzip.CreateFromDir(f, module.Version{Path: path, Version: version}, dir); err != nil {
		t.Fatal(err)
	}
}

func TestCleanMirrorVerifies(t *testing.T) {
	up := newUpstream(t)
	dir := fill(t, up)
	rep := run(t, options(t, dir, up.URL, up.DBKey))
	if n := 3 * len(stored); rep.Checked != n || rep.OK != n || len(rep.Corrupt) != 0 || len(rep.Unverifiable) != 0 {
		t.Fatalf("clean mirror: %+v; want %d artifacts all ok", rep, n)
	}
}

// TestUpstreamGroupConfig: an upstream that names a group of mirrors (as
// the server's config may) reaches the checksum database through it.
func TestUpstreamGroupConfig(t *testing.T) {
	up := newUpstream(t)
	dir := fill(t, up)
	// Lookups and tiles were stored by the fill; remove them so that the
	// checksum database must be asked through the group.
	if err := os.RemoveAll(filepath.Join(dir, "sumdb")); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.StorageDir, cfg.Upstream, cfg.SumDB, cfg.NoSumDB = dir, "mirrors", up.DBKey, exempt
	cfg.UpstreamGroups = []config.UpstreamGroup{{Name: "mirrors", Mirrors: []string{up.URL}}}
	opts, err := FromConfig(&cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("FromConfig with an upstream group: %v", err)
	}
	rep := run(t, opts)
	if n := 3 * len(stored); rep.Checked != n || rep.OK != n {
		t.Fatalf("through a group: %+v; want %d artifacts all ok", rep, n)
	}
}

func TestTamperedArtifactsAreCorruptAndRepaired(t *testing.T) {
	up := newUpstream(t)
	dir := fill(t, up)
	opts := options(t, dir, up.URL, up.DBKey)

	zipFlipped := key(t, "example.com/hello", "v1.0.0", ".zip")
	modTruncated := key(t, "example.com/hello", "v1.1.0", ".mod")
	infoGarbage := key(t, "example.com/dep", "v1.0.0", ".info")
	infoWrongVersion := key(t, "example.com/hello/v2", "v2.0.0", ".info")
	exemptZip := key(t, "private.example/secret", "v1.0.0", ".zip")
	exemptModNoHash := key(t, "private.example/secret", "v1.1.0", ".mod")
	mixedModChanged := key(t, "example.com/MixedCase", "v1.0.0", ".mod")

	flipZipByte(t, filepath.Join(dir, zipFlipped))
	mod, err := os.ReadFile(filepath.Join(dir, modTruncated))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, modTruncated), mod[:len(mod)/2], 0o644)
	os.WriteFile(filepath.Join(dir, infoGarbage), []byte("<html>502 Bad Gateway</html>"), 0o644)
	os.WriteFile(filepath.Join(dir, infoWrongVersion), []byte(`{"Version":"v2.0.1","Time":"2024-01-02T03:04:05Z"}`), 0o644)
	otherZip(t, filepath.Join(dir, exemptZip), "private.example/secret", "v1.0.0")
	if err := os.Remove(filepath.Join(dir, mustHashKey(t, exemptModNoHash))); err != nil {
		t.Fatal(err)
	}
	// A case-encoded path, and a change that keeps the file valid.
	os.WriteFile(filepath.Join(dir, mixedModChanged), []byte("module example.com/MixedCase\n\nrequire example.com/evil v1.0.0\n"), 0o644)

	wantReasons := map[string]string{
		zipFlipped:       "invalid module zip",
		modTruncated:     "checksum mismatch: the stored go.mod hashes to h1:",
		infoGarbage:      "malformed info",
		infoWrongVersion: `names version "v2.0.1", not v2.0.0`,
		exemptZip:        "recorded when it was stored: h1:",
		mixedModChanged:  "the checksum database says h1:",
	}
	wantCorrupt := slices.Sorted(func(yield func(string) bool) {
		for k := range wantReasons {
			if !yield(k) {
				return
			}
		}
	})

	rep := run(t, opts)
	if got := problemKeys(rep.Corrupt); !slices.Equal(got, wantCorrupt) {
		t.Errorf("corrupt = %q\nwant %q", got, wantCorrupt)
	}
	for _, p := range rep.Corrupt {
		if w := wantReasons[p.Key]; !strings.Contains(p.Reason, w) || strings.Contains(p.Reason, "\n") {
			t.Errorf("corrupt %s: reason %q, want one line containing %q", p.Key, p.Reason, w)
		}
	}
	if got := problemKeys(rep.Unverifiable); !slices.Equal(got, []string{exemptModNoHash}) {
		t.Errorf("unverifiable = %q, want just %s", got, exemptModNoHash)
	} else if r := rep.Unverifiable[0].Reason; !strings.Contains(r, "no hash was recorded") {
		t.Errorf("unverifiable reason %q", r)
	}
	if n := 3 * len(stored); rep.Checked != n || rep.OK != n-len(wantCorrupt)-1 {
		t.Errorf("checked %d, ok %d; want %d, %d", rep.Checked, rep.OK, n, n-len(wantCorrupt)-1)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "verified 27 artifacts: ok 20, corrupt 6, unverifiable 1" {
		t.Errorf("summary line %q", last)
	}
	if !slices.Contains(lines, "corrupt "+infoWrongVersion+`: malformed info: names version "v2.0.1", not v2.0.0`) {
		t.Errorf("no corrupt line for %s in\n%s", infoWrongVersion, text.String())
	}

	// Repair deletes exactly the corrupt artifacts and their hashes.
	before := files(t, dir)
	opts.Repair = true
	rep = run(t, opts)
	if !slices.Equal(rep.Repaired, wantCorrupt) {
		t.Errorf("repaired %q, want %q", rep.Repaired, wantCorrupt)
	}
	after := files(t, dir)
	var removed []string
	for _, f := range before {
		if !slices.Contains(after, f) {
			removed = append(removed, f)
		}
	}
	var wantRemoved []string
	for _, k := range wantCorrupt {
		wantRemoved = append(wantRemoved, k)
		if !strings.HasSuffix(k, ".info") {
			wantRemoved = append(wantRemoved, mustHashKey(t, k))
		}
	}
	slices.Sort(wantRemoved)
	if !slices.Equal(removed, wantRemoved) {
		t.Errorf("repair removed %q\nwant %q", removed, wantRemoved)
	}
	if len(after) != len(before)-len(wantRemoved) {
		t.Errorf("repair also added files: %d before, %d after", len(before), len(after))
	}

	// The next requests fetch them again, and all is well.
	m, wait := newMirror(t, dir, up)
	ctx := context.Background()
	hits := up.Hits("/example.com/hello/@v/v1.0.0.zip")
	obj, src, err := m.Zip(ctx, escaped(t, "example.com/hello", "v1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if src.Outcome != cache.Miss || up.Hits("/example.com/hello/@v/v1.0.0.zip") != hits+1 {
		t.Errorf("repaired zip not fetched again: %s", src)
	}
	for _, k := range []struct{ path, version string }{{"example.com/hello", "v1.1.0"}, {"example.com/MixedCase", "v1.0.0"}} {
		if _, _, err := m.GoMod(ctx, escaped(t, k.path, k.version)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := m.Info(ctx, escaped(t, "example.com/dep", "v1.0.0")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Info(ctx, escaped(t, "example.com/hello/v2", "v2.0.0")); err != nil {
		t.Fatal(err)
	}
	obj, _, err = m.Zip(ctx, escaped(t, "private.example/secret", "v1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	wait()
	opts.Repair = false
	rep = run(t, opts)
	if len(rep.Corrupt) != 0 || rep.Checked != 3*len(stored) {
		t.Errorf("after refetching: %+v", rep)
	}
}

// TestOfflineFromStoredChecksumData verifies with the upstream gone and
// "off": the lookups and tiles in storage are enough.
func TestOfflineFromStoredChecksumData(t *testing.T) {
	up := newUpstream(t)
	dir := fill(t, up)
	dbURL := up.URL + "/sumdb/" + fakeproxy.DBName
	up.Close()
	// The database's own URL is the closed upstream's, so that nothing
	// leaves the loopback interface even if a lookup were missing.
	offline := func() Options { return options(t, dir, "off", up.DBKey+" "+dbURL) }

	rep := run(t, offline())
	if n := 3 * len(stored); rep.Checked != n || rep.OK != n || len(rep.Corrupt) != 0 || len(rep.Unverifiable) != 0 {
		t.Fatalf("offline: %+v; want %d artifacts all ok", rep, n)
	}

	// Without the stored lookup, the database is needed and unreachable.
	lookup := "sumdb/" + fakeproxy.DBName + "/lookup/example.com/dep@v1.0.0"
	if err := os.Remove(filepath.Join(dir, lookup)); err != nil {
		t.Fatal(err)
	}
	rep = run(t, offline())
	depZip, depMod := key(t, "example.com/dep", "v1.0.0", ".zip"), key(t, "example.com/dep", "v1.0.0", ".mod")
	if got := problemKeys(rep.Unverifiable); !slices.Equal(got, []string{depMod, depZip}) || len(rep.Corrupt) != 0 {
		t.Fatalf("without the stored lookup: corrupt %v, unverifiable %q; want %s and %s unverifiable", rep.Corrupt, got, depMod, depZip)
	}
	for _, p := range rep.Unverifiable {
		if !strings.HasPrefix(p.Reason, "checksum database unreachable") {
			t.Errorf("unverifiable %s: %q", p.Key, p.Reason)
		}
	}

	// The hash recorded at store time still tells a changed artifact.
	os.WriteFile(filepath.Join(dir, depMod), []byte("module example.com/dep\n\nrequire example.com/evil v1.0.0\n"), 0o644)
	rep = run(t, offline())
	if got := problemKeys(rep.Corrupt); !slices.Equal(got, []string{depMod}) {
		t.Errorf("changed .mod with the database unreachable: corrupt %q, want %s", got, depMod)
	} else if r := rep.Corrupt[0].Reason; !strings.Contains(r, "recorded when it was stored") || !strings.Contains(r, "unreachable") {
		t.Errorf("reason %q", r)
	}
}

// TestChecksumDatabaseOff checks every module against recorded hashes.
func TestChecksumDatabaseOff(t *testing.T) {
	up := newUpstream(t)
	dir := fill(t, up)
	opts := options(t, dir, "off", "off")
	if opts.Checker != nil {
		t.Fatal("a checker with the checksum database off")
	}
	if rep := run(t, opts); rep.OK != 3*len(stored) {
		t.Fatalf("sumdb off: %+v", rep)
	}
	flipZipByte(t, filepath.Join(dir, key(t, "example.com/dep", "v1.0.0", ".zip")))
	otherZip(t, filepath.Join(dir, key(t, "example.com/hello", "v1.2.0", ".zip")), "example.com/hello", "v1.2.0")
	rep := run(t, opts)
	want := []string{key(t, "example.com/dep", "v1.0.0", ".zip"), key(t, "example.com/hello", "v1.2.0", ".zip")}
	if got := problemKeys(rep.Corrupt); !slices.Equal(got, want) {
		t.Errorf("corrupt %q, want %q", got, want)
	}
}

func TestJSONReport(t *testing.T) {
	var b bytes.Buffer
	(&Report{Checked: 2, OK: 2}).WriteJSON(&b)
	if got := strings.TrimSpace(b.String()); got != `{"checked":2,"ok":2,"corrupt":[],"unverifiable":[]}` {
		t.Errorf("JSON = %s", got)
	}
}

func TestCancelled(t *testing.T) {
	up := newUpstream(t)
	dir := fill(t, up)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, options(t, dir, up.URL, up.DBKey)); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v", err)
	}
}

func TestMissingStorageDir(t *testing.T) {
	cfg := config.Defaults()
	cfg.StorageDir, cfg.Upstream, cfg.SumDB = filepath.Join(t.TempDir(), "nope"), "off", "off"
	_, err := FromConfig(&cfg, nil)
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != "storage-dir" {
		t.Errorf("FromConfig with a missing storage dir: %v", err)
	}
	if _, serr := os.Stat(cfg.StorageDir); serr == nil {
		t.Error("FromConfig created the missing storage dir")
	}
}
