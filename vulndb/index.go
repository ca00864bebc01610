package vulndb

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/internal/zipdir"
	"github.com/gomirror/gomirror/storage"
)

// Limits of one index build: what a zip may make it read. A database
// (4,789 entries, 9 MB of OSV JSON in 2026) is far below them. Parse
// limits what one entry may make the snapshot keep (aliases, modules,
// events), and only the first maxSummary bytes of a summary are kept.
const (
	maxEntryBytes = 1 << 20  // one OSV file
	maxTotalBytes = 64 << 20 // all OSV files of a zip
	maxZipDir     = 64 << 20 // the zip's central directory
	maxZipEntries = 1 << 20  // the zip's files (all of them, kept or not)
)

// snapshot is one copy of the database, built from the OSV files of a zip
// and never changed afterwards: the index files and the module index in
// memory, the entries in the zip (ra), read per request. It is shared by
// concurrent requests; the DB retires it when a newer one replaces it, and
// its zip is closed when the last request reading it is done.
type snapshot struct {
	origin   string    // where it came from: "golang.org/x/vulndb@v0.0.0-...", a URL
	built    time.Time // when it was built
	modified time.Time // the copy's time (Zip.Modified), or its newest entry's if later
	lastMod  time.Time // Last-Modified of its files: after every earlier snapshot's

	ra      io.ReaderAt
	zipSize int64
	closeRA func() error

	entries map[string]entryLoc   // by ID
	modules map[string][]modEntry // by module path
	index   map[string]*file      // "index/db.json", ... (also ".json.gz")

	mu      sync.Mutex
	refs    int
	retired bool
}

// entryLoc is where an entry's OSV file is in the zip.
type entryLoc struct {
	off      int64 // of the compressed data
	compSize int64
	size     int64
	crc      uint32
	method   uint16
}

// modEntry is an entry as the module index holds it: what lookups need.
type modEntry struct {
	adv    *advisoryInfo
	ranges []Range
}

// advisoryInfo is the part of an entry shared by its modules.
type advisoryInfo struct {
	ID        string
	Aliases   []string
	Summary   string
	Withdrawn bool
}

// file is an index file of the API, both encodings in memory.
type file struct {
	json, gz []byte
	etag     string // a hash of the JSON
	gzETag   string // a hash of the gzip (which another build's gzip may not equal)
}

// acquire takes a reference for a request; false if the snapshot is
// retired and closed (the caller loads the DB's current one again).
func (s *snapshot) acquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired && s.refs == 0 {
		return false
	}
	s.refs++
	return true
}

// release drops a reference taken by acquire; the last one of a retired
// snapshot closes its zip.
func (s *snapshot) release() {
	s.mu.Lock()
	s.refs--
	closeNow := s.retired && s.refs == 0
	s.mu.Unlock()
	if closeNow && s.closeRA != nil {
		s.closeRA()
	}
}

// retire marks the snapshot replaced: its zip is closed now if nobody
// reads it, else by the last release.
func (s *snapshot) retire() {
	s.mu.Lock()
	s.retired = true
	closeNow := s.refs == 0
	s.mu.Unlock()
	if closeNow && s.closeRA != nil {
		s.closeRA()
	}
}

