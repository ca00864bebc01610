package bundle_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/zstd"
	xmodule "golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"

	"github.com/gomirror/gomirror/bundle"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/storage/mem"
	gsumdb "github.com/gomirror/gomirror/sumdb"
)

// upFetcher fetches from a fake upstream: artifacts and its database.
type upFetcher struct{ up *fakeproxy.Server }

func (f upFetcher) Fetch(ctx context.Context, urlPath string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.up.URL+"/"+urlPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			return nil, fs.ErrNotExist
		}
		return nil, fmt.Errorf("%s: %s", urlPath, resp.Status)
	}
	return resp.Body, nil
}

// fixture is an upstream whose database records its modules at different
// times, so that their lookups carry tree heads of different sizes, and
// the modules to bundle.
type fixture struct {
	up   *fakeproxy.Server
	db   *gsumdb.DB
	src  storage.Storage // the exporting mirror's store
	mods []bundle.Module
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	up := fakeproxy.New(t)
	db, err := gsumdb.ParseGOSUMDB(up.DBKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{up: up, db: db, src: mem.New()}
	ctx := context.Background()
	// Records land in the log as they are first looked up. Some lookups
	// are kept in the source store as the mirror fetched them then, so
	// that the bundle's records carry several tree heads.
	for i := range 40 {
		p := fmt.Sprintf("example.com/m%03d", i)
		if _, err := up.Add(p, "v1.0.0", map[string][]byte{"go.mod": []byte("module " + p + "\n"), "m.go": []byte("package m\n")}); err != nil {
			t.Fatal(err)
		}
		file, _ := layout.SumDBLookupFile(module(p, "v1.0.0"))
		key := layout.SumDBKey(fakeproxy.DBName + "/" + file)
		b, err := upFetcher{up}.Fetch(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(b)
		b.Close()
		if i%7 == 3 {
			if err := storage.PutBytes(ctx, f.src, key, data); err != nil {
				t.Fatal(err)
			}
			f.mods = append(f.mods, bundle.Module{Path: p, Version: "v1.0.0"})
		}
	}
	f.mods = append(f.mods,
		bundle.Module{Path: "example.com/hello", Version: "v1.1.0"},
		bundle.Module{Path: "example.com/dep", Version: "v1.0.0", ModOnly: true},
		bundle.Module{Path: "example.com/MixedCase", Version: "v1.0.0"},
	)
	return f
}

func module(p, v string) xmodule.Version { return xmodule.Version{Path: p, Version: v} }

func (f *fixture) export(t *testing.T, exempt func(string) bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	rep, err := bundle.Export(context.Background(), &buf, f.mods, bundle.ExportOptions{Storage: f.src, Fetch: upFetcher{f.up}, DB: f.db, Exempt: exempt})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Modules != len(f.mods) || rep.SumDBFiles == 0 {
		t.Fatalf("export report %+v", rep)
	}
	return buf.Bytes()
}

func newFS(t *testing.T) (storage.Storage, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// keys lists what a store holds outside gomirror's own state.
func keys(t *testing.T, s storage.Storage) []string {
	t.Helper()
	all, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range all {
		if !strings.HasPrefix(k, layout.StateDir+"/") {
			out = append(out, k)
		}
	}
	return out
}

// storeOps is a go command's checksum database client with an empty cache
// and no tree head, reading the database only from a store (as a mirror
// serving the store with no network answers it).
type storeOps struct {
	t     *testing.T
	s     storage.Storage
	key   string
	conf  map[string][]byte
	reads []string
}

func (o *storeOps) ReadRemote(path string) ([]byte, error) {
	o.reads = append(o.reads, path)
	return storage.ReadAll(context.Background(), o.s, layout.SumDBKey(fakeproxy.DBName+path))
}
func (o *storeOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.key), nil
	}
	return o.conf[file], nil
}
func (o *storeOps) WriteConfig(file string, old, new []byte) error {
	o.conf[file] = new
	return nil
}
func (o *storeOps) ReadCache(string) ([]byte, error) { return nil, fs.ErrNotExist }
func (o *storeOps) WriteCache(string, []byte)        {}
func (o *storeOps) Log(string)                       {}
func (o *storeOps) SecurityError(msg string)         { o.t.Errorf("security error: %s", msg) }

func newClient(ops *storeOps) *sumdb.Client { return sumdb.NewClient(ops) }

// TestExportImport: a bundle imported into an empty store holds every
// artifact and what a fresh checksum database client needs to verify them
// from the store alone, in any order of lookups; importing again adds
// nothing.
func TestExportImport(t *testing.T) {
	f := newFixture(t)
	b := f.export(t, nil)
	dst, _ := newFS(t)
	ctx := context.Background()
	rep, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db})
	if err != nil {
		t.Fatal(err)
	}
	// info+mod+zip for each, but the go.mod-only requirement's zip.
	want := 3*len(f.mods) - 1
	if rep.Added != want || rep.Present != 0 || rep.SumDBAdded == 0 || len(rep.HashOnly) != 0 {
		t.Fatalf("import report: %+v; want %d added", rep, want)
	}
	for _, m := range f.mods {
		up := f.up.Module(m.Path, m.Version)
		key, _ := layout.Key(module(m.Path, m.Version), layout.Mod)
		if got, err := storage.ReadAll(ctx, dst, key); err != nil || !bytes.Equal(got, up.Mod) {
			t.Errorf("%s: %q, %v", key, got, err)
		}
		zkey, _ := layout.Key(module(m.Path, m.Version), layout.Zip)
		got, err := storage.ReadAll(ctx, dst, zkey)
		if m.ModOnly {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s of a go.mod-only requirement stored", zkey)
			}
		} else if err != nil || !bytes.Equal(got, up.Zip) {
			t.Errorf("%s: %d bytes, %v", zkey, len(got), err)
		}
		if hk, _ := layout.HashKey(key); true {
			if h, err := storage.ReadAll(ctx, dst, hk); err != nil || !strings.HasPrefix(string(h), "h1:") {
				t.Errorf("%s: %q, %v", hk, h, err)
			}
		}
	}
	if _, err := dst.Stat(ctx, layout.SumDBSupportedKey(fakeproxy.DBName)); err != nil {
		t.Errorf("supported: %v", err)
	}

	// A fresh client verifies every version from the store alone, whatever
	// the order of its lookups.
	for seed := range 6 {
		order := append([]bundle.Module(nil), f.mods...)
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		ops := &storeOps{t: t, s: dst, key: f.up.DBKey, conf: map[string][]byte{}}
		c := sumdb.NewClient(ops)
		for _, m := range order {
			vs := []string{m.Version + "/go.mod"}
			if !m.ModOnly {
				vs = append(vs, m.Version)
			}
			if seed%2 == 1 {
				vs[0], vs[len(vs)-1] = vs[len(vs)-1], vs[0]
			}
			for _, v := range vs {
				if _, err := c.Lookup(m.Path, v); err != nil {
					t.Fatalf("order %d: lookup %s %s from the imported store: %v (reads %q)", seed, m.Path, v, err, ops.reads)
				}
			}
		}
	}

	rep, err = bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 0 || rep.Present != want || rep.SumDBAdded != 0 {
		t.Errorf("second import: %+v; want all %d present", rep, want)
	}
}

