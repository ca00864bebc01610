package warm

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/sumdb"
)

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
// The client is sumdb.ProxyClient, which doctor's checks use as well.
func Lookups(ctx context.Context, client *http.Client, mirror, key string, mods []module.Version, exempt func(path string) bool, jobs int) (SumSummary, error) {
	var sum SumSummary
	v, err := note.NewVerifier(key)
	if err != nil {
		return sum, i18n.Errorf("checksum database key %q: %v", key, err)
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := sumdb.NewProxyClient(ctx, client, strings.TrimRight(mirror, "/")+"/sumdb/"+v.Name(), key, 0)
	if _, err := c.Get("/supported"); err != nil {
		return sum, i18n.Errorf("the mirror does not proxy the checksum database %s: %v", v.Name(), err)
	}
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
					sum.Failures = append(sum.Failures, LookupFailure{m, c.Reason(err)})
				} else {
					sum.Lookups++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, r := range c.Requests() {
		if r.Err == nil {
			sum.Files++
			sum.Bytes += int64(r.Bytes)
		}
	}
	slices.SortFunc(sum.Failures, func(a, b LookupFailure) int {
		return strings.Compare(a.Mod.Path+"@"+a.Mod.Version, b.Mod.Path+"@"+b.Mod.Version)
	})
	return sum, nil
}
