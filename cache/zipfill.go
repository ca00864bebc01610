package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/upstream"
	"github.com/gomirror/gomirror/zipstream"
)

// fillZip fetches, checks and stores the zip at key; under a fill lock
// (lease not nil) it stores it only while it still holds the lock. It
// returns which upstream answered, also with an error after the download.
func (m *Mirror) fillZip(ctx context.Context, lease Lease, key, path, version string) (answered upstream.Answer, err error) {
	m.lookupAhead(ctx, key, path, version)
	tmp, err := os.CreateTemp(m.opts.TempDir, "gomirror-zip-*")
	if err != nil {
		return answered, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	// streamed hashes the zip as it arrives (one hasher per attempt), so
	// that its h1: is ready when the download ends; its result is used
	// only if it agrees with the zip's central directory (checkZip).
	var streamed *zipstream.Hasher
	defer func() {
		if streamed != nil {
			streamed.Close()
		}
	}()
	var downloaded int64

	// download fetches the zip into tmp; its Answer names the upstream that
	// answered even if the body then broke off.
	download := func(ctx context.Context) (a upstream.Answer, err error) {
		if streamed != nil { // an earlier attempt broke off
			streamed.Close()
		}
		streamed = zipstream.New(modzip.MaxZipFile)
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return a, err
		}
		if err := tmp.Truncate(0); err != nil {
			return a, err
		}
		body, size, a, err := m.opts.Upstream.Zip(ctx, path, version)
		if err != nil {
			return a, err
		}
		defer body.Close()
		if size > modzip.MaxZipFile {
			return a, upstreamErr("zip", path, version, fmt.Errorf("zip is %d bytes, more than the %d allowed", size, int64(modzip.MaxZipFile)))
		}
		w := &errWriter{w: tmp}
		n, err := io.Copy(io.MultiWriter(w, streamed), io.LimitReader(body, modzip.MaxZipFile+1))
		if w.err != nil { // our disk, not the upstream
			return a, fmt.Errorf("storing zip %s@%s: %w", path, version, w.err)
		}
		if err != nil {
			return a, upstreamErr("zip", path, version, &transferError{fmt.Errorf("reading zip: %w", err)})
		}
		if n > modzip.MaxZipFile {
			return a, upstreamErr("zip", path, version, fmt.Errorf("zip larger than the %d bytes allowed", int64(modzip.MaxZipFile)))
		}
		if size >= 0 && n != size {
			return a, upstreamErr("zip", path, version, &transferError{fmt.Errorf("truncated zip: got %d of %d bytes", n, size)})
		}
		downloaded = n
		return a, nil
	}
	// A zip that breaks off in transit (reset, truncation) is asked for
	// again, a bounded number of times: unlike a small answer, it is not
	// retried below the cache (an upstream group retries only until a body
	// starts), and a client's go command does not retry at all.
	for attempt := 0; ; attempt++ {
		var a upstream.Answer
		a, err = m.fetch(ctx, "zip", key, download)
		if a.Upstream != "" {
			answered = a
		}
		var te *transferError
		if err == nil || !errors.As(err, &te) || attempt == zipTransferRetries || ctx.Err() != nil {
			break
		}
		m.opts.Logger.Warn("zip transfer broke off; asking again", "module", path, "version", version, "attempt", attempt+1, "err", err)
	}
	if err != nil {
		return answered, err
	}
	streamed.Close()
	h1, err := m.checkZip(ctx, path, version, tmp, downloaded, streamed)
	streamed = nil // its records are not needed while the zip is stored
	if err != nil {
		return answered, err
	}
	if err := m.verify(path, "zip", func(v Verifier) error { return v.CheckZip(ctx, path, version, h1) }); err != nil {
		return answered, err
	}
	if lostLease(ctx, lease) {
		return answered, errLostLease
	}
	// The hash lands before the zip becomes visible, so that a stored zip
	// always has its recorded hash. A crash in between leaves a hash
	// without a zip, which is harmless: the next fill writes it again.
	if err := m.putHash(ctx, key, h1); err != nil {
		return answered, err
	}
	if a, ok := storage.As[storage.FileAdopter](m.opts.Storage); ok {
		if err := tmp.Close(); err != nil {
			return answered, err
		}
		return answered, a.AdoptFile(ctx, key, tmp.Name())
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return answered, err
	}
	return answered, m.opts.Storage.Put(ctx, key, tmp)
}

// checkZip checks that the zip in file, size bytes, is a valid module zip
// for path@version and returns its h1: hash: the one streamed computed
// while the zip arrived if it agrees with the zip's central directory,
// else (a zip the streaming hasher does not fully understand, or a hostile
// one whose local headers tell another story) the hash of the whole file.
func (m *Mirror) checkZip(ctx context.Context, path, version string, file *os.File, size int64, streamed *zipstream.Hasher) (string, error) {
	if _, err := modzip.CheckZip(module.Version{Path: path, Version: version}, file.Name()); err != nil {
		return "", upstreamErr("zip", path, version, fmt.Errorf("invalid module zip: %w", err))
	}
	h1, err := streamed.Verify(file, size)
	if err == nil {
		m.opts.Logger.Debug("zip hashed while downloading", "module", path, "version", version)
		return h1, nil
	}
	m.opts.Logger.Info("zip hashed after downloading", "module", path, "version", version, "reason", err)
	h1, err = m.hasher.hash(ctx, file.Name())
	if err != nil {
		return "", upstreamErr("zip", path, version, fmt.Errorf("hashing zip: %w", err))
	}
	return h1, nil
}

// zipTransferRetries is how many more times a zip whose transfer broke off
// is asked for.
const zipTransferRetries = 2

// transferError is a zip body that broke off in transit.
type transferError struct{ err error }

func (e *transferError) Error() string { return e.err.Error() }

func (e *transferError) Unwrap() error { return e.err }

// errWriter remembers the error of a failed write, so that a copy's local
// failure (disk full, read-only) is told apart from the upstream's.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}