// TestImportIntoMem: a store without a local temporary directory (the
// s3 driver's case) gets each file through Put.
func TestImportIntoMem(t *testing.T) {
	f := newFixture(t)
	b := f.export(t, nil)
	dst := mem.New()
	rep, err := bundle.Import(context.Background(), bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 3*len(f.mods)-1 {
		t.Errorf("report %+v", rep)
	}
}

// entries decompresses a bundle into its entries, in order.
type entry struct {
	name string
	data []byte
}

func unpack(t *testing.T, b []byte) []entry {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out = append(out, entry{h.Name, data})
	}
}

// pack writes entries as a bundle; with fix, it rewrites the manifest's
// file list to match them (an attacker's bundle, consistent with itself).
func pack(t *testing.T, es []entry, fix bool, hdr func(*tar.Header)) []byte {
	t.Helper()
	if fix {
		var man bundle.Manifest
		last := &es[find(es, func(n string) bool { return n == bundle.ManifestName })]
		if err := json.Unmarshal(last.data, &man); err != nil {
			t.Fatal(err)
		}
		man.Files = nil
		for _, e := range es {
			if e.name == bundle.ManifestName || e.name == bundle.SignatureName {
				continue
			}
			s := sha256.Sum256(e.data)
			man.Files = append(man.Files, bundle.File{Name: e.name, Size: int64(len(e.data)), SHA256: hex.EncodeToString(s[:])})
		}
		last.data, _ = json.Marshal(man)
	}
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Size: int64(len(e.data)), Mode: 0o644, Typeflag: tar.TypeReg}
		if hdr != nil {
			hdr(h)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func find(es []entry, pred func(string) bool) int {
	for i, e := range es {
		if pred(e.name) {
			return i
		}
	}
	return -1
}

func flip(es []entry, i, at int) []entry {
	out := append([]entry(nil), es...)
	d := bytes.Clone(out[i].data)
	if at < 0 {
		at += len(d)
	}
	d[at%len(d)] ^= 0x01
	out[i].data = d
	return out
}

// TestImportRefusesTamperedBundleWhole: whatever is changed, by a flipped
// byte in the file or an attacker who also rewrites the manifest, the
// bundle is refused and nothing is stored.
func TestImportRefusesTamperedBundleWhole(t *testing.T) {
	f := newFixture(t)
	b := f.export(t, nil)
	es := unpack(t, b)
	isZip := func(n string) bool { return strings.HasSuffix(n, ".zip") }
	isMod := func(n string) bool { return strings.HasSuffix(n, ".mod") }
	isTile := func(n string) bool { return strings.Contains(n, "/tile/") }
	isLookup := func(n string) bool { return strings.Contains(n, "/lookup/") }
	isLatest := func(n string) bool { return strings.HasSuffix(n, "/latest") }
	isManifest := func(n string) bool { return n == bundle.ManifestName }
	otherKey := func() []byte {
		skey, _, _ := note.GenerateKey(nil, fakeproxy.DBName)
		s, _ := note.NewSigner(skey)
		n, _ := note.Open(es[find(es, isLatest)].data, note.VerifierList(mustVerifier(t, f.up.DBKey)))
		msg, _ := note.Sign(&note.Note{Text: n.Text}, s)
		return msg
	}()
	cases := []struct {
		name string
		b    []byte
		want string // in the refusal's reason ("": where the damage falls)
	}{
		{"zip byte, manifest as is", pack(t, flip(es, find(es, isZip), 100), false, nil), "zip: checksum error"},
		{"zip byte, manifest rewritten", pack(t, flip(es, find(es, isZip), 100), true, nil), "zip: checksum error"},
		{"zip last byte, manifest rewritten", pack(t, flip(es, find(es, isZip), -1), true, nil), "not a valid zip"},
		{"go.mod byte, manifest rewritten", pack(t, flip(es, find(es, isMod), 3), true, nil), "disagrees with the checksum database"},
		{"manifest byte", pack(t, flip(es, find(es, isManifest), 200), false, nil), "manifest"},
		{"tile byte, manifest rewritten", pack(t, flip(es, find(es, isTile), 40), true, nil), "not proven to be the log's"},
		{"lookup byte, manifest rewritten", pack(t, flip(es, find(es, isLookup), 30), true, nil), "disagrees with the checksum database"},
		{"tree head byte, manifest rewritten", pack(t, flip(es, find(es, isLatest), 10), true, nil), "latest: tree head"},
		{"tree head signed by another key", pack(t, func() []entry {
			out := append([]entry(nil), es...)
			out[find(out, isLatest)].data = otherKey
			return out
		}(), true, nil), "latest: tree head: note has no verifiable signatures"},
		{"a tile no proof needs", pack(t, append([]entry{{layout.SumDBKey(fakeproxy.DBName + "/tile/8/0/x123/456"), make([]byte, 256*32)}}, es...), true, nil), "a tile of none of the trees"},
		{"an artifact of no listed module", pack(t, append([]entry{{"example.com/other/@v/v1.0.0.mod", []byte("module example.com/other\n")}}, es...), true, nil), "of no module version the manifest lists"},
		{"path traversal", pack(t, append([]entry{{"../../etc/x", []byte("x")}}, es...), true, nil), "invalid storage key"},
		{"a symbolic link", pack(t, es, false, func(h *tar.Header) {
			if isManifest(h.Name) {
				return
			}
			if isZip(h.Name) {
				h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, "/etc/passwd", 0
			}
		}), "not a regular file"},
		{"a missing zip, manifest rewritten", pack(t, func() []entry {
			out := append([]entry(nil), es...)
			i := find(out, isZip)
			return append(out[:i], out[i+1:]...)
		}(), true, nil), "no zip in the bundle"},
		{"truncated", b[:len(b)/2], "reading: unexpected EOF"},
		{"junk appended", append(bytes.Clone(b), "junk after the bundle"...), "reading: "},
		{"a frame of data appended", append(bytes.Clone(b), zstdFrame(t, []byte("more"))...), "data after the end of the tar archive"},
		{"too much padding appended", append(bytes.Clone(b), zstdFrame(t, make([]byte, 2<<20))...), "bytes after the end of the tar archive"},
		{"frame checksum byte", func() []byte { fb := bytes.Clone(b); fb[len(fb)-1] ^= 0x01; return fb }(), "reading: "},
	}
	// A flipped byte of the compressed file, at several places.
	for _, at := range []int{20, len(b) / 3, len(b) / 2, len(b) - 30} {
		fb := bytes.Clone(b)
		fb[at] ^= 0x10
		cases = append(cases, struct {
			name string
			b    []byte
			want string
		}{fmt.Sprintf("compressed byte %d", at), fb, ""})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst, dir := newFS(t)
			_, err := bundle.Import(context.Background(), bytes.NewReader(c.b), bundle.ImportOptions{Storage: dst, DB: f.db})
			wantRefused(t, err, c.want)
			t.Log(err)
			if got := keys(t, dst); len(got) != 0 {
				t.Errorf("stored after a refusal: %q", got)
			}
			if _, err := os.Stat(filepath.Join(dir, "..", "etc")); err == nil {
				t.Errorf("wrote outside the store")
			}
		})
	}
	// The untampered bundle, repacked, is accepted: the cases fail for
	// their change, not for the repacking.
	dst, _ := newFS(t)
	if _, err := bundle.Import(context.Background(), bytes.NewReader(pack(t, es, true, nil)), bundle.ImportOptions{Storage: dst, DB: f.db}); err != nil {
		t.Fatalf("repacked bundle: %v", err)
	}
	// So is tar(1)'s zero padding after the end marker.
	dst, _ = newFS(t)
	if _, err := bundle.Import(context.Background(), bytes.NewReader(append(bytes.Clone(b), zstdFrame(t, make([]byte, 9*512))...)), bundle.ImportOptions{Storage: dst, DB: f.db}); err != nil {
		t.Fatalf("bundle with zero padding: %v", err)
	}
}

