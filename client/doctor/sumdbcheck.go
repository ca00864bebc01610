package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/sumdb"
)

// sumDB is the checksum database GOSUMDB names, as doctor checks it
// through each proxy.
type sumDB struct {
	name     string
	verifier note.Verifier // nil when the key is not known
	keyErr   error         // why verifier is nil
}

// resolveSumDB parses GOSUMDB ("" or "off": nil). A bare name takes its key
// from the go command's table of known keys in goroot (sumdb.KnownKeys),
// as the go command itself does: the key of the default database is never
// written in gomirror's source.
func resolveSumDB(gosumdb, goroot string) *sumDB {
	name := sumDBName(gosumdb)
	if name == "" {
		return nil
	}
	db := &sumDB{name: name}
	var known map[string]string
	if f := strings.Fields(gosumdb); !strings.Contains(f[0], "+") {
		k, err := sumdb.KnownKeys(goroot)
		if err != nil {
			db.keyErr = err
			return db
		}
		known = k
	}
	parsed, err := sumdb.ParseGOSUMDB(gosumdb, known)
	if err != nil {
		db.keyErr = err
		return db
	}
	v, err := note.NewVerifier(parsed.Key)
	if err != nil {
		db.keyErr = err
		return db
	}
	db.verifier = v
	return db
}

// maxNote bounds a signed tree head or a lookup answer read from a proxy.
const maxNote = 64 << 10

// get reads url through client, at most limit bytes (more is an error).
func get(ctx context.Context, client *http.Client, url string, limit int64) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, resp.Status, nil, err
	}
	if int64(len(body)) > limit {
		return resp.StatusCode, resp.Status, nil, fmt.Errorf("answer larger than %d bytes", limit)
	}
	return resp.StatusCode, resp.Status, body, nil
}

