package s3_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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
