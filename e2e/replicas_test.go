package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/miniotest"
	"github.com/gomirror/gomirror/internal/redistest"
)

// replicaSet is n gomirror binaries sharing one MinIO bucket and one Redis,
// in front of one recording fake upstream.
type replicaSet struct {
	up       *fakeproxy.Server
	replicas []*mirror
}

func startReplicas(t *testing.T, n int, lockTTL time.Duration) *replicaSet {
	t.Helper()
	minio := miniotest.Start(t)
	bucket := minio.Bucket(t)
	rdb := redistest.Start(t)
	rs := &replicaSet{up: fakeproxy.New(t)}
	env := []string{"GOMIRROR_S3_ACCESS_KEY=" + minio.AccessKey, "GOMIRROR_S3_SECRET_KEY=" + minio.SecretKey}
	for range n {
		rs.replicas = append(rs.replicas, startMirrorEnv(t, env,
			"--storage", "s3", "--s3-endpoint", minio.Endpoint, "--s3-bucket", bucket, "--s3-path-style", "--s3-insecure",
			"--storage-dir", t.TempDir(), "--redis", rdb.URL, "--redis-lock-ttl", lockTTL.String(),
			"--upstream", rs.up.URL, "--sumdb", rs.up.DBKey, "--prefetch", "0"))
	}
	return rs
}

