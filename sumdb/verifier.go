package sumdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gomirror/gomirror/internal/negcache"
	"github.com/gomirror/gomirror/internal/syncx"
	"github.com/gomirror/gomirror/internal/writebehind"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modpattern"
	"github.com/gomirror/gomirror/storage"
)

// Verifier checks module hashes against a checksum database.
type Verifier struct {
	db     *DB
	exempt modpattern.List
	ops    *clientOps
	// client is replaced after a failed lookup: sumdb.Client remembers
	// failures for the life of the client, and a database outage or a
	// module not yet known to the database must not outlive its cause. The
	// replacement starts from the state kept in storage.
	client atomic.Pointer[sumdb.Client]
	// lookups counts the current client's lookups: sumdb.Client keeps
	// every record and tile it reads in memory for its lifetime, so it is
	// replaced every clientLookups lookups to bound memory (the new one
	// reads what it needs back from storage).
	lookups atomic.Int64
	// running counts lookups in progress, which outlive their callers.
	running sync.WaitGroup
	// notFound remembers the database's "not found" for a module version
	// (by path@version) for VerifierOptions.NegativeTTL, so that the
	// lookups started for each artifact of a version that does not exist
	// (and clients' own lookups of it) ask the database once; nil if
	// disabled (a nil Cache remembers nothing).
	notFound *negcache.Cache
}

// clientLookups is how many lookups a sumdb.Client serves before the
// Verifier replaces it (see Verifier.lookups).
const clientLookups = 2000

// Wait blocks until every lookup and background write in progress has
// finished or ctx is done.
func (v *Verifier) Wait(ctx context.Context) error {
	if err := syncx.Wait(ctx, &v.running); err != nil {
		return err
	}
	return v.ops.behind.Wait(ctx)
}

// VerifierOptions configures a Verifier.
type VerifierOptions struct {
	// NoSumDB lists module path patterns (GONOSUMDB syntax) that are never
	// looked up; modules matching them, ignoring case, are exempt from
	// verification.
	NoSumDB modpattern.List
	// Timeout bounds each request to the database; zero means 30 seconds.
	Timeout time.Duration
	// NegativeTTL is how long the database's "not found" for a module
	// version is remembered; zero means 1 minute, negative disables it.
	NegativeTTL time.Duration
	Logger      *slog.Logger
}

// NewVerifier returns a Verifier for db that keeps its state in store and
// reaches the database through remote.
func NewVerifier(db *DB, store storage.Storage, remote *Remote, opts VerifierOptions) *Verifier {
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ops := &clientOps{db: db, store: store, remote: remote, timeout: opts.Timeout, log: opts.Logger,
		behind: writebehind.New(store, opts.Timeout, opts.Logger)}
	ops.noteVerifier = sync.OnceValues(func() (note.Verifier, error) { return note.NewVerifier(db.Key) })
	ops.ahead = newReadAhead(func(path string) ([]byte, error) {
		ctx, cancel := ops.ctx()
		defer cancel()
		return remote.Get(ctx, path)
	})
	v := &Verifier{db: db, exempt: opts.NoSumDB, ops: ops, notFound: negcache.New(opts.NegativeTTL)}
	v.client.Store(v.newClient())
	// A store that has verified lookups before (it holds a verified tree
	// head) says at start that it holds the database, so that one filled
	// by a version that did not write "supported" is a file:// tree too.
	v.running.Add(1)
	go func() {
		defer v.running.Done()
		ctx, cancel := ops.ctx()
		defer cancel()
		if _, err := store.Stat(ctx, layout.SumDBStateKey(db.Name+"/latest")); err == nil {
			ops.markSupported()
		}
	}()
	return v
}

func (v *Verifier) newClient() *sumdb.Client {
	c := sumdb.NewClient(v.ops)
	// The client's own GONOSUMDB check is case-sensitive: Lookup decides
	// before asking it (Exempt). This is a second line only.
	c.SetGONOSUMDB(v.exempt.String())
	return c
}

// DB returns the database the Verifier checks against.
func (v *Verifier) DB() *DB { return v.db }

// Exempt reports whether path is exempt from verification: it matches
// NoSumDB, ignoring case, so that a case variant of an exempt (private)
// path is exempt too and never named to the database.
func (v *Verifier) Exempt(path string) bool {
	return v.exempt.Match(path)
}

// ErrExempt is the error of a Lookup of a path that is Exempt: the database
// is not asked.
var ErrExempt = errors.New("exempt from checksum verification (nosumdb or private): not looked up in the checksum database")

