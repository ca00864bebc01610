package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"hash/crc32"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/gomirror/gomirror/internal/testutil"
)

// hashRecorder is a Verifier that finds every go.mod good and records the
// h1: hash of every zip it is asked to check, accepting it only if it is
// want (as the checksum database would).
type hashRecorder struct {
	want string

	mu  sync.Mutex
	got []string
}

var _ Verifier = (*hashRecorder)(nil)

func (*hashRecorder) Exempt(string) bool { return false }
func (*hashRecorder) Lookup(context.Context, string, string) ([]string, error) {
	return nil, nil
}
func (*hashRecorder) CheckGoMod(context.Context, string, string, string) error { return nil }
func (v *hashRecorder) CheckZip(_ context.Context, _, _, h1 string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.got = append(v.got, h1)
	if h1 != v.want {
		return errChecksumMismatch
	}
	return nil
}

var errChecksumMismatch = &testError{"checksum mismatch"}

type testError struct{ s string }

func (e *testError) Error() string { return e.s }

// moduleZip builds a valid module zip of fakePath@v1.0.0 with archive/zip;
// stored makes its second file a stored entry without data descriptor.
func moduleZip(t *testing.T, stored bool) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	prefix := fakePath + "@v1.0.0/"
	w, err := zw.Create(prefix + "go.mod")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "module "+fakePath+"\n")
	a := []byte(strings.Repeat("package a // a.go\n", 100))
	if stored {
		w, err = zw.CreateRaw(&zip.FileHeader{Name: prefix + "a.go", Method: zip.Store,
			CRC32: crc32IEEE(a), CompressedSize64: uint64(len(a)), UncompressedSize64: uint64(len(a))})
	} else {
		w, err = zw.Create(prefix + "a.go")
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Write(a)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestZipFillStreamedHash: a cold zip's h1: is the one computed while it
// arrived when the zip's local entries agree with its central directory,
// and the hash of the whole file otherwise; either way it is the one
// dirhash.HashZip computes over the bytes served, so that the verifier
// (the checksum database) decides on the files the go command extracts.
func TestZipFillStreamedHash(t *testing.T) {
	// renamedLocal: a.go's local header says b.go, its central directory
	// record a.go; the go command extracts a.go.
	renamedLocal := func(t *testing.T) []byte {
		z := moduleZip(t, false)
		i := bytes.Index(z, []byte("@v1.0.0/a.go"))
		z = bytes.Clone(z)
		copy(z[i+len("@v1.0.0/"):], "b")
		return z
	}
	// flaggedEncrypted: a.go is flagged encrypted in both headers, which
	// archive/zip ignores and the stream refuses.
	flaggedEncrypted := func(t *testing.T) []byte {
		z := bytes.Clone(moduleZip(t, false))
		for _, sig := range [][]byte{[]byte("PK\x03\x04"), []byte("PK\x01\x02")} {
			at := 6
			if sig[2] == 1 {
				at = 8
			}
			for off := 0; ; {
				i := bytes.Index(z[off:], sig)
				if i < 0 {
					break
				}
				i += off
				if bytes.Contains(z[i:min(i+120, len(z))], []byte("a.go")) {
					z[i+at] |= 1
				}
				off = i + 4
			}
		}
		return z
	}
	tests := []struct {
		name     string
		zip      func(t *testing.T) []byte
		faults   []zipFault
		streamed bool // the streamed hash (Finish) must be used, not the fallback
	}{
		{name: "deflated with data descriptors", zip: func(t *testing.T) []byte { return moduleZip(t, false) }, streamed: true},
		{name: "stored without data descriptor", zip: func(t *testing.T) []byte { return moduleZip(t, true) }, streamed: true},
		{name: "after a broken transfer", zip: func(t *testing.T) []byte { return moduleZip(t, false) }, faults: []zipFault{truncated}, streamed: true},
		// Hostile: whichever way it is hashed (how far the stream got
		// when the download ended decides), the hash is the files the go
		// command extracts.
		{name: "local header names another file", zip: renamedLocal},
		{name: "entry flagged encrypted", zip: flaggedEncrypted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := tt.zip(t)
			want, err := testutil.HashZip(z)
			if err != nil {
				t.Fatalf("dirhash.HashZip of the test zip: %v", err)
			}
			answers := fakeVersion(t, "v1.0.0")
			answers["zip "+fakePath+"@v1.0.0"] = fakeAnswer{b: z}
			f := &flakyZips{fakeUpstream: newFakeUpstream(answers), faults: tt.faults}
			v := &hashRecorder{want: want}
			var logs testutil.Buffer
			m, _ := newFakeMirror(t, f, Options{Verifier: v, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			b, _, err := get(t.Context(), m, "zip", "v1.0.0")
			if err != nil || !bytes.Equal(b, z) {
				t.Fatalf("Zip = %d bytes, %v; want the zip", len(b), err)
			}
			v.mu.Lock()
			got := v.got
			v.mu.Unlock()
			if len(got) != 1 || got[0] != want {
				t.Errorf("hashes checked: %q, want [%s]", got, want)
			}
			streamed := strings.Contains(logs.String(), "msg=\"zip hashed\"")
			fellBack := strings.Contains(logs.String(), "zip hashed after downloading")
			if streamed == fellBack || tt.streamed && !streamed {
				t.Errorf("streamed hash used: %v, fallback: %v; want the streamed one: %v\n%s", streamed, fellBack, tt.streamed, logs.String())
			}
		})
	}
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }
