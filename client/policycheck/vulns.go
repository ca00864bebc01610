package policycheck

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/vulndb"
)

// VulnBatch looks up the advisories affecting each of many module
// versions at once: *vulndb.Client (the database's HTTP API, as
// govulncheck reads it).
type VulnBatch interface {
	Vulns(ctx context.Context, mods []module.Version) ([][]vulndb.Advisory, error)
}

var _ VulnBatch = (*vulndb.Client)(nil)

// BatchVulns is a VulnLookup over a VulnBatch: Prefetch looks up every
// module version of a check in one batch (one read of the database's
// module index), and Vulns answers from it, looking up a version it does
// not have on its own. A database that cannot be read is
// policy.ErrNoVulnDB: a deny-vulnerable rule then refuses, as it does on
// a mirror without the database.
type BatchVulns struct {
	DB VulnBatch
	// URL names the database in Warn's text.
	URL string
	// Warn, if not nil, is told once, the first time the database cannot
	// be read, with URL and the error (standard error: the decisions
	// only say "vulnerability database not available").
	Warn func(i18n.Text)

	warnOnce sync.Once
	mu       sync.Mutex
	known    map[module.Version][]policy.Advisory
}

var _ VulnLookup = (*BatchVulns)(nil)

// Prefetch looks up mods.
func (b *BatchVulns) Prefetch(ctx context.Context, mods []module.Version) error {
	advs, err := b.DB.Vulns(ctx, mods)
	if err != nil {
		if b.Warn != nil && ctx.Err() == nil {
			b.warnOnce.Do(func() {
				b.Warn(i18n.T("vulnerability database %s not readable: %v; deny-vulnerable rules refuse what they match", b.URL, err))
			})
		}
		return fmt.Errorf("%w: %v", policy.ErrNoVulnDB, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.known == nil {
		b.known = map[module.Version][]policy.Advisory{}
	}
	for i, m := range mods {
		out := make([]policy.Advisory, 0, len(advs[i]))
		for _, a := range advs[i] {
			out = append(out, policy.Advisory{ID: a.ID, Aliases: a.Aliases, Summary: a.Summary})
		}
		b.known[m] = out
	}
	return nil
}

// Vulns implements VulnLookup.
func (b *BatchVulns) Vulns(ctx context.Context, m module.Version) ([]policy.Advisory, error) {
	b.mu.Lock()
	advs, ok := b.known[m]
	b.mu.Unlock()
	if ok {
		return advs, nil
	}
	if err := b.Prefetch(ctx, []module.Version{m}); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.known[m], nil
}