// bigModule adds a module version with a zip of size random bytes.
func bigModule(t *testing.T, up *fakeproxy.Server, path string, size int) *fakeproxy.Module {
	t.Helper()
	data := make([]byte, size)
	r := rand.NewChaCha8([32]byte{byte(size)})
	r.Read(data)
	m, err := up.Add(path, "v1.0.0", map[string][]byte{
		"go.mod":   fmt.Appendf(nil, "module %s\n\ngo 1.21\n", path),
		"blob.bin": data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func getBytes(client *http.Client, url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, b)
	}
	return b, err
}

// TestReplicasFetchOnce: 60 concurrent clients spread over three replicas
// ask for the same cold zip; the upstream is asked exactly once.
func TestReplicasFetchOnce(t *testing.T) {
	rs := startReplicas(t, 3, 5*time.Second)
	mod := bigModule(t, rs.up, "example.com/replicated", 4<<20)
	const zipPath = "/example.com/replicated/@v/v1.0.0.zip"
	// The upstream takes a moment, so that all 60 arrive during the fill.
	rs.up.Inject(fakeproxy.Paths(zipPath), fakeproxy.Slow(500*time.Millisecond))

	client := &http.Client{Timeout: time.Minute}
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Go(func() {
			b, err := getBytes(client, rs.replicas[i%3].URL+zipPath)
			if err == nil && !bytes.Equal(b, mod.Zip) {
				err = fmt.Errorf("client %d: %d bytes that are not the zip", i, len(b))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := rs.up.Hits(zipPath); n != 1 {
		t.Errorf("the upstream was asked %d times for the zip by 3 replicas and 60 clients, want 1", n)
	}

	// list, @latest and the checksum database's tree head are shared for
	// redis-shared-ttl (5s): one replica asks, the others reuse its answer.
	for _, p := range []string{"/example.com/hello/@v/list", "/example.com/hello/@latest", "/sumdb/" + fakeproxy.DBName + "/latest"} {
		var answers []string
		for _, r := range rs.replicas {
			b, err := getBytes(client, r.URL+p)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			answers = append(answers, string(b))
		}
		if n := rs.up.Hits(p); n != 1 {
			t.Errorf("%s asked of 3 replicas reached the upstream %d times, want 1", p, n)
		}
		if answers[0] != answers[1] || answers[1] != answers[2] {
			t.Errorf("%s: replicas answered differently: %q", p, answers)
		}
	}
}

// TestReplicaKilledMidFill: the replica filling a zip is killed; a client
// that retries on another replica gets the right bytes once the dead
// replica's lock has expired.
func TestReplicaKilledMidFill(t *testing.T) {
	const lockTTL = 2 * time.Second
	rs := startReplicas(t, 3, lockTTL)
	mod := bigModule(t, rs.up, "example.com/killed", 2<<20)
	const zipPath = "/example.com/killed/@v/v1.0.0.zip"
	// The first answer stalls after half the bytes: the fill is under way.
	rs.up.InjectFirst(fakeproxy.Paths(zipPath), fakeproxy.Stall(1<<20))

	victim := rs.replicas[0]
	go getBytes(&http.Client{}, victim.URL+zipPath) // the client of the replica that dies
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rs.up.WaitInjected(ctx, zipPath, 1); err != nil {
		t.Fatalf("the fill never reached the upstream: %v", err)
	}
	victim.cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	<-victim.done

	b, err := getBytes(&http.Client{Timeout: time.Minute}, rs.replicas[1].URL+zipPath)
	took := time.Since(killed)
	if err != nil || !bytes.Equal(b, mod.Zip) {
		t.Fatalf("retry on another replica: %d bytes, %v; want the zip", len(b), err)
	}
	t.Logf("the retry on another replica got the zip %v after the kill (lock TTL %v)", took.Round(time.Millisecond), lockTTL)
	if took > lockTTL+5*time.Second {
		t.Errorf("the dead replica's lock held the retry for %v (TTL %v)", took, lockTTL)
	}
	if n := rs.up.Hits(zipPath); n != 2 {
		t.Errorf("upstream zip requests: %d, want 2 (the killed fill and the takeover)", n)
	}
	// The third replica serves it from the shared bucket without asking.
	if b, err := getBytes(&http.Client{}, rs.replicas[2].URL+zipPath); err != nil || !bytes.Equal(b, mod.Zip) {
		t.Errorf("third replica: %v", err)
	}
	if n := rs.up.Hits(zipPath); n != 2 {
		t.Errorf("upstream zip requests after the third replica: %d, want still 2", n)
	}
}

// TestReplicasBigProject: the real go command downloads the 282-module
// project through three replicas on one MinIO bucket and one Redis, in
// turn, each time into a fresh module cache, from the real upstream.
func TestReplicasBigProject(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real upstream; skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	minio := miniotest.Start(t)
	bucket := minio.Bucket(t)
	rdb := redistest.Start(t)
	env := []string{"GOMIRROR_S3_ACCESS_KEY=" + minio.AccessKey, "GOMIRROR_S3_SECRET_KEY=" + minio.SecretKey}
	var replicas []*mirror
	for range 3 {
		replicas = append(replicas, startMirrorEnv(t, env,
			"--storage", "s3", "--s3-endpoint", minio.Endpoint, "--s3-bucket", bucket, "--s3-path-style", "--s3-insecure",
			"--storage-dir", t.TempDir(), "--redis", rdb.URL))
	}
	project, err := filepath.Abs("../testdata/bigproject")
	if err != nil {
		t.Fatal(err)
	}
	sumdbName := goEnvValue(t, "GOSUMDB")
	want := 0
	for i, r := range replicas {
		start := time.Now()
		out := mustGo(ctx, t, project, goEnv(t, r.URL, sumdbName), "mod", "download", "-json")
		zips := strings.Count(out, `"Zip":`)
		if strings.Contains(out, `"Error"`) || zips < 150 || (want > 0 && zips != want) {
			t.Fatalf("replica %d: %d zips (want >= 150 and %d)\n%s", i, zips, want, tail(out, 30))
		}
		want = zips
		t.Logf("replica %d: %d zips in %v", i, zips, time.Since(start).Round(time.Millisecond))
	}
	// After the first, the replicas served zips from the shared bucket.
	for i, r := range replicas[1:] {
		misses := 0
		for _, line := range strings.Split(r.logs.String(), "\n") {
			if strings.Contains(line, ".zip status=200") && strings.Contains(line, "cache=miss") {
				misses++
			}
		}
		if misses > 0 {
			t.Errorf("replica %d fetched %d zips from the upstream that replica 0 had stored", i+1, misses)
		}
	}
}

// TestRedisDownServesAlone: a replica whose Redis does not answer (at
// start, or later) serves as if it were alone.
func TestRedisDownServesAlone(t *testing.T) {
	up := fakeproxy.New(t)
	rdb := redistest.Start(t)
	m := startMirror(t, "--storage-dir", t.TempDir(), "--upstream", up.URL, "--sumdb", up.DBKey,
		"--redis", rdb.URL, "--redis-lock-ttl", "1s")
	get := func(p string) {
		t.Helper()
		want := up.Module("example.com/hello", strings.TrimSuffix(strings.TrimPrefix(p, "/example.com/hello/@v/"), ".zip"))
		b, err := getBytes(&http.Client{Timeout: time.Minute}, m.URL+p)
		if err != nil || !bytes.Equal(b, want.Zip) {
			t.Fatalf("%s: %d bytes, %v", p, len(b), err)
		}
	}
	get("/example.com/hello/@v/v1.0.0.zip") // coordinated
	rdb.Stop()
	get("/example.com/hello/@v/v1.1.0.zip") // Redis gone: alone
	if !strings.Contains(m.logs.String(), "replica coordination unavailable; filling alone") {
		t.Errorf("the log does not say that the replica went on alone")
	}

	// Started with no Redis at all.
	alone := startMirror(t, "--storage-dir", t.TempDir(), "--upstream", up.URL, "--sumdb", up.DBKey,
		"--redis", "redis://"+rdb.Addr+"/0")
	b, err := getBytes(&http.Client{Timeout: time.Minute}, alone.URL+"/example.com/hello/@v/v1.0.0.zip")
	if err != nil || !bytes.Equal(b, up.Module("example.com/hello", "v1.0.0").Zip) {
		t.Fatalf("replica started without Redis: %d bytes, %v", len(b), err)
	}
	if !strings.Contains(alone.logs.String(), "redis does not answer") {
		t.Errorf("the start-up log does not warn that Redis does not answer")
	}
}
