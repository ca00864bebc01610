package zipstream

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// stream writes z to a new Hasher in chunks of the given size and returns
// what Verify returns over z, and Released after the input.
func stream(z []byte, chunk int) (h1 string, released int64, err error) {
	h := New(modzip.MaxZipFile)
	for b := z; len(b) > 0; {
		n := min(chunk, len(b))
		if w, err := h.Write(b[:n]); w != n || err != nil {
			return "", 0, fmt.Errorf("Write = %d, %v; want %d, nil", w, err, n)
		}
		b = b[n:]
	}
	h.Close()
	h1, err = h.Verify(bytes.NewReader(z), int64(len(z)))
	return h1, h.Released(), err
}

// hashZip is dirhash.HashZip of z, the reference.
func hashZip(t testing.TB, z []byte) (string, error) {
	file := filepath.Join(t.TempDir(), "z.zip")
	if err := os.WriteFile(file, z, 0o644); err != nil {
		t.Fatal(err)
	}
	return dirhash.HashZip(file, dirhash.Hash1)
}

// fixtureZips returns the zips of every fakeproxy fixture module.
func fixtureZips(t testing.TB) map[string][]byte {
	up := fakeproxy.New(t)
	files, err := filepath.Glob("../internal/fakeproxy/testdata/mod/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("fixtures: %v, %v", files, err)
	}
	zips := make(map[string][]byte)
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".txt")
		i := strings.LastIndex(base, "_")
		path, version := strings.ReplaceAll(base[:i], "_", "/"), base[i+1:]
		m := up.Module(path, version)
		if m == nil {
			t.Fatalf("fixture %s: no module %s@%s", f, path, version)
		}
		zips[path+"@"+version] = m.Zip
	}
	return zips
}

// entrySpec is one file of a zip built with archive/zip.
type entrySpec struct {
	name   string
	data   []byte
	method uint16
	raw    bool // CreateRaw: no data descriptor, sizes and CRC in the local header
}

