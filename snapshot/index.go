package snapshot

import (
	"io"
	"sort"
	"strings"
)

// index is what a view needs of a manifest, compactly: its module paths
// (sorted, each once), and for each its versions (ascending) and whether
// each has its zip in the snapshot. Hashes, creator and sources are not
// kept: a view never serves them. Versions are substrings of one string,
// so an entry costs its version's bytes, an offset and a bit of zip flag
// rather than four strings.
type index struct {
	name  string
	paths []string // sorted, distinct
	// first[i]:first[i+1] are the entries of paths[i].
	first []int32
	// vblob holds the versions back to back; entry j's version is
	// vblob[voff[j]:voff[j+1]].
	vblob string
	voff  []int32
	zip   []uint64 // bit j: entry j has its zip
}

// readIndex reads a manifest from r (DecodeEntries: strict, bounded,
// streamed) into an index.
func readIndex(r io.Reader) (*index, error) {
	var (
		ix    index
		vb    strings.Builder
		zips  []uint64
		n     int
		voffs = []int32{0}
	)
	m, err := DecodeEntries(r, func(e Entry) error {
		if len(ix.paths) == 0 || ix.paths[len(ix.paths)-1] != e.Path {
			ix.paths = append(ix.paths, e.Path)
			ix.first = append(ix.first, int32(n))
		}
		vb.WriteString(e.Version)
		voffs = append(voffs, int32(vb.Len()))
		if n%64 == 0 {
			zips = append(zips, 0)
		}
		if e.Hash != "" {
			zips[n/64] |= 1 << (n % 64)
		}
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	ix.name = m.Name
	ix.first = append(ix.first, int32(n))
	ix.vblob, ix.voff, ix.zip = vb.String(), voffs, zips
	// Trim what append over-allocated.
	ix.paths = append([]string(nil), ix.paths...)
	ix.first = append([]int32(nil), ix.first...)
	ix.voff = append([]int32(nil), ix.voff...)
	return &ix, nil
}

// weight approximates the memory ix holds.
func (ix *index) weight() int64 {
	n := int64(256 + len(ix.vblob) + 4*len(ix.voff) + 8*len(ix.zip) + 4*len(ix.first))
	for _, p := range ix.paths {
		n += int64(len(p)) + 16
	}
	return n
}

func (ix *index) version(j int) string { return ix.vblob[ix.voff[j]:ix.voff[j+1]] }

func (ix *index) hasZip(j int) bool { return ix.zip[j/64]&(1<<(j%64)) != 0 }

// entries returns the range of entries of path (empty if none).
func (ix *index) entries(path string) (lo, hi int) {
	i := sort.SearchStrings(ix.paths, path)
	if i == len(ix.paths) || ix.paths[i] != path {
		return 0, 0
	}
	return int(ix.first[i]), int(ix.first[i+1])
}

// find reports whether ix has path@version, and whether with its zip.
func (ix *index) find(path, version string) (found, zip bool) {
	lo, hi := ix.entries(path)
	j := lo + sort.Search(hi-lo, func(k int) bool { return !lessVersion(ix.version(lo+k), version) })
	if j < hi && ix.version(j) == version {
		return true, ix.hasZip(j)
	}
	return false, false
}

// versions returns path's versions, ascending.
func (ix *index) versions(path string) []string {
	lo, hi := ix.entries(path)
	out := make([]string, 0, hi-lo)
	for j := lo; j < hi; j++ {
		out = append(out, ix.version(j))
	}
	return out
}

// latest is Manifest.Latest of the manifest ix was read from.
func (ix *index) latest(path string) (string, bool) {
	lo, hi := ix.entries(path)
	for j := hi - 1; j >= lo; j-- {
		if ix.hasZip(j) {
			return ix.version(j), true
		}
	}
	return "", false
}
