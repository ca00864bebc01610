package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/upstream"
	"github.com/gomirror/gomirror/zipstream"
)

// zipFill returns the fill of the zip at key in progress, or starts one
// (led), joined: the caller follows it (zipStream.follow). A caller that
// is not a prefetch counts as a client of the fill (zipStream.clients). A fill runs with a context that is not cancelled when the callers
// go away, bounded by FetchTimeout, and counts in m.fills until it has
// ended. It runs once across replicas (coordinated): where another replica
// holds the fill lock, this one waits for the zip in storage, and its
// stream ends without a file.
func (m *Mirror) zipFill(ctx context.Context, key, path, version string, prefetch bool) (s *zipStream, led bool) {
	m.zipsMu.Lock()
	defer m.zipsMu.Unlock()
	if s := m.zips[key]; s != nil {
		s.join()
		if !prefetch {
			s.clients++
		}
		return s, false
	}
	s = newZipStream()
	s.join()
	if !prefetch {
		s.clients++
	}
	m.zips[key] = s
	m.fills.Add(1)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.FetchTimeout)
	go func() {
		defer m.fills.Done()
		defer cancel()
		from, err := m.runZipFill(fctx, s, key, path, version)
		// Stored (or failed) by now: callers that come later read storage
		// (or start another fill).
		m.zipsMu.Lock()
		if m.zips[key] == s { // not abandoned and replaced
			delete(m.zips, key)
		}
		m.zipsMu.Unlock()
		s.end(from, err)
	}()
	return s, true
}

// prefetchZipMax is the largest zip a prefetch fetches. A larger one is
// fetched only when a client asks for it, and then streamed through at the
// upstream's speed (cut-through), so prefetching it would save little;
// while a client that reads only metadata (go list -m all, an editor)
// would pay for it in upstream traffic, disk and hashing CPU.
const prefetchZipMax = 4 << 20

// errAbandoned is a prefetch's zip fill given up because the zip is larger
// than prefetchZipMax and no client has asked for it.
var errAbandoned = errors.New("prefetch of a large zip no client asked for: left for the client")

// abandon gives up s, the fill of the zip at key, if only prefetches have
// asked for it (its clients count), and reports whether it did: a client
// that asks from then on starts a fill of its own.
func (m *Mirror) abandon(key string, s *zipStream) bool {
	m.zipsMu.Lock()
	defer m.zipsMu.Unlock()
	if s.clients > 0 || m.zips[key] != s {
		return false
	}
	delete(m.zips, key)
	return true
}

// runZipFill is the fill behind s.
func (m *Mirror) runZipFill(ctx context.Context, s *zipStream, key, path, version string) (from upstream.Answer, err error) {
	stored := func(ctx context.Context) bool {
		_, err := m.opts.Storage.Stat(ctx, key)
		return err == nil
	}
	if stored(ctx) {
		return from, nil // filled by a fill that finished just before ours began
	}
	err = m.coordinated(ctx, key, stored, func(ctx context.Context, lease Lease) error {
		st := s
		if st.hasFile() {
			// Filled once already, then the lock was lost and taken
			// back: fill again, for storage, followed by nobody.
			st = newZipStream()
			defer st.end(upstream.Answer{}, nil)
		}
		var err error
		from, err = m.fillZip(ctx, lease, key, path, version, st)
		return err
	})
	return from, err
}

