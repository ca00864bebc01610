package cache

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/sync/semaphore"
)

// zipHasher computes the h1: hashes of zips being filled. Hashing
// decompresses every file of a zip, which is most of the CPU time a fill
// takes, and it runs in the background of the requests a mirror answers:
// prefetched fills hash zips while the go command asks, one small request
// after another, for the next .info or .mod. So the hashing gives way:
// at most GOMAXPROCS zips (or, for zipstream.Hasher.Finish, files) are
// hashed at once (more would not finish sooner), and each yields its processor every yieldEvery bytes, so that a
// request's goroutine waits for a processor a fraction of a millisecond
// rather than the scheduler's 10 ms time slice times the number of hashes
// running.
type zipHasher struct {
	slots *semaphore.Weighted // GOMAXPROCS units, shared with Hasher.Finish's workers
}

// yieldEvery is how many uncompressed bytes a hash reads between yields:
// about a tenth of a millisecond of decompression and SHA-256.
const yieldEvery = 64 << 10

func newZipHasher() *zipHasher {
	return &zipHasher{slots: semaphore.NewWeighted(int64(runtime.GOMAXPROCS(0)))}
}

// hash returns the h1: hash of the module zip in file, the one go.sum and
// the checksum database record: dirhash.Hash1 over the zip's file names
// and contents, as dirhash.HashZip computes it.
func (h *zipHasher) hash(ctx context.Context, file string) (string, error) {
	if err := h.slots.Acquire(ctx, 1); err != nil {
		return "", err
	}
	defer h.slots.Release(1)
	z, err := zip.OpenReader(file)
	if err != nil {
		return "", err
	}
	defer z.Close()
	names := make([]string, 0, len(z.File))
	byName := make(map[string]*zip.File, len(z.File))
	for _, f := range z.File {
		names = append(names, f.Name)
		byName[f.Name] = f
	}
	return dirhash.Hash1(names, func(name string) (io.ReadCloser, error) {
		f := byName[name]
		if f == nil {
			return nil, fmt.Errorf("file %q not found in zip", name)
		}
		r, err := f.Open()
		if err != nil {
			return nil, err
		}
		return &yieldingReader{ReadCloser: r}, nil
	})
}

// yieldingReader calls runtime.Gosched after every yieldEvery bytes read.
type yieldingReader struct {
	io.ReadCloser
	n int
}

func (y *yieldingReader) Read(p []byte) (int, error) {
	n, err := y.ReadCloser.Read(p)
	if y.n += n; y.n >= yieldEvery {
		y.n = 0
		runtime.Gosched()
	}
	return n, err
}
