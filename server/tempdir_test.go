package server

import (
	"errors"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/miniotest"
	"github.com/gomirror/gomirror/internal/tempdir"
)

// TestS3TempDirOfDeadProcessRemovedAtStart: on a store without its own
// temporary directory (S3), the zips a killed server held in
// <storage-dir>/tmp go at the next start, and this server keeps its own in
// a directory of its own there.
func TestS3TempDirOfDeadProcessRemovedAtStart(t *testing.T) {
	if !tempdir.HasProc() {
		t.Skip("!!! SKIPPING: no /proc: owners on this host are judged by age only")
	}
	m := miniotest.Start(t)
	dead := exec.Command(os.Args[0], "-test.run=^$")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	storageDir := t.TempDir()
	tmp := filepath.Join(storageDir, "tmp")
	// A dead process of this host (its host name cleaned as tempdir does
	// for ordinary names), and a flat file an older version left.
	deadDir := filepath.Join(tmp, strings.ReplaceAll(host, "_", "-")+"_"+strconv.Itoa(dead.Process.Pid)+"_7")
	os.MkdirAll(deadDir, 0o755)
	heldFile := filepath.Join(deadDir, "gomirror-zip-1")
	os.WriteFile(heldFile, []byte("held zip"), 0o644)
	flat := filepath.Join(tmp, "gomirror-zip-2")
	os.WriteFile(flat, []byte("held zip"), 0o644)
	old := time.Now().Add(-2 * tempdir.StaleTemp)
	os.Chtimes(flat, old, old)

	up := fakeproxy.New(t)
	s := start(t, up, func(cfg *config.Serve) {
		cfg.StorageDir = storageDir
		cfg.Storage, cfg.S3Endpoint, cfg.S3Bucket = "s3", m.Endpoint, m.Bucket(t)
		cfg.S3PathStyle, cfg.S3Insecure = true, true
		cfg.S3AccessKey, cfg.S3SecretKey = m.AccessKey, m.SecretKey
	})
	for _, p := range []string{heldFile, flat} {
		if _, err := os.Stat(p); !errors.Is(err, iofs.ErrNotExist) {
			t.Errorf("%s survived the start: %v", p, err)
		}
	}
	_ = s
	entries, _ := os.ReadDir(tmp)
	if len(entries) != 1 || !entries[0].IsDir() || !strings.Contains(entries[0].Name(), "_"+strconv.Itoa(os.Getpid())+"_") {
		t.Errorf("%s holds %v, want this process's own directory only", tmp, entries)
	}
}
