package modinfo

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/tools/txtar"

	"github.com/gomirror/gomirror/internal/zipdir"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

type memFile struct {
	name string
	data []byte
}

func (f memFile) Path() string                 { return f.name }
func (f memFile) Lstat() (fs.FileInfo, error)  { return fileInfo{f}, nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type fileInfo struct{ f memFile }

func (i fileInfo) Name() string       { return i.f.name[strings.LastIndex(i.f.name, "/")+1:] }
func (i fileInfo) Size() int64        { return int64(len(i.f.data)) }
func (i fileInfo) Mode() fs.FileMode  { return 0o644 }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }

// put stores b at m's file of kind k.
func put(t *testing.T, st storage.Storage, m module.Version, k layout.Kind, b []byte) {
	t.Helper()
	key, err := layout.Key(m, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(context.Background(), st, key, b); err != nil {
		t.Fatal(err)
	}
}

// fixture stores example.com/info v1.0.0 (.mod only), v1.1.0 (the module
// of testdata/mod.txtar: .info, .mod, .zip built with x/mod's zip) and
// v1.2.0-pre (.mod: a pre-release is not the latest).
func fixture(t *testing.T) storage.Storage {
	t.Helper()
	ar, err := txtar.ParseFile("testdata/mod.txtar")
	if err != nil {
		t.Fatal(err)
	}
	st := mem.New()
	m := module.Version{Path: "example.com/info", Version: "v1.1.0"}
	var files []modzip.File
	for _, f := range ar.Files {
		files = append(files, memFile{f.Name, f.Data})
		if f.Name == "go.mod" {
			put(t, st, m, layout.Mod, f.Data)
		}
	}
	var z bytes.Buffer
	if err := modzip.Create(&z, m, files); err != nil {
		t.Fatal(err)
	}
	put(t, st, m, layout.Zip, z.Bytes())
	put(t, st, m, layout.Info, []byte(`{"Version":"v1.1.0","Time":"2024-01-02T03:04:05Z"}`))
	put(t, st, module.Version{Path: m.Path, Version: "v1.0.0"}, layout.Mod, []byte("module example.com/info\n"))
	put(t, st, module.Version{Path: m.Path, Version: "v1.2.0-pre"}, layout.Mod, []byte("module example.com/info\n\nretract v1.1.0\n"))
	return st
}

func TestGet(t *testing.T) {
	st := fixture(t)
	ctx := context.Background()
	d, err := Get(ctx, st, module.Version{Path: "example.com/info", Version: "v1.1.0"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 3 || d.Time.IsZero() || !strings.Contains(d.GoMod, "retract v1.0.0") {
		t.Errorf("files %+v, time %v, go.mod %q", d.Files, d.Time, d.GoMod)
	}
	if d.Latest != "v1.1.0" || d.Deprecated != "use example.com/new instead." || d.Retracted != nil {
		t.Errorf("latest %q deprecated %q retracted %+v: want v1.1.0 (not the pre-release), its deprecation, not retracted", d.Latest, d.Deprecated, d.Retracted)
	}
	if d.Readme == nil || d.Readme.Name != "README.md" || !strings.Contains(d.Readme.Text, `<script>alert("the console escapes this")</script>`) {
		t.Errorf("readme %+v: want the root README.md as is", d.Readme)
	}
	want := []License{{File: "COPYING", IDs: []string{"BSD-3-Clause"}}, {File: "LICENSE", IDs: []string{"MIT"}}}
	if len(d.Licenses) != len(want) {
		t.Fatalf("licenses %+v, want %+v", d.Licenses, want)
	}
	for i, l := range d.Licenses {
		if l.File != want[i].File || fmt.Sprint(l.IDs) != fmt.Sprint(want[i].IDs) || l.Percent < 90 {
			t.Errorf("license %d: %+v, want %+v with 90%% or more", i, l, want[i])
		}
	}
	if d.ZipError != "" {
		t.Errorf("zip error %q", d.ZipError)
	}

	d, err = Get(ctx, st, module.Version{Path: "example.com/info", Version: "v1.0.0"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Retracted == nil || d.Retracted.Rationale != "leaks credentials" || d.Readme != nil || len(d.Files) != 1 {
		t.Errorf("v1.0.0: retracted %+v, readme %+v, files %+v: want retracted by v1.1.0, no zip", d.Retracted, d.Readme, d.Files)
	}

	if _, err := Get(ctx, st, module.Version{Path: "example.com/info", Version: "v1.3.0"}, Limits{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a version not stored: %v, want fs.ErrNotExist", err)
	}
	if _, err := Get(ctx, st, module.Version{Path: "example.com/info", Version: "v1.1"}, Limits{}); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a non-canonical version: %v, want an error that is not fs.ErrNotExist", err)
	}
}

// TestModuleMarks: the latest version is the highest stored release with
// a stored .mod; a higher version of which only the .info is stored says
// nothing.
func TestModuleMarks(t *testing.T) {
	st := fixture(t)
	ctx := context.Background()
	put(t, st, module.Version{Path: "example.com/info", Version: "v1.5.0"}, layout.Info, []byte(`{"Version":"v1.5.0"}`))
	vs, err := StoredVersions(ctx, st, "example.com/info", Limits{})
	if err != nil || fmt.Sprint(vs) != "[v1.0.0 v1.1.0 v1.2.0-pre v1.5.0]" {
		t.Errorf("StoredVersions: %v, %v", vs, err)
	}
	mk, err := ModuleMarks(ctx, st, "example.com/info", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if mk.Latest != "v1.1.0" || len(mk.Retractions) != 1 || mk.Retractions[0].Low != "v1.0.0" || mk.Deprecated == "" {
		t.Errorf("marks %+v", mk)
	}
	if r, ok := mk.Retracted("v1.0.0"); !ok || r.Rationale != "leaks credentials" {
		t.Errorf("Retracted(v1.0.0) = %+v, %v", r, ok)
	}
	if _, ok := mk.Retracted("v1.1.0"); ok {
		t.Error("v1.1.0 retracted")
	}
	mk, err = ModuleMarks(ctx, st, "example.com/none", Limits{})
	if err != nil || mk.Latest != "" || len(mk.Retractions) != 0 {
		t.Errorf("a module not stored: %+v, %v", mk, err)
	}
}

func TestLatest(t *testing.T) {
	for _, tc := range []struct {
		versions []string
		want     string
	}{
		{nil, ""},
		{[]string{"v1.0.0", "v1.1.0", "v2.0.0-rc.1"}, "v1.1.0"},
		{[]string{"v0.0.0-20240101000000-abcdefabcdef", "v0.1.0-pre"}, "v0.1.0-pre"},
		{[]string{"v0.0.0-20240101000000-abcdefabcdef"}, "v0.0.0-20240101000000-abcdefabcdef"},
	} {
		if got := latest(tc.versions); got != tc.want {
			t.Errorf("latest(%q) = %q, want %q", tc.versions, got, tc.want)
		}
	}
}

// noReaderAt is a storage whose objects' bodies cannot be read at random
// offsets (as S3's over 64 KiB).
type noReaderAt struct{ storage.Storage }

func (s noReaderAt) Get(ctx context.Context, key string) (*storage.Object, error) {
	obj, err := s.Storage.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	obj.Body = struct{ io.ReadCloser }{obj.Body}
	return obj, nil
}

func TestGetStreamingStorage(t *testing.T) {
	d, err := Get(context.Background(), noReaderAt{fixture(t)}, module.Version{Path: "example.com/info", Version: "v1.1.0"}, Limits{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if d.Readme == nil || len(d.Licenses) != 2 {
		t.Errorf("readme %+v licenses %+v through a temporary copy", d.Readme, d.Licenses)
	}
}

// hostileZip builds a zip of m with files added by add, written with
// archive/zip directly (what x/mod's checks would refuse to create).
func hostileZip(t *testing.T, add func(w *zip.Writer)) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	add(w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileZips: a zip bomb README (16 MiB of zeros), a zip of 60,000 entries and
// a central directory over the limit cost bounded memory and are
// reported, not fatal.
func TestHostileZips(t *testing.T) {
	ctx := context.Background()
	m := module.Version{Path: "example.com/bomb", Version: "v1.0.0"}
	prefix := m.Path + "@" + m.Version + "/"
	tests := []struct {
		name     string
		zip      func(w *zip.Writer)
		lim      Limits
		maxAlloc uint64
		check    func(t *testing.T, d *Details)
	}{
		{
			name: "a README of 16 MiB of zeros in 256 KiB",
			zip: func(w *zip.Writer) {
				f, _ := w.Create(prefix + "README.md")
				zeros := make([]byte, 1<<20)
				for range 16 {
					f.Write(zeros)
				}
				f, _ = w.Create(prefix + "LICENSE")
				for range 4 {
					f.Write(zeros)
				}
			},
			maxAlloc: 8 << 20,
			check: func(t *testing.T, d *Details) {
				if d.Readme == nil || !d.Readme.Truncated || len(d.Readme.Text) != 256<<10 {
					t.Errorf("readme: want 256 KiB, truncated; got %v", d.Readme != nil && d.Readme.Truncated)
				}
				if len(d.Licenses) != 1 || !d.Licenses[0].Truncated {
					t.Errorf("licenses %+v: want the LICENSE, truncated", d.Licenses)
				}
			},
		},
		{
			name: "60,000 entries",
			zip: func(w *zip.Writer) {
				for i := range 60_000 {
					w.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("%sd/%d", prefix, i), Method: zip.Store})
				}
				f, _ := w.Create(prefix + "README")
				f.Write([]byte("found after 60,000 entries"))
			},
			lim:      Limits{ZipEntries: 300_000, ZipDirBytes: 64 << 20},
			maxAlloc: 1 << 20, // the directory is 3.5 MB: streamed, not kept
			check: func(t *testing.T, d *Details) {
				if d.Readme == nil || d.Readme.Text != "found after 60,000 entries" {
					t.Errorf("readme %+v", d.Readme)
				}
			},
		},
		{
			name: "more entries than the limit",
			zip: func(w *zip.Writer) {
				for i := range 2000 {
					w.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("%sd/%d", prefix, i), Method: zip.Store})
				}
			},
			lim: Limits{ZipEntries: 1000},
			check: func(t *testing.T, d *Details) {
				if !strings.Contains(d.ZipError, "over the limit of 1000") || d.Readme != nil {
					t.Errorf("zip error %q", d.ZipError)
				}
			},
		},
		{
			name: "a central directory over the limit",
			zip: func(w *zip.Writer) {
				w.CreateHeader(&zip.FileHeader{Name: prefix + strings.Repeat("x", 60000), Method: zip.Store})
			},
			lim: Limits{ZipDirBytes: 50000},
			check: func(t *testing.T, d *Details) {
				if !strings.Contains(d.ZipError, "central directory of") {
					t.Errorf("zip error %q", d.ZipError)
				}
			},
		},
		{
			name: "not a zip",
			check: func(t *testing.T, d *Details) {
				if !strings.Contains(d.ZipError, "not a zip") {
					t.Errorf("zip error %q", d.ZipError)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := mem.New()
			z := []byte("garbage")
			if tc.zip != nil {
				z = hostileZip(t, tc.zip)
			}
			put(t, st, m, layout.Zip, z)
			put(t, st, m, layout.Mod, []byte("module example.com/bomb\n"))
			var d *Details
			var err error
			n := allocated(func() { d, err = Get(ctx, st, m, tc.lim) })
			if err != nil {
				t.Fatal(err)
			}
			if tc.maxAlloc > 0 && n > tc.maxAlloc {
				t.Errorf("allocated %d bytes, want at most %d", n, tc.maxAlloc)
			}
			tc.check(t, d)
		})
	}
}

// countingReaderAt counts the bytes read.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestEmptyBlocksBomb: a deflate stream of empty blocks yields nothing
// however long it is; reading it stops after little more input than the
// output limit, not at the entry's end.
func TestEmptyBlocksBomb(t *testing.T) {
	const blocks = 4 << 20 // 20 MiB of empty stored blocks
	data := bytes.Repeat([]byte{0x00, 0x00, 0x00, 0xff, 0xff}, blocks)
	z := hostileZip(t, func(w *zip.Writer) {
		f, _ := w.CreateRaw(&zip.FileHeader{Name: "m@v1.0.0/README", Method: zip.Deflate,
			CompressedSize64: uint64(len(data)), UncompressedSize64: 1})
		f.Write(data)
	})
	c := &countingReaderAt{r: bytes.NewReader(z)}
	ctx := context.Background()
	entries, err := zipdir.Read(ctx, c, int64(len(z)), zipdir.Limits{DirBytes: 1 << 20, Entries: 10}, func([]byte) bool { return true })
	if err != nil || len(entries) != 1 {
		t.Fatalf("entries %v, %v", entries, err)
	}
	c.n = 0
	b, cut, err := zipdir.ReadEntry(ctx, c, int64(len(z)), entries[0], 64<<10)
	if err != nil || len(b) != 0 || !cut {
		t.Errorf("read %d bytes, cut %v, %v: want nothing, cut", len(b), cut, err)
	}
	if c.n > 256<<10 {
		t.Errorf("read %d bytes of a 20 MiB entry for 64 KiB of output", c.n)
	}
}