// MismatchError reports a module whose bytes disagree with the database.
type MismatchError struct {
	Module, Version string
	File            string // "go.mod" or "zip"
	Got, Want       string // h1: hashes
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("verifying %s@%s %s: checksum mismatch\n\tupstream served: %s\n\t%s says:  %s\nSECURITY ERROR: the upstream's %s differs from what the checksum database recorded; gomirror refused to store or serve it",
		e.Module, e.Version, e.File, e.Got, "checksum database", e.Want, e.File)
}

// Classify names the kind of a verification failure for metrics:
// "mismatch", "unavailable" or "error".
func Classify(err error) string {
	var mm *MismatchError
	switch {
	case errors.As(err, &mm):
		return "mismatch"
	case IsUnavailable(err):
		return "unavailable"
	}
	return "error"
}

// Lookup fetches and verifies the database's go.sum lines for path@version,
// both the module's and its go.mod's. The result is cached in storage, so
// calling Lookup ahead of CheckZip or CheckGoMod overlaps the database round
// trip with the download. For a path that is Exempt it returns an error
// wrapping ErrExempt without asking anyone. The database's "not found" is
// remembered for VerifierOptions.NegativeTTL and returned again without
// asking it.
func (v *Verifier) Lookup(ctx context.Context, path, version string) ([]string, error) {
	if v.Exempt(path) {
		return nil, fmt.Errorf("verifying %s@%s: %w", path, version, ErrExempt)
	}
	record := path + "@" + strings.TrimSuffix(version, "/go.mod") // both read one record
	if err := v.notFound.Get(record); err != nil {
		return nil, err
	}
	type result struct {
		lines []string
		err   error
	}
	// sumdb.Client takes no context; each of its requests has its own
	// timeout, and an abandoned lookup still completes into the cache.
	ch := make(chan result, 1)
	v.running.Add(1)
	go func() {
		defer v.running.Done()
		c := v.client.Load()
		if v.lookups.Add(1) >= clientLookups && v.client.CompareAndSwap(c, v.newClient()) {
			v.lookups.Store(0)
		}
		lines, err := c.Lookup(path, version)
		if err != nil {
			v.client.CompareAndSwap(c, v.newClient())
			// sumdb.Client flattens errors to text; recover the remote
			// error of the lookup itself, which says "not found", or a
			// failure of our own storage, which is not the database's.
			if remoteErr := v.ops.takeErr(lookupPath(path, version)); remoteErr != nil {
				err = remoteErr
			} else if storeErr := v.ops.storeErr.Swap(nil); storeErr != nil {
				err = storeErr
			} else if v.ops.remote.Offline() {
				// The record was stored but a tile to check it is not.
				err = &OfflineError{DB: v.db.Name, What: "the tiles that prove " + strings.TrimPrefix(lookupPath(path, version), "/")}
			}
		}
		err = v.lookupErr(path, version, err)
		// Remembered here, not by the caller: a lookup started ahead
		// of a download outlives a caller that went away.
		v.notFound.Note(record, err)
		ch <- result{lines, err}
	}()
	select {
	case r := <-ch:
		return r.lines, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (v *Verifier) lookupErr(path, version string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(*OfflineError)):
		return err // it names the lookup and says why
	case errors.Is(err, fs.ErrNotExist):
		// The database does not know the module: its own words say why.
		return fmt.Errorf("verifying %s@%s: %s: %w", path, version, v.db.Name, err)
	case errors.Is(err, sumdb.ErrSecurity):
		return fmt.Errorf("verifying %s@%s: %w (the checksum database's answers are inconsistent; see the server log)", path, version, err)
	case errors.Is(err, context.DeadlineExceeded):
		return &UnavailableError{DB: v.db.Name, Err: fmt.Errorf("verifying %s@%s: the checksum database did not answer within %v: %w", path, version, v.ops.timeout, err)}
	case IsUnavailable(err):
		return err
	case errors.As(err, new(*StorageError)):
		return fmt.Errorf("verifying %s@%s: %w", path, version, err)
	}
	return &UnavailableError{DB: v.db.Name, Err: fmt.Errorf("verifying %s@%s: %w", path, version, err)}
}

// CheckGoMod verifies the h1: hash of path@version's go.mod file (see
// HashGoMod), which the caller computes once for every use it has of it.
func (v *Verifier) CheckGoMod(ctx context.Context, path, version, h1 string) error {
	return v.check(ctx, path, version, "go.mod", version+"/go.mod", h1)
}

// CheckZip verifies the h1: hash of path@version's zip (see HashZip).
func (v *Verifier) CheckZip(ctx context.Context, path, version, h1 string) error {
	return v.check(ctx, path, version, "zip", version, h1)
}