func buildZip(t testing.TB, specs []entrySpec) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, s := range specs {
		var w io.Writer
		var err error
		if s.raw {
			fh := &zip.FileHeader{Name: s.name, Method: s.method, CRC32: crc32.ChecksumIEEE(s.data), UncompressedSize64: uint64(len(s.data))}
			body := s.data
			if s.method == zip.Deflate {
				var c bytes.Buffer
				fw, _ := flateWriter(&c)
				fw.Write(s.data)
				fw.Close()
				body = c.Bytes()
			}
			fh.CompressedSize64 = uint64(len(body))
			if w, err = zw.CreateRaw(fh); err == nil {
				_, err = w.Write(body)
			}
		} else {
			if w, err = zw.CreateHeader(&zip.FileHeader{Name: s.name, Method: s.method}); err == nil {
				_, err = w.Write(s.data)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// variedZips are zips built with archive/zip in the ways zips come.
func variedZips(t testing.TB) map[string][]byte {
	rnd := rand.New(rand.NewChaCha8([32]byte{1}))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	text := bytes.Repeat([]byte("package p // some text that compresses\n"), 5000)
	many := make([]entrySpec, 600)
	for i := range many {
		many[i] = entrySpec{name: fmt.Sprintf("m/d%d/f%03d.go", i%7, i), data: text[:i*37%len(text)], method: zip.Deflate}
	}
	return map[string][]byte{
		"deflated with descriptors": buildZip(t, []entrySpec{
			{name: "m@v1.0.0/go.mod", data: []byte("module m\n"), method: zip.Deflate},
			{name: "m@v1.0.0/a.go", data: text, method: zip.Deflate},
			{name: "m@v1.0.0/r.bin", data: random(300 << 10), method: zip.Deflate},
		}),
		"stored without descriptors": buildZip(t, []entrySpec{
			{name: "b.go", data: text, method: zip.Store, raw: true},
			{name: "a.go", data: random(100 << 10), method: zip.Store, raw: true},
		}),
		"deflated without descriptors": buildZip(t, []entrySpec{
			{name: "a.go", data: text, method: zip.Deflate, raw: true},
			{name: "z.go", data: []byte("x"), method: zip.Deflate, raw: true},
		}),
		"mixed": buildZip(t, []entrySpec{
			{name: "s.go", data: text[:1000], method: zip.Store, raw: true},
			{name: "d.go", data: text, method: zip.Deflate},
			{name: "e.go", data: nil, method: zip.Store, raw: true},
			{name: "r.go", data: text[:77], method: zip.Deflate, raw: true},
		}),
		"empty files": buildZip(t, []entrySpec{
			{name: "empty-deflated", method: zip.Deflate},
			{name: "empty-stored", method: zip.Store, raw: true},
			{name: "empty-raw-deflated", method: zip.Deflate, raw: true},
		}),
		"many files":     buildZip(t, many),
		"non-ascii name": buildZip(t, []entrySpec{{name: "m/héllo.go", data: text[:100], method: zip.Deflate}}),
	}
}

// TestStreamMatchesHashZip: the streamed hash is dirhash.HashZip's for every
// fixture zip and every varied zip, whatever the sizes of the writes, and
// Released ends at the central directory.
func TestStreamMatchesHashZip(t *testing.T) {
	zips := fixtureZips(t)
	for name, z := range variedZips(t) {
		zips[name] = z
	}
	for name, z := range zips {
		want, err := hashZip(t, z)
		if err != nil {
			t.Fatalf("%s: dirhash.HashZip: %v", name, err)
		}
		zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		if err != nil {
			t.Fatal(err)
		}
		cdStart := lastEntryEnd(t, z, zr)
		for _, chunk := range []int{1, 13, 4096, len(z)} {
			t.Run(fmt.Sprintf("%s/chunk%d", name, chunk), func(t *testing.T) {
				got, released, err := stream(z, chunk)
				if err != nil {
					t.Fatalf("streamed: %v, want %s", err, want)
				}
				if got != want {
					t.Errorf("streamed %s, dirhash.HashZip %s", got, want)
				}
				if released != cdStart {
					t.Errorf("Released = %d, want %d (the central directory's start)", released, cdStart)
				}
			})
		}
	}
}

// lastEntryEnd is where the central directory of z begins: the end of its
// end record's directory offset.
func lastEntryEnd(t testing.TB, z []byte, zr *zip.Reader) int64 {
	i := bytes.LastIndex(z, []byte("PK\x05\x06"))
	if i < 0 {
		t.Fatal("no end record")
	}
	return int64(binary.LittleEndian.Uint32(z[i+16:]))
}

// TestStreamBoundsUncompressed: a zip whose files inflate to more than the
// limit is not hashed.
func TestStreamBoundsUncompressed(t *testing.T) {
	z := buildZip(t, []entrySpec{{name: "bomb", data: make([]byte, 1<<20), method: zip.Deflate}})
	h := New(1 << 19)
	h.Write(z)
	h.Close()
	if h1, err := h.Verify(bytes.NewReader(z), int64(len(z))); err == nil {
		t.Fatalf("Verify of 1 MiB with a limit of 512 KiB = %s, want an error", h1)
	}
	h = New(1 << 20)
	h.Write(z)
	h.Close()
	if _, err := h.Verify(bytes.NewReader(z), int64(len(z))); err != nil {
		t.Fatalf("Verify of 1 MiB with a limit of 1 MiB: %v", err)
	}
}

// TestWriteAfterStopDoesNotBlock: bytes after the parser gave up (here: not
// a zip at all) are accepted and dropped, and Close returns.
func TestWriteAfterStopDoesNotBlock(t *testing.T) {
	h := New(modzip.MaxZipFile)
	junk := bytes.Repeat([]byte("junk"), 1<<16)
	for range 4 {
		if n, err := h.Write(junk); n != len(junk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	h.Close()
	if h1, err := h.Verify(bytes.NewReader(junk), int64(len(junk))); err == nil {
		t.Fatalf("Verify of junk = %s, want an error", h1)
	}
}

func flateWriter(w io.Writer) (io.WriteCloser, error) {
	return flate.NewWriter(w, flate.DefaultCompression)
}

// TestReleasedInsideEntries: Released moves forward while a large entry's
// data arrives, not only at the end of each entry, for a stored and for a
// deflated entry, and it never passes the bytes written or the start of the
// central directory.
func TestReleasedInsideEntries(t *testing.T) {
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		t.Run(fmt.Sprintf("method%d", method), func(t *testing.T) {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			big := make([]byte, 1<<20)
			rand.NewChaCha8([32]byte{1}).Read(big) // incompressible: deflated data is as long
			var w io.Writer
			var err error
			if method == zip.Store { // without a data descriptor, as x/mod/zip writes none
				w, err = zw.CreateRaw(&zip.FileHeader{Name: "m@v1.0.0/big.bin", Method: zip.Store,
					CRC32: crc32.ChecksumIEEE(big), CompressedSize64: uint64(len(big)), UncompressedSize64: uint64(len(big))})
			} else {
				w, err = zw.CreateHeader(&zip.FileHeader{Name: "m@v1.0.0/big.bin", Method: method})
			}
			if err != nil {
				t.Fatal(err)
			}
			w.Write(big)
			w, _ = zw.Create("m@v1.0.0/go.mod")
			io.WriteString(w, "module m\n")
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			z := buf.Bytes()
			zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
			if err != nil {
				t.Fatal(err)
			}
			cdStart := lastEntryEnd(t, z, zr)
			bigEnd := int64(len(z)) // an upper bound of the big entry's end
			if off, err := zr.File[1].DataOffset(); err == nil {
				bigEnd = off
			}

			h := New(modzip.MaxZipFile)
			var last, inside int64
			for written := 0; written < len(z); {
				n := min(4096, len(z)-written)
				h.Write(z[written : written+n])
				written += n
				r := h.Released()
				if r < last || r > int64(written) || r > cdStart {
					t.Fatalf("after %d bytes: Released = %d (before %d; central directory at %d)", written, r, last, cdStart)
				}
				if r > 0 && r < bigEnd {
					inside++
				}
				last = r
			}
			if _, err := h.Verify(bytes.NewReader(z), int64(len(z))); err != nil {
				t.Fatal(err)
			}
			if inside < 8 {
				t.Errorf("Released moved inside the 1 MiB entry %d times; want it to follow the data (every %d bytes)", inside, YieldEvery)
			}
			if h.Released() != cdStart {
				t.Errorf("Released = %d at the end, want %d", h.Released(), cdStart)
			}
		})
	}
}

// TestFinishAfterAnyCut: however early the input stops (the download
// outran the parser), Finish returns dirhash.HashZip's hash, the files
// not streamed read out of the complete zip.
func TestFinishAfterAnyCut(t *testing.T) {
	zips := fixtureZips(t)
	for name, z := range variedZips(t) {
		zips[name] = z
	}
	for name, z := range zips {
		want, err := hashZip(t, z)
		if err != nil {
			t.Fatalf("%s: dirhash.HashZip: %v", name, err)
		}
		zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		if err != nil {
			t.Fatal(err)
		}
		cd := lastEntryEnd(t, z, zr)
		for _, cut := range []int64{0, 1, 31, int64(len(z)) / 3, int64(len(z)) / 2, cd - 1, cd, int64(len(z))} {
			h := New(modzip.MaxZipFile)
			h.Write(z[:cut])
			got, err := h.Finish(context.Background(), bytes.NewReader(z), int64(len(z)), 2, nil)
			if err != nil || got != want {
				t.Errorf("%s cut at %d of %d: Finish = %s, %v; want %s", name, cut, len(z), got, err, want)
			}
		}
	}
}