// short is the start of an error body, for a message.
func short(b []byte) string {
	s := string(bytes.TrimSpace(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// checkSumDBThrough checks the checksum database db through the proxy:
// "supported" (does the proxy proxy it at all; 404/410 means the go
// command asks the database directly, and the check ends there); then the
// signed tree head ("latest"), verified with the GOSUMDB key; one lookup
// of the probe module's newest version, whose record must hold that
// version and whose tree head must be signed by the same key; and the
// tiles that prove the record in the tree and the two tree heads
// consistent (tlog.TileHashReader verifies every tile against the signed
// tree). Each step has its own timeout; the first failure ends the check.
func checkSumDBThrough(ctx context.Context, o *Options, client *http.Client, proxyURL string, db *sumDB) Result {
	r := Result{Check: "sumdb", Target: proxyURL}
	base := proxyURL + "/" + layout.SumDBKey(db.name)
	fixUpstream := i18n.T("The proxy says it serves the checksum database %s, so the go command does not ask the database itself: every download of a module not yet in go.sum fails while this does. Check the mirror's upstream (is it off or unreachable?) and its logs; or put a proxy that passes this check first in GOPROXY.", db.name)

	var fail *stepFailure
	step := func(name string, f func(ctx context.Context) (i18n.Text, *stepFailure)) {
		if fail != nil {
			r.Steps = append(r.Steps, skipped(name, i18n.T("an earlier step failed")))
			return
		}
		var s Step
		s, fail = o.timed(ctx, name, f)
		r.Steps = append(r.Steps, s)
	}
	httpFail := func(problem, url string, code int, status string, body []byte, err error) *stepFailure {
		if err != nil {
			return &stepFailure{problem, i18n.T("GET %s: %v", url, err), fixUpstream}
		}
		return &stepFailure{problem, i18n.T("GET %s: %s (%s)", url, status, short(body)), fixUpstream}
	}

	proxied := false
	step("sumdb", func(ctx context.Context) (i18n.Text, *stepFailure) {
		u := base + "/supported"
		code, status, body, err := get(ctx, client, u, 512)
		switch {
		case err != nil:
			return i18n.Text{}, &stepFailure{"sumdb-error", i18n.T("GET %s: %v", u, err), i18n.T("Check the mirror's logs.")}
		case code == http.StatusOK:
			proxied = true
			return i18n.T("GET %s: %s", u, status), nil
		case code == http.StatusNotFound || code == http.StatusGone:
			return i18n.T("GET %s: %s (the go command asks %s directly)", u, status, db.name), nil
		}
		return i18n.Text{}, &stepFailure{"sumdb-error", i18n.T("GET %s: %s (%s): checksum database lookups through this proxy fail", u, status, short(body)),
			i18n.T("Check the mirror's checksum database settings and logs; the go command only falls back to the database itself on 404/410.")}
	})
	if fail == nil && !proxied {
		return verdict(r, nil, i18n.T("does not proxy the checksum database %s; the go command connects to it directly", db.name))
	}
	if fail == nil && db.verifier == nil {
		why := i18n.T("no key for %s: %v", db.name, db.keyErr)
		r.Steps = append(r.Steps, skipped("latest", why), skipped("lookup", why), skipped("tiles", why))
		r.Status, r.Problem = Warn, "sumdb-key-unknown"
		r.Message = i18n.T("proxies the checksum database %s, but its signatures cannot be checked: %v", db.name, db.keyErr)
		r.Fix = i18n.T("Give GOSUMDB with its key (NAME+HASH+KEY), or make the Go installation readable (go env GOROOT), whose go command knows the default database's key.")
		return r
	}
	verifiers := note.VerifierList(db.verifier)

	var latest tlog.Tree
	step("latest", func(ctx context.Context) (i18n.Text, *stepFailure) {
		u := base + "/latest"
		code, status, body, err := get(ctx, client, u, maxNote)
		if err != nil || code != http.StatusOK {
			return i18n.Text{}, httpFail("sumdb-latest", u, code, status, body, err)
		}
		t, f := openTree(body, verifiers, db.name, u)
		if f != nil {
			return i18n.Text{}, f
		}
		latest = t
		return i18n.T("signed tree head of %d records, signature verified with the %s key", t.N, db.name), nil
	})

	// The probe module's newest version, through the proxy.
	var (
		version string
		rec     struct {
			id   int64
			text []byte
			tree tlog.Tree
		}
	)
	if fail == nil {
		listURL := proxyURL + "/" + escaped(o.ProbeModule) + "/@v/list"
		lctx, cancel := context.WithTimeout(ctx, o.Timeout)
		code, _, body, err := get(lctx, client, listURL, 1<<20)
		cancel()
		if err == nil && code == http.StatusOK {
			for v := range strings.FieldsSeq(string(body)) {
				if semver.IsValid(v) && semver.Canonical(v) == v && (version == "" || semver.Compare(v, version) > 0) {
					version = v
				}
			}
		}
	}
	if fail == nil && version == "" {
		r.Steps = append(r.Steps, skipped("lookup", i18n.T("the proxy lists no version of %s to look up", o.ProbeModule)))
	} else {
		step("lookup", func(ctx context.Context) (i18n.Text, *stepFailure) {
			ev, err := module.EscapeVersion(version)
			if err != nil {
				return i18n.Text{}, &stepFailure{"sumdb-lookup", i18n.T("%s@%s: %v", o.ProbeModule, version, err), fixUpstream}
			}
			u := base + "/lookup/" + escaped(o.ProbeModule) + "@" + ev
			code, status, body, err := get(ctx, client, u, maxNote)
			if err != nil || code != http.StatusOK {
				return i18n.Text{}, httpFail("sumdb-lookup", u, code, status, body, err)
			}
			id, text, treeMsg, err := tlog.ParseRecord(body)
			if err != nil {
				return i18n.Text{}, &stepFailure{"sumdb-record", i18n.T("GET %s: not a checksum database record: %v", u, err), badData(db.name)}
			}
			t, f := openTree(treeMsg, verifiers, db.name, u)
			if f != nil {
				return i18n.Text{}, f
			}
			want := o.ProbeModule + " " + version + " "
			if !bytes.HasPrefix(text, []byte(want)) && !bytes.Contains(text, []byte("\n"+want)) {
				return i18n.Text{}, &stepFailure{"sumdb-record", i18n.T("GET %s: record %d does not hold %s@%s", u, id, o.ProbeModule, version), badData(db.name)}
			}
			if id < 0 || id >= t.N {
				return i18n.Text{}, &stepFailure{"sumdb-record", i18n.T("GET %s: record %d is outside its signed tree of %d records", u, id, t.N), badData(db.name)}
			}
			rec.id, rec.text, rec.tree = id, text, t
			return i18n.T("%s@%s: record %d, in a signed tree of %d records", o.ProbeModule, version, id, t.N), nil
		})
	}

	step("tiles", func(ctx context.Context) (i18n.Text, *stepFailure) {
		big, small := latest, rec.tree
		if version == "" {
			small = latest
		}
		if small.N > big.N {
			big, small = small, big
		}
		tr := &tileReader{ctx: ctx, client: client, base: base}
		thr := tlog.TileHashReader(big, tr)
		var err error
		if version != "" {
			var proof tlog.RecordProof
			if proof, err = tlog.ProveRecord(big.N, rec.id, thr); err == nil {
				err = tlog.CheckRecord(proof, big.N, big.Hash, rec.id, tlog.RecordHash(rec.text))
			}
		} else {
			var h tlog.Hash
			if h, err = tlog.TreeHash(big.N, thr); err == nil && h != big.Hash {
				err = errors.New("the tiles do not hash to the signed tree")
			}
		}
		if err == nil && small.N > 0 && small.N < big.N { // every tree extends the empty one
			var proof tlog.TreeProof
			if proof, err = tlog.ProveTree(big.N, small.N, thr); err == nil {
				err = tlog.CheckTree(proof, big.N, big.Hash, small.N, small.Hash)
			}
		}
		if n, _ := tr.stats(); err == nil && n == 0 && big.N > 0 {
			// A tree so small that the proofs needed no hash from a tile
			// (one record): read the record's own tile, which
			// TileHashReader checks against the tree as well.
			id := rec.id
			if version == "" {
				id = big.N - 1
			}
			_, err = thr.ReadHashes([]int64{tlog.StoredHashIndex(0, id)})
		}
		if err == nil && small.N == big.N && small.Hash != big.Hash {
			err = errors.New("two signed trees of the same size with different hashes")
		}
		if err != nil {
			var fe *fetchError
			if errors.As(err, &fe) {
				return i18n.Text{}, httpFail("sumdb-tile", fe.url, fe.code, fe.status, fe.body, fe.err)
			}
			return i18n.Text{}, &stepFailure{"sumdb-proof", i18n.T("the tiles served do not prove the tree heads served: %v", err), badData(db.name)}
		}
		n, size := tr.stats()
		if version != "" {
			return i18n.T("%d tiles (%d bytes) prove the record in the signed tree and the tree heads consistent", n, size), nil
		}
		return i18n.T("%d tiles (%d bytes) hash to the signed tree", n, size), nil
	})
	if fail != nil {
		return verdict(r, fail, i18n.Text{})
	}
	return verdict(r, nil, i18n.T("proxies the checksum database %s: signed tree head, lookup and tiles verified", db.name))
}

// badData is the fix for checksum database data that does not verify.
func badData(name string) i18n.Text {
	return i18n.T("The proxy serves checksum database data for %s that does not verify against the GOSUMDB key: it serves another database under this name, or altered data. Do not use it for this database: check go env GOSUMDB and the mirror's checksum database settings, or remove the proxy from GOPROXY.", name)
}

// openTree verifies a signed tree head and parses its tree.
func openTree(msg []byte, verifiers note.Verifiers, name, url string) (tlog.Tree, *stepFailure) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return tlog.Tree{}, &stepFailure{"sumdb-signature", i18n.T("GET %s: the tree head is not signed with the GOSUMDB key of %s: %v", url, name, err), badData(name)}
	}
	t, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return tlog.Tree{}, &stepFailure{"sumdb-signature", i18n.T("GET %s: signed, but not a tree head: %v", url, err), badData(name)}
	}
	return t, nil
}

