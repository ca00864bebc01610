package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/bundle"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/snapshot"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/storage/mem"
	"github.com/gomirror/gomirror/sumdb"
)

// httpFetcher fetches from a fake upstream.
type httpFetcher struct{ url string }

func (f httpFetcher) Fetch(ctx context.Context, p string) (io.ReadCloser, error) {
	resp, err := http.Get(f.url + "/" + p)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, errors.New(resp.Status)
	}
	return resp.Body, nil
}

// TestBundleImportCommand: the import reports what it added (text and
// --json), adds nothing the second time, lists the modules checked by the
// manifest's hash only, and fails (exit status 1 through main) with
// nothing stored for a damaged bundle.
func TestBundleImportCommand(t *testing.T) {
	up := fakeproxy.New(t)
	db, err := sumdb.ParseGOSUMDB(up.DBKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	mods := []bundle.Module{{Path: "example.com/hello", Version: "v1.1.0"}, {Path: "example.com/dep", Version: "v1.0.0"}}
	if _, err := bundle.Export(context.Background(), &buf, mods, bundle.ExportOptions{Storage: mem.New(), Fetch: httpFetcher{up.URL}, DB: db}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "b.bundle")
	os.WriteFile(file, buf.Bytes(), 0o644)
	settings := func(dir string, more ...string) []string {
		return append([]string{"import", "--storage-dir", dir, "--upstream", "off", "--sumdb", up.DBKey, "--private", "", "--nosumdb", ""}, more...)
	}

	dir := t.TempDir()
	out, _, _, err := runCmd(t, newBundle(), append(settings(dir, "--json"), file)...)
	if err != nil {
		t.Fatal(err)
	}
	var rep bundle.ImportReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if rep.Added != 6 || rep.Present != 0 || rep.SumDBAdded == 0 || rep.Modules != 2 {
		t.Errorf("first import: %+v", rep)
	}
	out, _, _, err = runCmd(t, newBundle(), append(settings(dir), file)...)
	if err != nil || !strings.HasPrefix(out, "added 0 artifacts (6 already present)") {
		t.Errorf("second import: %q, %v", out, err)
	}

	// Exempt here: checked against the manifest only, which is refused
	// unless the manifest is signed by a trusted key (bundle keygen,
	// export --sign-key, import --trust).
	_, _, _, err = runCmd(t, newBundle(), append(settings(t.TempDir(), "--nosumdb", "example.com/dep"), file)...)
	var refused *bundle.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "example.com/dep@v1.0.0") || !strings.Contains(refused.Reason, "not signed") {
		t.Fatalf("unsigned import with example.com/dep exempt: %v", err)
	}
	keyFile := filepath.Join(t.TempDir(), "exporter.key")
	vkey, _, _, err := runCmd(t, newBundle(), "keygen", "exporter", "-o", keyFile)
	if err != nil {
		t.Fatal(err)
	}
	vkey = strings.TrimSpace(vkey)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signer key file: %v, %v", fi, err)
	}
	if _, _, _, err := runCmd(t, newBundle(), "keygen", "exporter", "-o", keyFile); err == nil {
		t.Error("keygen overwrote a key file")
	}
	signer, err := readSigner(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var signed bytes.Buffer
	if _, err := bundle.Export(context.Background(), &signed, mods, bundle.ExportOptions{Storage: mem.New(), Fetch: httpFetcher{up.URL}, DB: db, Exempt: func(p string) bool { return p == "example.com/dep" }, Signer: signer}); err != nil {
		t.Fatal(err)
	}
	signedFile := filepath.Join(t.TempDir(), "signed.bundle")
	os.WriteFile(signedFile, signed.Bytes(), 0o644)
	out, _, _, err = runCmd(t, newBundle(), append(settings(t.TempDir(), "--nosumdb", "example.com/dep", "--trust", vkey), signedFile)...)
	if err != nil || !strings.Contains(out, "hash only example.com/dep@v1.0.0") || !strings.Contains(out, "signed by exporter") || strings.Contains(out, "hash only example.com/hello") {
		t.Errorf("signed import with example.com/dep exempt: %q, %v", out, err)
	}
	t.Setenv("GOMIRROR_BUNDLE_TRUST", up.DBKey+" "+vkey)
	out, _, _, err = runCmd(t, newBundle(), append(settings(t.TempDir(), "--nosumdb", "example.com/dep"), signedFile)...)
	if err != nil || !strings.Contains(out, "signed by exporter") {
		t.Errorf("signed import, key in setting bundle-trust: %q, %v", out, err)
	}
	t.Setenv("GOMIRROR_BUNDLE_TRUST", "")
	_, _, _, err = runCmd(t, newBundle(), append(settings(t.TempDir(), "--nosumdb", "example.com/dep", "--trust", up.DBKey), signedFile)...)
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "signature") {
		t.Errorf("signed import trusting another key: %v", err)
	}

	// A damaged stored file is repaired, and said so.
	zip := filepath.Join(dir, "example.com/hello/@v/v1.1.0.zip")
	if err := os.WriteFile(zip, []byte("truncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _, err = runCmd(t, newBundle(), append(settings(dir), file)...)
	if err != nil || !strings.Contains(out, "repaired example.com/hello/@v/v1.1.0.zip") {
		t.Errorf("import over a damaged zip: %q, %v", out, err)
	}
	if b, _ := os.ReadFile(zip); bytes.Equal(b, []byte("truncated")) {
		t.Error("damaged zip kept")
	}
	for _, tt := range []struct {
		err  error
		code int
	}{
		{&bundle.PartlyStoredError{Err: errors.New("disk full")}, 3},
		{fmt.Errorf("import: %w", &bundle.PartlyStoredError{Err: errors.New("disk full")}), 3},
		{&bundle.RefusedError{Reason: "x"}, 1},
	} {
		if code, msg := exitStatus(importError(tt.err), i18n.English()); code != tt.code || !strings.Contains(msg, tt.err.Error()) {
			t.Errorf("%v: exit status %d, %q; want %d", tt.err, code, msg, tt.code)
		}
	}

	// Limits from the command line.
	for _, tt := range []struct{ flag, val, want string }{
		{"--max-entries", "3", "more than 3 entries"},
		{"--max-bytes", "1KiB", "more than 1024 bytes in all"},
	} {
		_, _, _, err = runCmd(t, newBundle(), append(settings(t.TempDir(), tt.flag, tt.val), file)...)
		if !errors.As(err, &refused) || !strings.Contains(refused.Reason, tt.want) {
			t.Errorf("import %s %s: %v; want a refusal for %q", tt.flag, tt.val, err, tt.want)
		}
	}

	b := bytes.Clone(buf.Bytes())
	b[len(b)/2] ^= 1
	os.WriteFile(file, b, 0o644)
	empty := t.TempDir()
	_, _, _, err = runCmd(t, newBundle(), append(settings(empty), file)...)
	if !errors.As(err, new(*bundle.RefusedError)) {
		t.Fatalf("import of a damaged bundle: %v", err)
	}
	if code, _ := exitStatus(err, i18n.English()); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	entries, _ := os.ReadDir(empty)
	for _, e := range entries {
		if e.Name() != ".gomirror" {
			t.Errorf("stored after a refusal: %s", e.Name())
		}
	}
}

// TestBundleExportSnapshot: `bundle export --snapshot NAME` bundles the
// snapshot's versions (a go.mod-only one without its zip), fetching what
// the storage lacks through the in-process mirror, and the bundle imports.
func TestBundleExportSnapshot(t *testing.T) {
	up := fakeproxy.New(t)
	dir := t.TempDir()
	st, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	hello := up.Module("example.com/hello", "v1.1.0")
	zh, err := testutil.HashZip(hello.Zip)
	if err != nil {
		t.Fatal(err)
	}
	mh, _ := sumdb.HashGoMod(hello.Mod)
	dep := up.Module("example.com/dep", "v1.0.0")
	dh, _ := sumdb.HashGoMod(dep.Mod)
	m := &snapshot.Manifest{Format: snapshot.Format, Name: "s1", Created: time.Now(), Modules: snapshot.Sort([]snapshot.Entry{
		{Path: "example.com/hello", Version: "v1.1.0", Hash: zh, GoModHash: mh},
		{Path: "example.com/dep", Version: "v1.0.0", GoModHash: dh},
	})}
	if err := snapshot.Create(context.Background(), st, m); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "s1.bundle")
	common := []string{"--upstream", up.URL, "--sumdb", up.DBKey, "--private", "", "--nosumdb", "", "--database", "off", "--vulndb", "off"}
	out, _, _, err := runCmd(t, newBundle(), append([]string{"export", "--storage-dir", dir, "--snapshot", "s1", "-o", file}, common...)...)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	if !strings.Contains(out, "2 module versions, 5 artifacts") {
		t.Errorf("export output %q", out)
	}
	// Mode 0644 less the umask: as a file created with 0644 here.
	ref := filepath.Join(filepath.Dir(file), "ref")
	if err := os.WriteFile(ref, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	want, _ := os.Stat(ref)
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != want.Mode().Perm() {
		t.Errorf("bundle file: %v, %v; want mode %v", fi, err, want.Mode().Perm())
	}
	out, _, _, err = runCmd(t, newBundle(), "import", "--storage-dir", t.TempDir(), "--upstream", "off", "--sumdb", up.DBKey, "--private", "", "--nosumdb", "", file)
	if err != nil || !strings.HasPrefix(out, "added 5 artifacts (0 already present)") {
		t.Errorf("import: %q, %v", out, err)
	}
}
