package cache

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/miniotest"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/storage/mem"
	s3store "github.com/gomirror/gomirror/storage/s3"
	"github.com/gomirror/gomirror/upstream"
)

// TestHeldZipsBounds: held zips stay within their byte and count budgets
// and their TTL, the oldest going first; a removed zip's file is deleted,
// a taken one's is the taker's.
func TestHeldZipsBounds(t *testing.T) {
	type step struct {
		add   string // key to add, with size bytes; "" to take
		size  int64
		take  string
		after time.Duration // clock moved forward before the step
		ok    bool          // add's or take's result
	}
	tests := []struct {
		name     string
		maxBytes int64
		maxCount int
		steps    []step
		held     []string // keys held at the end, oldest first
	}{
		{"within budget", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "b", size: 40, ok: true}}, []string{"a", "b"}},
		{"bytes: oldest out", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "b", size: 40, ok: true}, {add: "c", size: 40, ok: true}}, []string{"b", "c"}},
		{"count: oldest out", 100, 2, []step{{add: "a", size: 1, ok: true}, {add: "b", size: 1, ok: true}, {add: "c", size: 1, ok: true}}, []string{"b", "c"}},
		{"larger than the budget", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "big", size: 101}}, []string{"a"}},
		{"same key twice", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "a", size: 40}}, []string{"a"}},
		{"taken", 100, 10, []step{{add: "a", size: 40, ok: true}, {take: "a", ok: true}, {take: "a"}}, nil},
		{"expired: not taken", 100, 10, []step{{add: "a", size: 40, ok: true}, {take: "a", after: time.Minute}}, nil},
		{"expired: removed by add", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "b", size: 1, after: 30 * time.Second, ok: true}, {add: "c", size: 1, after: 45 * time.Second, ok: true}}, []string{"b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			now := time.Unix(1e9, 0)
			h := newHeldZips(tt.maxBytes, tt.maxCount, time.Minute)
			h.now = func() time.Time { return now }
			var rejected []string
			for i, s := range tt.steps {
				now = now.Add(s.after)
				if s.take != "" {
					z := h.take(s.take)
					if (z != nil) != s.ok {
						t.Fatalf("step %d: take(%q) = %v, want found %v", i, s.take, z, s.ok)
					}
					if z != nil {
						if _, err := os.Stat(z.name); err != nil {
							t.Errorf("step %d: taken zip's file: %v", i, err)
						}
					}
					continue
				}
				name := filepath.Join(dir, s.add+"-"+string(rune('0'+i)))
				if err := os.WriteFile(name, make([]byte, s.size), 0o644); err != nil {
					t.Fatal(err)
				}
				if ok := h.add(&heldZip{key: s.add, name: name, size: s.size}); ok != s.ok {
					t.Fatalf("step %d: add(%q) = %v, want %v", i, s.add, ok, s.ok)
				} else if !ok {
					rejected = append(rejected, name)
				}
			}
			var keys []string
			var bytes int64
			for e := h.order.Front(); e != nil; e = e.Next() {
				z := e.Value.(*heldZip)
				keys, bytes = append(keys, z.key), bytes+z.size
			}
			if !slices.Equal(keys, tt.held) {
				t.Errorf("held %q, want %q", keys, tt.held)
			}
			if n, b := h.len(); n != len(tt.held) || b != bytes || b > tt.maxBytes || n > tt.maxCount {
				t.Errorf("len() = %d, %d bytes; want %d, %d within %d, %d", n, b, len(tt.held), bytes, tt.maxCount, tt.maxBytes)
			}
			// Files on disk: the held ones, the taken ones and the
			// rejected ones (the caller's to remove); nothing evicted.
			files, _ := os.ReadDir(dir)
			taken := 0
			for _, s := range tt.steps {
				if s.take != "" && s.ok {
					taken++
				}
			}
			if len(files) != len(tt.held)+taken+len(rejected) {
				t.Errorf("%d files left, want %d held + %d taken + %d rejected", len(files), len(tt.held), taken, len(rejected))
			}
			h.drop()
			if n, b := h.len(); n != 0 || b != 0 {
				t.Errorf("after drop: %d held, %d bytes", n, b)
			}
			files, _ = os.ReadDir(dir)
			if len(files) != taken+len(rejected) {
				t.Errorf("after drop: %d files left, want %d", len(files), taken+len(rejected))
			}
		})
	}
}