// zstdFrame is data compressed as one zstd frame (with its checksum).
func zstdFrame(t *testing.T, data []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(data, nil)
}

func mustVerifier(t *testing.T, key string) note.Verifier {
	v, err := note.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestImportLimits: a bundle beyond the importer's limits is refused.
func TestImportLimits(t *testing.T) {
	f := newFixture(t)
	b := f.export(t, nil)
	for _, c := range []struct {
		name string
		lim  bundle.Limits
		want string
	}{
		{"entries", bundle.Limits{MaxEntries: 5}, "more than 5 entries"},
		{"bytes", bundle.Limits{MaxBytes: 1000}, "more than 1000 bytes in all"},
		{"sumdb bytes", bundle.Limits{MaxSumDB: 100}, "more than 100 bytes of checksum database files"},
		{"zstd window", bundle.Limits{MaxWindow: 1 << 10}, "window"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst, _ := newFS(t)
			_, err := bundle.Import(context.Background(), bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db, Limits: c.lim})
			if c.name == "zstd window" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("import: %v; want an error naming %q", err, c.want)
				}
			} else {
				wantRefused(t, err, c.want)
			}
			if got := keys(t, dst); len(got) != 0 {
				t.Errorf("stored: %q", got)
			}
		})
	}
}

// failingFetcher fails every fetch whose path contains bad.
type failingFetcher struct {
	upFetcher
	bad string
}

