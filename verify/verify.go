// Package verify re-checks the artifacts in a gomirror storage directory:
// it is `gomirror verify`.
//
// Every stored module artifact is checked on its own:
//
//   - a .zip must open, pass the checks of golang.org/x/mod/zip (file names,
//     size limits) and read back without error (which checks every file's
//     CRC); its h1: hash is then compared with the checksum database, or,
//     for modules exempt from it (GONOSUMDB and private patterns) or when
//     the database is off, with the hash recorded when it was stored
//     (layout.HashKey);
//   - a .mod's go.sum hash is compared the same way;
//   - a .info must be JSON naming, as its Version, the canonical version in
//     its file name.
//
// The checksum database is read through sumdb.Verifier, which takes lookups
// and tiles from storage first, so a mirror verifies mostly offline.
//
// An artifact is "ok", "corrupt" (its bytes are wrong: the next request
// should fetch it again, which Options.Repair arranges by deleting it) or
// "unverifiable" (nothing says what its bytes should be: an exempt module
// stored without a recorded hash, or a checksum database that cannot be
// reached for a lookup not in storage; when the database is unreachable
// but a hash was recorded, a disagreement with it is still corruption).
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/sync/errgroup"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/wire"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/upstream"
)

// Checker checks hashes against a checksum database. *sumdb.Verifier
// implements it. If it is also a Waiter, Run calls Wait at the end so that
// the lookups and tiles it fetched are stored.
type Checker interface {
	// Exempt reports whether path is never looked up in the database.
	Exempt(path string) bool
	CheckGoMod(ctx context.Context, path, version, h1 string) error
	CheckZip(ctx context.Context, path, version, h1 string) error
}

// Waiter is an optional capability of a Checker: Wait returns once what
// the checker writes to storage in the background is written, or ctx is
// done.
type Waiter interface {
	Wait(ctx context.Context) error
}

var (
	_ Checker = (*sumdb.Verifier)(nil)
	_ Waiter  = (*sumdb.Verifier)(nil)
)

// Options configures Run.
type Options struct {
	Storage storage.Storage
	// Checker is the checksum database; nil if it is off, in which case
	// every module is checked against its recorded hashes only.
	Checker Checker
	// Workers is how many artifacts are checked at once; default 4.
	Workers int
	// Repair deletes every corrupt artifact, and the hash recorded for
	// it, so that the next request for it fetches it again.
	Repair bool
	Logger *slog.Logger
}

// Problem is an artifact that is not ok.
type Problem struct {
	Key    string `json:"key"`    // storage key, e.g. "example.com/m/@v/v1.0.0.zip"
	Reason string `json:"reason"` // one line
}

// Report is the outcome of Run.
type Report struct {
	Checked      int       `json:"checked"` // artifacts checked: OK + corrupt + unverifiable
	OK           int       `json:"ok"`
	Corrupt      []Problem `json:"corrupt"`
	Unverifiable []Problem `json:"unverifiable"`
	// Repaired lists the corrupt artifacts deleted (Options.Repair).
	Repaired []string `json:"repaired,omitempty"`
}

// WriteText writes one line per corrupt, unverifiable and repaired
// artifact, then the summary line
//
//	verified N artifacts: ok A, corrupt C, unverifiable U
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, p := range r.Corrupt {
		fmt.Fprintf(&b, "corrupt %s: %s\n", p.Key, p.Reason)
	}
	for _, p := range r.Unverifiable {
		fmt.Fprintf(&b, "unverifiable %s: %s\n", p.Key, p.Reason)
	}
	for _, k := range r.Repaired {
		fmt.Fprintf(&b, "repaired %s\n", k)
	}
	fmt.Fprintf(&b, "verified %d artifacts: ok %d, corrupt %d, unverifiable %d\n", r.Checked, r.OK, len(r.Corrupt), len(r.Unverifiable))
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one JSON object:
//
//	{"checked":N,"ok":A,"corrupt":[{"key":K,"reason":R}],"unverifiable":[...],"repaired":[K]}
//
// ("repaired" only after a repair).
func (r *Report) WriteJSON(w io.Writer) error {
	out := *r
	if out.Corrupt == nil {
		out.Corrupt = []Problem{}
	}
	if out.Unverifiable == nil {
		out.Unverifiable = []Problem{}
	}
	return json.NewEncoder(w).Encode(out)
}

