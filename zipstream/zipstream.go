// Package zipstream computes the h1: hash of a module zip while its bytes
// arrive, so that a zip's hash is ready when its download ends rather than
// one pass over the whole file later.
//
// A [Hasher] is an [io.Writer] that is given the zip's bytes in order. It
// parses each local file header and the entry data that follows, inflates
// deflated entries (a deflate stream ends by itself, so an entry written
// with a data descriptor, as Go's archive/zip writer and x/mod/zip write
// every entry, can be followed), and computes each file's SHA-256, CRC-32
// and sizes. It stops at the first central directory header.
//
// Local headers alone prove nothing: the go command extracts a zip through
// its central directory. So the streamed result is only ever used through
// [Hasher.Verify], which reads the central directory of the complete zip
// and requires every one of its entries to be, in order, a streamed entry
// with the same name, data offset, method, flags, CRC-32 and sizes, or
// [Hasher.Finish], which requires that of the entries streamed before the
// input stopped and reads the files of the others out of the complete zip,
// in parallel. Then the files the go command (or dirhash.HashZip) would
// read out of the zip are exactly the bytes that were hashed, and the h1:
// hash is the one dirhash.HashZip computes. The parser stops at anything it
// does not fully understand (zip64, encryption, methods other than store
// and deflate, a stored entry with a data descriptor, directory entries,
// odd flags, oversized names or extra fields, data between entries): that
// makes Verify's result unusable (the caller then hashes the file the
// ordinary way), and leaves the entries from there on to Finish.
package zipstream

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"iter"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// Limits of what a Hasher accepts; anything beyond them makes its result
// unusable (never an error of the download). They bound the parser's memory:
// besides one record per entry (at most MaxEntries, names of at most
// MaxName bytes and MaxNames bytes in all), it holds a read buffer, one
// decompressor and one copy buffer, whatever the input: about 150 KB plus
// at most about 30 MB of records for a hostile zip (a module zip's are a
// few hundred KB).
const (
	MaxName    = 4096     // bytes of one file name
	MaxNames   = 16 << 20 // bytes of all file names together
	MaxExtra   = 4096     // bytes of one local header's extra field
	MaxEntries = 1 << 18  // entries in one zip
)

// YieldEvery is how many uncompressed bytes the parser hashes between calls
// to runtime.Gosched, so that a zip arriving at loopback speed does not hold
// a processor for a whole scheduler time slice while requests wait.
const YieldEvery = 64 << 10

const (
	localSig      = 0x04034b50
	centralSig    = 0x02014b50
	descriptorSig = 0x08074b50
	localLen      = 30

	flagEncrypted  = 1 << 0
	flagDescriptor = 1 << 3
	// allowedFlags: encryption off, deflate options (bits 1, 2), data
	// descriptor (bit 3), UTF-8 names (bit 11).
	allowedFlags = 1<<1 | 1<<2 | flagDescriptor | 1<<11

	zip64ExtraID = 0x0001
)

// Hasher hashes a zip written to it; see the package documentation. Write
// never fails; it returns once the parser has consumed the bytes, and once
// the parser has given up, further bytes are dropped. Close must be called
// once the input ends (or is abandoned), then Verify. Write and Close must
// not be called concurrently.
//
// The parser pulls its input (compress/flate reads what it needs) while
// Write pushes it, so the parser runs as a coroutine (iter.Pull) of the
// goroutine that calls Write: each Write switches to the parser until it
// has consumed the bytes and back, on the caller's processor, without
// waking another thread as a goroutine behind a pipe would (which cost
// about 10 % more CPU for a zip arriving at 40 MB/s).
type Hasher struct {
	next     func() (struct{}, bool) // runs the parser until it needs input or ends
	stop     func()
	in       []byte // the bytes of the current Write the parser has not read
	closed   bool   // no more input: the parser reads io.EOF
	finished bool   // the parser has returned
	released atomic.Int64

	// Set by the parser when it returns.
	entries []entry
	err     error
	budget  int64 // uncompressed bytes the streamed entries left of the limit
}

// entry is one local entry as the stream had it.
type entry struct {
	name         string
	dataOffset   int64
	method       uint16
	flags        uint16
	crc          uint32
	csize, usize uint64
	sum          [sha256.Size]byte
}

// New returns a Hasher. maxUncompressed bounds the total size of the
// files (decompression bombs); more makes the result unusable.
func New(maxUncompressed int64) *Hasher {
	h := &Hasher{}
	h.next, h.stop = iter.Pull(func(yield func(struct{}) bool) {
		h.run(yield, maxUncompressed)
	})
	return h
}