func (f failingFetcher) Fetch(ctx context.Context, urlPath string) (io.ReadCloser, error) {
	if strings.Contains(urlPath, f.bad) {
		return nil, fmt.Errorf("%s: fetch refused by the test", urlPath)
	}
	return f.upFetcher.Fetch(ctx, urlPath)
}

// TestExportFails: an export lacking an artifact or a checksum database
// file fails, naming what it lacks, whichever part (artifacts, or the
// database's files gathered meanwhile) meets the failure.
func TestExportFails(t *testing.T) {
	tests := []struct {
		name, bad, want string
	}{
		{"zip", "hello/@v/v1.1.0.zip", "hello/@v/v1.1.0.zip"},
		{"go.mod of a go.mod-only requirement", "dep/@v/v1.0.0.mod", "dep/@v/v1.0.0.mod"},
		{"lookup", "/lookup/example.com/hello@", "lookup/example.com/hello@v1.1.0"},
		{"tiles", "/tile/", "/tile/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var buf bytes.Buffer
			_, err := bundle.Export(context.Background(), &buf, f.mods, bundle.ExportOptions{Storage: f.src, Fetch: failingFetcher{upFetcher{f.up}, tt.bad}, DB: f.db})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Export: %v; want an error naming %q", err, tt.want)
			}
		})
	}
}

// signer returns a new bundle signing key pair.
func signer(t *testing.T, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, mustVerifier(t, vkey)
}

// wantRefused fails unless err is a *bundle.RefusedError whose reason
// contains every one of want.
func wantRefused(t *testing.T, err error, want ...string) {
	t.Helper()
	var refused *bundle.RefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("import: %v; want a RefusedError", err)
	}
	for _, w := range want {
		if !strings.Contains(refused.Reason, w) {
			t.Fatalf("refused for %q; want a reason naming %q", refused.Reason, w)
		}
	}
}