// escaped is a module path escaped for a URL (the path itself when it
// cannot be escaped: the request then fails and says so).
func escaped(path string) string {
	e, err := module.EscapePath(path)
	if err != nil {
		return path
	}
	return e
}

// fetchError is a tile that could not be fetched.
type fetchError struct {
	url    string
	code   int
	status string
	body   []byte
	err    error
}

func (e *fetchError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("GET %s: %v", e.url, e.err)
	}
	return fmt.Sprintf("GET %s: %s", e.url, e.status)
}

// tileReader is a tlog.TileReader of the tiles a proxy serves under base
// (<proxy>/sumdb/<name>), fetched in parallel. It checks each tile's
// length; tlog.TileHashReader checks their hashes against the tree.
type tileReader struct {
	ctx    context.Context
	client *http.Client
	base   string

	mu    sync.Mutex
	n     int
	bytes int
}

var _ tlog.TileReader = (*tileReader)(nil)

func (t *tileReader) Height() int { return 8 }

func (t *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func (t *tileReader) stats() (int, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n, t.bytes
}

// ReadTiles fetches tiles, at most 8 at a time.
func (t *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	errs := make([]error, len(tiles))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, tile := range tiles {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			u := t.base + "/" + tile.Path()
			want := tile.W * tlog.HashSize
			code, status, body, err := get(t.ctx, t.client, u, int64(want))
			switch {
			case err != nil || code != http.StatusOK:
				errs[i] = &fetchError{url: u, code: code, status: status, body: body, err: err}
				return
			case len(body) != want:
				errs[i] = fmt.Errorf("GET %s: %d bytes, want %d for a tile of width %d", u, len(body), want, tile.W)
				return
			}
			data[i] = body
			t.mu.Lock()
			t.n++
			t.bytes += len(body)
			t.mu.Unlock()
		})
	}
	wg.Wait()
	return data, errors.Join(errs...)
}
