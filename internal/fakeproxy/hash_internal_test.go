package fakeproxy

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/gomirror/gomirror/internal/testutil"
)

// The hashes the fake checksum database serves (testutil.HashZip, in
// memory) must agree with dirhash.HashZip, the go command's, for every kind
// of zip the fake serves.
func TestHashZipInMemoryAgreesWithDirhash(t *testing.T) {
	s := New(t)
	s.Tamper(t, "example.com/hello", "v1.0.0", true, false) // a zip with one more file
	for _, m := range []*Module{s.Module("example.com/hello", "v1.0.0"), s.Module("example.com/hello/v2", "v2.0.0")} {
		for _, z := range [][]byte{m.Zip, m.ServedZip} {
			if z == nil {
				continue
			}
			got := testutil.MustHashZip(t, z)
			p := filepath.Join(t.TempDir(), "m.zip")
			if err := os.WriteFile(p, z, 0o644); err != nil {
				t.Fatal(err)
			}
			want, err := dirhash.HashZip(p, dirhash.Hash1)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s@%s: testutil.HashZip %s, dirhash.HashZip %s", m.Path, m.Version, got, want)
			}
		}
	}
}
