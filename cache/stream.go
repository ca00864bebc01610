package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/upstream"
)

// zipStream is one fill of a zip, shared by every caller that asks for the
// zip while it runs, and followed by them as it arrives (cut-through): a
// caller gets a reader of the temporary file the fill writes, which reads
// only what the fill has released (see release) and waits for more.
//
// What is released before the zip is verified is never all of it: the
// fill releases only bytes that its streaming hasher has read as local
// entries (zipstream.Hasher.Released), never the central directory and
// end record that come after them, nothing from the first end record
// signature on (which a hostile zip may hide in an entry's data), nor,
// when the upstream said how long the zip is, its last byte. The rest is
// released once the zip has passed every check (module zip rules, h1:
// hash against the checksum database) and is stored: a client that has
// all of a zip finds it kept, also after a crash.
// If a check fails, every reader's next Read returns the fill's error, and
// the edge aborts the response: a client sees a broken transfer, never a
// complete zip that was not verified.
//
// Memory does not grow with the readers: they read the one temporary
// file with ReadAt into their own buffers. The file stays open while any
// reader or the fill uses it (refs); a stored zip's temporary file is the
// stored file itself (storage.FileAdopter renames it), and otherwise it
// is removed once the fill has stored it, which an open descriptor
// survives.
type zipStream struct {
	// clients counts the callers of zipFill that joined the fill and are
	// not prefetches; guarded by Mirror.zipsMu (see Mirror.abandon).
	clients int
	// prefetched: the fill stores a zip a prefetch held (commitHeld),
	// set before the fill gives the stream its file.
	prefetched atomic.Bool

	mu       sync.Mutex
	changed  chan struct{}   // closed, and replaced, whenever anything below changes
	file     *os.File        // the temporary file; nil until the fill creates it
	size     int64           // the zip's size as the upstream announced it; -1 if it did not
	from     upstream.Answer // the upstream that answered
	released int64           // bytes of file that readers may read
	hashed   int64           // bytes of file the hash has read (see release)
	verified bool            // all of the zip is released
	ended    bool            // the fill has returned, with err
	err      error
	refs     int // callers that joined and readers, plus the fill until it ends
}

func newZipStream() *zipStream {
	return &zipStream{changed: make(chan struct{}), size: -1, refs: 1}
}

// notify wakes everyone who waits for a change. Called with s.mu held.
func (s *zipStream) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// setFile makes f, the temporary file the fill writes, the file readers
// read. The stream closes it when the fill has ended and no reader needs
// it.
func (s *zipStream) setFile(f *os.File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file = f
}

// hasFile reports whether a fill has given s its file (setFile), or has
// ended: either way s cannot be given to another fill.
func (s *zipStream) hasFile() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file != nil || s.ended
}

// announce records the zip's size as upstream a announced it (-1: it did
// not) before sending it, and returns the size the attempt must deliver.
// Once bytes have been released with a size (readers were told it, as
// their Content-Length), that size stands: an attempt that announces
// another fails, and one that announces none must deliver it.
func (s *zipStream) announce(size int64, a upstream.Answer) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.from = a
	if s.released > 0 && s.size >= 0 {
		if size >= 0 && size != s.size {
			return 0, fmt.Errorf("asked again, the upstream announced %d bytes, not the %d announced before", size, s.size)
		}
		return s.size, nil
	}
	s.size = size
	return size, nil
}

// release lets readers read the first n bytes of the file, as long as the
// zip is not verified: never its last byte when its size is known.
// Releasing less than before changes nothing. hashed is how many bytes of
// the file the hash has read so far (for tests and logs: it may be past
// what is released).
func (s *zipStream) release(n, hashed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hashed = hashed
	if s.size >= 0 {
		n = min(n, s.size-1)
	}
	if !s.verified && n > s.released {
		s.released = n
	}
	s.notify()
}

// shown returns how many bytes readers may have read, and so must never
// change in the file.
func (s *zipStream) shown() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.released
}

// verify releases all of the zip, size bytes, which has passed every check
// (and is stored, see zipStream).
func (s *zipStream) verify(size int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released, s.size, s.verified = size, size, true
	s.notify()
}

// end records that the fill returned err, with the upstream that answered
// (if any), and drops the fill's hold on the
// file. A zip verified before the fill failed (storing it, say) can still
// be read to its end by its readers; err goes only to callers that wait
// for the whole fill (complete).
func (s *zipStream) end(from upstream.Answer, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended, s.err = true, err
	if from.Upstream != "" {
		s.from = from
	}
	s.notify()
	s.unref()
}