// build reads the OSV files under dir ("golang.org/x/vulndb@v.../data/osv/")
// of the zip ra (size bytes) and builds a snapshot of them. Every file
// must be <ID>.json with a valid entry of that ID, and its content must
// match the CRC-32 the directory gives (which the served .json.gz carries).
// The snapshot's modified time (index/db.json's) is modified, or the
// newest entry's time if later. It reads within the limits above; closeRA (may be nil) is the snapshot's
// to call when it is done with ra, also when build fails.
func build(ctx context.Context, ra io.ReaderAt, size int64, closeRA func() error, dir, origin string, modified time.Time) (_ *snapshot, err error) {
	defer func() {
		if err != nil && closeRA != nil {
			closeRA()
		}
	}()
	dirEntries, err := zipdir.Read(ctx, ra, size, zipdir.Limits{DirBytes: maxZipDir, Entries: maxZipEntries}, func(name []byte) bool {
		rest, ok := bytes.CutPrefix(name, []byte(dir))
		return ok && bytes.HasSuffix(rest, []byte(".json")) && bytes.IndexByte(rest, '/') < 0
	})
	if err != nil {
		return nil, err
	}
	if len(dirEntries) == 0 {
		return nil, fmt.Errorf("no OSV files under %s", dir)
	}
	s := &snapshot{origin: origin, built: time.Now(), modified: modified.UTC(), ra: ra, zipSize: size, closeRA: closeRA,
		entries: make(map[string]entryLoc, len(dirEntries)), modules: make(map[string][]modEntry)}
	var (
		total   int64
		modIdx  = map[string][]moduleVuln{}
		vulnIdx = make([]vulnMeta, 0, len(dirEntries))
	)
	for _, de := range dirEntries {
		id := strings.TrimSuffix(de.Name[len(dir):], ".json")
		if !ValidID(id) {
			return nil, fmt.Errorf("%s: not an entry name", de.Name)
		}
		if _, dup := s.entries[id]; dup {
			return nil, fmt.Errorf("%s: a second entry %s", de.Name, id)
		}
		if de.Size > maxEntryBytes {
			return nil, fmt.Errorf("%s: over %d bytes", de.Name, maxEntryBytes)
		}
		b, err := readOSVEntry(ctx, ra, size, de)
		if err != nil {
			return nil, err
		}
		if total += int64(len(b)); total > maxTotalBytes {
			return nil, fmt.Errorf("OSV files over %d bytes in all", maxTotalBytes)
		}
		if crc32.ChecksumIEEE(b) != de.CRC32 || int64(len(b)) != de.Size {
			return nil, fmt.Errorf("%s: content does not match the zip's directory", de.Name)
		}
		e, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", de.Name, err)
		}
		if e.ID != id {
			return nil, fmt.Errorf("%s: holds entry %s", de.Name, e.ID)
		}
		off, err := zipdir.DataOffset(ra, size, de)
		if err != nil {
			return nil, err
		}
		s.entries[id] = entryLoc{off: off, compSize: de.CompSize, size: de.Size, crc: de.CRC32, method: de.Method}
		mod := e.Modified
		if mod.IsZero() {
			mod = e.Published // the x/vulndb module's files leave modified zero
		}
		if mod.After(s.modified) {
			s.modified = mod
		}
		info := &advisoryInfo{ID: e.ID, Aliases: e.Aliases, Summary: shortSummary(e.Summary), Withdrawn: e.Withdrawn != nil}
		for i, a := range e.Affected {
			s.modules[a.Module.Path] = append(s.modules[a.Module.Path], modEntry{adv: info, ranges: canonicalRanges(a.Ranges)})
			if slices.ContainsFunc(e.Affected[:i], func(b Affected) bool { return b.Module.Path == a.Module.Path }) {
				continue // one record per module: its fix is over all its blocks
			}
			modIdx[a.Module.Path] = append(modIdx[a.Module.Path], moduleVuln{ID: e.ID, Modified: mod, Fixed: moduleFix(e.moduleBlocks(a.Module.Path))})
		}
		vulnIdx = append(vulnIdx, vulnMeta{ID: e.ID, Modified: mod, Aliases: e.Aliases})
	}
	if s.index, err = indexFiles(s.modified, modIdx, vulnIdx); err != nil {
		return nil, err
	}
	return s, nil
}

// maxSummary is the most of a summary a snapshot keeps (the Go
// database's longest: 270 bytes in 2026).
const maxSummary = 1 << 10

// shortSummary is s cut to at most maxSummary bytes (at a rune), copied
// so that it does not hold the entry's bytes.
func shortSummary(s string) string {
	if len(s) <= maxSummary {
		return s
	}
	cut := maxSummary - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.Clone(s[:cut]) + "…"
}