// Write gives the next bytes of the zip to the parser and returns once
// it has consumed them. It always returns len(p), nil: the hasher never
// fails a download.
func (h *Hasher) Write(p []byte) (int, error) {
	if !h.finished && len(p) > 0 {
		h.in = p
		_, ok := h.next()
		h.finished = !ok
		h.in = nil
	}
	return len(p), nil
}

// Close ends the input and waits for the parser to finish. It may be
// called more than once.
func (h *Hasher) Close() error {
	h.closed = true
	if !h.finished {
		h.next()
		h.finished = true
	}
	h.stop()
	return nil
}

// Released is an offset in the zip before which every byte is part of a
// local entry (header, data or data descriptor) that the parser has read:
// the end of the last complete entry, or, inside an entry's data, the
// parser's position at its last yield (every YieldEvery bytes). In a
// well-formed zip it never covers the central directory (a hostile one can
// hide a central directory and end record in an entry's data, which the
// parser reads as data: whoever passes bytes on must look for those
// itself), and it stops moving when the parser gives up. It is where a cut-through can stop sending before the zip is
// verified: the go command opens a zip only through its central directory,
// which comes after. Streaming zip readers (which walk local headers)
// could still extract the entries before it, so whoever passes bytes on
// early must make a failed verification visible as a broken transfer. It
// may be called at any time, from any goroutine.
func (h *Hasher) Released() int64 { return h.released.Load() }

// Verify returns the h1: hash of the zip, as dirhash.HashZip would compute
// it, once the complete zip, r of size bytes, has been checked against the
// streamed entries: same entries in the same order, each with the same
// name, data offset, method, flags, CRC-32 and sizes, and no duplicate
// names. It ends the input (Close) first. Any error means the streamed
// result must not be used (the zip may still be valid: hash it the
// ordinary way).
func (h *Hasher) Verify(r io.ReaderAt, size int64) (string, error) {
	return h.finish(context.Background(), r, size, 0, nil)
}

// Finish is Verify for a stream that may have stopped early: the input
// ended (Close) before the central directory, or the parser gave up on an
// entry it does not fully understand. The entries the parser read
// completely must be, in order, the first records of the central directory
// (checked as Verify checks them); the files of the records after them
// are read out of the complete zip, r of size bytes, as dirhash.HashZip
// reads them (archive/zip, which checks their CRC-32 and sizes), by up to
// workers goroutines at once, each holding a unit of slots while it hashes
// a file (if slots is not nil: a bound shared with other hashing), until
// ctx is done. So the hash is ready sooner than Verify's fallback when the
// download outran the parser, and each file is inflated once (but the one
// the parser was in when the input stopped). An error means no hash: hash
// the file the ordinary way.
func (h *Hasher) Finish(ctx context.Context, r io.ReaderAt, size int64, workers int, slots *semaphore.Weighted) (string, error) {
	return h.finish(ctx, r, size, max(workers, 1), slots)
}

// Streamed returns how many entries the parser read completely, once the
// input has ended (Close): Finish takes those from the stream and hashes
// the rest from the complete zip.
func (h *Hasher) Streamed() int { return len(h.entries) }

