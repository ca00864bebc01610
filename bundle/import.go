package bundle

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/sync/errgroup"

	"github.com/gomirror/gomirror/internal/diskspace"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	gsumdb "github.com/gomirror/gomirror/sumdb"
)

// Size limits of a bundle's entries, whatever Limits say.
const (
	MaxZipSize   = modzip.MaxZipFile // a module zip, as the go command bounds it
	maxGoMod     = modzip.MaxGoMod
	maxInfo      = 64 << 10
	maxSumDBFile = 64 << 10 // a lookup, a tile (8 KiB), a tree head
	maxManifest  = 256 << 20
	// A manifest may take this many bytes per entry seen before it (a
	// File line and a Module line, each with a key of up to
	// storage.MaxKeyLen bytes), and maxManifestBase more.
	maxManifestPerEntry = 2*storage.MaxKeyLen + 512
	maxManifestBase     = 64 << 10
	maxSignature        = 64 << 10
)

// Limits bound what a bundle may make Import hold or write. The zero
// value of a field means its default.
type Limits struct {
	MaxEntries int // entries (default 200,000)
	// MaxBytes bounds the uncompressed bytes of all entries, staged on
	// disk. Default: the space free in the staging directory's file system
	// less a margin (the larger of 1 GiB and 5%), at most 64 GiB; 64 GiB
	// where the free space is not known.
	MaxBytes  int64
	MaxSumDB  int64  // bytes of checksum database files, the only entries held in memory (default 256 MiB)
	MaxWindow uint64 // zstd window size (default 64 MiB; the encoder's default is 8 MiB)
}

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = 200_000
	}
	if l.MaxSumDB <= 0 {
		l.MaxSumDB = 256 << 20
	}
	if l.MaxWindow == 0 {
		l.MaxWindow = 64 << 20
	}
	return l
}

// ImportOptions configure Import.
type ImportOptions struct {
	Storage storage.Storage
	// DB is the configured checksum database: the bundle's records must be
	// signed with its key. nil (GOSUMDB off): every module is checked
	// against the manifest's hash only.
	DB *gsumdb.DB
	// Exempt reports whether a module path is exempt from the database
	// (nosumdb, private): checked against the manifest's hash only.
	Exempt func(path string) bool
	// Trusted are the keys whose signature of the manifest (SignatureName)
	// makes Import accept modules checked against the manifest only (the
	// exempt ones, or all with DB nil). Without such a signature a bundle
	// holding any of them is refused.
	Trusted []note.Verifier
	// TempDir is where entries are staged ("": the storage's TempDir if it
	// has one, so that storing is a rename, else os.TempDir).
	TempDir string
	Limits  Limits
}

// ImportReport says what Import found and stored.
type ImportReport struct {
	Modules int `json:"modules"`
	Added   int `json:"added"`   // artifacts stored
	Present int `json:"present"` // artifacts the store already held, as in the bundle
	// Repaired counts the files (artifacts, their hash side-files,
	// checksum database files) the store held with other contents than
	// the verified bundle's, replaced; RepairedKeys lists them.
	Repaired     int      `json:"repaired"`
	RepairedKeys []string `json:"repairedKeys,omitempty"`
	SumDBAdded   int      `json:"sumdbAdded"`   // checksum database files stored
	SumDBPresent int      `json:"sumdbPresent"` // ... already held
	// HashOnly lists the module versions (path@version) checked against
	// the manifest's hash only: exempt from the checksum database.
	HashOnly []string `json:"hashOnly,omitempty"`
	// SignedBy is the name of the trusted key that signed the manifest,
	// if a signature was needed (HashOnly) and checked.
	SignedBy string `json:"signedBy,omitempty"`
	// AddedKeys lists the storage keys of the artifacts stored.
	AddedKeys []string `json:"addedKeys,omitempty"`
}

