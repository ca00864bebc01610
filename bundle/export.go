package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/sync/errgroup"

	"github.com/gomirror/gomirror/internal/httpstatus"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	gsumdb "github.com/gomirror/gomirror/sumdb"
)

// Fetcher gets a file missing from the store, by its GOPROXY URL path
// (which is also its storage key): an artifact or a checksum database file.
// The export command fetches through an in-process mirror, so that what it
// gets is verified as anything the mirror serves.
type Fetcher interface {
	Fetch(ctx context.Context, urlPath string) (io.ReadCloser, error)
}

// MirrorFetcher is a Fetcher that asks a GOPROXY server (an in-process
// mirror, for the command) at URL for what a store lacks. A 404 or 410 is a
// "not found" (fs.ErrNotExist); any other failure names the path, the status
// and the first line of the answer.
type MirrorFetcher struct{ URL string }

var _ Fetcher = MirrorFetcher{}

// Fetch returns the body of the file at urlPath.
func (f MirrorFetcher) Fetch(ctx context.Context, urlPath string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(f.URL, "/")+"/"+urlPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if err := httpstatus.Check(resp); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", urlPath, err) // 404 and 410 are fs.ErrNotExist
	}
	return resp.Body, nil
}

// ExportOptions configure Export.
type ExportOptions struct {
	// Storage is read first for every file.
	Storage storage.Storage
	// Fetch, if not nil, gets what Storage lacks; otherwise a missing file
	// fails the export.
	Fetch Fetcher
	// DB is the checksum database whose records the bundle carries; nil
	// with GOSUMDB off.
	DB *gsumdb.DB
	// Exempt reports whether a module path is not looked up in the
	// database (nosumdb, private); nil: none is.
	Exempt func(path string) bool
	// TempDir holds a fetched zip while it is written ("": os.TempDir).
	TempDir string
	// Signer, if not nil, signs the manifest (SignatureName): an importer
	// trusting its key accepts modules it cannot check against the
	// checksum database.
	Signer note.Signer
	// Now is the manifest's creation time (nil: time.Now).
	Now func() time.Time
}

// ExportReport says what Export wrote.
type ExportReport struct {
	Modules    int   `json:"modules"`
	Artifacts  int   `json:"artifacts"`
	SumDBFiles int   `json:"sumdbFiles"`
	Exempt     int   `json:"exempt"` // modules without database records
	Bytes      int64 `json:"bytes"`  // uncompressed bytes of entries
}