// FromConfig assembles Options for the storage of a serve configuration
// the way server.New assembles the server: the storage driver that cfg
// names (for the local disk, StorageDir, which must exist), opened by
// wire.OpenStorage (the program registers the drivers: gomirror does
// through package server), and, unless SumDB is "off", the checksum database as
// wire.NewSumDB builds it, reached through the first Upstream proxy that
// proxies it, else directly (also when Upstream is "off"), with lookups and
// tiles read from storage first. Modules matching NoSumDB or Private are
// exempt. Errors are *config.Error, naming the setting.
func FromConfig(cfg *config.Serve, log *slog.Logger) (Options, error) {
	if log == nil {
		log = slog.Default()
	}
	if wire.StorageDriver(cfg) == "fs" {
		// A store that is not there is a mistake, not an empty store.
		if fi, err := os.Stat(cfg.StorageDir); err != nil {
			return Options{}, &config.Error{Key: "storage-dir", Source: cfg.StorageDir, Err: err}
		} else if !fi.IsDir() {
			return Options{}, &config.Error{Key: "storage-dir", Source: cfg.StorageDir, Err: errors.New("not a directory")}
		}
	}
	store, err := wire.OpenStorage(context.Background(), cfg)
	if err != nil {
		return Options{}, err
	}
	client := &http.Client{Transport: upstream.NewTransport()}
	// Only the checksum database is read through the chain; "direct" in
	// it means connecting to the database itself, as for the server.
	chain, _, err := wire.Chain(cfg, client, upstream.Off{}, log)
	if err != nil {
		return Options{}, err
	}
	opts := Options{Storage: store, Logger: log}
	db, err := wire.NewSumDB(cfg, store, chain, client, sumdb.VerifierOptions{Logger: log})
	if err != nil {
		return Options{}, err
	}
	if db != nil {
		opts.Checker = db.Verifier
	}
	return opts, nil
}

type outcome int

const (
	skipped outcome = iota // not there any more
	ok
	corrupt
	unverifiable
)

// Run checks every module artifact in opts.Storage (keys under
// layout.StateDir and layout.SumDBDir are not artifacts) and, with opts.Repair, deletes the
// corrupt ones. It returns an error only if the check itself failed: ctx
// was cancelled, storage could not be listed, or a repair failed.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &runner{opts: opts}
	rep := &Report{}
	var mu sync.Mutex

	g, gctx := errgroup.WithContext(ctx)
	keys := make(chan string)
	g.Go(func() error {
		defer close(keys)
		return walk(gctx, opts.Storage, func(key string) error {
			select {
			case keys <- key:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	for range opts.Workers {
		g.Go(func() error {
			for key := range keys {
				o, reason, err := r.check(gctx, key)
				if err != nil {
					return fmt.Errorf("checking %s: %w", key, err)
				}
				mu.Lock()
				switch o {
				case ok:
					rep.OK++
				case corrupt:
					rep.Corrupt = append(rep.Corrupt, Problem{key, oneLine(reason)})
				case unverifiable:
					rep.Unverifiable = append(rep.Unverifiable, Problem{key, oneLine(reason)})
				}
				if o != skipped {
					rep.Checked++
				}
				mu.Unlock()
			}
			return nil
		})
	}
	err := g.Wait()
	if w, ok := opts.Checker.(Waiter); ok {
		// Store what the database said, for the next run and for clients.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if werr := w.Wait(wctx); werr != nil {
			opts.Logger.Warn("checksum database data not stored", "err", werr)
		}
		cancel()
	}
	if err != nil {
		return nil, err
	}
	byKey := func(a, b Problem) int { return strings.Compare(a.Key, b.Key) }
	slices.SortFunc(rep.Corrupt, byKey)
	slices.SortFunc(rep.Unverifiable, byKey)

	if opts.Repair {
		for _, p := range rep.Corrupt {
			if err := repair(ctx, opts.Storage, p.Key); err != nil {
				return rep, fmt.Errorf("repairing %s: %w", p.Key, err)
			}
			rep.Repaired = append(rep.Repaired, p.Key)
		}
	}
	return rep, nil
}

// repair deletes key, and its recorded hash if it has one, so that the
// next request for it fetches it again. The hash goes last: a stored
// artifact always has its hash.
func repair(ctx context.Context, s storage.Storage, key string) error {
	if err := s.Delete(ctx, key); err != nil {
		return err
	}
	if hashKey, ok := layout.HashKey(key); ok {
		return s.Delete(ctx, hashKey)
	}
	return nil
}

// walk calls fn with every key that looks like a module artifact
// (layout.IsArtifactName): a file ending in .info, .mod or .zip in a
// directory named @v, outside layout.StateDir and layout.SumDBDir.
func walk(ctx context.Context, s storage.Storage, fn func(key string) error) error {
	artifact := layout.IsArtifactName
	if rooted, ok := storage.As[storage.Rooter](s); ok {
		// Local disk: walk the tree without descending into gomirror's own
		// state (which holds the direct-fetch sandbox, a whole module
		// cache) or the checksum database's tiles.
		root := rooted.Root()
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			key := filepath.ToSlash(rel)
			if d.IsDir() {
				if key == layout.StateDir || key == layout.SumDBDir {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !artifact(key) {
				return nil
			}
			return fn(key)
		})
	}
	keys, err := s.List(ctx, "")
	if err != nil {
		return err
	}
	for _, key := range keys {
		if artifact(key) {
			if err := fn(key); err != nil {
				return err
			}
		}
	}
	return nil
}

type runner struct {
	opts Options
}

// check checks the artifact at key. An error means the check could not be
// made at all (ctx was cancelled).
func (r *runner) check(ctx context.Context, key string) (outcome, string, error) {
	mv, kind, err := layout.Parse(key)
	if err != nil {
		return corrupt, "not the name of a module artifact: " + err.Error(), nil
	}
	modPath, version := mv.Path, mv.Version
	if !layout.IsCanonical(mv) {
		return corrupt, fmt.Sprintf("not the name of a module artifact: %s is not a canonical version of %s", version, modPath), nil
	}
	var (
		o      outcome
		reason string
	)
	switch kind {
	case layout.Info:
		o, reason, err = r.checkInfo(ctx, key, version)
	case layout.Mod:
		o, reason, err = r.checkMod(ctx, key, modPath, version)
	case layout.Zip:
		o, reason, err = r.checkZip(ctx, key, modPath, version)
	}
	if err == nil {
		err = ctx.Err() // an outcome reached while cancelling may be wrong
	}
	return o, reason, err
}

// readSmall reads a small artifact. It reports a missing key as skipped and
// other failures to read as corruption.
func (r *runner) readSmall(ctx context.Context, key string, limit int64) (b []byte, o outcome, reason string, err error) {
	obj, err := r.opts.Storage.Get(ctx, key)
	if err == nil {
		defer obj.Body.Close()
		b, err = io.ReadAll(io.LimitReader(obj.Body, limit+1))
	}
	if err != nil {
		o, reason, err := readFailure(ctx, err)
		return nil, o, reason, err
	}
	if int64(len(b)) > limit {
		return nil, corrupt, fmt.Sprintf("larger than the %d bytes allowed", limit), nil
	}
	return b, ok, "", nil
}

func readFailure(ctx context.Context, err error) (outcome, string, error) {
	switch {
	case ctx.Err() != nil:
		return skipped, "", ctx.Err()
	case errors.Is(err, fs.ErrNotExist):
		return skipped, "", nil // deleted since it was listed
	}
	return corrupt, "cannot be read: " + err.Error(), nil
}

func (r *runner) checkInfo(ctx context.Context, key, version string) (outcome, string, error) {
	b, o, reason, err := r.readSmall(ctx, key, 1<<20)
	if o != ok || err != nil {
		return o, reason, err
	}
	var info struct {
		Version string
		Time    time.Time
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return corrupt, "malformed info: " + err.Error(), nil
	}
	if info.Version != version {
		return corrupt, fmt.Sprintf("malformed info: names version %q, not %s", info.Version, version), nil
	}
	return ok, "", nil
}

func (r *runner) checkMod(ctx context.Context, key, modPath, version string) (outcome, string, error) {
	b, o, reason, err := r.readSmall(ctx, key, modzip.MaxGoMod)
	if o != ok || err != nil {
		return o, reason, err
	}
	h1, err := sumdb.HashGoMod(b)
	if err != nil {
		return corrupt, "hashing go.mod: " + err.Error(), nil
	}
	o, reason, err = r.compare(ctx, key, modPath, "go.mod", h1, func(c Checker) error {
		return c.CheckGoMod(ctx, modPath, version, h1)
	})
	if o == unverifiable && err == nil {
		// Nothing says what it should hold; it must at least parse, as
		// the go command parses it.
		if _, perr := modfile.ParseLax(key, b, nil); perr != nil {
			return corrupt, "malformed go.mod: " + perr.Error(), nil
		}
	}
	return o, reason, err
}

func (r *runner) checkZip(ctx context.Context, key, modPath, version string) (outcome, string, error) {
	name, done, o, reason, err := r.localFile(ctx, key)
	if o != ok || err != nil {
		return o, reason, err
	}
	defer done()
	if _, err := modzip.CheckZip(module.Version{Path: modPath, Version: version}, name); err != nil {
		return corrupt, "invalid module zip: " + err.Error(), nil
	}
	// Reading every file also checks its CRC-32.
	h1, err := dirhash.HashZip(name, dirhash.Hash1)
	if err != nil {
		return corrupt, "invalid module zip: " + err.Error(), nil
	}
	return r.compare(ctx, key, modPath, "zip", h1, func(c Checker) error {
		return c.CheckZip(ctx, modPath, version, h1)
	})
}

// localFile returns the name of a local file holding the zip at key: the
// stored file itself on local disk, else a temporary copy. done releases it.
func (r *runner) localFile(ctx context.Context, key string) (name string, done func(), o outcome, reason string, err error) {
	obj, err := r.opts.Storage.Get(ctx, key)
	if err != nil {
		o, reason, err := readFailure(ctx, err)
		return "", nil, o, reason, err
	}
	if f, isFile := obj.Body.(*os.File); isFile {
		return f.Name(), func() { f.Close() }, ok, "", nil
	}
	defer obj.Body.Close()
	tmp, err := os.CreateTemp("", "gomirror-verify-*.zip")
	if err != nil {
		return "", nil, skipped, "", err
	}
	done = func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}
	n, err := io.Copy(tmp, io.LimitReader(obj.Body, modzip.MaxZipFile+1))
	if err != nil {
		done()
		o, reason, err := readFailure(ctx, err)
		return "", nil, o, reason, err
	}
	if n > modzip.MaxZipFile {
		done()
		return "", nil, corrupt, fmt.Sprintf("invalid module zip: larger than the %d bytes allowed", int64(modzip.MaxZipFile)), nil
	}
	return tmp.Name(), done, ok, "", nil
}

// compare decides whether got, the h1: hash of the artifact at key (file
// "zip" or "go.mod" of modPath), is right: by asking the checksum database
// through check, or, for a module exempt from it, by comparing with the
// hash recorded at store time.
func (r *runner) compare(ctx context.Context, key, modPath, file, got string, check func(Checker) error) (outcome, string, error) {
	c := r.opts.Checker
	why := "the checksum database is off"
	if c != nil && c.Exempt(modPath) {
		why = "the module is exempt from the checksum database"
	}
	if c != nil && !c.Exempt(modPath) {
		err := check(c)
		var (
			mm      *sumdb.MismatchError
			offline *sumdb.OfflineError
		)
		switch {
		case err == nil:
			return ok, "", nil
		case ctx.Err() != nil:
			return skipped, "", ctx.Err()
		case errors.As(err, &mm):
			return corrupt, fmt.Sprintf("checksum mismatch: the stored %s hashes to %s, the checksum database says %s", file, mm.Got, mm.Want), nil
		case sumdb.IsUnavailable(err), errors.As(err, &offline):
			// What was recorded after verification at store time still
			// tells a changed artifact.
			if rec, found, _ := r.recorded(ctx, key); found && rec != got {
				return corrupt, fmt.Sprintf("checksum mismatch: the stored %s hashes to %s, recorded when it was stored: %s (checksum database unreachable)", file, got, rec), nil
			}
			if offline != nil {
				return unverifiable, "checksum database unreachable: " + offline.Error(), nil // the upstream is off
			}
			var ue *sumdb.UnavailableError
			for errors.As(err, &ue) {
				err = ue.Err // the innermost says what failed
			}
			return unverifiable, fmt.Sprintf("checksum database unreachable: %s: %v", ue.DB, ue.Err), nil
		default:
			return unverifiable, "checksum database: " + err.Error(), nil
		}
	}
	rec, found, err := r.recorded(ctx, key)
	switch {
	case err != nil && ctx.Err() != nil:
		return skipped, "", ctx.Err()
	case err != nil:
		return unverifiable, fmt.Sprintf("%s and its recorded hash cannot be read: %v", why, err), nil
	case !found:
		return unverifiable, why + " and no hash was recorded when it was stored", nil
	case rec != got:
		return corrupt, fmt.Sprintf("checksum mismatch: the stored %s hashes to %s, recorded when it was stored: %s", file, got, rec), nil
	}
	return ok, "", nil
}

// recorded returns the hash recorded for the artifact at key.
func (r *runner) recorded(ctx context.Context, key string) (h1 string, found bool, err error) {
	hashKey, _ := layout.HashKey(key)
	b, err := storage.ReadAll(ctx, r.opts.Storage, hashKey)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(string(b)), true, nil
}

// oneLine flattens a multi-line message (zip checks, checksum database
// errors) into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