// PartlyStoredError is Import's error for a bundle that passed every
// check but could not be stored whole (a storage failure): what was
// stored is whole and consistent (no version has a .mod or .info without
// its .zip), and importing again completes it.
type PartlyStoredError struct{ Err error }

func (e *PartlyStoredError) Error() string {
	return "bundle verified, partly stored: run the import again: " + e.Err.Error()
}

func (e *PartlyStoredError) Unwrap() error { return e.Err }

// RefusedError is Import's error for a bundle that fails a check: nothing
// was stored.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "bundle refused, nothing stored: " + e.Reason }

func refuse(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// staged is a bundle entry read and checked on its own.
type staged struct {
	name   string
	size   int64
	sha256 string
	file   string // staging file of an artifact
	data   []byte // a checksum database file (small: held in memory)
	h1     string // of a .zip or .mod
	mv     module.Version
	kind   layout.Kind // 0 for a database file
}

// Import reads a bundle from r, verifies all of it (see the package
// documentation) and only then stores it in opts.Storage. A bundle that
// fails a check is a *RefusedError and nothing is stored; a failure while
// storing a verified bundle is a *PartlyStoredError: part of it may be
// stored, each file whole, and importing again completes it. Other errors
// (reading r, staging) store nothing.
func Import(ctx context.Context, r io.Reader, opts ImportOptions) (*ImportReport, error) {
	lim := opts.Limits.withDefaults()
	bytesLimit := "the limit"
	if opts.Exempt == nil {
		opts.Exempt = func(string) bool { return false }
	}
	tempRoot, adopt := opts.TempDir, false
	if tempRoot == "" {
		if td, ok := storage.As[storage.TempDirer](opts.Storage); ok {
			tempRoot, adopt = td.TempDir(), true
			if err := os.MkdirAll(tempRoot, 0o755); err != nil {
				return nil, err
			}
		}
	}
	dir, err := os.MkdirTemp(tempRoot, "bundle-import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if lim.MaxBytes <= 0 {
		u, err := diskspace.Of(dir)
		lim.MaxBytes = defaultMaxBytes(u.Avail, err == nil)
		bytesLimit = fmt.Sprintf("the space free to stage it in %s less a margin", dir)
	}

	zr, err := zstd.NewReader(bufio.NewReaderSize(r, 1<<20), zstd.WithDecoderMaxWindow(lim.MaxWindow), zstd.WithDecoderMaxMemory(lim.MaxWindow), zstd.WithDecoderConcurrency(2))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	entries, sm, err := stage(ctx, tar.NewReader(zr), dir, lim, bytesLimit)
	if err != nil {
		return nil, err
	}
	if err := drainTrailer(zr); err != nil {
		return nil, err
	}
	rep, err := check(entries, sm, opts)
	if err != nil {
		return nil, err
	}
	if err := store(ctx, entries, sm.Manifest, opts, adopt, dir, rep); err != nil {
		return rep, &PartlyStoredError{Err: err}
	}
	return rep, nil
}

// maxTrailer bounds the zero padding accepted after the tar end marker
// (tar(1) pads to its record size, 10 KiB by default).
const maxTrailer = 1 << 20

// drainTrailer reads what follows the tar end marker to the end of the
// zstd stream, so that the decoder checks every frame's checksum and
// junk appended to a bundle is seen. It refuses a decoder error, any
// non-zero byte, or more than maxTrailer bytes of padding.
func drainTrailer(zr io.Reader) error {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		m, err := zr.Read(buf)
		for _, b := range buf[:m] {
			if b != 0 {
				return refuse("data after the end of the tar archive")
			}
		}
		if n += int64(m); n > maxTrailer {
			return refuse("more than %d bytes after the end of the tar archive", maxTrailer)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return refuse("reading: %v", err)
		}
	}
}

// defaultMaxBytes is Limits.MaxBytes's default with free bytes in the
// staging file system (if known).
func defaultMaxBytes(free int64, known bool) int64 {
	const most = 64 << 30
	if !known {
		return most
	}
	free -= max(1<<30, free/20)
	return max(1, min(most, free))
}