// readOSVEntry returns the content of de (at most maxEntryBytes, as its
// directory record says), checking that its compressed data is exactly
// the directory's compressed size: stored data as long as the content,
// a deflate stream that ends at its last byte and is no longer than
// honest deflate makes it. The served .json.gz is those bytes, so
// nothing else of the zip may be among them.
func readOSVEntry(ctx context.Context, ra io.ReaderAt, size int64, de zipdir.Entry) ([]byte, error) {
	switch de.Method {
	case 0: // stored
		if de.CompSize != de.Size {
			return nil, fmt.Errorf("%s: stored in %d bytes for %d", de.Name, de.CompSize, de.Size)
		}
	case 8: // deflate
		if de.CompSize > de.Size+de.Size/8+64<<10 {
			return nil, fmt.Errorf("%s: %d compressed bytes for %d", de.Name, de.CompSize, de.Size)
		}
	default:
		return nil, fmt.Errorf("%s: compression method %d", de.Name, de.Method)
	}
	off, err := zipdir.DataOffset(ra, size, de)
	if err != nil {
		return nil, err
	}
	raw := &countingReader{r: bufio.NewReader(storage.ContextReader(ctx, io.NewSectionReader(ra, off, de.CompSize)))}
	var r io.Reader = raw
	if de.Method == 8 {
		fr := flate.NewReader(raw) // reads through ReadByte: no further than the stream
		defer fr.Close()
		r = fr
	}
	b := make([]byte, de.Size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%s: %w", de.Name, err)
	}
	if n, err := r.Read(make([]byte, 1)); n > 0 || err != io.EOF {
		return nil, fmt.Errorf("%s: content longer than the directory says", de.Name)
	}
	if raw.n != de.CompSize {
		return nil, fmt.Errorf("%s: compressed data of %d bytes, the directory says %d", de.Name, raw.n, de.CompSize)
	}
	return b, nil
}

// countingReader is a flate.Reader counting the bytes read through it.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// canonicalRanges returns ranges with "v"-prefixed event versions (as
// lookups compare them, so that a lookup builds no strings), and only
// the SEMVER ranges' events (the others are kept, empty, for
// rangesAffect's "no SEMVER range" rule).
func canonicalRanges(ranges []Range) []Range {
	out := make([]Range, len(ranges))
	for i, r := range ranges {
		out[i].Type = r.Type
		if r.Type != RangeSemver {
			continue
		}
		out[i].Events = make([]Event, len(r.Events))
		for j, ev := range r.Events {
			if ev.Introduced != "" && ev.Introduced != "0" {
				ev.Introduced = canonical(ev.Introduced)
			}
			if ev.Fixed != "" {
				ev.Fixed = canonical(ev.Fixed)
			}
			out[i].Events[j] = ev
		}
	}
	return out
}

// The index files' records, as the database's API documents them.
type (
	dbMeta struct {
		Modified time.Time `json:"modified"`
	}
	moduleMeta struct {
		Path  string       `json:"path"`
		Vulns []moduleVuln `json:"vulns"`
	}
	moduleVuln struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Fixed    string    `json:"fixed,omitempty"`
	}
	vulnMeta struct {
		ID       string    `json:"id"`
		Modified time.Time `json:"modified"`
		Aliases  []string  `json:"aliases,omitempty"`
	}
)

