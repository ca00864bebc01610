package zipstream

import (
	"archive/zip"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
)

// benchZip is an 8 MB-of-files zip, half random bytes, half Go-like text.
func benchZip(b *testing.B) []byte {
	rng := rand.New(rand.NewChaCha8([32]byte{'b'}))
	blob := make([]byte, 4<<20)
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	var sb strings.Builder
	for sb.Len() < 4<<20 {
		fmt.Fprintf(&sb, "\tx%d := f(y%d, %d) // z%d\n", rng.IntN(50), rng.IntN(50), rng.IntN(1000), rng.IntN(50))
	}
	return buildZip(b, []entrySpec{
		{name: "m/blob.bin", data: blob, method: zip.Deflate},
		{name: "m/text.go", data: []byte(sb.String()), method: zip.Deflate},
	})
}

// BenchmarkStream is the CPU cost of the streamed hash, writes of the given
// size, to compare with BenchmarkHashZip (the hash of the whole file).
func BenchmarkStream(b *testing.B) {
	z := benchZip(b)
	for _, chunk := range []int{4 << 10, 32 << 10} {
		b.Run(fmt.Sprint(chunk), func(b *testing.B) {
			b.SetBytes(int64(len(z)))
			for b.Loop() {
				if _, _, err := stream(z, chunk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHashZip(b *testing.B) {
	z := benchZip(b)
	file := filepath.Join(b.TempDir(), "z.zip")
	if err := os.WriteFile(file, z, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(z)))
	for b.Loop() {
		if _, err := dirhash.HashZip(file, dirhash.Hash1); err != nil {
			b.Fatal(err)
		}
	}
	_ = bytes.MinRead
}
