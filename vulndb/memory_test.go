package vulndb

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

// TestRealZipMemory builds the index of a real x/vulndb module zip (the
// path in GOMIRROR_TEST_VULNDB_ZIP, e.g. fetched with
// curl $(go env GOPROXY | cut -d, -f1)/golang.org/x/vulndb/@v/<version>.zip)
// and reports the heap it keeps, the build time, and a lookup's cost. It
// fails if the resident index is over 32 MiB (the OSV files alone are
// 9 MB unpacked; the zip 25 MB stays on disk). Skipped without the zip.
func TestRealZipMemory(t *testing.T) {
	path := os.Getenv("GOMIRROR_TEST_VULNDB_ZIP")
	if path == "" {
		t.Skip("GOMIRROR_TEST_VULNDB_ZIP not set")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	// The directory name is the zip's own: find it from any entry.
	dir := zipModuleDir(t, f, fi.Size())
	s, err := build(context.Background(), f, fi.Size(), nil, dir, "real", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	resident := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	var idx int
	for _, fl := range s.index {
		idx += len(fl.json) + len(fl.gz)
	}
	db := New(Options{Source: &fakeSource{}})
	db.cur.Store(s)
	m := module.Version{Path: "golang.org/x/text", Version: "v0.3.7"}
	advs, _ := db.Vulns(context.Background(), m)
	allocs := testing.AllocsPerRun(1000, func() { db.Vulns(context.Background(), m) })
	lookup := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			db.Vulns(context.Background(), m)
		}
	})
	t.Logf("%d entries, %d modules; build %v; resident heap %.1f MiB (index files %.1f MiB of it); Vulns(%v) = %d advisories, %v, %.0f allocs",
		len(s.entries), len(s.modules), took.Round(time.Millisecond), float64(resident)/(1<<20), float64(idx)/(1<<20), m, len(advs), lookup.T/time.Duration(lookup.N), allocs)
	if resident > 32<<20 {
		t.Errorf("resident index %d bytes, want at most 32 MiB", resident)
	}
	runtime.KeepAlive(s)
}

func zipModuleDir(t *testing.T, f *os.File, size int64) string {
	var buf [4096]byte
	n, _ := f.ReadAt(buf[:], 30) // the first local header's name
	name := string(buf[:n])
	at := strings.Index(name, "@")
	slash := strings.Index(name[at:], "/")
	if at < 0 || slash < 0 {
		t.Fatal("no module directory in the zip")
	}
	return name[:at+slash] + "/data/osv/"
}

// TestRealZipGzip checks that every .json.gz of a real x/vulndb zip
// (GOMIRROR_TEST_VULNDB_ZIP) gunzips to its .json. Skipped without it.
func TestRealZipGzip(t *testing.T) {
	path := os.Getenv("GOMIRROR_TEST_VULNDB_ZIP")
	if path == "" {
		t.Skip("GOMIRROR_TEST_VULNDB_ZIP not set")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	s, err := build(context.Background(), f, fi.Size(), nil, zipModuleDir(t, f, fi.Size()), "real", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for id := range s.entries {
		j, err := s.entryJSON(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		g, err := s.entryGzip(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(g)
		var out []byte
		if err == nil {
			out, err = io.ReadAll(zr)
		}
		if err != nil || !bytes.Equal(out, j) {
			t.Fatalf("%s: .json.gz does not gunzip to the .json: %v", id, err)
		}
	}
}