// fillZip fetches, checks and stores the zip at key, and lets the callers
// that follow s read it as it arrives (see zipStream); under a fill lock
// (lease not nil) it stores it only while it still holds the lock. It
// returns which upstream answered, also with an error after the download.
// The caller ends s.
func (m *Mirror) fillZip(ctx context.Context, lease Lease, key, path, version string, s *zipStream) (answered upstream.Answer, err error) {
	hz, isHeld := m.takeHeld(key, s)
	if isHeld {
		return answered, errHeld // a prefetch of a zip held already
	}
	if hz != nil {
		f, err := hz.open()
		if err == nil {
			return m.commitHeld(ctx, lease, hz, f, s)
		}
		// Gone (a shared temporary directory removed) or changed since
		// it was held: fetch it again, as any miss.
		m.opts.Logger.Warn("held zip gone or changed; fetching it again", "key", key, "err", err)
		hz.remove()
	}
	start := time.Now()
	m.lookupAhead(ctx, key, path, version)
	tmp, err := os.CreateTemp(m.opts.TempDir, "gomirror-zip-*")
	if errors.Is(err, fs.ErrNotExist) {
		// A shared store's temporary directory of an idle process may
		// be removed by another host (see storage/fs): make it again.
		if err = os.MkdirAll(m.opts.TempDir, 0o755); err == nil {
			tmp, err = os.CreateTemp(m.opts.TempDir, "gomirror-zip-*")
		}
	}
	if err != nil {
		return answered, err
	}
	held := false // the file is held (heldZips): not to be removed
	defer func() {
		if !held {
			os.Remove(tmp.Name())
		}
	}()
	s.setFile(tmp) // s closes it once neither the fill nor a reader uses it

	// streamed hashes the zip as it arrives (one hasher per attempt),
	// behind the download (hashFeed), so that most of its h1: is ready
	// when the download ends; its result is used only if it agrees with
	// the zip's central directory (checkZip). What it has read as local
	// entries is released to s's readers.
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
		body, size, a, err := m.opts.Upstream.Zip(ctx, path, version)
		if err != nil {
			return a, err
		}
		defer body.Close()
		if size > modzip.MaxZipFile {
			return a, upstreamErr("zip", path, version, fmt.Errorf("zip is %d bytes, more than the %d allowed", size, int64(modzip.MaxZipFile)))
		}
		size, err = s.announce(size, a)
		if err != nil {
			return a, upstreamErr("zip", path, version, err)
		}
		if size > prefetchZipMax && m.abandon(key, s) {
			return a, errAbandoned
		}
		feed := startHashFeed(tmp, streamed, s)
		w := &attemptWriter{f: tmp, shown: s.shown(), feed: feed}
		if size < 0 {
			// No size said: give it up past prefetchZipMax in the same way.
			w.limit, w.over = prefetchZipMax, func() bool { return m.abandon(key, s) }
		}
		n, err := io.Copy(w, io.LimitReader(body, modzip.MaxZipFile+1))
		// The hash goes no further than it got during the download: what
		// is left is hashed in parallel from the complete file (checkZip).
		feed.stop()
		switch {
		case w.abandoned:
			return a, errAbandoned
		case w.diskErr != nil: // our disk, not the upstream
			return a, fmt.Errorf("storing zip %s@%s: %w", path, version, w.diskErr)
		case w.mismatch != nil:
			return a, upstreamErr("zip", path, version, w.mismatch)
		case err != nil:
			return a, upstreamErr("zip", path, version, &transferError{fmt.Errorf("reading zip: %w", err)})
		case n > modzip.MaxZipFile:
			return a, upstreamErr("zip", path, version, fmt.Errorf("zip larger than the %d bytes allowed", int64(modzip.MaxZipFile)))
		case size >= 0 && n != size:
			return a, upstreamErr("zip", path, version, &transferError{fmt.Errorf("truncated zip: got %d of %d bytes", n, size)})
		case n < w.shown:
			return a, upstreamErr("zip", path, version, fmt.Errorf("asked again, the upstream sent %d bytes, fewer than the %d already passed on", n, w.shown))
		}
		// An earlier attempt that broke off may have written more.
		if err := tmp.Truncate(n); err != nil {
			return a, fmt.Errorf("storing zip %s@%s: %w", path, version, err)
		}
		downloaded = n
		return a, nil
	}
	// A zip that breaks off in transit (reset, truncation) is asked for
	// again, a bounded number of times: unlike a small answer, it is not
	// retried below the cache (an upstream group retries only until a body
	// starts), and a client's go command does not retry at all. The bytes
	// already passed on to readers must come again unchanged.
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
	downloadedAt := time.Now()
	streamed.Close()
	hashedWhileDownloading := streamed.Streamed()
	h1, err := m.checkZip(ctx, path, version, tmp, downloaded, streamed)
	streamed = nil // its records are not needed while the zip is stored
	if err != nil {
		return answered, err
	}
	hashedAt := time.Now()
	if err := m.verify(path, version, "zip", func(v Verifier) error { return v.CheckZip(ctx, path, version, h1) }); err != nil {
		return answered, err
	}
	verifiedAt := time.Now()
	if lostLease(ctx, lease) {
		// The replica that took the lock over stores it; the readers of
		// this fill get the rest of a zip that is verified.
		s.verify(downloaded)
		return answered, errLostLease
	}
	if held = m.hold(ctx, key, s, tmp, &heldZip{key: key, name: tmp.Name(), h1: h1, size: downloaded, from: answered}); held {
		m.opts.Logger.Info("zip held", "module", path, "version", version, "bytes", downloaded,
			"download", downloadedAt.Sub(start), "check_after_download", hashedAt.Sub(downloadedAt), "verify", verifiedAt.Sub(hashedAt))
		return answered, errHeld
	}
	if m.held.isClosed() && m.abandon(key, s) {
		// Closed (a shutdown that stopped waiting for the fills), and
		// no client wants it: neither held nor stored.
		return answered, errClosedPrefetch
	}
	if err := m.storeZip(ctx, key, h1, tmp); err != nil {
		return answered, err
	}
	// Verified and stored: the readers get the rest. (Not sooner: a client
	// that has all of a zip may count on the mirror having kept it, also
	// across a crash right after.)
	s.verify(downloaded)
	// Where a cold zip's time goes, after its last byte: the part of the
	// hash the download did not cover, the checksum database, the store.
	m.opts.Logger.Info("zip filled", "module", path, "version", version, "bytes", downloaded,
		"download", downloadedAt.Sub(start), "files_hashed_while_downloading", hashedWhileDownloading,
		"check_after_download", hashedAt.Sub(downloadedAt), "verify", verifiedAt.Sub(hashedAt), "store", time.Since(verifiedAt))
	return answered, nil
}