func (v *Verifier) check(ctx context.Context, path, version, file, sumVersion, got string) error {
	// sumVersion is version or version/go.mod; both read the same record.
	lines, err := v.Lookup(ctx, path, sumVersion)
	if err != nil {
		return err
	}
	prefix := path + " " + sumVersion + " "
	for _, line := range lines {
		if want, ok := strings.CutPrefix(line, prefix); ok {
			if want == got {
				return nil
			}
			return &MismatchError{Module: path, Version: version, File: file, Got: got, Want: want}
		}
	}
	return fmt.Errorf("verifying %s@%s %s: the checksum database has no %s hash for it", path, version, file, file)
}

// HashGoMod returns the go.sum hash of a go.mod file.
func HashGoMod(gomod []byte) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gomod)), nil
	})
}

// clientOps implements sumdb.ClientOps over gomirror's storage and Remote.
type clientOps struct {
	db      *DB
	store   storage.Storage
	remote  *Remote
	timeout time.Duration
	log     *slog.Logger

	configMu sync.Mutex                   // serialises WriteConfig's compare-and-swap
	errs     sync.Map                     // remote path -> error of its last failed fetch
	storeErr atomic.Pointer[StorageError] // the last failed state read or write, or nil
	behind   *writebehind.Writer
	ahead    *readAhead
	// noteVerifier returns the verifier of the database's signatures,
	// parsed from its key once.
	noteVerifier func() (note.Verifier, error)
	latest       atomic.Pointer[[]byte] // the verified tree head last read or written

	// supported makes sure, before the first checksum database file is
	// stored, that the store also says it holds the database (see
	// markSupported).
	supported sync.Once

	treeMu   sync.Mutex // guards treeNote and tree, the last tree head parsed
	treeNote []byte
	tree     tlog.Tree
}

// lookupPath is the remote path the client reads for path@version.
func lookupPath(path, version string) string {
	file, _ := layout.SumDBLookupFile(module.Version{Path: path, Version: strings.TrimSuffix(version, "/go.mod")})
	return "/" + file
}

// takeErr returns the error of the last failed fetch of path. It is kept
// (until the next fetch of path) because every lookup that joined the
// failed one inside sumdb.Client gets the same flattened error.
func (o *clientOps) takeErr(path string) error {
	if err, ok := o.errs.Load(path); ok {
		return err.(error)
	}
	return nil
}

var _ sumdb.ClientOps = (*clientOps)(nil)

func (o *clientOps) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), o.timeout)
}

func (o *clientOps) ReadRemote(path string) ([]byte, error) {
	ctx, cancel := o.ctx()
	defer cancel()
	rel := strings.TrimPrefix(path, "/")
	lookup := strings.HasPrefix(rel, "lookup/")
	if lookup {
		o.errs.Delete(path)
	} else if b, ok := o.ahead.take(ctx, rel); ok {
		return b, nil
	}
	b, err := o.remote.Get(ctx, rel)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !IsUnavailable(err) {
		err = &UnavailableError{DB: o.db.Name, Err: err}
	}
	if err != nil && lookup {
		o.errs.Store(path, err)
	}
	if err == nil && lookup {
		o.readAheadFor(b)
	}
	return b, err
}

// readAheadFor starts fetching the tiles that checking the lookup answer b
// will need (see readAhead). A malformed answer starts nothing: the client
// is about to reject it.
func (o *clientOps) readAheadFor(b []byte) {
	id, _, treeNote, err := tlog.ParseRecord(b)
	if err != nil {
		return
	}
	var verified tlog.Tree // none yet: no consistency proof to plan
	if b := o.latest.Load(); b != nil && len(*b) > 0 {
		if verified, err = o.treeHead(*b); err != nil {
			return
		}
	}
	verifier, err := o.noteVerifier()
	if err != nil {
		return
	}
	tiles, err := proofTiles(verified, treeNote, id, note.VerifierList(verifier))
	if err != nil {
		return
	}
	o.ahead.start(tiles, o.tileCached)
}

// tileCached reports whether the client will find t in the cache rather
// than ask the database for it: sumdb.Client also accepts the full tile in
// place of a partial one.
func (o *clientOps) tileCached(t tlog.Tile) bool {
	ctx, cancel := o.ctx()
	defer cancel()
	full := t
	full.W = 1 << uint(t.H)
	for _, c := range []tlog.Tile{t, full} {
		if _, err := o.behind.Read(ctx, layout.SumDBKey(o.db.Name+"/"+c.Path())); err == nil {
			return true
		}
	}
	return false
}