// TestHashOnlyNeedsTrustedSignature: a module exempt from the checksum
// database where the bundle is imported is checked only against the
// manifest, which the bundle itself carries; so it is refused (the whole
// bundle, naming it) unless the manifest is signed by a key the importer
// trusts. The reviewer's attack: an exempt module's zip replaced by
// another valid zip, the manifest rewritten to match.
func TestHashOnlyNeedsTrustedSignature(t *testing.T) {
	f := newFixture(t)
	private := func(p string) bool { return p == "example.com/hello" }
	ctx := context.Background()
	sign, trusted := signer(t, "exporter")
	_, other := signer(t, "someone-else")
	exportSigned := func(s note.Signer) []byte {
		var buf bytes.Buffer
		if _, err := bundle.Export(ctx, &buf, f.mods, bundle.ExportOptions{Storage: f.src, Fetch: upFetcher{f.up}, DB: f.db, Exempt: private, Signer: s}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	unsigned, signed := exportSigned(nil), exportSigned(sign)

	// The attacker's bundle: hello's zip replaced by another valid zip of
	// the module, its manifest consistent again.
	forged := func(b []byte) []byte {
		es := unpack(t, b)
		i := find(es, func(n string) bool {
			return strings.HasPrefix(n, "example.com/hello/@v/") && strings.HasSuffix(n, ".zip")
		})
		other, err := f.up.Add("example.com/hello", "v1.9.0", map[string][]byte{"go.mod": []byte("module example.com/hello\n"), "hello.go": []byte("package hello\n\nfunc Hello() string { return \"PWNED\" }\n")})
		if err != nil {
			t.Fatal(err)
		}
		// A zip of v1.9.0 is not a valid zip of v1.1.0 (its file names
		// carry the version): rebuild it under v1.1.0's prefix.
		es[i].data = rezip(t, other.Zip, "example.com/hello@v1.9.0/", "example.com/hello@v1.1.0/")
		return pack(t, es, true, nil)
	}

	for _, tc := range []struct {
		name    string
		b       []byte
		trusted []note.Verifier
		want    []string // refusal reason; nil: accepted
	}{
		{"unsigned", unsigned, nil, []string{"example.com/hello@v1.1.0", "signed"}},
		{"unsigned, a trusted key configured", unsigned, []note.Verifier{trusted}, []string{"example.com/hello@v1.1.0", "signed"}},
		{"signed, key not trusted", signed, []note.Verifier{other}, []string{"signature"}},
		{"signed, no key trusted", signed, nil, []string{"example.com/hello@v1.1.0"}},
		{"signed, forged zip and manifest", forged(signed), []note.Verifier{trusted}, []string{"signature"}},
		{"unsigned, forged zip and manifest", forged(unsigned), []note.Verifier{trusted}, []string{"example.com/hello@v1.1.0"}},
		{"signed, trusted", signed, []note.Verifier{trusted}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst, _ := newFS(t)
			rep, err := bundle.Import(ctx, bytes.NewReader(tc.b), bundle.ImportOptions{Storage: dst, DB: f.db, Exempt: private, Trusted: tc.trusted})
			if tc.want != nil {
				wantRefused(t, err, tc.want...)
				if got := keys(t, dst); len(got) != 0 {
					t.Errorf("stored after a refusal: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.HashOnly) != 1 || rep.HashOnly[0] != "example.com/hello@v1.1.0" || rep.SignedBy != "exporter" {
				t.Errorf("report: hash only %q, signed by %q", rep.HashOnly, rep.SignedBy)
			}
		})
	}
	// A bundle with no hash-only module needs no signature.
	dst, _ := newFS(t)
	if _, err := bundle.Import(ctx, bytes.NewReader(unsigned), bundle.ImportOptions{Storage: dst, DB: f.db}); err == nil {
		t.Fatal("exempt at export, not here: imported with no record")
	}
	if _, err := bundle.Import(ctx, bytes.NewReader(f.export(t, nil)), bundle.ImportOptions{Storage: dst, DB: f.db}); err != nil {
		t.Fatalf("unsigned bundle, no hash-only module: %v", err)
	}
}

// rezip returns the zip zb with every file name's prefix from replaced by to.
func rezip(t *testing.T, zb []byte, from, to string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, zf := range zr.File {
		r, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(strings.Replace(zf.Name, from, to, 1))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(w, r)
		r.Close()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestImportStopsAtFirstBadEntry: a refused entry stops the import before
// it reads (and stages) much more of the bundle.
func TestImportStopsAtFirstBadEntry(t *testing.T) {
	const more = 100
	pr, pw := io.Pipe()
	var written atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		zw, _ := zstd.NewWriter(pw)
		tw := tar.NewWriter(zw)
		put := func(name string, data []byte) error {
			if err := tw.WriteHeader(&tar.Header{Name: name, Size: int64(len(data)), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			_, err := tw.Write(data)
			return err
		}
		err := put("example.com/bad/@v/v1.0.0.zip", []byte("not a zip"))
		zeros := make([]byte, 1<<20)
		for i := 0; err == nil && i < more; i++ {
			if err = put(fmt.Sprintf("example.com/m%03d/@v/v1.0.0.zip", i), zeros); err == nil {
				written.Add(1)
			}
		}
		if err == nil {
			if err = tw.Close(); err == nil {
				err = zw.Close()
			}
		}
		pw.CloseWithError(err)
	}()
	_, err := bundle.Import(context.Background(), pr, bundle.ImportOptions{Storage: mem.New(), TempDir: t.TempDir()})
	pr.Close()
	<-done
	wantRefused(t, err, "example.com/bad/@v/v1.0.0.zip")
	if n := written.Load(); n >= more {
		t.Errorf("read all %d entries after the refused one", n)
	}
}

// TestImportManifestBounded: a manifest far larger than the entries
// before it could need is refused before it is decoded.
func TestImportManifestBounded(t *testing.T) {
	f := newFixture(t)
	es := unpack(t, f.export(t, nil))
	i := find(es, func(n string) bool { return n == bundle.ManifestName })
	var man bundle.Manifest
	if err := json.Unmarshal(es[i].data, &man); err != nil {
		t.Fatal(err)
	}
	for len(man.Files) < 100_000 {
		man.Files = append(man.Files, bundle.File{Name: fmt.Sprintf("x/@v/v1.0.%d.mod", len(man.Files)), Size: 1, SHA256: strings.Repeat("0", 64)})
	}
	es[i].data, _ = json.Marshal(man)
	_, err := bundle.Import(context.Background(), bytes.NewReader(pack(t, es, false, nil)), bundle.ImportOptions{Storage: mem.New(), DB: f.db})
	wantRefused(t, err, "manifest of")
}

// TestImportRepairsDamagedStoreFiles: a file the store already holds but
// which differs from the verified bundle's (a truncated zip, a garbage
// go.mod, a wrong hash side-file, a damaged lookup or tile) is replaced
// and reported as repaired; an intact one is left and reported present.
func TestImportRepairsDamagedStoreFiles(t *testing.T) {
	for _, store := range []struct {
		name string
		new  func(t *testing.T) storage.Storage
	}{
		{"fs", func(t *testing.T) storage.Storage { s, _ := newFS(t); return s }},
		{"mem", func(t *testing.T) storage.Storage { return mem.New() }},
	} {
		t.Run(store.name, func(t *testing.T) {
			f := newFixture(t)
			b := f.export(t, nil)
			ctx := context.Background()
			dst := store.new(t)
			if _, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db}); err != nil {
				t.Fatal(err)
			}
			zkey, _ := layout.Key(module("example.com/hello", "v1.1.0"), layout.Zip)
			mkey, _ := layout.Key(module("example.com/hello", "v1.1.0"), layout.Mod)
			hkey, _ := layout.HashKey(mkey)
			lkey, _ := layout.SumDBLookupFile(module("example.com/hello", "v1.1.0"))
			lkey = layout.SumDBKey(fakeproxy.DBName) + "/" + lkey
			var tkey string
			all, _ := dst.List(ctx, layout.SumDBKey(fakeproxy.DBName)+"/tile/")
			if len(all) == 0 {
				t.Fatal("no tiles stored")
			}
			tkey = all[0]
			want := map[string][]byte{}
			for _, k := range []string{zkey, mkey, hkey, lkey, tkey} {
				want[k], _ = storage.ReadAll(ctx, dst, k)
			}
			damage := map[string][]byte{
				zkey: want[zkey][:len(want[zkey])/2],
				mkey: []byte("module evil\n"),
				hkey: []byte("h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
				lkey: append(bytes.Clone(want[lkey]), 'x'),
				tkey: make([]byte, len(want[tkey])),
			}
			for k, d := range damage {
				if err := storage.PutBytes(ctx, dst, k, d); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(rep.RepairedKeys)
			wantKeys := slices.Sorted(maps.Keys(damage))
			if !slices.Equal(rep.RepairedKeys, wantKeys) || rep.Repaired != len(wantKeys) || rep.Added != 0 {
				t.Errorf("repaired %d %q, added %d; want %q", rep.Repaired, rep.RepairedKeys, rep.Added, wantKeys)
			}
			for k, w := range want {
				if got, err := storage.ReadAll(ctx, dst, k); err != nil || !bytes.Equal(got, w) {
					t.Errorf("%s after the import: %d bytes, %v; want the bundle's %d", k, len(got), err, len(w))
				}
			}
			// The store's latest tree head is never replaced (it may be
			// newer than the bundle's: no rollback).
			latestKey := layout.SumDBKey(fakeproxy.DBName) + "/latest"
			newer := []byte("another tree head\n")
			if err := storage.PutBytes(ctx, dst, latestKey, newer); err != nil {
				t.Fatal(err)
			}
			rep, err = bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db})
			if err != nil || rep.Repaired != 0 || rep.Added != 0 {
				t.Errorf("third import: %+v, %v; want nothing repaired or added", rep, err)
			}
			if got, _ := storage.ReadAll(ctx, dst, latestKey); !bytes.Equal(got, newer) {
				t.Errorf("latest replaced by the bundle's: %q", got)
			}
		})
	}
}

// failingStore fails every Put after the first n.
type failingStore struct {
	storage.Storage
	n    int
	mu   sync.Mutex
	puts int
}

func (s *failingStore) Put(ctx context.Context, key string, r io.Reader) error {
	s.mu.Lock()
	s.puts++
	fail := s.puts > s.n
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("put %s: disk full (test)", key)
	}
	return s.Storage.Put(ctx, key, r)
}

// TestImportPartlyStored: a storage failure after verification leaves no
// version listable without its zip (each version's .zip, then .mod, then
// .info), and is a *PartlyStoredError (not a refusal); importing again
// completes the store.
func TestImportPartlyStored(t *testing.T) {
	f := newFixture(t)
	b := f.export(t, nil)
	ctx := context.Background()
	for n := 0; ; n++ {
		inner := mem.New()
		dst := &failingStore{Storage: inner, n: n}
		rep, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db})
		if err == nil {
			if n == 0 || rep.Added != 3*len(f.mods)-1 {
				t.Fatalf("after %d puts: %+v", n, rep)
			}
			break
		}
		var partly *bundle.PartlyStoredError
		if !errors.As(err, &partly) || errors.As(err, new(*bundle.RefusedError)) {
			t.Fatalf("after %d puts: %v; want a PartlyStoredError", n, err)
		}
		for _, m := range f.mods {
			has := func(k layout.Kind) bool {
				key, _ := layout.Key(module(m.Path, m.Version), k)
				_, err := inner.Stat(ctx, key)
				return err == nil
			}
			if !m.ModOnly && (has(layout.Mod) || has(layout.Info)) && !has(layout.Zip) {
				t.Errorf("after %d puts: %s@%s listable without its zip", n, m.Path, m.Version)
			}
			if has(layout.Info) && !has(layout.Mod) {
				t.Errorf("after %d puts: %s@%s has a .info without its .mod", n, m.Path, m.Version)
			}
		}
		if _, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: inner, DB: f.db}); err != nil {
			t.Fatalf("import again after %d puts: %v", n, err)
		}
	}
}