// takeHeld returns the zip held for key (heldZips) for the fill s, if a
// client has joined s: the zip is the caller's then. A fill that only
// prefetches has asked for leaves a held zip held, and reports isHeld: it
// is then removed from Mirror.zips in the same step (as in hold), so that
// a client that asks from then on starts a fill that takes it.
func (m *Mirror) takeHeld(key string, s *zipStream) (hz *heldZip, isHeld bool) {
	m.zipsMu.Lock()
	defer m.zipsMu.Unlock()
	if s.clients > 0 {
		return m.held.take(key), false
	}
	if m.zips[key] == s && m.held.has(key) {
		delete(m.zips, key)
		return nil, true
	}
	return nil, false
}

// errClosedPrefetch ends a prefetch's zip fill that no client joined and
// that ended after Mirror.Close: its zip is dropped.
var errClosedPrefetch = errors.New("prefetched zip dropped: the mirror is closed")

// errHeld ends a prefetch's zip fill whose verified zip is held
// (heldZips) rather than stored, no client having asked for it.
var errHeld = errors.New("prefetched zip held until a client asks for it")

// hold holds z, the verified zip of the fill s in the temporary file tmp,
// instead of storing it, and reports whether it did: only if no client has
// joined s (only prefetches have asked for the zip) and there is room.
// The fill is then removed from Mirror.zips in the same step, so that a
// client that asks from then on finds the held zip (commitHeld) and never
// a fill that will not store.
func (m *Mirror) hold(ctx context.Context, key string, s *zipStream, tmp *os.File, z *heldZip) bool {
	m.zipsMu.Lock()
	only := s.clients == 0 && m.zips[key] == s
	m.zipsMu.Unlock()
	if !only {
		return false
	}
	// What the store on a client's request would write is written now,
	// in the background: the zip with its final mode and synced, its hash
	// side-file beside it, so that storage/fs adopts both as they are
	// (storage.SyncedAdopter) and the client waits for two renames. A
	// store that cannot adopt files (S3) gets the hash side-file now (a
	// hash without its zip is harmless: see doc.go), so that the client
	// waits for one upload, the zip's.
	_, adopter := storage.As[storage.FileAdopter](m.opts.Storage)
	if adopter {
		if err := tmp.Chmod(0o644); err != nil {
			return false
		}
	}
	if err := tmp.Sync(); err != nil {
		return false
	}
	// What the file is now: a file that changes while held is not
	// taken (heldZip.open).
	fi, err := tmp.Stat()
	if err != nil {
		return false
	}
	z.file = fi
	if adopter {
		name, err := writeTemp(m.opts.TempDir, "gomirror-ziphash-*", []byte(z.h1+"\n"))
		if err != nil {
			return false
		}
		z.hashName = name
	} else {
		if err := m.putHash(ctx, key, z.h1); err != nil {
			return false
		}
		z.hashStored = true
	}
	m.zipsMu.Lock()
	defer m.zipsMu.Unlock()
	if s.clients > 0 || m.zips[key] != s || !m.held.add(z) {
		if z.hashName != "" {
			os.Remove(z.hashName)
		}
		return false
	}
	delete(m.zips, key)
	return true
}

