package bundle

import (
	"archive/zip"
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
)

// TestHashZipIsDirhash: hashZip agrees with dirhash.HashZip on zips of
// stored and deflated files, empty and large ones, in any order.
func TestHashZipIsDirhash(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rnd.Uint32())
	}
	text := bytes.Repeat([]byte("package p // some text that compresses well\n"), 20000)
	type file struct {
		name   string
		method uint16
		data   []byte
	}
	tests := []struct {
		name  string
		files []file
	}{
		{"empty zip", nil},
		{"one deflated", []file{{"m@v1.0.0/go.mod", zip.Deflate, []byte("module m\n")}}},
		{"one stored", []file{{"m@v1.0.0/go.mod", zip.Store, []byte("module m\n")}}},
		{"empty file", []file{{"m@v1.0.0/a.go", zip.Deflate, nil}, {"m@v1.0.0/go.mod", zip.Deflate, []byte("module m\n")}}},
		{"large, unsorted, mixed", []file{
			{"m@v1.0.0/z/big.txt", zip.Deflate, text},
			{"m@v1.0.0/rand.bin", zip.Deflate, random},
			{"m@v1.0.0/stored.bin", zip.Store, random[:1000]},
			{"m@v1.0.0/a.go", zip.Deflate, []byte("package a\n")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for _, f := range tt.files {
				w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: f.method})
				if err != nil {
					t.Fatal(err)
				}
				w.Write(f.data)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "m.zip")
			if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			want, err := dirhash.HashZip(p, dirhash.Hash1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := hashZip(p)
			if err != nil || got != want {
				t.Errorf("hashZip = %q, %v; want %q (dirhash.HashZip)", got, err, want)
			}
		})
	}
}

// TestHashZipRefusesCorruptData: a damaged deflate stream is an error, as
// with dirhash.HashZip (the zip's CRC-32 is checked as the file is read).
func TestHashZipRefusesCorruptData(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("m@v1.0.0/a.txt")
	w.Write(bytes.Repeat([]byte("abcdefgh"), 10000))
	zw.Close()
	b := buf.Bytes()
	b[60] ^= 0xff // inside the compressed data (the local header is 30 + name bytes)
	p := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := dirhash.HashZip(p, dirhash.Hash1); err == nil {
		t.Fatal("dirhash.HashZip accepts the damaged zip: the test's damage is not damage")
	}
	if h, err := hashZip(p); err == nil {
		t.Errorf("hashZip = %q, nil; want an error", h)
	}
}