// TestExportVerifiesArtifacts: a .zip or .mod in the exporting store that
// disagrees with its checksum database record (or, for an exempt module,
// with its stored hash) fails the export, naming the file.
func TestExportVerifiesArtifacts(t *testing.T) {
	ctx := context.Background()
	hello := module("example.com/hello", "v1.1.0")
	zkey, _ := layout.Key(hello, layout.Zip)
	mkey, _ := layout.Key(hello, layout.Mod)
	forgedZip := func(f *fixture) []byte {
		other, err := f.up.Add("example.com/hello", "v1.9.0", map[string][]byte{"go.mod": []byte("module example.com/hello\n"), "hello.go": []byte("package hello\n\nfunc Hello() string { return \"PWNED\" }\n")})
		if err != nil {
			t.Fatal(err)
		}
		return rezip(t, other.Zip, "example.com/hello@v1.9.0/", "example.com/hello@v1.1.0/")
	}
	for _, tt := range []struct {
		name   string
		exempt bool
		put    func(f *fixture) map[string][]byte
		want   string
	}{
		{"forged zip", false, func(f *fixture) map[string][]byte { return map[string][]byte{zkey: forgedZip(f)} }, zkey},
		{"forged go.mod", false, func(f *fixture) map[string][]byte {
			return map[string][]byte{mkey: []byte("module example.com/hello\n\nrequire evil.example v1.0.0\n")}
		}, mkey},
		{"exempt, forged zip, stored hash", true, func(f *fixture) map[string][]byte {
			hk, _ := layout.HashKey(zkey)
			h, err := testutil.HashZip(f.up.Module("example.com/hello", "v1.1.0").Zip)
			if err != nil {
				t.Fatal(err)
			}
			return map[string][]byte{zkey: forgedZip(f), hk: []byte(h + "\n")}
		}, zkey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for k, b := range tt.put(f) {
				if err := storage.PutBytes(ctx, f.src, k, b); err != nil {
					t.Fatal(err)
				}
			}
			exempt := func(p string) bool { return tt.exempt && p == hello.Path }
			_, err := bundle.Export(ctx, io.Discard, f.mods, bundle.ExportOptions{Storage: f.src, Fetch: upFetcher{f.up}, DB: f.db, Exempt: exempt})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "h1:") {
				t.Fatalf("Export: %v; want an error naming %s and its hash", err, tt.want)
			}
		})
	}
}