// TestHeldZipStoredOnRequest: a zip prefetched after a .info, which no
// client has asked for, is neither stored nor hashed into storage, only
// held in the temporary directory (its hash side-file stored where files
// cannot be adopted); the client's request stores it, with its hash
// side-file, without asking the upstream again; Close removes
// what is still held. On local disk (a storage.FileAdopter) and in memory.
func TestHeldZipStoredOnRequest(t *testing.T) {
	const path = "example.com/hello"
	for _, kind := range []string{"fs", "mem"} {
		t.Run(kind, func(t *testing.T) {
			var store storage.Storage = mem.New()
			root := t.TempDir()
			if kind == "fs" {
				fsys, err := fsstore.New(root)
				if err != nil {
					t.Fatal(err)
				}
				store = fsys
			}
			up := fakeproxy.New(t)
			p, err := upstream.NewProxy(up.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			m := New(Options{Storage: store, Upstream: p, Prefetch: 4, TempDir: tmp, Logger: slog.New(slog.DiscardHandler)})
			ctx := t.Context()
			for _, v := range []string{"v1.0.0", "v1.1.0"} {
				if _, _, err := readObject(m.Info(ctx, escaped(path, v))); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if n, _ := m.held.len(); n != 2 {
				t.Fatalf("%d zips held after two prefetches, want 2", n)
			}
			for _, k := range []string{path + "/@v/v1.0.0.zip", path + "/@v/v1.0.0.ziphash", path + "/@v/v1.1.0.zip", path + "/@v/v1.1.0.ziphash"} {
				if kind == "mem" && filepath.Ext(k) == ".ziphash" {
					continue // stored at hold time where files cannot be adopted (TestHeldZipHashStoredAtHold)
				}
				if _, err := store.Stat(ctx, k); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s in storage before any client asked for it: %v", k, err)
				}
			}

			want := up.Module(path, "v1.0.0").Zip
			b, src, err := readObject(m.Zip(ctx, escaped(path, "v1.0.0")))
			if err != nil || !bytes.Equal(b, want) || src.Outcome != Prefetched {
				t.Fatalf("Zip = %d bytes, %+v, %v; want the module's %d bytes, prefetched (not a miss: the upstream is not asked)", len(b), src, err, len(want))
			}
			if n := up.Hits("/" + path + "/@v/v1.0.0.zip"); n != 1 {
				t.Errorf("upstream asked %d times for the zip, want once", n)
			}
			if got, err := storage.ReadAll(ctx, store, path+"/@v/v1.0.0.zip"); err != nil || !bytes.Equal(got, want) {
				t.Errorf("stored zip: %d bytes, %v", len(got), err)
			}
			zf := filepath.Join(t.TempDir(), "z.zip")
			if err := os.WriteFile(zf, want, 0o644); err != nil {
				t.Fatal(err)
			}
			h1, err := dirhash.HashZip(zf, dirhash.Hash1)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := storage.ReadAll(ctx, store, path+"/@v/v1.0.0.ziphash"); err != nil || string(got) != h1+"\n" {
				t.Errorf("stored hash %q, %v; want %q", got, err, h1)
			}
			if kind == "fs" { // adopted as they were held: their mode set then
				for _, k := range []string{path + "/@v/v1.0.0.zip", path + "/@v/v1.0.0.ziphash"} {
					if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(k))); err != nil || fi.Mode().Perm() != 0o644 {
						t.Errorf("%s: %v, %v; want mode 0644", k, fi.Mode(), err)
					}
				}
			}
			if b, src, err := readObject(m.Zip(ctx, escaped(path, "v1.0.0"))); err != nil || !bytes.Equal(b, want) || src.Outcome != Hit {
				t.Errorf("second Zip: %d bytes, %+v, %v; want a hit", len(b), src, err)
			}

			// The other one is still held, then Close removes it.
			if n, _ := m.held.len(); n != 1 {
				t.Errorf("%d zips held, want 1", n)
			}
			m.Close()
			if files, _ := os.ReadDir(tmp); len(files) != 0 {
				t.Errorf("after Close, %d files in the temporary directory, want none", len(files))
			}
			if _, err := store.Stat(ctx, path+"/@v/v1.1.0.zip"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the zip no client asked for is in storage: %v", err)
			}
		})
	}
}

