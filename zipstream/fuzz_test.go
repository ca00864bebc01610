package zipstream

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"
)

// FuzzStream: whatever the bytes and however they are split into writes,
// the Hasher does not panic, ends, and whenever Verify (or Finish, after
// the stream stopped early) accepts the bytes its hash is the one
// dirhash.HashZip computes over the same bytes.
// (Memory is bounded by construction: fixed buffers, names and extra
// fields of at most MaxName and MaxExtra bytes, at most MaxEntries
// records, and at most 1 MiB inflated here.)
func FuzzStream(f *testing.F) {
	for _, z := range fixtureZips(f) {
		f.Add(z, uint16(512))
	}
	for _, z := range variedZips(f) {
		if len(z) < 64<<10 {
			f.Add(z, uint16(97))
		}
	}
	a := []byte("package a\n")
	f.Add(rawZip(f, []rawEntry{{name: "a.go", data: a, method: zip.Deflate, descriptor: true, desc64: true}, {name: "b", data: a, method: zip.Store}}, nil, nil), uint16(3))
	f.Add(rawZip(f, []rawEntry{{name: "a.go", data: a, method: zip.Deflate}, {name: "a.go", localName: "b.go", data: a, method: zip.Store}}, nil, nil), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		h := New(1 << 20)
		for b, n := data, max(int(chunk), 1); len(b) > 0; b = b[min(n, len(b)):] {
			h.Write(b[:min(n, len(b))])
		}
		h.Close()
		if r := h.Released(); r < 0 || r > int64(len(data)) {
			t.Fatalf("Released = %d, outside the %d bytes", r, len(data))
		}
		got, err := h.Verify(bytes.NewReader(data), int64(len(data)))
		want, werr := hashZip(t, data)
		if err == nil && (werr != nil || got != want) {
			t.Fatalf("streamed %s accepted, dirhash.HashZip: %s, %v", got, want, werr)
		}
		// The same bytes, the stream stopped after a chunk, finished from
		// the central directory.
		h = New(1 << 20)
		h.Write(data[:min(int(chunk), len(data))])
		got, err = h.Finish(context.Background(), bytes.NewReader(data), int64(len(data)), 2, nil)
		if err == nil && (werr != nil || got != want) {
			t.Fatalf("finished %s accepted, dirhash.HashZip: %s, %v", got, want, werr)
		}
	})
}