// TestImportChecks: each of Import's checks refuses what it is there for,
// with its own reason (so that a test fails when the check is removed).
func TestImportChecks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b := f.export(t, nil)
	es := unpack(t, b)
	isLatest := func(n string) bool { return strings.HasSuffix(n, "/latest") }
	hello := module("example.com/hello", "v1.1.0")
	infoKey, _ := layout.Key(hello, layout.Info)
	zipKey, _ := layout.Key(hello, layout.Zip)

	// An older tree head than the largest the records carry: the tree
	// note of a record that is not the latest.
	older := func() []entry {
		out := append([]entry(nil), es...)
		latest := out[find(out, isLatest)].data
		for _, e := range out {
			if !strings.Contains(e.name, "/lookup/") {
				continue
			}
			_, tree, ok := bytes.Cut(e.data, []byte("\n\n"))
			if ok && !bytes.Equal(tree, latest) {
				out[find(out, isLatest)].data = tree
				return out
			}
		}
		t.Fatal("all records carry the latest tree head")
		return nil
	}()
	info := append([]entry(nil), es...)
	info[find(info, func(n string) bool { return n == infoKey })].data = []byte(`{"Version":"v1.9.0","Time":"2020-01-01T00:00:00Z"}`)
	noSumDB := append([]entry(nil), es...)
	{
		i := find(noSumDB, func(n string) bool { return n == bundle.ManifestName })
		var man bundle.Manifest
		if err := json.Unmarshal(noSumDB[i].data, &man); err != nil {
			t.Fatal(err)
		}
		man.SumDB = ""
		noSumDB[i].data, _ = json.Marshal(man)
	}
	twice := append([]entry(nil), es...)
	twice = append([]entry{twice[find(twice, func(n string) bool { return n == infoKey })]}, twice...)

	for _, tt := range []struct {
		name string
		b    []byte
		want string
	}{
		{"latest not the largest tree", pack(t, older, true, nil), "not the tree head of the largest tree"},
		{".info of another version", pack(t, info, true, nil), `names version "v1.9.0"`},
		{"an entry twice", pack(t, twice, true, nil), "twice"},
		{"manifest naming no checksum database", pack(t, noSumDB, true, nil), "the manifest names checksum database \"\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dst := mem.New()
			_, err := bundle.Import(ctx, bytes.NewReader(tt.b), bundle.ImportOptions{Storage: dst, DB: f.db})
			wantRefused(t, err, tt.want)
			if got := keys(t, dst); len(got) != 0 {
				t.Errorf("stored after a refusal: %q", got)
			}
		})
	}

	sign, trusted := signer(t, "exporter")
	private := func(p string) bool { return p == hello.Path }

	// An invalid module zip (a file outside the module's directory) of a
	// module checked by the (signed) manifest only: refused by CheckZip.
	t.Run("invalid zip of a hash-only module", func(t *testing.T) {
		f := newFixture(t)
		bad := rezip(t, f.up.Module(hello.Path, hello.Version).Zip, "example.com/hello@v1.1.0/", "example.com/evil@v1.1.0/")
		if err := storage.PutBytes(ctx, f.src, zipKey, bad); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := bundle.Export(ctx, &buf, f.mods, bundle.ExportOptions{Storage: f.src, Fetch: upFetcher{f.up}, DB: f.db, Exempt: private, Signer: sign}); err != nil {
			t.Fatal(err)
		}
		_, err := bundle.Import(ctx, &buf, bundle.ImportOptions{Storage: mem.New(), DB: f.db, Exempt: private, Trusted: []note.Verifier{trusted}})
		wantRefused(t, err, zipKey)
	})

	// A module exempt here but not where the bundle was made: its record
	// is verified but never stored (the database must not learn of it).
	t.Run("exempt lookups not stored", func(t *testing.T) {
		var buf bytes.Buffer
		if _, err := bundle.Export(ctx, &buf, f.mods, bundle.ExportOptions{Storage: f.src, Fetch: upFetcher{f.up}, DB: f.db, Signer: sign}); err != nil {
			t.Fatal(err)
		}
		dst := mem.New()
		if _, err := bundle.Import(ctx, &buf, bundle.ImportOptions{Storage: dst, DB: f.db, Exempt: private, Trusted: []note.Verifier{trusted}}); err != nil {
			t.Fatal(err)
		}
		lookup, _ := layout.SumDBLookupFile(hello)
		if _, err := dst.Stat(ctx, layout.SumDBKey(fakeproxy.DBName)+"/"+lookup); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("lookup of a module exempt here stored: %v", err)
		}
		other, _ := layout.SumDBLookupFile(module("example.com/MixedCase", "v1.0.0"))
		if _, err := dst.Stat(ctx, layout.SumDBKey(fakeproxy.DBName)+"/"+other); err != nil {
			t.Errorf("lookup of a module not exempt: %v", err)
		}
	})
}
