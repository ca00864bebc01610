// Package miniotest starts a real MinIO server on loopback for tests of the
// S3 storage driver and of replicas sharing a bucket.
//
// The minio binary is looked up in PATH and in $(go env GOPATH)/bin, where
// `go install github.com/minio/minio@latest` (run by .ci/run) puts it. A
// test without it is skipped with a loud message.
package miniotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/testutil"
)

// Server is a running MinIO.
type Server struct {
	Endpoint             string // 127.0.0.1:PORT
	AccessKey, SecretKey string
	client               *minio.Client
}

// Start runs a MinIO server on a fresh data directory until the end of the
// test.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := lookMinio(t)
	port := testutil.FreePort(t)
	console := testutil.FreePort(t)
	s := &Server{Endpoint: fmt.Sprintf("127.0.0.1:%d", port), AccessKey: "gomirror-test", SecretKey: "gomirror-test-secret"}
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", s.Endpoint, "--console-address", fmt.Sprintf("127.0.0.1:%d", console), "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+t.TempDir())
	var out testutil.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// Ready when the health endpoint answers; MinIO takes about a second.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("minio exited: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio did not become ready:\n%s", out.String())
		}
	}
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	// "ready" can come before the object layer is: wait until the API
	// answers a real request.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.ListBuckets(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio API not ready: %v\n%s", err, out.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("minio exited: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return s
}

// Bucket creates a new, empty bucket and returns its name.
func (s *Server) Bucket(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "test-" + hex.EncodeToString(b)
	if err := s.client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return name
}

func lookMinio(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	if env, err := (gocmd.Cmd{}).Env(context.Background(), "GOPATH"); err == nil {
		for _, dir := range filepath.SplitList(env["GOPATH"]) {
			p := filepath.Join(dir, "bin", "minio")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Skip("!!! SKIPPING: no minio binary in PATH or $(go env GOPATH)/bin; install it with `go install github.com/minio/minio@latest` (.ci/run does) to run the S3 tests !!!")
	return ""
}
