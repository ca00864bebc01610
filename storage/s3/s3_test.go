package s3_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/gomirror/gomirror/internal/miniotest"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/s3"
	"github.com/gomirror/gomirror/storage/storagetest"
)

func newStore(t *testing.T, srv *miniotest.Server, prefix string) *s3.Store {
	t.Helper()
	s, err := s3.New(context.Background(), s3.Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket(t), Prefix: prefix, PathStyle: true, Insecure: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs the shared storage suite against a real MinIO, with
// and without a key prefix.
func TestConformance(t *testing.T) {
	srv := miniotest.Start(t)
	for _, prefix := range []string{"", "mirror/"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Storage { return newStore(t, srv, prefix) })
		})
	}
}

func TestMissingBucketIsAnError(t *testing.T) {
	srv := miniotest.Start(t)
	_, err := s3.New(context.Background(), s3.Config{
		Endpoint: srv.Endpoint, Bucket: "no-such-bucket", PathStyle: true, Insecure: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
	})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("New with a missing bucket: %v", err)
	}
}

func TestPresignedURLServesTheObject(t *testing.T) {
	srv := miniotest.Start(t)
	s := newStore(t, srv, "p/")
	ctx := context.Background()
	if err := storage.PutBytes(ctx, s, "m.example/x/@v/v1.0.0.zip", []byte("zip bytes")); err != nil {
		t.Fatal(err)
	}
	u, err := s.PresignGet(ctx, "m.example/x/@v/v1.0.0.zip", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "zip bytes" {
		t.Errorf("GET presigned URL: %d %q", resp.StatusCode, b)
	}
}

// TestReadWhileReplaced: an object rewritten while it is read (a tree head
// or a list that several replicas write) reads as one complete version,
// never as an error.
func TestReadWhileReplaced(t *testing.T) {
	srv := miniotest.Start(t)
	s := newStore(t, srv, "")
	ctx := context.Background()
	values := []string{strings.Repeat("a", 300), strings.Repeat("b", 500)}
	if err := storage.PutBytes(ctx, s, "sumdb/db/latest", []byte(values[0])); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			storage.PutBytes(ctx, s, "sumdb/db/latest", []byte(values[i%2]))
		}
	}()
	for i := range 200 {
		b, err := storage.ReadAll(ctx, s, "sumdb/db/latest")
		if err != nil {
			t.Fatalf("read %d while the object is replaced: %v", i, err)
		}
		if string(b) != values[0] && string(b) != values[1] {
			t.Fatalf("read %d: %d bytes that no writer wrote", i, len(b))
		}
	}
	close(done)
	<-writerDone
}

// TestAbortStaleUploads: an unfinished multipart upload (what a crash
// leaves) is aborted once old enough, and a younger one is left alone.
func TestAbortStaleUploads(t *testing.T) {
	srv := miniotest.Start(t)
	s := newStore(t, srv, "p/")
	ctx := context.Background()
	core := s.Core()
	for _, name := range []string{"p/m.example/x/@v/v1.0.0.zip", "other/m.example/x/@v/v1.0.0.zip"} {
		if _, err := core.NewMultipartUpload(ctx, s.Bucket(), name, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.AbortStaleUploads(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("AbortStaleUploads(1h) of a fresh upload = %d, %v; want 0", n, err)
	}
	if n, err := s.AbortStaleUploads(ctx, -time.Minute); err != nil || n != 1 {
		t.Fatalf("AbortStaleUploads = %d, %v; want 1", n, err)
	}
	var left []string
	for u := range core.Client.ListIncompleteUploads(ctx, s.Bucket(), "", true) {
		left = append(left, u.Key)
	}
	// Another prefix's upload (another store in the bucket) stays.
	if len(left) != 1 || left[0] != "other/m.example/x/@v/v1.0.0.zip" {
		t.Errorf("uploads left: %q", left)
	}
}

// TestDeleteWhileRead: an object deleted while a Get streams it (the
// garbage collector evicting a zip a client is downloading) still reads
// to its end: the one GET that Get makes has its content.
func TestDeleteWhileRead(t *testing.T) {
	srv := miniotest.Start(t)
	s := newStore(t, srv, "")
	ctx := context.Background()
	want := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB: streamed, not read into memory
	key := "m.example/x/@v/v1.0.0.zip"
	if err := storage.PutBytes(ctx, s, key, []byte(want)); err != nil {
		t.Fatal(err)
	}
	obj, err := s.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	head := make([]byte, 1000)
	if _, err := io.ReadFull(obj.Body, head); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, key); err == nil {
		t.Fatal("deleted object still there")
	}
	rest, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("reading after delete: %v", err)
	}
	if got := string(head) + string(rest); got != want {
		t.Errorf("read %d bytes after the delete, want %d", len(got), len(want))
	}
}

// TestAbortStaleUploadsOnlyOurs (review finding 10): without a prefix, the
// bucket may be shared with another application: only uploads of keys
// gomirror writes (module files, sumdb/, .gomirror/) are aborted.
func TestAbortStaleUploadsOnlyOurs(t *testing.T) {
	srv := miniotest.Start(t)
	s := newStore(t, srv, "")
	ctx := context.Background()
	core := s.Core()
	for _, name := range []string{"m.example/x/@v/v1.0.0.zip", ".gomirror/snapshots/prod.json", "backups/db.tar"} {
		if _, err := core.NewMultipartUpload(ctx, s.Bucket(), name, minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.AbortStaleUploads(ctx, -time.Minute); err != nil || n != 2 {
		t.Fatalf("AbortStaleUploads = %d, %v; want 2", n, err)
	}
	var left []string
	for u := range core.Client.ListIncompleteUploads(ctx, s.Bucket(), "", true) {
		left = append(left, u.Key)
	}
	if len(left) != 1 || left[0] != "backups/db.tar" {
		t.Errorf("uploads left: %q, want another application's backups/db.tar", left)
	}
}