// writeTemp writes b into a new temporary file in dir, of mode 0644 and
// synced, and returns its name.
func writeTemp(dir, pattern string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// commitHeld stores hz, a zip that a prefetch held (heldZips), whose
// temporary file f is, for the client whose request started the fill s,
// and lets the callers that follow s read it: all of it but its last byte
// at once, that byte once it is stored. It was checked and verified
// against the checksum database when it was fetched; nothing is fetched
// now.
func (m *Mirror) commitHeld(ctx context.Context, lease Lease, hz *heldZip, f *os.File, s *zipStream) (upstream.Answer, error) {
	defer hz.remove() // adopted (renamed) by the store, or copied
	s.prefetched.Store(true)
	s.setFile(f)
	if _, err := s.announce(hz.size, hz.from); err != nil {
		return hz.from, err
	}
	s.release(hz.size, hz.size) // all but the last byte (release keeps it)
	if lostLease(ctx, lease) {
		s.verify(hz.size) // verified: the replica that took over stores it
		return hz.from, errLostLease
	}
	start := time.Now()
	var err error
	if a, ok := storage.As[storage.FileAdopter](m.opts.Storage); ok && hz.hashName != "" {
		adopt := a.AdoptFile
		if sa, ok := storage.As[storage.SyncedAdopter](m.opts.Storage); ok {
			adopt = sa.AdoptSynced // hold synced both and set their mode
		}
		hashKey, _ := layout.HashKey(hz.key)
		// The hash before the zip, as storeZip writes them.
		if err = adopt(ctx, hashKey, hz.hashName); err == nil {
			if err = adopt(ctx, hz.key, hz.name); err == nil {
				m.stored(hz.key, hz.size)
			}
		}
	} else if hz.hashStored {
		err = m.putZip(ctx, hz.key, f) // its hash was stored when it was held
	} else {
		err = m.storeZip(ctx, hz.key, hz.h1, f)
	}
	if err != nil {
		return hz.from, err
	}
	s.verify(hz.size)
	m.opts.Logger.Info("zip stored from prefetch", "key", hz.key, "bytes", hz.size, "held", start.Sub(hz.at), "store", time.Since(start))
	return hz.from, nil
}

// storeZip stores the verified zip in tmp, whose h1: hash is h1, at key.
// The hash lands before the zip becomes visible, so that a stored zip
// always has its recorded hash. A crash in between leaves a hash without a
// zip, which is harmless: the next fill writes it again.
func (m *Mirror) storeZip(ctx context.Context, key, h1 string, tmp *os.File) error {
	if err := m.putHash(ctx, key, h1); err != nil {
		return err
	}
	return m.putZip(ctx, key, tmp)
}

// putZip stores the verified zip in tmp at key, its hash stored already.
func (m *Mirror) putZip(ctx context.Context, key string, tmp *os.File) error {
	fi, err := tmp.Stat()
	if err != nil {
		return err
	}
	if a, ok := storage.As[storage.FileAdopter](m.opts.Storage); ok {
		// tmp stays open for the readers: the stored file is the same one.
		err = a.AdoptFile(ctx, key, tmp.Name())
	} else if _, err = tmp.Seek(0, io.SeekStart); err == nil {
		err = m.opts.Storage.Put(ctx, key, tmp)
	}
	if err == nil {
		m.stored(key, fi.Size())
	}
	return err
}

// attemptWriter writes one download attempt of a zip into the temporary
// file f, from its start, and tells feed how far it got. The first shown
// bytes may already have gone to readers (an earlier attempt broke off):
// they are compared, not written, and a difference fails the attempt
// (mismatch).
type attemptWriter struct {
	f        *os.File
	off      int64
	shown    int64
	feed     *hashFeed
	buf      []byte // for the comparison
	diskErr  error
	mismatch error
	// Past limit bytes (if over is set), over is asked once whether to
	// give the download up (Mirror.abandon), and abandoned records that
	// it did.
	limit     int64
	over      func() bool
	abandoned bool
}

func (w *attemptWriter) Write(p []byte) (int, error) {
	if w.over != nil && w.off+int64(len(p)) > w.limit {
		over := w.over
		w.over = nil
		if over() {
			w.abandoned = true
			return 0, errAbandoned
		}
	}
	k := 0
	if w.off < w.shown {
		k = int(min(int64(len(p)), w.shown-w.off))
		if cap(w.buf) < k {
			w.buf = make([]byte, k)
		}
		b := w.buf[:k]
		if _, err := w.f.ReadAt(b, w.off); err != nil {
			w.diskErr = err
			return 0, err
		}
		if !bytes.Equal(b, p[:k]) {
			w.mismatch = fmt.Errorf("asked again, the upstream sent other bytes than the ones already passed on (near offset %d)", w.off)
			return 0, w.mismatch
		}
	}
	if k < len(p) {
		if _, err := w.f.WriteAt(p[k:], w.off+int64(k)); err != nil {
			w.diskErr = err
			return 0, err
		}
	}
	w.off += int64(len(p))
	w.feed.wrote(w.off)
	return len(p), nil
}

// hashFeed feeds a zipstream.Hasher the bytes of the temporary file f as
// a download attempt writes them, in its own goroutine, and releases to s
// what the hasher has read as local entries. So the download goes at the
// upstream's speed however fast the hash is: a hash slower than the
// upstream (one core inflating a large zip from a fast upstream) falls
// behind, and stop leaves the rest to Hasher.Finish, which hashes it on
// every core once the central directory is there. It reads in batches of
// feedBatch bytes, so that a download that the hash keeps up with wakes
// it once per batch, not per read.
type hashFeed struct {
	f    *os.File
	h    *zipstream.Hasher
	s    *zipStream
	wake chan struct{} // one pending wake-up
	done chan struct{} // closed when the goroutine has returned

	mu       sync.Mutex
	written  int64 // bytes of f written by the attempt
	signaled int64 // written at the last wake-up
	stopped  bool
}

// feedBatch is how many bytes a hashFeed waits for before it reads.
const feedBatch = 256 << 10

func startHashFeed(f *os.File, h *zipstream.Hasher, s *zipStream) *hashFeed {
	feed := &hashFeed{f: f, h: h, s: s, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go feed.run()
	return feed
}

// wrote records that the first n bytes of f are written.
func (feed *hashFeed) wrote(n int64) {
	feed.mu.Lock()
	feed.written = n
	signal := n-feed.signaled >= feedBatch
	if signal {
		feed.signaled = n
	}
	feed.mu.Unlock()
	if signal {
		feed.poke()
	}
}

func (feed *hashFeed) poke() {
	select {
	case feed.wake <- struct{}{}:
	default:
	}
}

// stop makes the goroutine return, after the batch it is hashing, and
// waits for it. The hasher has then read a prefix of what was written.
func (feed *hashFeed) stop() {
	feed.mu.Lock()
	feed.stopped = true
	feed.mu.Unlock()
	feed.poke()
	<-feed.done
}

func (feed *hashFeed) run() {
	defer close(feed.done)
	var buf []byte // allocated for a zip of a batch or more (most are smaller)
	var off int64
	end := int64(-1) // where the first end record signature begins, once seen
	var tail []byte  // the last bytes fed, for a signature across batches
	for {
		feed.mu.Lock()
		written, stopped := feed.written, feed.stopped
		feed.mu.Unlock()
		if stopped {
			return
		}
		if written-off < feedBatch {
			<-feed.wake
			continue
		}
		if buf == nil {
			buf = make([]byte, feedBatch)
		}
		n, err := feed.f.ReadAt(buf[:min(int64(len(buf)), written-off)], off)
		if err != nil && n == 0 {
			return // the hash stops here; Finish does the rest
		}
		if end < 0 {
			end = endRecordAt(tail, buf[:n], off)
			tail = append(tail[:0], buf[max(0, n-len(endRecordSig)+1):n]...)
		}
		feed.h.Write(buf[:n])
		off += int64(n)
		released := feed.h.Released()
		if end >= 0 {
			released = min(released, end)
		}
		feed.s.release(released, off)
	}
}

// endRecordSig begins a zip's end of central directory record, without
// which archive/zip (and with it the go command) cannot open a zip.
var endRecordSig = []byte("PK\x05\x06")

// endRecordAt returns the offset in the zip of the first end record
// signature in tail+b, where b begins at offset off and tail holds the
// bytes just before it, or -1. The release of a zip before verification
// stops there, wherever the hasher has got: a hostile zip may hide a
// central directory and end record in an entry's data, so that a prefix
// the hasher read as local entries opens as a zip. (In a real zip the
// first one is the real end record, after the central directory where the
// hasher stops anyway, or, rarely, four bytes of compressed data that
// happen to match, which only holds the rest back until verification.)
func endRecordAt(tail, b []byte, off int64) int64 {
	// One that begins in tail (shorter than a signature) comes first.
	edge := append(slices.Clip(tail), b[:min(len(b), len(endRecordSig)-1)]...)
	if i := bytes.Index(edge, endRecordSig); i >= 0 {
		return off - int64(len(tail)) + int64(i)
	}
	if i := bytes.Index(b, endRecordSig); i >= 0 {
		return off + int64(i)
	}
	return -1
}

// checkZip checks that the zip in file, size bytes, is a valid module zip
// for path@version and returns its h1: hash: the one streamed computed
// from the files it read while the zip arrived, if they agree with the
// zip's central directory, and from the others read out of the file on
// every core (zipstream.Hasher.Finish); else (a hostile zip whose local
// headers tell another story) the hash of the whole file.
func (m *Mirror) checkZip(ctx context.Context, path, version string, file *os.File, size int64, streamed *zipstream.Hasher) (string, error) {
	if _, err := modzip.CheckZip(module.Version{Path: path, Version: version}, file.Name()); err != nil {
		return "", upstreamErr("zip", path, version, fmt.Errorf("invalid module zip: %w", err))
	}
	h1, err := streamed.Finish(ctx, file, size, runtime.GOMAXPROCS(0), m.hasher.slots)
	if err == nil {
		m.opts.Logger.Debug("zip hashed", "module", path, "version", version, "files_while_downloading", streamed.Streamed())
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