// Export writes a bundle of mods to w. It reads each version's files from
// opts.Storage (or opts.Fetch), and the checksum database's records and
// tiles as described in the package documentation; a version missing a
// required file, or whose database record cannot be read and proven,
// fails the export. Artifacts are streamed: memory holds the database's
// files, not the zips.
func Export(ctx context.Context, w io.Writer, mods []Module, opts ExportOptions) (*ExportReport, error) {
	mods = normalize(mods)
	for _, m := range mods {
		if !layout.IsCanonical(m.ModuleVersion()) {
			return nil, fmt.Errorf("%s@%s: not a canonical module version", m.Path, m.Version)
		}
	}
	if opts.Exempt == nil {
		opts.Exempt = func(string) bool { return false }
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	// The checksum database's files are gathered and checked (CPU-bound
	// proof work) while the artifacts are written, on another core; they
	// follow the artifacts in the bundle.
	ctx, cancel := context.WithCancel(ctx)
	sumDone := make(chan struct{})
	e := &exporter{ctx: ctx, opts: opts, h1: make(map[string]string)}
	// The zips' h1: hashes are computed on every core while the next
	// artifacts are written; a few at a time (each holds its file open).
	e.hashes.SetLimit(runtime.GOMAXPROCS(0))
	defer func() {
		cancel()
		<-sumDone // nothing outlives Export
		e.hashes.Wait()
	}()
	man := &Manifest{Format: Format, Created: now().UTC()}
	rep := &ExportReport{Modules: len(mods)}

	var sumFiles map[string][]byte // by key
	var sumErr error
	var lookups []Module
	if opts.DB != nil {
		for i := range mods {
			if opts.Exempt(mods[i].Path) {
				mods[i].Exempt = true
				rep.Exempt++
			} else {
				lookups = append(lookups, mods[i])
			}
		}
		if len(lookups) > 0 {
			man.SumDB = opts.DB.Name
		}
	} else {
		for i := range mods {
			mods[i].Exempt = true
		}
		rep.Exempt = len(mods)
	}
	man.Modules = mods
	if len(lookups) > 0 {
		go func() {
			defer close(sumDone)
			sumFiles, sumErr = e.sumdbFiles(lookups)
			if sumErr != nil {
				cancel() // stops the artifacts' copy early
			}
		}()
	} else {
		close(sumDone)
	}
	// sumdbErr waits for the database's files and returns their error,
	// which explains a cancellation better than the copy's own.
	sumdbErr := func() error {
		<-sumDone
		return sumErr
	}

	zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	mtime := man.Created
	add := func(name string, size int64, r io.Reader) error {
		h := sha256.New()
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		n, err := io.Copy(tw, io.TeeReader(storage.ContextReader(ctx, r), h))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if n != size {
			return fmt.Errorf("%s: %d bytes, want %d", name, n, size)
		}
		man.Files = append(man.Files, File{Name: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
		rep.Bytes += size
		return nil
	}
	for _, m := range mods {
		for _, k := range [...]layout.Kind{layout.Info, layout.Mod, layout.Zip} {
			if m.ModOnly && k == layout.Zip {
				continue
			}
			key, err := layout.Key(m.ModuleVersion(), k)
			if err != nil {
				return nil, err
			}
			size, body, err := e.open(key)
			if errors.Is(err, fs.ErrNotExist) && m.ModOnly && k == layout.Info {
				continue // a go.mod-only requirement's .info is optional
			}
			if err != nil {
				if serr := sumdbErr(); serr != nil {
					return nil, serr
				}
				return nil, fmt.Errorf("%s@%s: %w", m.Path, m.Version, err)
			}
			if err := e.addHashed(key, k, size, body, add); err != nil {
				if serr := sumdbErr(); serr != nil {
					return nil, serr
				}
				return nil, err
			}
			rep.Artifacts++
		}
	}
	if err := sumdbErr(); err != nil {
		return nil, err
	}
	if err := e.hashes.Wait(); err != nil {
		return nil, err
	}
	if err := e.checkHashes(mods, sumFiles); err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(mapKeys(sumFiles)) {
		b := sumFiles[k]
		if err := add(k, int64(len(b)), strings.NewReader(string(b))); err != nil {
			return nil, err
		}
		rep.SumDBFiles++
	}
	mb, err := json.MarshalIndent(man, "", "\t")
	if err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: ManifestName, Mode: 0o644, Size: int64(len(mb)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(mb); err != nil {
		return nil, err
	}
	if opts.Signer != nil {
		sig, err := note.Sign(&note.Note{Text: SignatureText(sha256.Sum256(mb))}, opts.Signer)
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: SignatureName, Mode: 0o644, Size: int64(len(sig)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(sig); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return rep, nil
}

// normalize sorts mods by path and version and merges duplicates (a
// version wanted whole and as a go.mod-only requirement is wanted whole).
func normalize(mods []Module) []Module {
	out := slices.Clone(mods)
	for i := range out {
		out[i].Exempt = false
	}
	slices.SortFunc(out, func(a, b Module) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	j := 0
	for i := range out {
		if j > 0 && out[j-1].Path == out[i].Path && out[j-1].Version == out[i].Version {
			out[j-1].ModOnly = out[j-1].ModOnly && out[i].ModOnly
			continue
		}
		out[j] = out[i]
		j++
	}
	return out[:j]
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

type exporter struct {
	ctx  context.Context
	opts ExportOptions

	hashes errgroup.Group // zips being hashed
	mu     sync.Mutex
	h1     map[string]string // of each .mod and .zip written, by key
}

// addHashed adds the artifact body (of kind k, size bytes) at key with add,
// closes body, and records the h1: hash of a .mod or, later (e.hashes), of
// a .zip: hashed from the file it is read from, or a spilled copy.
func (e *exporter) addHashed(key string, k layout.Kind, size int64, body io.ReadCloser, add func(string, int64, io.Reader) error) error {
	switch k {
	case layout.Mod:
		defer body.Close()
		if size > maxGoMod {
			return fmt.Errorf("%s: %d bytes, more than %d", key, size, maxGoMod)
		}
		var b bytes.Buffer
		err := add(key, size, io.TeeReader(body, &b))
		if err != nil {
			return err
		}
		h1, err := gsumdb.HashGoMod(b.Bytes())
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		e.setH1(key, h1)
		return nil
	case layout.Zip:
		f, ok := body.(*os.File)
		var r io.Reader = body
		if !ok {
			defer body.Close()
			var err error
			if f, err = os.CreateTemp(e.opts.TempDir, "bundle-zip-*"); err != nil {
				return err
			}
			os.Remove(f.Name()) // gone once closed
			r = io.TeeReader(body, f)
		}
		if err := add(key, size, r); err != nil {
			f.Close()
			return err
		}
		e.hashes.Go(func() error {
			defer f.Close()
			h1, err := hashZipAt(f, size)
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			e.setH1(key, h1)
			return nil
		})
		return nil
	}
	defer body.Close()
	return add(key, size, body)
}

func (e *exporter) setH1(key, h1 string) {
	e.mu.Lock()
	e.h1[key] = h1
	e.mu.Unlock()
}

// checkHashes checks the h1: hash of each .mod and .zip written against
// its module's checksum database record in sumFiles or, for a module
// without one (exempt), against its hash side-file in the store if there
// is one: a damaged or forged stored file fails the export, not the
// import at the far side.
func (e *exporter) checkHashes(mods []Module, sumFiles map[string][]byte) error {
	for _, m := range mods {
		for _, k := range [...]layout.Kind{layout.Mod, layout.Zip} {
			key, err := layout.Key(m.ModuleVersion(), k)
			if err != nil {
				return err
			}
			h1, ok := e.h1[key]
			if !ok {
				continue // a go.mod-only requirement's zip
			}
			line := m.Path + " " + m.Version + " " + h1
			if k == layout.Mod {
				line = m.Path + " " + m.Version + "/go.mod " + h1
			}
			if !m.Exempt {
				file, err := layout.SumDBLookupFile(m.ModuleVersion())
				if err != nil {
					return err
				}
				if !hasLine(sumFiles[layout.SumDBKey(e.opts.DB.Name)+"/"+file], line) {
					return fmt.Errorf("%s: hash %s disagrees with the checksum database record: the store's copy is damaged or forged", key, h1)
				}
				continue
			}
			hk, ok := layout.HashKey(key)
			if !ok {
				continue
			}
			b, err := storage.ReadAll(e.ctx, e.opts.Storage, hk)
			if errors.Is(err, fs.ErrNotExist) {
				continue // nothing recorded to check against
			}
			if err != nil {
				return err
			}
			if got := strings.TrimSpace(string(b)); got != h1 {
				return fmt.Errorf("%s: hash %s disagrees with the hash recorded in %s (%s): the store's copy is damaged or forged", key, h1, hk, got)
			}
		}
	}
	return nil
}

// open returns the size and body of the file at key, from the store or
// else fetched (spilled to a temporary file, to know its size).
func (e *exporter) open(key string) (int64, io.ReadCloser, error) {
	obj, err := e.opts.Storage.Get(e.ctx, key)
	if err == nil {
		return obj.Size, obj.Body, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || e.opts.Fetch == nil {
		return 0, nil, err
	}
	body, err := e.opts.Fetch.Fetch(e.ctx, key)
	if err != nil {
		return 0, nil, err
	}
	defer body.Close()
	f, err := os.CreateTemp(e.opts.TempDir, "bundle-fetch-*")
	if err != nil {
		return 0, nil, err
	}
	os.Remove(f.Name()) // gone once closed
	bw := bufio.NewWriter(f)
	n, err := io.Copy(bw, io.LimitReader(body, MaxZipSize+1))
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && n > MaxZipSize {
		err = fmt.Errorf("%s: larger than %d bytes", key, int64(MaxZipSize))
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return 0, nil, err
	}
	return n, f, nil
}

// readSmall reads a small file (a database file) of at most max bytes.
func (e *exporter) readSmall(key string, max int64) ([]byte, error) {
	size, body, err := e.open(key)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	if size > max {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", key, size, max)
	}
	return io.ReadAll(io.LimitReader(body, max))
}

// sumdbFiles returns the checksum database files, by storage key, that
// prove mods (see the package documentation).
func (e *exporter) sumdbFiles(mods []Module) (map[string][]byte, error) {
	db := e.opts.DB
	verifier, err := note.NewVerifier(db.Key)
	if err != nil {
		return nil, err
	}
	prefix := layout.SumDBKey(db.Name) + "/"
	files := make(map[string][]byte)
	var mu sync.Mutex // readAll reads in parallel
	read := func(path string) ([]byte, error) {
		key := prefix + path
		mu.Lock()
		b, ok := files[key]
		mu.Unlock()
		if ok {
			return b, nil
		}
		b, err := e.readSmall(key, maxSumDBFile)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		files[key] = b
		mu.Unlock()
		return b, nil
	}

	// The lookups, read ahead (fetching may take a round trip each).
	files0 := make([]string, 0, len(mods))
	for _, m := range mods {
		file, err := layout.SumDBLookupFile(m.ModuleVersion())
		if err != nil {
			return nil, err
		}
		files0 = append(files0, file)
	}
	if err := readAll(e.ctx, files0, read); err != nil {
		return nil, err
	}
	// Each record, checked on its own (signature, record in its tree).
	// (No x/mod sumdb.Client run here: what it would read is a subset of
	// needTiles, every tile of which verify authenticates; the package's
	// tests run the x/mod client over imported bundles in many orders.)
	var recs []record
	for _, m := range mods {
		file, err := layout.SumDBLookupFile(m.ModuleVersion())
		if err != nil {
			return nil, err
		}
		b, err := read(file)
		if err != nil {
			return nil, err
		}
		r, err := parseLookup(file, b, note.VerifierList(verifier))
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	// And what a client asking in any other order may need.
	need, err := needTiles(recs)
	if err != nil {
		return nil, fmt.Errorf("checksum database: %v", err)
	}
	if err := readAll(e.ctx, need, read); err != nil {
		return nil, err
	}
	tiles := newTileSet()
	for _, p := range need {
		tiles.tiles[p], _ = read(p)
	}
	// The importer's check, here too, so that a damaged stored tile
	// fails the export rather than the import.
	if err := verify(recs, tiles); err != nil {
		return nil, fmt.Errorf("checksum database: %v", err)
	}
	for p := range files {
		if rest, ok := strings.CutPrefix(p, prefix); ok && strings.HasPrefix(rest, "tile/") && !tiles.ok[rest] {
			delete(files, p) // read by the client run, but not needed
		}
	}
	files[prefix+"latest"] = headOf(recs)
	return files, nil
}

// readAll reads paths with read, a few at a time (each may be a fetch).
func readAll(ctx context.Context, paths []string, read func(string) ([]byte, error)) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, p := range paths {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			_, err := read(p)
			return err
		})
	}
	return g.Wait()
}
