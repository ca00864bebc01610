package warm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"

	"github.com/gomirror/gomirror/i18n"
)

// maxSumDBFile bounds a checksum database file read through the mirror
// (a lookup is under a kilobyte, a hash tile 8 KiB).
const maxSumDBFile = 1 << 20

// LookupFailure is a module version whose lookup (or its proof) failed.
type LookupFailure struct {
	Mod    module.Version
	Reason string
}

// SumSummary is what Lookups did.
type SumSummary struct {
	Lookups  int   // module versions looked up and proven
	Files    int   // lookups and tiles fetched through the mirror
	Bytes    int64 // bytes of those
	Exempt   int   // module versions skipped: exempt (GONOSUMDB)
	Failures []LookupFailure
}

// Lookups fetches through mirror the checksum database lookups of mods,
// and the tiles that prove them, as a go command with an empty go.sum and
// an empty module cache asks for them when it verifies those versions'
// go.mod and zip files: `<mirror>/sumdb/<name>/supported`, then
// `lookup/M@V` and `tile/...` under it, read and checked by the go
// command's own client (golang.org/x/mod/sumdb.Client) holding nothing,
// so that the mirror stores them and serves them later with its upstream
// off. key is the database's verifier key (GOSUMDB's
// "<name>+<hash>+<key>" form). The go command asks no `latest` when its
// cache is empty: neither does Lookups. Versions whose path exempt says
// is not checked (GONOSUMDB, GOPRIVATE) are skipped. jobs lookups run at
// a time (1 if less). The error is for the whole: a bad key, or a mirror
// that does not proxy the database; a failed lookup is in the summary.
func Lookups(ctx context.Context, client *http.Client, mirror, key string, mods []module.Version, exempt func(path string) bool, jobs int) (SumSummary, error) {
	var sum SumSummary
	v, err := note.NewVerifier(key)
	if err != nil {
		return sum, i18n.Errorf("checksum database key %q: %v", key, err)
	}
	if client == nil {
		client = http.DefaultClient
	}
	ops := &sumOps{
		ctx: ctx, client: client, key: key,
		base:  strings.TrimRight(mirror, "/") + "/sumdb/" + v.Name(),
		cache: map[string][]byte{},
	}
	if _, err := ops.get("/supported"); err != nil {
		return sum, i18n.Errorf("the mirror does not proxy the checksum database %s: %v", v.Name(), err)
	}
	c := sumdb.NewClient(ops)
	var todo []module.Version
	for _, m := range mods {
		if exempt != nil && exempt(m.Path) {
			sum.Exempt++
			continue
		}
		todo = append(todo, m)
	}
	var (
		mu   sync.Mutex
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range min(max(jobs, 1), len(todo)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(todo) {
					return
				}
				m := todo[i]
				// The record has both hashes: the go.mod's and the zip's.
				_, err := c.Lookup(m.Path, m.Version)
				if err == nil {
					err = ctx.Err()
				}
				mu.Lock()
				if err != nil {
					sum.Failures = append(sum.Failures, LookupFailure{m, ops.reason(err)})
				} else {
					sum.Lookups++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sum.Files, sum.Bytes = int(ops.files.Load()), ops.bytes.Load()
	slices.SortFunc(sum.Failures, func(a, b LookupFailure) int {
		return strings.Compare(a.Mod.Path+"@"+a.Mod.Version, b.Mod.Path+"@"+b.Mod.Version)
	})
	return sum, nil
}

// sumOps is the sumdb.ClientOps of Lookups: remote reads through the
// mirror, configuration and cache in memory (an empty cache to begin
// with, as a fresh module cache).
type sumOps struct {
	ctx    context.Context
	client *http.Client
	key    string
	base   string // <mirror>/sumdb/<name>
	files  atomic.Int64
	bytes  atomic.Int64

	mu       sync.Mutex
	latest   []byte
	cache    map[string][]byte
	security []string
}

var _ sumdb.ClientOps = (*sumOps)(nil)

func (o *sumOps) ReadRemote(path string) ([]byte, error) { return o.get(path) }

// get reads base+path, at most maxSumDBFile bytes.
func (o *sumOps) get(path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(o.ctx, http.MethodGet, o.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		msg, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		if msg != "" {
			msg = ": " + msg
		}
		return nil, &StatusError{Code: resp.StatusCode, Msg: resp.Status + msg}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSumDBFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSumDBFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxSumDBFile)
	}
	o.files.Add(1)
	o.bytes.Add(int64(len(b)))
	return b, nil
}

func (o *sumOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.key), nil
	}
	if strings.HasSuffix(file, "/latest") {
		o.mu.Lock()
		defer o.mu.Unlock()
		return bytes.Clone(o.latest), nil // empty at first: no tree known
	}
	return nil, fmt.Errorf("unknown config %s", file)
}

func (o *sumOps) WriteConfig(file string, old, new []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !bytes.Equal(old, o.latest) {
		return sumdb.ErrWriteConflict
	}
	o.latest = bytes.Clone(new)
	return nil
}

func (o *sumOps) ReadCache(file string) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, ok := o.cache[file]; ok {
		return b, nil
	}
	return nil, fs.ErrNotExist
}

func (o *sumOps) WriteCache(file string, data []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cache[file] = bytes.Clone(data)
}

func (o *sumOps) Log(string) {}

func (o *sumOps) SecurityError(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.security = append(o.security, msg)
}

// reason is the text of a failed lookup: the security errors the client
// reported with it, if it was one.
func (o *sumOps) reason(err error) string {
	if errors.Is(err, sumdb.ErrSecurity) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if len(o.security) > 0 {
			return strings.Join(o.security, "; ")
		}
	}
	return err.Error()
}