// indexFiles encodes index/db.json, index/modules.json (modules by path,
// their vulns by ID) and index/vulns.json (by ID), each also gzipped.
func indexFiles(modified time.Time, mods map[string][]moduleVuln, vulns []vulnMeta) (map[string]*file, error) {
	paths := make([]string, 0, len(mods))
	for p := range mods {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	modList := make([]moduleMeta, len(paths))
	for i, p := range paths {
		vs := mods[p]
		slices.SortStableFunc(vs, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		modList[i] = moduleMeta{Path: p, Vulns: vs}
	}
	slices.SortFunc(vulns, func(a, b vulnMeta) int { return strings.Compare(a.ID, b.ID) })
	out := map[string]*file{}
	for name, v := range map[string]any{"index/db": dbMeta{modified}, "index/modules": modList, "index/vulns": vulns} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(b)
		if err := zw.Close(); err != nil {
			return nil, err
		}
		sum, gzSum := sha256.Sum256(b), sha256.Sum256(gz.Bytes())
		out[name] = &file{json: b, gz: bytes.Clone(gz.Bytes()),
			etag: `"` + hex.EncodeToString(sum[:12]) + `"`, gzETag: `"` + hex.EncodeToString(gzSum[:12]) + `"`}
	}
	return out, nil
}

// errNoEntry is an ID the snapshot does not have.
var errNoEntry = errors.New("no such entry")

// entryJSON returns the OSV file of id, decompressed.
func (s *snapshot) entryJSON(ctx context.Context, id string) ([]byte, error) {
	loc, ok := s.entries[id]
	if !ok {
		return nil, errNoEntry
	}
	raw := io.NewSectionReader(s.ra, loc.off, loc.compSize)
	var r io.Reader = raw
	if loc.method == 8 {
		fr := flate.NewReader(raw)
		defer fr.Close()
		r = fr
	}
	b := make([]byte, loc.size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("entry %s: %w", id, err)
	}
	if crc32.ChecksumIEEE(b) != loc.crc {
		return nil, fmt.Errorf("entry %s: content changed in storage", id)
	}
	return b, nil
}

// entryGzip returns the OSV file of id as a gzip stream: the zip's own
// deflate data between a gzip header and a trailer of the directory's
// CRC-32 and size (both checked against the content when the snapshot
// was built, as is that the deflate data is exactly the directory's
// compressed size), so a .json.gz costs a read and no compression, and
// no copy in memory. An entry the zip stores uncompressed is compressed
// here.
func (s *snapshot) entryGzip(ctx context.Context, id string) (io.ReadSeeker, error) {
	loc, ok := s.entries[id]
	if !ok {
		return nil, errNoEntry
	}
	if loc.method != 8 {
		b, err := s.entryJSON(ctx, id)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return bytes.NewReader(buf.Bytes()), nil
	}
	g := &gzipEntry{ra: s.ra, off: loc.off, n: loc.compSize}
	// ID1 ID2 CM=deflate FLG=0 MTIME=0 XFL=0 OS=255 (unknown)
	copy(g.head[:], []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
	binary.LittleEndian.PutUint32(g.tail[:], loc.crc)
	binary.LittleEndian.PutUint32(g.tail[4:], uint32(loc.size))
	return io.NewSectionReader(g, 0, int64(len(g.head))+g.n+int64(len(g.tail))), nil
}

// gzipEntry is the io.ReaderAt of a gzip file: head, then n bytes of ra
// at off, then tail.
type gzipEntry struct {
	ra   io.ReaderAt
	off  int64
	n    int64
	head [10]byte
	tail [8]byte
}

func (g *gzipEntry) ReadAt(p []byte, at int64) (int, error) {
	total := 0
	for len(p) > 0 {
		var (
			n   int
			err error
		)
		switch h := int64(len(g.head)); {
		case at < h:
			n = copy(p, g.head[at:])
		case at < h+g.n:
			n, err = g.ra.ReadAt(p[:min(int64(len(p)), h+g.n-at)], g.off+at-h)
			if err == io.EOF && n > 0 {
				err = nil
			}
		case at < h+g.n+int64(len(g.tail)):
			n = copy(p, g.tail[at-h-g.n:])
		default:
			return total, io.EOF
		}
		total += n
		at += int64(n)
		p = p[n:]
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Advisory is what a lookup tells of an entry that affects a module
// version.
type Advisory struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
	// Fixed is the version that fixes it for the version looked up
	// ("v"-prefixed), or "" if no fix is known.
	Fixed string `json:"fixed,omitempty"`
}

// lookup returns the advisories affecting version (canonical semver) of
// modulePath, by ID; withdrawn entries are left out.
func (s *snapshot) lookup(modulePath, version string) []Advisory {
	var out []Advisory
	for _, me := range s.modules[modulePath] {
		if me.adv.Withdrawn || !rangesAffect(me.ranges, version) {
			continue
		}
		fix := ""
		for _, r := range me.ranges {
			if r.Type == RangeSemver && rangeAffects(r.Events, version) {
				fix = fixAbove(r.Events, version)
				break
			}
		}
		if i := slices.IndexFunc(out, func(a Advisory) bool { return a.ID == me.adv.ID }); i >= 0 {
			continue // two Affected of one module in an entry
		}
		out = append(out, Advisory{ID: me.adv.ID, Aliases: me.adv.Aliases, Summary: me.adv.Summary, Fixed: fix})
	}
	slices.SortFunc(out, func(a, b Advisory) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// canonicalVersion is canonical, checked: "" if version is not semver.
func canonicalVersion(version string) string {
	v := canonical(version)
	if !semver.IsValid(v) {
		return ""
	}
	return v
}