// unref drops one hold on the file. Called with s.mu held.
func (s *zipStream) unref() {
	if s.refs--; s.refs == 0 && s.file != nil {
		s.file.Close()
		s.file = nil
	}
}

// join adds a hold on the file for a caller that will follow s: taken
// when the caller finds or starts the fill (zipFill), so that the file is
// still open when the caller gets to read it, however fast the fill ends.
func (s *zipStream) join() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs++
	s.notify()
}

// streamAfter is how many bytes of a zip a fill must have released before
// its callers follow it while it arrives. A smaller zip (most module zips)
// is answered once its fill has ended, as if there were no streaming, so a
// zip that fails its checks is answered with a status and a message the go
// command prints, not a broken transfer; following it would save at most
// the time its last megabyte takes to arrive.
const streamAfter = 1 << 20

// follow, for a caller that joined s, waits until the fill has released
// streamAfter bytes of the zip, or has ended. In the first case it returns
// an object that reads the zip as the fill releases it, with the upstream
// that answered; in the second, no object, and the fill's error: with none,
// the zip is in storage.
func (s *zipStream) follow(ctx context.Context) (*storage.Object, upstream.Answer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.released < streamAfter && !s.ended {
		if err := s.wait(ctx); err != nil {
			s.unref()
			return nil, s.from, err
		}
	}
	if s.ended {
		s.unref()
		return nil, s.from, s.err
	}
	// The caller's hold (join) passes to the reader.
	return &storage.Object{Info: storage.Info{Size: s.size}, Body: &StreamingZip{s: s, ctx: ctx}}, s.from, nil
}

// wait waits, with s.mu held, until something changes or ctx is done.
func (s *zipStream) wait(ctx context.Context) error {
	ch := s.changed
	s.mu.Unlock()
	defer s.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// complete waits for the fill to end and returns its error.
func (s *zipStream) complete(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.ended {
		if err := s.wait(ctx); err != nil {
			return err
		}
	}
	return s.err
}

// StreamingZip is the Body of the object Zip returns for a zip being
// filled: it reads the zip as the fill releases it, for one request (ctx:
// a reader whose client went away stops waiting). Complete waits for all
// of it (proxy.Following).
type StreamingZip struct {
	s      *zipStream
	ctx    context.Context
	off    int64
	closed bool
}

// Read reads the released bytes after the ones already read, waiting for
// the fill to release more. After the verified zip's last byte it returns
// io.EOF; if the fill fails before that, the fill's error.
func (r *StreamingZip) Read(p []byte) (int, error) {
	s := r.s
	s.mu.Lock()
	for {
		if r.closed {
			s.mu.Unlock()
			return 0, os.ErrClosed
		}
		if r.off < s.released {
			f, n := s.file, min(int64(len(p)), s.released-r.off)
			s.mu.Unlock()
			// f stays open: this reader holds a reference until Close,
			// which Read's caller does not call concurrently.
			n2, err := f.ReadAt(p[:n], r.off)
			r.off += int64(n2)
			if err == io.EOF && n2 > 0 {
				err = nil
			}
			return n2, err
		}
		if s.verified {
			s.mu.Unlock()
			return 0, io.EOF
		}
		if s.ended {
			err := s.err
			if err == nil {
				err = errors.New("zip fill ended before the zip was verified")
			}
			s.mu.Unlock()
			return 0, err
		}
		if err := s.wait(r.ctx); err != nil {
			s.mu.Unlock()
			return 0, err
		}
	}
}

// Close lets go of the stream. It does not stop the fill.
func (r *StreamingZip) Close() error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.s.unref()
	}
	return nil
}

// Complete waits until the fill has ended, having verified and stored the
// zip, and returns all of it as an object whose Body can seek (for ranges,
// HEAD and conditional requests, and redirects to the stored zip) and
// whose Close does nothing: r's Close still lets go of the stream. It
// fails with the fill's error.
func (r *StreamingZip) Complete(ctx context.Context) (*storage.Object, error) {
	if err := r.s.complete(ctx); err != nil {
		return nil, err
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.closed {
		return nil, os.ErrClosed
	}
	return &storage.Object{
		Info: storage.Info{Size: r.s.size},
		Body: nopCloser{io.NewSectionReader(r.s.file, 0, r.s.size)},
	}, nil
}

// nopCloser is an io.ReadSeeker with a Close that does nothing.
type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }
