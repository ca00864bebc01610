package gc_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/gc"
	"github.com/gomirror/gomirror/internal/miniotest"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/storage/s3"
)

// fill stores versions example.com/mN@v1.0.0 (a .mod, a 1000-byte zip and
// its hash) and checksum database data in s, and returns access times
// that make m0 the least recently downloaded.
func fill(t *testing.T, s storage.Storage, n int) *accesses {
	t.Helper()
	ctx := context.Background()
	acc := &accesses{times: map[module.Version]time.Time{}}
	for i := range n {
		mv := module.Version{Path: fmt.Sprintf("example.com/m%d", i), Version: "v1.0.0"}
		for file, size := range map[string]int{".mod": 20, ".zip": 1000, ".ziphash": 10} {
			if err := storage.PutBytes(ctx, s, mv.Path+"/@v/v1.0.0"+file, []byte(strings.Repeat("z", size))); err != nil {
				t.Fatal(err)
			}
		}
		acc.times[mv] = time.Now().Add(time.Duration(i-n) * time.Hour)
	}
	if err := storage.PutBytes(ctx, s, "sumdb/sum.example/latest", []byte("tree")); err != nil {
		t.Fatal(err)
	}
	return acc
}

// TestCollectS3: the collector over a real MinIO bucket (walked from the
// listing's pages): the least recently downloaded zips go (their hash
// side-files stay), the rest and the checksum database's data stay.
func TestCollectS3(t *testing.T) {
	srv := miniotest.Start(t)
	d, err := s3.New(context.Background(), s3.Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket(t), Prefix: "mirror/", PathStyle: true, Insecure: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	s := storage.Wrap(d)
	acc := fill(t, s, 4)
	// 4 × 1030 stored: two zips (1010 each) must go for 2100.
	rep, err := gc.Collect(context.Background(), gc.Options{Storage: s, Accesses: acc, Catalog: acc, MaxBytes: 2100})
	if err != nil {
		t.Fatal(err)
	}
	if got := evicted(rep); !slices.Equal(got, []string{"m0 zip quota", "m1 zip quota"}) {
		t.Errorf("evicted %q, want m0's and m1's zips", got)
	}
	keys, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"example.com/m0/@v/v1.0.0.mod", "example.com/m0/@v/v1.0.0.ziphash", "example.com/m1/@v/v1.0.0.mod", "example.com/m1/@v/v1.0.0.ziphash",
		"example.com/m2/@v/v1.0.0.mod", "example.com/m2/@v/v1.0.0.zip", "example.com/m2/@v/v1.0.0.ziphash",
		"example.com/m3/@v/v1.0.0.mod", "example.com/m3/@v/v1.0.0.zip", "example.com/m3/@v/v1.0.0.ziphash",
		"sumdb/sum.example/latest",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("left %q, want %q", keys, want)
	}
}

// TestEvictWhileReadFS: on local disk, a zip evicted while a reader has
// it open (a response under way) reads to its end.
func TestEvictWhileReadFS(t *testing.T) {
	d, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := storage.Wrap(d)
	acc := fill(t, s, 1)
	obj, err := s.Get(context.Background(), "example.com/m0/@v/v1.0.0.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	head := make([]byte, 10)
	if _, err := io.ReadFull(obj.Body, head); err != nil {
		t.Fatal(err)
	}
	rep, err := gc.Collect(context.Background(), gc.Options{Storage: s, Accesses: acc, MaxBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Evictions) != 1 {
		t.Fatalf("evictions %+v, want m0's zip", rep.Evictions)
	}
	if _, err := s.Stat(context.Background(), "example.com/m0/@v/v1.0.0.zip"); err == nil {
		t.Fatal("zip still stored")
	}
	rest, err := io.ReadAll(obj.Body)
	if err != nil || len(head)+len(rest) != 1000 {
		t.Errorf("read %d bytes after the eviction (%v), want 1000", len(head)+len(rest), err)
	}
}
