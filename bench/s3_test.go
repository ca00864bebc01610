package bench

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gomirror/gomirror/internal/miniotest"
)

// BenchmarkWarmDownloadS3: `go mod download` of bigproject through a
// gomirror whose storage is a MinIO bucket holding all of it, against the
// same download through a gomirror on local disk holding the same: the cost
// of object storage for a warm replica. Both are filled first (the local one
// from the real upstream, the MinIO one from the local one). Rounds
// alternate; ratio = MinIO/local disk, medians.
func BenchmarkWarmDownloadS3(b *testing.B) {
	up, sumdb := realUpstream(b)
	tmp := workDir(b)
	fsMirror := startMirror(b, tmp, "--storage-dir", filepath.Join(tmp, "storage"), "--upstream", up, "--sumdb", sumdb)
	zips := downloadBig(b, tmp, fsMirror.URL, sumdb, "setup fill of the local-disk mirror", fsMirror.Pid()).zips

	minio := miniotest.Start(b)
	bucket := minio.Bucket(b)
	s3Mirror := startMirror(b, tmp, "--storage", "s3", "--s3-endpoint", minio.Endpoint, "--s3-bucket", bucket,
		"--s3-path-style", "--s3-insecure", "--s3-access-key", minio.AccessKey, "--s3-secret-key", minio.SecretKey,
		"--storage-dir", filepath.Join(tmp, "s3-work"), "--upstream", fsMirror.URL, "--sumdb", sumdb)
	if n := downloadBig(b, tmp, s3Mirror.URL, sumdb, "setup fill of the MinIO mirror", s3Mirror.Pid()).zips; n != zips {
		b.Fatalf("MinIO fill: %d zips, want %d", n, zips)
	}
	offset := s3Mirror.logSize()

	b.ResetTimer()
	var s3, fs []float64
	for i := range warmRounds {
		d := downloadBig(b, tmp, s3Mirror.URL, sumdb, fmt.Sprintf("round %d MinIO", i), s3Mirror.Pid())
		if d.zips != zips {
			b.Errorf("round %d: %d zips through the MinIO mirror, want %d", i, d.zips, zips)
		}
		s3 = append(s3, d.wall.Seconds())
		d = downloadBig(b, tmp, fsMirror.URL, sumdb, fmt.Sprintf("round %d local disk", i), fsMirror.Pid())
		if d.zips != zips {
			b.Errorf("round %d: %d zips through the local-disk mirror, want %d", i, d.zips, zips)
		}
		fs = append(fs, d.wall.Seconds())
	}
	b.StopTimer()
	st := s3Mirror.stats(offset)
	b.Logf("MinIO s/round %s; local disk s/round %s; MinIO mirror log during the rounds: %s", secs(s3), secs(fs), st)
	if n := st.Cache["miss"] + st.Cache["fresh"] + st.Cache["stale"]; n > 0 {
		b.Logf("PROBLEM: the MinIO mirror asked its upstream %d times although everything was stored", n)
	}
	reportRatio(b, s3, fs)
}