func (o *clientOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.db.Key), nil
	}
	ctx, cancel := o.ctx()
	defer cancel()
	b, err := storage.ReadAll(ctx, o.store, layout.SumDBStateKey(file))
	if errors.Is(err, fs.ErrNotExist) {
		return []byte{}, nil // first contact: no verified tree head yet
	}
	if err != nil {
		se := &StorageError{Op: "reading", Err: err}
		o.storeErr.Store(se)
		return nil, se
	}
	if err == nil && file == o.db.Name+"/latest" && len(b) > 0 {
		// A tree head damaged on disk (say, by a power cut) would stop
		// every lookup; start again from the database's word instead.
		if verr := o.checkNote(b); verr != nil {
			o.log.Error("stored checksum database tree head is damaged; starting over", "db", o.db.Name, "err", verr)
			return []byte{}, nil
		}
		o.latest.Store(&b)
	}
	return b, err
}

// treeHead returns the tree head in b if the database signed it. The last
// one is remembered: the verified tree head is read back often and changes
// less often.
func (o *clientOps) treeHead(b []byte) (tlog.Tree, error) {
	o.treeMu.Lock()
	defer o.treeMu.Unlock()
	if o.treeNote != nil && bytes.Equal(b, o.treeNote) {
		return o.tree, nil
	}
	v, err := o.noteVerifier()
	if err != nil {
		return tlog.Tree{}, err
	}
	n, err := note.Open(b, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, err
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return tlog.Tree{}, err
	}
	o.treeNote, o.tree = bytes.Clone(b), tree
	return tree, nil
}

// checkNote reports whether b is a tree head signed by the database.
func (o *clientOps) checkNote(b []byte) error {
	_, err := o.treeHead(b)
	return err
}

func (o *clientOps) WriteConfig(file string, old, new []byte) error {
	if file == "key" {
		return errors.New("the checksum database key is not writable")
	}
	o.configMu.Lock()
	defer o.configMu.Unlock()
	cur, err := o.ReadConfig(file)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, old) {
		return sumdb.ErrWriteConflict
	}
	ctx, cancel := o.ctx()
	defer cancel()
	if err := storage.PutBytes(ctx, o.store, layout.SumDBStateKey(file), new); err != nil {
		se := &StorageError{Op: "storing", Err: err}
		o.storeErr.Store(se)
		return se
	}
	if file == o.db.Name+"/latest" {
		o.latest.Store(&new)
	}
	return nil
}

// StorageError is a failure of gomirror's own storage while it kept the
// checksum database's verified tree head: not the database's fault.
type StorageError struct {
	Op  string // "reading" or "storing"
	Err error
}

func (e *StorageError) Error() string {
	return fmt.Sprintf("%s the verified checksum database tree head: %v", e.Op, e.Err)
}

func (e *StorageError) Unwrap() error { return e.Err }

func (o *clientOps) ReadCache(file string) ([]byte, error) {
	ctx, cancel := o.ctx()
	defer cancel()
	return o.behind.Read(ctx, layout.SumDBKey(file))
}

// WriteCache stores validated data behind the lookup: a lookup writes
// several files, a millisecond each on a busy disk, and need not wait. A
// lookup record also gets the tiles that prove it to a client that reads
// only the store (storeProofTiles).
func (o *clientOps) WriteCache(file string, data []byte) {
	o.put(layout.SumDBKey(file), data)
	if strings.HasPrefix(file, o.db.Name+"/lookup/") {
		o.storeProofTiles(data)
	}
}

// put stores a checksum database file under sumdb/<name>/ behind the
// caller, after making sure that the store says it holds the database.
func (o *clientOps) put(key string, data []byte) {
	o.markSupported()
	o.behind.Put(key, data)
}

// markSupported stores, once per process and only if it is not stored
// yet, the empty sumdb/<name>/supported (layout.SumDBSupportedKey), so that
// the store read as a GOPROXY=file:// tree serves the database's lookups,
// tiles and tree head it holds: without it the go command asks the
// database itself. The write is a Put like any other (atomic on every
// driver).
func (o *clientOps) markSupported() {
	o.supported.Do(func() {
		key := layout.SumDBSupportedKey(o.db.Name)
		ctx, cancel := o.ctx()
		defer cancel()
		if _, err := o.store.Stat(ctx, key); err != nil {
			o.behind.Put(key, []byte{}) // also when Stat failed otherwise: idempotent
		}
	})
}

func (o *clientOps) Log(msg string) { o.log.Debug("sumdb", "msg", msg) }

func (o *clientOps) SecurityError(msg string) {
	o.log.Error("checksum database security error", "db", o.db.Name, "msg", msg)
}
