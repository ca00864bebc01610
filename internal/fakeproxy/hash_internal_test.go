package fakeproxy

import "testing"

// hashZip (in memory) must agree with hashZipBytes (dirhash.HashZip).
func TestHashZipInMemoryAgreesWithDirhash(t *testing.T) {
	s := New(t)
	s.Tamper(t, "example.com/hello", "v1.0.0", true, false) // a zip with one more file
	for _, m := range []*Module{s.Module("example.com/hello", "v1.0.0"), s.Module("example.com/hello/v2", "v2.0.0")} {
		for _, z := range [][]byte{m.Zip, m.ServedZip} {
			if z == nil {
				continue
			}
			got, err := hashZip(z)
			if err != nil {
				t.Fatal(err)
			}
			want, err := hashZipBytes(z)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s@%s: hashZip %s, dirhash.HashZip %s", m.Path, m.Version, got, want)
			}
		}
	}
}
