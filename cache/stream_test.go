package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
	"github.com/gomirror/gomirror/upstream"
)

// memFile is a file of a module zip built in memory (modzip.File).
type memFile struct {
	path string
	data []byte
}

func (f memFile) Path() string                 { return f.path }
func (f memFile) Lstat() (fs.FileInfo, error)  { return memInfo{f}, nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type memInfo struct{ f memFile }

func (i memInfo) Name() string       { return i.f.path }
func (i memInfo) Size() int64        { return int64(len(i.f.data)) }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// bigZip returns a module zip of fakePath@v1.0.0, built by x/mod/zip, with
// 4 MiB of incompressible data in one file, its h1: hash, and where its
// central directory starts.
func bigZip(t *testing.T) (z []byte, h1 string, cdStart int64) {
	t.Helper()
	data := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{7}).Read(data)
	files := []modzip.File{
		memFile{"go.mod", []byte("module " + fakePath + "\n")},
		memFile{"data.bin", data},
	}
	var b bytes.Buffer
	if err := modzip.Create(&b, module.Version{Path: fakePath, Version: "v1.0.0"}, files); err != nil {
		t.Fatal(err)
	}
	z = b.Bytes()
	h1, err := testutil.HashZip(z)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(z, []byte("PK\x05\x06"))
	return z, h1, int64(binary.LittleEndian.Uint32(z[i+16:]))
}

// pipedZip is an upstream whose zip body the test writes, with its size
// announced.
type pipedZip struct {
	*fakeUpstream
	body *io.PipeReader
	size int64
}

func (p *pipedZip) Zip(context.Context, string, string) (io.ReadCloser, int64, upstream.Answer, error) {
	return p.body, p.size, upstream.Answer{Upstream: "piped"}, nil
}

// gatedVerifier is a hashRecorder whose zip check waits for release after
// signalling arrived.
type gatedVerifier struct {
	hashRecorder
	arrived chan struct{}
	release chan struct{}
}

func (v *gatedVerifier) CheckZip(ctx context.Context, path, version, h1 string) error {
	close(v.arrived)
	<-v.release
	return v.hashRecorder.CheckZip(ctx, path, version, h1)
}

type readResult struct {
	b   []byte
	err error
}

// TestZipIsFollowedAsItArrives: a client gets a cold zip's bytes while the
// upstream is still sending it; the central directory and end record
// (and with them a zip anyone could open) come only after the zip has
// been verified; the client then gets exactly the upstream's zip, which is
// stored.
func TestZipIsFollowedAsItArrives(t *testing.T) {
	z, h1, cdStart := bigZip(t)
	pr, pw := io.Pipe()
	f := &pipedZip{fakeUpstream: newFakeUpstream(fakeVersion(t, "v1.0.0")), body: pr, size: int64(len(z))}
	v := &gatedVerifier{hashRecorder: hashRecorder{want: h1}, arrived: make(chan struct{}), release: make(chan struct{})}
	m, store := newFakeMirror(t, f, Options{Verifier: v})
	ctx := t.Context()

	half := len(z) / 2
	go pw.Write(z[:half]) // returns once the fill has taken it
	type zipAnswer struct {
		obj *storage.Object
		src Source
		err error
	}
	za := testutil.Within(t, "Zip", func() zipAnswer {
		obj, src, err := m.Zip(ctx, escaped(fakePath, "v1.0.0"))
		return zipAnswer{obj, src, err}
	})
	if za.err != nil {
		t.Fatal(za.err)
	}
	obj := za.obj
	if want := (Source{Outcome: Miss, Upstream: "piped"}); za.src != want {
		t.Errorf("Source = %+v, want %+v", za.src, want)
	}
	defer obj.Body.Close()
	if obj.Size != int64(len(z)) {
		t.Errorf("Size = %d, want the announced %d", obj.Size, len(z))
	}
	// A quarter of the zip can be read before the upstream sends more.
	first := testutil.Within(t, "reading the first quarter", func() readResult {
		b := make([]byte, len(z)/4)
		_, err := io.ReadFull(obj.Body, b)
		return readResult{b: b, err: err}
	})
	if first.err != nil || !bytes.Equal(first.b, z[:len(z)/4]) {
		t.Fatalf("first quarter: %v, equal %v", first.err, bytes.Equal(first.b, z[:len(z)/4]))
	}

	// The rest arrives; the check is held: what can be read stops short of
	// the central directory.
	go func() { pw.Write(z[half:]); pw.Close() }()
	<-v.arrived
	m.zipsMu.Lock()
	s := m.zips[fakePath+"/@v/v1.0.0.zip"]
	m.zipsMu.Unlock()
	if got := s.shown(); got > cdStart || got <= int64(len(z)/4) {
		t.Errorf("before verification %d bytes released; want more than %d and at most %d (the central directory's start)", got, len(z)/4, cdStart)
	}
	rest := make(chan readResult, 1)
	go func() {
		b, err := io.ReadAll(obj.Body)
		rest <- readResult{b: b, err: err}
	}()
	close(v.release)
	got := testutil.Within(t, "reading the rest", func() readResult { return <-rest })
	if got.err != nil || !bytes.Equal(append(first.b, got.b...), z) {
		t.Fatalf("read %d+%d bytes, %v; want the %d of the zip", len(first.b), len(got.b), got.err, len(z))
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if stored, err := storage.ReadAll(ctx, store, fakePath+"/@v/v1.0.0.zip"); err != nil || !bytes.Equal(stored, z) {
		t.Errorf("stored %d bytes, %v; want the zip", len(stored), err)
	}
}

// TestFollowedZipThatFailsVerification: a client following a zip that then
// fails the checksum check gets an error, never the zip's end; nothing is
// stored.
func TestFollowedZipThatFailsVerification(t *testing.T) {
	z, _, cdStart := bigZip(t)
	pr, pw := io.Pipe()
	f := &pipedZip{fakeUpstream: newFakeUpstream(fakeVersion(t, "v1.0.0")), body: pr, size: int64(len(z))}
	v := &gatedVerifier{hashRecorder: hashRecorder{want: "h1:not-this-zip"}, arrived: make(chan struct{}), release: make(chan struct{})}
	m, store := newFakeMirror(t, f, Options{Verifier: v})
	ctx := t.Context()

	half := len(z) / 2
	go pw.Write(z[:half])
	obj, _, err := m.Zip(ctx, escaped(fakePath, "v1.0.0"))
	if err != nil {
		t.Fatal(err) // bytes were released while the zip arrived: a stream, not a status
	}
	defer obj.Body.Close()
	go func() { pw.Write(z[half:]); pw.Close() }()
	<-v.arrived
	close(v.release)
	got := testutil.Within(t, "reading", func() readResult {
		b, err := io.ReadAll(obj.Body)
		return readResult{b, err}
	})
	if !errors.Is(got.err, errChecksumMismatch) {
		t.Errorf("read %d bytes, then %v; want the checksum mismatch", len(got.b), got.err)
	}
	if int64(len(got.b)) > cdStart || !bytes.Equal(got.b, z[:len(got.b)]) {
		t.Errorf("read %d bytes (central directory at %d), a prefix of the zip: %v", len(got.b), cdStart, bytes.Equal(got.b, z[:len(got.b)]))
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Stat(ctx, fakePath+"/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("zip stored after failing verification: %v", err)
	}
}

// TestRetryAfterBytesWerePassedOn: a zip whose transfer breaks off after
// bytes went to readers is asked for again; the bytes already passed on
// must come again unchanged. If they do, the reader gets the zip; if they
// differ, the fill fails and nothing is stored.
func TestRetryAfterBytesWerePassedOn(t *testing.T) {
	z, h1, _ := bigZip(t)
	// lateReset: the body breaks off after three quarters, once the
	// stream has passed on more than the first quarter.
	var m *Mirror
	lateReset := func(good []byte) (io.ReadCloser, int64, error) {
		r := io.MultiReader(bytes.NewReader(good[:len(good)*3/4]), &afterRelease{m: m, n: int64(len(good) / 4)},
			iotest.ErrReader(errors.New("connection reset by peer")))
		return io.NopCloser(r), int64(len(good)), nil
	}
	// chunkedLateReset is lateReset without a size (a chunked answer).
	chunkedLateReset := func(good []byte) (io.ReadCloser, int64, error) {
		body, _, err := lateReset(good)
		return body, -1, err
	}
	// altered: the same size, one byte of the first quarter changed.
	altered := func(good []byte) (io.ReadCloser, int64, error) {
		b := bytes.Clone(good)
		b[len(b)/4] ^= 0xff
		return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
	}
	for _, tt := range []struct {
		name   string
		faults []zipFault
		ok     bool
	}{
		{"same bytes again", []zipFault{lateReset}, true},
		{"same bytes again, now with a size", []zipFault{chunkedLateReset}, true},
		{"other bytes again", []zipFault{lateReset, altered}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			answers := fakeVersion(t, "v1.0.0")
			answers["zip "+fakePath+"@v1.0.0"] = fakeAnswer{b: z}
			f := &flakyZips{fakeUpstream: newFakeUpstream(answers), faults: tt.faults}
			var store *mem.Store
			m, store = newFakeMirror(t, f, Options{Verifier: &hashRecorder{want: h1}})
			ctx := t.Context()
			b, _, err := get(ctx, m, "zip", "v1.0.0")
			if err := m.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			_, serr := store.Stat(ctx, fakePath+"/@v/v1.0.0.zip")
			if tt.ok {
				if err != nil || !bytes.Equal(b, z) || serr != nil {
					t.Fatalf("got %d bytes, %v; stored: %v; want the zip", len(b), err, serr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "other bytes") {
				t.Errorf("got %d bytes, %v; want the fill's error about other bytes", len(b), err)
			}
			if !errors.Is(serr, fs.ErrNotExist) {
				t.Errorf("zip stored: %v", serr)
			}
		})
	}
}

// afterRelease is an empty reader whose Read returns once the fill of
// fakePath@v1.0.0's zip in m has released more than n bytes.
type afterRelease struct {
	m *Mirror
	n int64
}

func (a *afterRelease) Read([]byte) (int, error) {
	a.m.zipsMu.Lock()
	s := a.m.zips[fakePath+"/@v/v1.0.0.zip"]
	a.m.zipsMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.released <= a.n {
		s.wait(context.Background())
	}
	return 0, io.EOF
}

// TestHiddenEndRecordIsNotReleased: a hostile zip hides a central
// directory and end record inside the stored data of a local entry that
// its (real) directory does not list; the hasher reads them as entry data,
// but nothing from the hidden end record on is passed to readers before
// verification, so no prefix they receive opens as a zip.
func TestHiddenEndRecordIsNotReleased(t *testing.T) {
	z, _, cdOff := bigZip(t)
	const name = "zzz"
	hdrLen := int64(30 + len(name))
	dir := bytes.Clone(z[cdOff:]) // the central directory and end record
	binary.LittleEndian.PutUint32(dir[len(dir)-22+16:], uint32(cdOff+hdrLen))
	data := append(dir, make([]byte, 512<<10)...) // then enough to feed past it
	var lh [30]byte
	binary.LittleEndian.PutUint32(lh[0:], 0x04034b50)
	binary.LittleEndian.PutUint16(lh[4:], 20)
	binary.LittleEndian.PutUint32(lh[14:], crc32.ChecksumIEEE(data))
	binary.LittleEndian.PutUint32(lh[18:], uint32(len(data)))
	binary.LittleEndian.PutUint32(lh[22:], uint32(len(data)))
	binary.LittleEndian.PutUint16(lh[26:], uint16(len(name)))
	hostile := slices.Concat(z[:cdOff], lh[:], []byte(name), data)
	hiddenEnd := cdOff + hdrLen + int64(len(dir)) - 22
	if zr, err := zip.NewReader(bytes.NewReader(hostile[:hiddenEnd+22]), hiddenEnd+22); err != nil || len(zr.File) == 0 {
		t.Fatalf("the prefix through the hidden end record does not open: %v", err)
	}

	pr, pw := io.Pipe()
	f := &pipedZip{fakeUpstream: newFakeUpstream(fakeVersion(t, "v1.0.0")), body: pr, size: int64(len(hostile))}
	m, _ := newFakeMirror(t, f, Options{Verifier: &hashRecorder{want: "h1:none"}})
	ctx := t.Context()
	half := len(z) / 2
	go pw.Write(hostile[:half])
	obj, _, err := m.Zip(ctx, escaped(fakePath, "v1.0.0"))
	if err != nil {
		t.Fatal(err) // streaming: more than 1 MiB of entries released
	}
	defer obj.Body.Close()
	m.zipsMu.Lock()
	s := m.zips[fakePath+"/@v/v1.0.0.zip"]
	m.zipsMu.Unlock()
	// All but the last byte arrives; once the hash has read past the
	// hidden end record, what is released stops short of it.
	go pw.Write(hostile[half : len(hostile)-1])
	s.mu.Lock()
	for s.hashed <= hiddenEnd+22 {
		s.wait(ctx)
	}
	s.mu.Unlock()
	if shown := s.shown(); shown > hiddenEnd {
		t.Errorf("%d bytes released before verification, past the hidden end record at %d", shown, hiddenEnd)
	}
	go func() { pw.Write(hostile[len(hostile)-1:]); pw.Close() }()
	got, err := io.ReadAll(obj.Body)
	if err == nil {
		t.Fatalf("read all %d bytes of a zip that fails its checks", len(got))
	}
	if _, err := zip.NewReader(bytes.NewReader(got), int64(len(got))); err == nil {
		t.Errorf("the %d bytes a reader got open as a zip", len(got))
	}
}

// TestEndRecordAt: the first end record signature is found wherever it
// lies, also split between two batches.
func TestEndRecordAt(t *testing.T) {
	stream := []byte("0123456789PK\x05\x06abcdefPK\x05\x06")
	for cut := 0; cut <= len(stream); cut++ {
		for _, tailLen := range []int{0, 1, 2, 3} {
			if tailLen > cut {
				continue
			}
			// Feed stream in two batches split at cut, the second
			// scanned with the last tailLen bytes of the first as tail
			// (only a tail of 3 finds every split signature).
			first, second := stream[:cut], stream[cut:]
			got := endRecordAt(nil, first, 0)
			if got < 0 {
				got = endRecordAt(first[cut-tailLen:], second, int64(cut))
			}
			want := int64(10)
			if cut > 10 && cut < 14 && tailLen < cut-10 {
				want = 20 // the split one is missed without enough tail: the next
			}
			if got != want {
				t.Errorf("cut %d, tail %d: %d, want %d", cut, tailLen, got, want)
			}
		}
	}
}

// TestFinishTakesHashingSlots: the files Hasher.Finish hashes after the
// download count against the mirror's hashing bound (GOMAXPROCS at once,
// shared by all fills) and stop with the fill's context: with every slot
// taken, a fill ends at its fetch timeout; once they are free, it
// succeeds.
func TestFinishTakesHashingSlots(t *testing.T) {
	f := newFakeUpstream(fakeVersion(t, "v1.0.0"))
	m, _ := newFakeMirror(t, f, Options{FetchTimeout: 300 * time.Millisecond})
	n := int64(runtime.GOMAXPROCS(0))
	m.hasher.slots.Acquire(t.Context(), n)
	if _, _, err := get(t.Context(), m, "zip", "v1.0.0"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("with every hashing slot taken: %v, want the fetch timeout", err)
	}
	m.hasher.slots.Release(n)
	if b, _, err := get(t.Context(), m, "zip", "v1.0.0"); err != nil || len(b) == 0 {
		t.Errorf("with the slots free: %d bytes, %v", len(b), err)
	}
}