// finish is Verify (workers 0: every entry must have been streamed) and
// Finish.
func (h *Hasher) finish(ctx context.Context, r io.ReaderAt, size int64, workers int, slots *semaphore.Weighted) (string, error) {
	h.Close()
	if h.err != nil && workers == 0 {
		return "", fmt.Errorf("zipstream: %w", h.err)
	}
	z, err := zip.NewReader(r, size)
	if err != nil {
		return "", fmt.Errorf("zipstream: central directory: %w", err)
	}
	streamed := len(h.entries)
	if workers == 0 && len(z.File) != streamed || len(z.File) < streamed {
		return "", fmt.Errorf("zipstream: central directory has %d entries, the stream %d", len(z.File), streamed)
	}
	seen := make(map[string]bool, len(z.File))
	for i, f := range z.File {
		if seen[f.Name] {
			return "", fmt.Errorf("zipstream: duplicate name %q", f.Name)
		}
		seen[f.Name] = true
		if i >= streamed {
			continue
		}
		e := &h.entries[i]
		if f.Name != e.name {
			return "", fmt.Errorf("zipstream: entry %d: central directory names %q, local header %q", i, f.Name, e.name)
		}
		if f.Method != e.method || f.Flags != e.flags || f.CRC32 != e.crc ||
			f.CompressedSize64 != e.csize || f.UncompressedSize64 != e.usize {
			return "", fmt.Errorf("zipstream: entry %q: central directory (method %d, flags %#x, crc %08x, sizes %d/%d) differs from the stream (method %d, flags %#x, crc %08x, sizes %d/%d)",
				f.Name, f.Method, f.Flags, f.CRC32, f.CompressedSize64, f.UncompressedSize64,
				e.method, e.flags, e.crc, e.csize, e.usize)
		}
		off, err := f.DataOffset()
		if err != nil {
			return "", fmt.Errorf("zipstream: entry %q: %w", f.Name, err)
		}
		if off != e.dataOffset {
			return "", fmt.Errorf("zipstream: entry %q: central directory's data at offset %d, the stream's at %d", f.Name, off, e.dataOffset)
		}
	}
	rest := z.File[streamed:]
	budget := h.budget
	for _, f := range rest {
		if f.UncompressedSize64 > uint64(budget) {
			return "", errors.New("zipstream: files larger than the limit in all")
		}
		budget -= int64(f.UncompressedSize64)
	}
	entries := slices.Grow(h.entries[:streamed:streamed], len(rest))
	for _, f := range rest {
		entries = append(entries, entry{name: f.Name})
	}
	// workers goroutines take the files in turn, each with its own copy
	// buffer (a module zip can hold thousands of small files).
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range min(workers, len(rest)) {
		g.Go(func() error {
			buf := make([]byte, 32<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rest) {
					return nil
				}
				if err := hashFileIn(gctx, rest[i], &entries[streamed+i].sum, buf, slots); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	return sum(entries), nil
}

// hashFileIn is hashFile holding a unit of slots (if not nil) meanwhile.
func hashFileIn(ctx context.Context, f *zip.File, sum *[sha256.Size]byte, buf []byte, slots *semaphore.Weighted) error {
	if slots != nil {
		if err := slots.Acquire(ctx, 1); err != nil {
			return err
		}
		defer slots.Release(1)
	}
	return hashFile(ctx, f, sum, buf)
}

// hashFile puts the SHA-256 of f's content, as archive/zip reads it
// through buf, in sum, yielding the processor every YieldEvery bytes and
// stopping there once ctx is done.
func hashFile(ctx context.Context, f *zip.File, sum *[sha256.Size]byte, buf []byte) error {
	if strings.Contains(f.Name, "\n") {
		return fmt.Errorf("zipstream: name %q", f.Name) // dirhash.Hash1 refuses it
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("zipstream: %s: %w", f.Name, err)
	}
	defer rc.Close()
	w := &sink{sha: sha256.New(), budget: int64(f.UncompressedSize64), ctx: ctx} // archive/zip checks the CRC-32
	if _, err := io.CopyBuffer(w, rc, buf); err != nil {
		return fmt.Errorf("zipstream: %s: %w", f.Name, err)
	}
	w.sha.Sum(sum[:0])
	return nil
}

// sum is dirhash.Hash1's final step over entries: the SHA-256 of the
// lines "<hex sha256>  <name>\n" sorted by name, base64, "h1:". (Hash1
// itself takes the files' contents, which are gone by now.)
func sum(entries []entry) string {
	sorted := make([]*entry, len(entries))
	for i := range entries {
		sorted[i] = &entries[i]
	}
	slices.SortFunc(sorted, func(a, b *entry) int { return strings.Compare(a.name, b.name) })
	s := sha256.New()
	for _, e := range sorted {
		fmt.Fprintf(s, "%x  %s\n", e.sum, e.name)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(s.Sum(nil))
}

// run is the parser's coroutine: it reads the input through yield, which
// returns control to Write when the bytes of the current Write are used up.
func (h *Hasher) run(yield func(struct{}) bool, maxUncompressed int64) {
	in := readerFunc(func(p []byte) (int, error) {
		for len(h.in) == 0 {
			if h.closed || !yield(struct{}{}) {
				return 0, io.EOF
			}
		}
		n := copy(p, h.in)
		h.in = h.in[n:]
		return n, nil
	})
	c := &countingReader{r: in}
	p := &parser{
		c:      c,
		br:     bufio.NewReaderSize(c, 64<<10),
		buf:    make([]byte, 32<<10),
		budget: maxUncompressed,
		h:      h,
	}
	h.err = p.parse()
	h.entries, h.budget = p.entries, p.budget
	// The rest of the input (the central directory, or anything after a
	// failure) is not needed: returning makes later writes return at once.
}

// readerFunc is an io.Reader made of a function.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type parser struct {
	c       *countingReader
	br      *bufio.Reader
	buf     []byte
	fr      io.ReadCloser // reused decompressor
	budget  int64         // uncompressed bytes still allowed
	names   int           // bytes of the names of entries so far
	entries []entry
	h       *Hasher
}

// pos is the offset in the zip of the next byte the parser will read.
func (p *parser) pos() int64 { return p.c.n - int64(p.br.Buffered()) }

func (p *parser) parse() error {
	for {
		sig, err := p.br.Peek(4)
		if err != nil {
			return fmt.Errorf("at offset %d: %w", p.pos(), noEOF(err))
		}
		switch binary.LittleEndian.Uint32(sig) {
		case localSig:
			if len(p.entries) == MaxEntries {
				return fmt.Errorf("more than %d entries", MaxEntries)
			}
			if err := p.entry(); err != nil {
				return err
			}
			p.h.released.Store(p.pos())
		case centralSig:
			if len(p.entries) == 0 {
				return errors.New("no entries")
			}
			return nil
		default:
			return fmt.Errorf("at offset %d: neither a local file header nor the central directory", p.pos())
		}
	}
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: the stream never ends
// where the parser stops reading it.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (p *parser) entry() error {
	start := p.pos()
	var hdr [localLen]byte
	if _, err := io.ReadFull(p.br, hdr[:]); err != nil {
		return fmt.Errorf("local header at %d: %w", start, noEOF(err))
	}
	le := binary.LittleEndian
	e := entry{
		flags:  le.Uint16(hdr[6:]),
		method: le.Uint16(hdr[8:]),
		crc:    le.Uint32(hdr[14:]),
		csize:  uint64(le.Uint32(hdr[18:])),
		usize:  uint64(le.Uint32(hdr[22:])),
	}
	nameLen, extraLen := int(le.Uint16(hdr[26:])), int(le.Uint16(hdr[28:]))
	switch {
	case e.flags&flagEncrypted != 0:
		return fmt.Errorf("local header at %d: encrypted entry", start)
	case e.flags&^allowedFlags != 0:
		return fmt.Errorf("local header at %d: flags %#x", start, e.flags)
	case e.method != zip.Store && e.method != zip.Deflate:
		return fmt.Errorf("local header at %d: method %d", start, e.method)
	case e.method == zip.Store && e.flags&flagDescriptor != 0:
		return fmt.Errorf("local header at %d: stored entry with a data descriptor", start)
	case e.csize == 0xffffffff || e.usize == 0xffffffff:
		return fmt.Errorf("local header at %d: zip64 sizes", start)
	case nameLen == 0 || nameLen > MaxName:
		return fmt.Errorf("local header at %d: name of %d bytes", start, nameLen)
	case p.names+nameLen > MaxNames:
		return fmt.Errorf("local header at %d: names of more than %d bytes in all", start, MaxNames)
	case extraLen > MaxExtra:
		return fmt.Errorf("local header at %d: extra field of %d bytes", start, extraLen)
	}
	name := make([]byte, nameLen+extraLen)
	if _, err := io.ReadFull(p.br, name); err != nil {
		return fmt.Errorf("local header at %d: %w", start, noEOF(err))
	}
	if hasZip64(name[nameLen:]) {
		return fmt.Errorf("local header at %d: zip64 extra field", start)
	}
	e.name = string(name[:nameLen])
	p.names += nameLen
	if strings.Contains(e.name, "\n") || strings.HasSuffix(e.name, "/") {
		return fmt.Errorf("local header at %d: name %q", start, e.name)
	}
	e.dataOffset = p.pos()

	w := &sink{sha: sha256.New(), crc: crc32.NewIEEE(), budget: p.budget, p: p}
	if e.flags&flagDescriptor == 0 {
		w.budget = min(w.budget, int64(e.usize))
	}
	var err error
	if e.method == zip.Store {
		if e.csize != e.usize {
			return fmt.Errorf("stored entry %q: sizes %d and %d", e.name, e.csize, e.usize)
		}
		var n int64
		n, err = io.CopyBuffer(w, io.LimitReader(p.br, int64(e.csize)), p.buf)
		if err == nil && n != int64(e.csize) {
			err = io.ErrUnexpectedEOF
		}
	} else {
		if p.fr == nil {
			p.fr = flate.NewReader(p.br)
		} else if err := p.fr.(flate.Resetter).Reset(p.br, nil); err != nil {
			return err
		}
		_, err = io.CopyBuffer(w, p.fr, p.buf)
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.name, noEOF(err))
	}
	p.budget -= w.n
	csize, usize, crc := uint64(p.pos()-e.dataOffset), uint64(w.n), w.crc.Sum32()
	if e.flags&flagDescriptor != 0 {
		if err := p.descriptor(crc, csize, usize); err != nil {
			return fmt.Errorf("entry %q: data descriptor: %w", e.name, err)
		}
		// The central directory must then name these values.
		e.crc, e.csize, e.usize = crc, csize, usize
	} else if csize != e.csize || usize != e.usize || crc != e.crc {
		return fmt.Errorf("entry %q: local header says crc %08x, sizes %d/%d; data has crc %08x, sizes %d/%d",
			e.name, e.crc, e.csize, e.usize, crc, csize, usize)
	}
	copy(e.sum[:], w.sha.Sum(nil))
	p.entries = append(p.entries, e)
	return nil
}

// descriptor reads the data descriptor after an entry's data: an optional
// signature (present if the first four bytes are the signature, as
// archive/zip reads it), the CRC-32, then the sizes in 32 or 64 bits,
// whichever matches the data and is followed by the next header.
func (p *parser) descriptor(crc uint32, csize, usize uint64) error {
	b, _ := p.br.Peek(4 + 4 + 16 + 4) // shorter at the end of the input
	le := binary.LittleEndian
	if len(b) < 4 {
		return io.ErrUnexpectedEOF
	}
	sigLen := 0
	if le.Uint32(b) == descriptorSig {
		sigLen = 4
	}
	d := b[sigLen:]
	if len(d) < 4 {
		return io.ErrUnexpectedEOF
	}
	if got := le.Uint32(d); got != crc {
		return fmt.Errorf("crc %08x, data's %08x", got, crc)
	}
	nextHeader := func(at int) bool {
		if len(d) < at+4 {
			return false
		}
		s := le.Uint32(d[at:])
		return s == localSig || s == centralSig
	}
	is32 := len(d) >= 12 && uint64(le.Uint32(d[4:])) == csize && uint64(le.Uint32(d[8:])) == usize && nextHeader(12)
	is64 := len(d) >= 20 && le.Uint64(d[4:]) == csize && le.Uint64(d[12:]) == usize && nextHeader(20)
	var n int
	switch {
	case is32 && is64:
		return errors.New("ambiguous sizes")
	case is32:
		n = 12
	case is64:
		n = 20
	default:
		return errors.New("sizes differ from the data's, or no header follows")
	}
	_, err := p.br.Discard(sigLen + n)
	return err
}

// hasZip64 reports whether a local header's extra field holds a zip64
// record. A malformed extra field is ignored as archive/zip ignores the
// local one.
func hasZip64(extra []byte) bool {
	for len(extra) >= 4 {
		id, size := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		if id == zip64ExtraID {
			return true
		}
		if len(extra) < 4+size {
			return false
		}
		extra = extra[4+size:]
	}
	return false
}

// sink hashes an entry's content: SHA-256 and CRC-32 (if crc is set), counting bytes,
// failing beyond its budget, yielding the processor every YieldEvery bytes
// and releasing (Hasher.Released) the parser's position then.
type sink struct {
	p          *parser         // if not nil, its position is released at each yield
	ctx        context.Context // if not nil, writing fails at a yield once it is done
	sha        hash.Hash
	crc        hash.Hash32
	n, budget  int64
	sinceYield int
}

var errTooLarge = errors.New("uncompressed size over the limit")

func (s *sink) Write(b []byte) (int, error) {
	if int64(len(b)) > s.budget-s.n {
		return 0, errTooLarge
	}
	s.sha.Write(b)
	if s.crc != nil {
		s.crc.Write(b)
	}
	s.n += int64(len(b))
	if s.sinceYield += len(b); s.sinceYield >= YieldEvery {
		s.sinceYield = 0
		if s.p != nil {
			s.p.h.released.Store(s.p.pos())
		}
		if s.ctx != nil && s.ctx.Err() != nil {
			return 0, s.ctx.Err()
		}
		runtime.Gosched()
	}
	return len(b), nil
}
