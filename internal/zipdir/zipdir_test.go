package zipdir

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"hash/crc32"
	"io"
	"strings"
	"testing"
)

func makeZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"a/keep1.json", "a/skip.txt", "a/keep2.json"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, files[name])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadKeepsAndLocates: Read keeps what keep accepts, in order, with
// the directory's CRC-32 and sizes; DataOffset is where the deflate
// stream starts; ReadEntry returns the content, cut at max.
func TestReadKeepsAndLocates(t *testing.T) {
	files := map[string]string{"a/keep1.json": strings.Repeat("one ", 100), "a/skip.txt": "x", "a/keep2.json": "two"}
	z := makeZip(t, files)
	ctx := context.Background()
	ra := bytes.NewReader(z)
	ents, err := Read(ctx, ra, int64(len(z)), Limits{DirBytes: 1 << 20, Entries: 10}, func(name []byte) bool { return bytes.HasSuffix(name, []byte(".json")) })
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 || ents[0].Name != "a/keep1.json" || ents[1].Name != "a/keep2.json" {
		t.Fatalf("Read = %+v", ents)
	}
	for _, e := range ents {
		want := files[e.Name]
		if e.CRC32 != crc32.ChecksumIEEE([]byte(want)) || e.Size != int64(len(want)) || e.Method != 8 {
			t.Errorf("%s: crc %08x size %d method %d", e.Name, e.CRC32, e.Size, e.Method)
		}
		off, err := DataOffset(ra, int64(len(z)), e)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(flate.NewReader(io.NewSectionReader(ra, off, e.CompSize)))
		if string(raw) != want {
			t.Errorf("%s: the deflate data at DataOffset is %q", e.Name, raw)
		}
		b, cut, err := ReadEntry(ctx, ra, int64(len(z)), e, 10)
		if err != nil || string(b) != want[:min(10, len(want))] || cut != (len(want) > 10) {
			t.Errorf("%s: ReadEntry = %q, %v, %v", e.Name, b, cut, err)
		}
	}
	if _, err := Read(ctx, ra, int64(len(z)), Limits{DirBytes: 1 << 20, Entries: 2}, func([]byte) bool { return true }); err == nil {
		t.Error("a zip of 3 files read with a limit of 2")
	}
	if _, err := Read(ctx, ra, int64(len(z)), Limits{DirBytes: 10, Entries: 10}, func([]byte) bool { return true }); err == nil {
		t.Error("a central directory over DirBytes read")
	}
	bad := ents[0]
	bad.HeaderOffset += 3
	if _, err := DataOffset(ra, int64(len(z)), bad); err == nil {
		t.Error("DataOffset of a wrong header offset succeeded")
	}
}
