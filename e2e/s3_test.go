package e2e

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/miniotest"
)

// TestS3Storage runs the binary with a MinIO bucket as storage: the go
// command builds a project through it, then again, from the bucket alone,
// through a second gomirror with the upstream off; and zips can be served
// by redirect to presigned URLs.
func TestS3Storage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	minio := miniotest.Start(t)
	bucket := minio.Bucket(t)
	up := fakeproxy.New(t)
	s3 := func(extra ...string) []string {
		return append([]string{"--storage", "s3", "--s3-endpoint", minio.Endpoint, "--s3-bucket", bucket,
			"--s3-prefix", "mirror", "--s3-path-style", "--s3-insecure", "--storage-dir", t.TempDir()}, extra...)
	}
	env := []string{"GOMIRROR_S3_ACCESS_KEY=" + minio.AccessKey, "GOMIRROR_S3_SECRET_KEY=" + minio.SecretKey}
	m := startMirrorEnv(t, env, s3("--upstream", up.URL, "--sumdb", up.DBKey)...)

	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/hello\"\n)\n\nfunc main() { fmt.Println(hello.Hello()) }\n",
	})
	goenv := goEnv(t, m.URL, up.DBKey)
	mustGo(ctx, t, project, goenv, "mod", "tidy")
	if out := mustGo(ctx, t, project, goenv, "run", "."); !strings.Contains(out, "hello v1.1.0") {
		t.Errorf("program output %q", out)
	}
	m.stop(t)

	// gomirror verify reads the bucket too.
	verify := exec.Command(gomirrorBin, append([]string{"verify", "--upstream", up.URL, "--sumdb", up.DBKey}, s3()...)...)
	verify.Env = append(os.Environ(), env...)
	out, err := verify.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "corrupt 0") || strings.Contains(string(out), "verified 0 ") {
		t.Errorf("gomirror verify on the bucket: %v\n%s", err, out)
	}

	// From the bucket alone, zips redirected to presigned URLs.
	off := startMirrorEnv(t, env, s3("--upstream", "off", "--sumdb", up.DBKey, "--s3-zip-redirect")...)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(off.URL + "/example.com/hello/@v/v1.1.0.zip")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusTemporaryRedirect || loc.Host != minio.Endpoint ||
		loc.Path != "/"+bucket+"/mirror/example.com/hello/@v/v1.1.0.zip" || loc.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("zip with s3-zip-redirect: %d, Location %v; want a presigned URL into the bucket", resp.StatusCode, loc)
	}
	goenv = goEnv(t, off.URL, up.DBKey)
	mustGo(ctx, t, project, goenv, "mod", "download")
	if out := mustGo(ctx, t, project, goenv, "run", "."); !strings.Contains(out, "hello v1.1.0") {
		t.Errorf("program output from the bucket alone %q", out)
	}
}