// signedManifest is a bundle's manifest, the SHA-256 of its bytes and
// the signature that followed it, if any.
type signedManifest struct {
	*Manifest
	sum [32]byte
	sig []byte
}

// stage reads every entry of tr into dir (artifacts) or memory (database
// files), checking each on its own, and then the manifest. The first
// failed check stops it (before the next entry is read).
func stage(ctx context.Context, tr *tar.Reader, dir string, lim Limits, bytesLimit string) (map[string]*staged, *signedManifest, error) {
	entries := make(map[string]*staged)
	var total, sumBytes int64
	checks, gctx := errgroup.WithContext(ctx)
	checks.SetLimit(runtime.GOMAXPROCS(0))
	// Every return waits for the checks started: none outlives stage
	// (their files are removed after it).
	defer checks.Wait()
	buf := make([]byte, 256<<10)
	for {
		if gctx.Err() != nil {
			// A check failed (its refusal explains), or ctx is done.
			if err := checks.Wait(); err != nil {
				return nil, nil, err
			}
			return nil, nil, ctx.Err()
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, nil, refuse("no manifest (%s)", ManifestName)
		}
		if err != nil {
			return nil, nil, refuse("reading: %v", err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, nil, refuse("entry %q is not a regular file", hdr.Name)
		}
		if hdr.Name == ManifestName {
			// The manifest comes last: its size is bounded by the entries
			// it may list.
			if max := min(maxManifest, maxManifestBase+int64(len(entries))*maxManifestPerEntry); hdr.Size < 0 || hdr.Size > max {
				return nil, nil, refuse("manifest of %d bytes, more than %d for %d entries", hdr.Size, max, len(entries))
			}
			b := make([]byte, hdr.Size)
			if _, err := io.ReadFull(tr, b); err != nil {
				return nil, nil, refuse("manifest: %v", err)
			}
			man, err := readManifest(b)
			if err != nil {
				return nil, nil, refuse("%v", err)
			}
			sm := &signedManifest{Manifest: man, sum: sha256.Sum256(b)}
			hdr, err := tr.Next()
			if err == nil && hdr.Name == SignatureName && hdr.Typeflag == tar.TypeReg && hdr.Size >= 0 && hdr.Size <= maxSignature {
				sm.sig = make([]byte, hdr.Size)
				if _, err = io.ReadFull(tr, sm.sig); err != nil {
					return nil, nil, refuse("%s: %v", SignatureName, err)
				}
				hdr, err = tr.Next()
			}
			if err != io.EOF {
				if err == nil {
					return nil, nil, refuse("entry %q after the manifest", hdr.Name)
				}
				return nil, nil, refuse("reading: %v", err)
			}
			if err := checks.Wait(); err != nil {
				return nil, nil, err
			}
			return entries, sm, nil
		}
		if len(entries) >= lim.MaxEntries {
			return nil, nil, refuse("more than %d entries", lim.MaxEntries)
		}
		if entries[hdr.Name] != nil {
			return nil, nil, refuse("entry %q twice", hdr.Name)
		}
		e := &staged{name: hdr.Name, size: hdr.Size}
		max, err := classify(e)
		if err != nil {
			return nil, nil, refuse("%v", err)
		}
		if hdr.Size < 0 || hdr.Size > max {
			return nil, nil, refuse("%s: %d bytes, more than %d", hdr.Name, hdr.Size, max)
		}
		if total += hdr.Size; total > lim.MaxBytes {
			return nil, nil, refuse("more than %d bytes in all (%s)", lim.MaxBytes, bytesLimit)
		}
		h := sha256.New()
		body := io.TeeReader(io.LimitReader(tr, hdr.Size), h)
		if e.kind == 0 {
			if sumBytes += hdr.Size; sumBytes > lim.MaxSumDB {
				return nil, nil, refuse("more than %d bytes of checksum database files", lim.MaxSumDB)
			}
			e.data = make([]byte, hdr.Size)
			if _, err := io.ReadFull(body, e.data); err != nil {
				return nil, nil, refuse("%s: %v", hdr.Name, err)
			}
		} else {
			e.file = filepath.Join(dir, fmt.Sprintf("%07d", len(entries)))
			f, err := os.OpenFile(e.file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return nil, nil, err
			}
			n, err := io.CopyBuffer(onlyWriter{f}, body, buf)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil && n != hdr.Size {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return nil, nil, refuse("%s: %v", hdr.Name, err)
			}
		}
		e.sha256 = hex.EncodeToString(h.Sum(nil))
		if e.kind != 0 {
			// Checked on the other cores while the next entries are staged.
			checks.Go(func() error {
				if err := checkArtifact(e); err != nil {
					return refuse("%v", err)
				}
				return nil
			})
		}
		entries[hdr.Name] = e
	}
}

// onlyWriter hides an *os.File's ReadFrom, so that CopyBuffer uses the
// buffer it is given.
type onlyWriter struct{ io.Writer }

// classify names e's module version and kind (0 for a database file) from
// its name and returns its size limit, or fails for a name that is
// neither an artifact's key nor a database file's.
func classify(e *staged) (int64, error) {
	if err := storage.ValidKey(e.name); err != nil {
		return 0, fmt.Errorf("entry name: %v", err)
	}
	if rest, ok := strings.CutPrefix(e.name, layout.SumDBDir+"/"); ok {
		_, file, _ := strings.Cut(rest, "/")
		switch {
		case file == "latest", strings.HasPrefix(file, "lookup/"):
		case strings.HasPrefix(file, "tile/"):
			t, err := tlog.ParseTilePath(file)
			if err != nil || t.L < 0 || t.H != tileHeight {
				return 0, fmt.Errorf("entry %q: not a hash tile of height %d", e.name, tileHeight)
			}
		default:
			return 0, fmt.Errorf("entry %q: not a checksum database file a client reads", e.name)
		}
		return maxSumDBFile, nil
	}
	mv, k, err := layout.Parse(e.name)
	if err != nil || !k.Artifact() || !layout.IsCanonical(mv) {
		return 0, fmt.Errorf("entry %q: not a module artifact", e.name)
	}
	if key, err := layout.Key(mv, k); err != nil || key != e.name {
		return 0, fmt.Errorf("entry %q: not an artifact's storage key", e.name)
	}
	e.mv, e.kind = mv, k
	switch k {
	case layout.Info:
		return maxInfo, nil
	case layout.Mod:
		return maxGoMod, nil
	}
	return MaxZipSize, nil
}

// checkArtifact checks what an artifact says about itself: a .info names
// its version, a .zip is a valid zip of its module; and it computes the
// h1: hash of a .zip or .mod.
func checkArtifact(e *staged) error {
	var err error
	switch e.kind {
	case layout.Info:
		var b []byte
		var info struct{ Version string }
		if b, err = os.ReadFile(e.file); err == nil {
			if err = json.Unmarshal(b, &info); err == nil && info.Version != e.mv.Version {
				err = fmt.Errorf("names version %q", info.Version)
			}
		}
	case layout.Mod:
		var b []byte
		if b, err = os.ReadFile(e.file); err == nil {
			e.h1, err = gsumdb.HashGoMod(b)
		}
	case layout.Zip:
		if _, err = modzip.CheckZip(e.mv, e.file); err == nil {
			e.h1, err = hashZip(e.file)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %v", e.name, err)
	}
	return nil
}

// check verifies the staged entries against the manifest and the checksum
// database (see the package documentation).
func check(entries map[string]*staged, sm *signedManifest, opts ImportOptions) (*ImportReport, error) {
	man := sm.Manifest
	// Every entry is the manifest's, and the manifest names no other.
	if len(man.Files) != len(entries) {
		return nil, refuse("the manifest lists %d files, the bundle holds %d", len(man.Files), len(entries))
	}
	for _, f := range man.Files {
		e := entries[f.Name]
		if e == nil {
			return nil, refuse("%s: in the manifest, not in the bundle", f.Name)
		}
		if e.size != f.Size || e.sha256 != f.SHA256 {
			return nil, refuse("%s: size %d, SHA-256 %s; the manifest says %d, %s", f.Name, e.size, e.sha256, f.Size, f.SHA256)
		}
	}
	// Every artifact is a listed module's, and every listed module has its files.
	rep := &ImportReport{Modules: len(man.Modules)}
	mods := make(map[module.Version]Module)
	for _, m := range man.Modules {
		mv := m.ModuleVersion()
		if !layout.IsCanonical(mv) {
			return nil, refuse("manifest: %s@%s is not a canonical module version", m.Path, m.Version)
		}
		if _, dup := mods[mv]; dup {
			return nil, refuse("manifest: %s@%s twice", m.Path, m.Version)
		}
		mods[mv] = m
		for _, k := range [...]layout.Kind{layout.Info, layout.Mod, layout.Zip} {
			if m.ModOnly && k != layout.Mod {
				continue
			}
			key, err := layout.Key(mv, k)
			if err != nil || entries[key] == nil {
				return nil, refuse("%s@%s: no %s in the bundle", m.Path, m.Version, k)
			}
		}
	}
	for _, e := range entries {
		if e.kind == 0 {
			continue
		}
		m, ok := mods[e.mv]
		if !ok {
			return nil, refuse("%s: of no module version the manifest lists", e.name)
		}
		if m.ModOnly && e.kind == layout.Zip {
			return nil, refuse("%s: a zip of a go.mod-only requirement", e.name)
		}
	}

	// The checksum database.
	var sumdbPrefix string
	if opts.DB != nil {
		sumdbPrefix = layout.SumDBKey(opts.DB.Name) + "/"
	}
	for _, e := range entries {
		if e.kind == 0 && (sumdbPrefix == "" || !strings.HasPrefix(e.name, sumdbPrefix)) {
			if opts.DB == nil {
				return nil, refuse("%s: checksum database files, but the checksum database is off here", e.name)
			}
			return nil, refuse("%s: not a file of the configured checksum database %s", e.name, opts.DB.Name)
		}
	}
	if opts.DB != nil {
		// The manifest names the database whose files it carries (store
		// writes them only then).
		hasFiles := false
		for _, e := range entries {
			hasFiles = hasFiles || e.kind == 0
		}
		if hasFiles && man.SumDB != opts.DB.Name || man.SumDB != "" && man.SumDB != opts.DB.Name {
			return nil, refuse("the manifest names checksum database %q, not the configured %s", man.SumDB, opts.DB.Name)
		}
	}
	var recs []record
	lookupOf := make(map[string]bool)
	if opts.DB != nil {
		v, err := note.NewVerifier(opts.DB.Key)
		if err != nil {
			return nil, err
		}
		verifiers := note.VerifierList(v)
		for _, m := range man.Modules {
			mv := m.ModuleVersion()
			file, err := layout.SumDBLookupFile(mv)
			if err != nil {
				return nil, refuse("%s@%s: %v", m.Path, m.Version, err)
			}
			lookupOf[sumdbPrefix+file] = true
			e := entries[sumdbPrefix+file]
			exempt := opts.Exempt(m.Path)
			if e == nil {
				if exempt {
					continue
				}
				return nil, refuse("%s@%s: no checksum database record in the bundle (exempt where it was exported, not here)", m.Path, m.Version)
			}
			// A record of a module exempt here (not exempt where the
			// bundle was made) is verified with the others, since its
			// tiles are in the bundle, but is not stored (store) and
			// decides nothing: its module is checked by the manifest.
			rec, err := parseLookup(file, e.data, verifiers)
			if err != nil {
				return nil, refuse("%v", err)
			}
			recs = append(recs, rec)
			if exempt {
				continue
			}
			want := map[layout.Kind]string{layout.Mod: m.Path + " " + m.Version + "/go.mod "}
			if !m.ModOnly {
				want[layout.Zip] = m.Path + " " + m.Version + " "
			}
			for k, prefix := range want {
				key, _ := layout.Key(mv, k)
				got := entries[key].h1
				if !hasLine(rec.text, prefix+got) {
					return nil, refuse("%s: hash %s disagrees with the checksum database", key, got)
				}
			}
		}
		for _, e := range entries {
			if e.kind == 0 && strings.HasPrefix(e.name, sumdbPrefix+"lookup/") && !lookupOf[e.name] {
				return nil, refuse("%s: a record of no module version checked against the database", e.name)
			}
		}
		tiles := newTileSet()
		for _, e := range entries {
			if rest, ok := strings.CutPrefix(e.name, sumdbPrefix); ok && strings.HasPrefix(rest, "tile/") {
				tiles.tiles[rest] = e.data
			}
		}
		if err := verify(recs, tiles); err != nil {
			return nil, refuse("checksum database: %v", err)
		}
		latest := entries[sumdbPrefix+"latest"]
		if len(recs) > 0 {
			if latest == nil {
				return nil, refuse("no signed tree head (%slatest)", sumdbPrefix)
			}
			tree, err := openTree(latest.data, verifiers)
			if err != nil {
				return nil, refuse("%slatest: %v", sumdbPrefix, err)
			}
			ts, _ := trees(recs)
			if top := ts[len(ts)-1]; tree != top {
				return nil, refuse("%slatest: not the tree head of the largest tree the records carry", sumdbPrefix)
			}
		} else if latest != nil {
			return nil, refuse("%slatest: a tree head without records", sumdbPrefix)
		}
	}
	for _, m := range man.Modules {
		if opts.DB == nil || opts.Exempt(m.Path) {
			rep.HashOnly = append(rep.HashOnly, m.Path+"@"+m.Version)
		}
	}
	// The manifest is in the bundle it describes: it authenticates the
	// hash-only modules only if signed by a key trusted here.
	if len(rep.HashOnly) > 0 {
		why := "exempt from the checksum database here (nosumdb, private)"
		if opts.DB == nil {
			why = "the checksum database is off here"
		}
		switch {
		case sm.sig == nil:
			return nil, refuse("%s: %s and the bundle's manifest is not signed (bundle export --sign-key; import --trust)", listShort(rep.HashOnly), why)
		case len(opts.Trusted) == 0:
			return nil, refuse("%s: %s and no key is trusted to sign the bundle's manifest (bundle import --trust)", listShort(rep.HashOnly), why)
		}
		name, err := checkSignature(sm.sig, sm.sum, opts.Trusted)
		if err != nil {
			return nil, refuse("manifest signature: %v (needed for %s)", err, listShort(rep.HashOnly))
		}
		rep.SignedBy = name
	}
	return rep, nil
}

// listShort lists the first few of mods.
func listShort(mods []string) string {
	if len(mods) <= 5 {
		return strings.Join(mods, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(mods[:5], ", "), len(mods)-5)
}

// hasLine reports whether text has line as one of its lines.
func hasLine(text []byte, line string) bool {
	for l := range strings.SplitSeq(string(text), "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// write is one file store writes: from a staging file or from memory.
type write struct {
	key      string
	file     string
	data     []byte
	artifact bool
	repair   bool // replaces a file of other contents
	done     bool // stored
}

// exists reports whether s holds key.
func exists(ctx context.Context, s storage.Storage, key string) (bool, error) {
	_, err := s.Stat(ctx, key)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// holds reports whether s holds key, and whether with size bytes of
// SHA-256 sum (hex).
func holds(ctx context.Context, s storage.Storage, key string, size int64, sum string) (held, same bool, err error) {
	obj, err := s.Get(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	defer obj.Body.Close()
	if obj.Size != size {
		return true, false, nil
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(obj.Body, size+1))
	if err != nil {
		return true, false, fmt.Errorf("reading %s: %w", key, err)
	}
	return true, n == size && hex.EncodeToString(h.Sum(nil)) == sum, nil
}

// storeWorkers bounds the files Import checks for or writes at once:
// storing is mostly waiting (file creation in the kernel, a round trip to
// S3), and module versions are independent of each other.
const storeWorkers = 8

// store writes the verified entries that the store lacks or holds with
// other contents (repaired): the database files first, then
// sumdb/<name>/supported, then the module versions, each version's .zip,
// .mod (each after its recorded hash, as the cache does) and .info in that
// order, so that a failure midway leaves no version listable without its
// zip and no store claiming a database whose files it lacks. Versions are
// written several at a time (storeWorkers), as are the database files.
// With adopt (the staging directory is in the store's file system), every
// file is staged, the staging directory's file system synced once
// (syncfs), and each file renamed into place through the store's unsynced
// view: as durable as a synced write per file (no file is renamed before
// its content is on disk), for one sync instead of one per file.
func store(ctx context.Context, entries map[string]*staged, man *Manifest, opts ImportOptions, adopt bool, dir string, rep *ImportReport) error {
	s := opts.Storage
	plan, err := planStore(ctx, s, entries, man, opts, rep)
	if err != nil {
		return err
	}
	adopter, canAdopt := storage.As[storage.FileAdopter](storage.Unsynced(s))
	canAdopt = canAdopt && adopt
	if canAdopt {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(storeWorkers)
		for i, group := range plan {
			for j := range group {
				w := &group[j]
				if w.file != "" {
					continue
				}
				w.file = filepath.Join(dir, fmt.Sprintf("w%05d-%02d", i, j))
				g.Go(func() error {
					if err := gctx.Err(); err != nil {
						return err
					}
					return os.WriteFile(w.file, w.data, 0o644)
				})
			}
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	put := func(ctx context.Context, w *write) error {
		var err error
		switch {
		case canAdopt:
			err = adopter.AdoptFile(ctx, w.key, w.file)
		case w.file != "":
			var f *os.File
			if f, err = os.Open(w.file); err == nil {
				err = s.Put(ctx, w.key, f)
				f.Close()
			}
		default:
			err = storage.PutBytes(ctx, s, w.key, w.data)
		}
		if err != nil {
			return fmt.Errorf("storing %s: %w", w.key, err)
		}
		w.done = true
		return nil
	}
	// The database files (plan[0], in any order), then supported
	// (plan[1]: the store says it serves the database only once it holds
	// its files), before any version: a client that sees a version finds
	// its proof.
	err = forEach(ctx, plan[:1], true, put)
	if err == nil {
		err = forEach(ctx, plan[1:2], true, put)
	}
	if err == nil {
		err = forEach(ctx, plan[2:], false, put)
	}
	// What was written, in the plan's order, also when storing failed.
	for _, group := range plan {
		for _, w := range group {
			switch {
			case !w.done:
			case w.repair:
				rep.Repaired++
				rep.RepairedKeys = append(rep.RepairedKeys, w.key)
			case w.artifact:
				rep.Added++
				rep.AddedKeys = append(rep.AddedKeys, w.key)
			}
		}
	}
	return err
}

// forEach puts every write of groups, storeWorkers at a time: each group
// in order in one goroutine or, with split, each write on its own. The
// first error stops the rest (a group stops at its failed write).
func forEach(ctx context.Context, groups [][]write, split bool, put func(context.Context, *write) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(storeWorkers)
	run := func(ws []write) {
		g.Go(func() error {
			for i := range ws {
				if err := gctx.Err(); err != nil {
					return err
				}
				if err := put(gctx, &ws[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	for _, group := range groups {
		if !split {
			run(group)
			continue
		}
		for i := range group {
			run(group[i : i+1])
		}
	}
	return g.Wait()
}

// planStore returns the writes store makes, as groups: the database files
// first (one group), then sumdb/<name>/supported (one group, empty if the
// store has it), then one group per module version, in order; it
// counts what the store already holds as it is (rep.Present,
// SumDBPresent) and the database files to add (SumDBAdded). Whether the
// store holds each file is asked storeWorkers at a time.
func planStore(ctx context.Context, s storage.Storage, entries map[string]*staged, man *Manifest, opts ImportOptions, rep *ImportReport) ([][]write, error) {
	type candidate struct {
		w     write
		group int // 0: database files; 1: supported; i > 1: the (i-2)th module version
		// existsOnly: written only if missing, never replaced (whatever
		// its contents); else written unless held with size bytes of
		// SHA-256 sum.
		existsOnly bool
		size       int64
		sum        string
		counted    *int // rep's count of files held as they are, if any
		sumdb      bool // counted in SumDBAdded when added
		planned    bool // set by the check
	}
	var cands []candidate
	dataSum := func(b []byte) string {
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:])
	}
	if man.SumDB != "" && opts.DB != nil {
		for _, name := range slices.Sorted(mapKeys(entries)) {
			e := entries[name]
			if e.kind != 0 {
				continue
			}
			if p, ok := lookupModule(name); ok && opts.Exempt(p) {
				continue // never stored for a path the database must not learn of
			}
			c := candidate{w: write{key: name, data: e.data}, size: int64(len(e.data)), sum: dataSum(e.data), counted: &rep.SumDBPresent, sumdb: true}
			// The tree head is written if missing, never replaced: the
			// store's may be newer (the sumdb endpoint keeps the newest
			// it verified).
			c.existsOnly = name == layout.SumDBKey(opts.DB.Name)+"/latest"
			cands = append(cands, c)
		}
		cands = append(cands, candidate{w: write{key: layout.SumDBSupportedKey(opts.DB.Name), data: []byte{}}, group: 1, existsOnly: true})
	}
	for i, m := range man.Modules {
		for _, k := range [...]layout.Kind{layout.Zip, layout.Mod, layout.Info} {
			key, err := layout.Key(m.ModuleVersion(), k)
			if err != nil {
				return nil, err
			}
			e := entries[key]
			if e == nil {
				continue // a go.mod-only requirement's zip or .info
			}
			if hashKey, ok := layout.HashKey(key); ok {
				data := []byte(e.h1 + "\n")
				cands = append(cands, candidate{w: write{key: hashKey, data: data}, group: i + 2, size: int64(len(data)), sum: dataSum(data)})
			}
			cands = append(cands, candidate{w: write{key: key, file: e.file, artifact: true}, group: i + 2, size: e.size, sum: e.sha256, counted: &rep.Present})
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(storeWorkers)
	for i := range cands {
		c := &cands[i]
		g.Go(func() error {
			if c.existsOnly {
				ok, err := exists(gctx, s, c.w.key)
				c.planned = !ok
				return err
			}
			held, same, err := holds(gctx, s, c.w.key, c.size, c.sum)
			c.planned, c.w.repair = !same, held && !same
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	plan := make([][]write, len(man.Modules)+2)
	for _, c := range cands {
		switch {
		case c.planned:
			plan[c.group] = append(plan[c.group], c.w)
			if c.sumdb && !c.w.repair {
				rep.SumDBAdded++
			}
		case c.counted != nil:
			*c.counted++
		}
	}
	return plan, nil
}

// lookupModule returns the module path of a lookup file's key.
func lookupModule(key string) (string, bool) {
	_, rest, ok := strings.Cut(key, "/lookup/")
	if !ok {
		return "", false
	}
	esc, _, ok := strings.Cut(rest, "@")
	if !ok {
		return "", false
	}
	p, err := module.UnescapePath(esc)
	return p, err == nil
}