// BenchmarkHeldZipRequest: what a client's request for a zip that a
// prefetch holds costs (the zip stored then: two renames on local disk;
// one upload on S3, its hash side-file uploaded when it was held) against
// a request for a stored zip (a hit), 100 small zips per round,
// alternating rounds with a fresh store, on local disk and on MinIO
// (skipped without the minio binary). Reports the medians us/held and
// us/hit and their ratio; on S3 also us/hashput, what one hash side-file's
// upload costs, which the request no longer waits for.
//
//	go test -run '^$' -bench HeldZipRequest -benchtime 1x ./cache
func BenchmarkHeldZipRequest(b *testing.B) {
	const n, rounds = 100, 5
	up := fakeproxy.New(b)
	for i := range n {
		p := fmt.Sprintf("example.com/m%d", i)
		if _, err := up.Add(p, "v1.0.0", map[string][]byte{"go.mod": []byte("module " + p + "\n"), "a.go": make([]byte, 50<<10)}); err != nil {
			b.Fatal(err)
		}
	}
	p, err := upstream.NewProxy(up.URL, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	zips := func(m *Mirror, want Outcome) time.Duration {
		start := time.Now()
		for i := range n {
			_, src, err := readObject(m.Zip(ctx, escaped(fmt.Sprintf("example.com/m%d", i), "v1.0.0")))
			if err != nil || src.Outcome != want {
				b.Fatalf("Zip: %+v, %v; want %s", src, err, want)
			}
		}
		return time.Since(start) / n
	}
	for _, kind := range []string{"fs", "s3"} {
		b.Run(kind, func(b *testing.B) {
			var newStore func() (storage.Storage, string)
			switch kind {
			case "fs":
				newStore = func() (storage.Storage, string) {
					fsys, err := fsstore.New(b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					return fsys, fsys.TempDir()
				}
			case "s3":
				srv := miniotest.Start(b)
				newStore = func() (storage.Storage, string) {
					s, err := s3store.New(ctx, s3store.Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket(b), PathStyle: true, Insecure: true,
						AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
					if err != nil {
						b.Fatal(err)
					}
					return s, b.TempDir()
				}
			}
			for b.Loop() {
				var held, hit, hashPut []float64
				for range rounds {
					store, tmp := newStore()
					m := New(Options{Storage: store, Upstream: p, Prefetch: 4, TempDir: tmp, Logger: slog.New(slog.DiscardHandler)})
					for i := range n {
						if _, _, err := readObject(m.Info(ctx, escaped(fmt.Sprintf("example.com/m%d", i), "v1.0.0"))); err != nil {
							b.Fatal(err)
						}
						if err := m.Wait(ctx); err != nil { // a prefetch slot free for the next
							b.Fatal(err)
						}
					}
					if k, _ := m.held.len(); k != n {
						b.Fatalf("%d zips held, want %d", k, n)
					}
					held = append(held, float64(zips(m, Prefetched).Microseconds()))
					hit = append(hit, float64(zips(m, Hit).Microseconds()))
					if kind == "s3" {
						start := time.Now()
						for i := range n {
							if err := m.putHash(ctx, fmt.Sprintf("example.com/x%d/@v/v1.0.0.zip", i), "h1:x"); err != nil {
								b.Fatal(err)
							}
						}
						hashPut = append(hashPut, float64((time.Since(start) / n).Microseconds()))
					}
					m.Close()
				}
				slices.Sort(held)
				slices.Sort(hit)
				b.ReportMetric(held[rounds/2], "us/held")
				b.ReportMetric(hit[rounds/2], "us/hit")
				b.ReportMetric(held[rounds/2]/max(hit[rounds/2], 1), "ratio")
				if hashPut != nil {
					slices.Sort(hashPut)
					b.ReportMetric(hashPut[rounds/2], "us/hashput")
				}
			}
		})
	}
}
