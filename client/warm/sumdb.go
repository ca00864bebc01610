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
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/sumdb"
)

// LookupFailure is a module version whose lookup (or its proof) failed.
type LookupFailure struct {
	Mod    module.Version
	Reason string
}

// SumSummary is what Lookups did.
type SumSummary struct {
	Lookups   int   // module versions looked up and proven
	Files     int   // lookups and tiles fetched through the mirror
	Bytes     int64 // bytes of those
	Exempt    int   // module versions skipped: exempt (GONOSUMDB)
	LocalTree int64 // size of the local tree the lookups were also proven from (0: none)
	Failures  []LookupFailure
}

// Lookups fetches through mirror the checksum database lookups of mods,
// and the tiles that prove them, as a go command with an empty go.sum and
// an empty module cache asks for them when it verifies those versions'
// go.mod and zip files: `<mirror>/sumdb/<name>/supported`, then
// `lookup/M@V` and `tile/...` under it, read and checked by the go
// command's own client (sumdb.ProxyClient) holding nothing, so that the
// mirror stores them and serves them later with its upstream off. key is
// the database's verifier key (GOSUMDB's "<name>+<hash>+<key>" form). The
// go command asks no `latest` when its cache is empty: neither does
// Lookups.
//
// latest, if not empty, is the signed tree head the local go command
// already knows ($GOPATH/pkg/sumdb/<name>/latest): a go command holding
// it proves every lookup's tree consistent with it, which asks for more
// tiles. Lookups then looks every version up a second time from that tree
// (its signature checked with key first; one not signed with key is an
// error), so that the mirror has those tiles too. The tiles a go command
// asks for depend on the order of its lookups when they come with
// different trees; Lookups proves each lookup's tree against latest
// itself, as the go command does for its first lookup of a run (the mirror
// serves every lookup it stored at the tree it was stored with, and warms
// store them at about the same time).
//
// Versions whose path exempt says is not checked (GONOSUMDB, GOPRIVATE)
// are skipped. jobs lookups run at a time (1 if less). The error is for
// the whole: a bad key or local tree, or a mirror that does not proxy the
// database; a failed lookup is in the summary.
func Lookups(ctx context.Context, client *http.Client, mirror, key string, latest []byte, mods []module.Version, exempt func(path string) bool, jobs int) (SumSummary, error) {
	var sum SumSummary
	v, err := note.NewVerifier(key)
	if err != nil {
		return sum, i18n.Errorf("checksum database key %q: %v", key, err)
	}
	if len(latest) > 0 {
		n, err := note.Open(latest, note.VerifierList(v))
		if err != nil {
			return sum, i18n.Errorf("the local go command's checksum database tree: %v", err)
		}
		tree, err := tlog.ParseTree([]byte(n.Text))
		if err != nil {
			return sum, i18n.Errorf("the local go command's checksum database tree: %v", err)
		}
		sum.LocalTree = tree.N
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := sumdb.NewProxyClient(ctx, client, strings.TrimRight(mirror, "/")+"/"+layout.SumDBKey(v.Name()), key, 0)
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
	failed := map[module.Version]string{}
	lookAll := func(c *sumdb.ProxyClient) {
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
					if err != nil {
						mu.Lock()
						if _, ok := failed[m]; !ok {
							failed[m] = c.Reason(err)
						}
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
	}
	lookAll(c)
	if len(latest) > 0 {
		lookAll(c.WithLatest(latest))
	}
	sum.Lookups = len(todo) - len(failed)
	for m, reason := range failed {
		sum.Failures = append(sum.Failures, LookupFailure{m, reason})
	}
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
