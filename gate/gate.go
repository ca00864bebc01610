// Package gate puts the policy (package policy) in the request path: a
// proxy.Mirror that asks the policy in force about every module version it
// is to answer with, and refuses or leaves out what the policy refuses.
//
//   - .info, .mod and .zip of a version that an enforced rule refuses fail
//     with a *policy.RefusedError (proxy.Status: 403, the decision's text as
//     the body, which the go command prints). A canonical version is
//     decided before anything is fetched for it (a refused version's .mod
//     and .zip are never fetched: the .info a min-age rule needs is
//     fetched through InfoFetcher, without the mirror's prefetch; the
//     exceptions: the zip a licenses rule must read, on a .zip request,
//     once every other check has passed; and the go.mod of the module's
//     latest version, which a deny-retracted rule reads for the
//     module's retractions whatever the version asked for, even when
//     that latest version is itself refused, by min-age say, and which
//     the mirror's cache may then follow with its prefetch of that
//     go.mod's requirements' .mod files), with
//     the facts fetched lazily; a non-canonical .info query
//     is resolved by the mirror first, and the version it resolves to is
//     decided.
//   - list leaves out refused versions, and @latest answers the newest
//     allowed version (releases before pre-releases, +incompatible ones
//     only when the newest compatible version has no go.mod, as the go command
//     chooses) when the upstream's latest is refused.
//   - A warned decision is served and recorded: its summary goes into the
//     request's obs.Request (Policy), hence the audit log, and OnDecision
//     counts it.
//
// Everything stored is judged again, by the policy in force, on every
// request; the policy's decision cache (policy.Live) makes that cheap.
//
// The facts a decision needs come from the mirror itself: the .info time
// (from storage, or fetched like any .info), retractions from the go.mod of
// the module's latest version (cached for RetractedTTL), licenses from the
// stored zip through modinfo (for zips only: the zip is stored first), and
// vulnerabilities from Options.Vulns.
package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/errgroup"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modinfo"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/proxy"
	"github.com/gomirror/gomirror/storage"
)

// Vulns is the vulnerability database as the policy asks it: the
// advisories that affect a module version. It returns an error wrapping
// policy.ErrNoVulnDB while it has no database (not loaded yet, or none
// configured); its other errors fail the request's decision.
type Vulns interface {
	Vulns(ctx context.Context, m module.Version) ([]policy.Advisory, error)
}

// InfoFetcher is an optional capability of the decorated mirror
// (*cache.Mirror has it): a canonical version's .info fetched without
// starting anything for its .mod and .zip, for a decision that needs the
// .info's time (min-age) and may refuse the version: a refused version is
// not downloaded. PrefetchVersion starts that work once the version is
// allowed. Without it, the gate uses Info, and a refused version's .mod
// and .zip may be fetched by the mirror's prefetch.
type InfoFetcher interface {
	InfoNoPrefetch(ctx context.Context, m layout.Module) (*storage.Object, cache.Source, error)
	PrefetchVersion(ctx context.Context, m layout.Module)
}

var _ InfoFetcher = (*cache.Mirror)(nil)

// Options configure a Mirror.
type Options struct {
	// Mirror is the mirror decorated (the cache): the gate's own fetches
	// of facts go to it, unjudged.
	Mirror proxy.Mirror
	// Live is the policy in force.
	Live *policy.Live
	// Store is the storage the mirror keeps artifacts in: read for the
	// .info times of listed versions and, through Describer, for licenses.
	Store modinfo.Reader
	// Describer finds a stored zip's licenses (nil: one of its own).
	Describer *modinfo.Describer
	// Vulns, if nil or while it has no database, leaves deny-vulnerable
	// rules unable to judge: they refuse (see package policy).
	Vulns Vulns
	// RetractedTTL is how long a module's retractions are kept (default
	// 10m; policy.LiveOptions.RetractedTTL should be the same).
	RetractedTTL time.Duration
	// OnDecision, if not nil, is called with every decision that refuses
	// (enforced or warned) a request's version, for metrics.
	OnDecision func(k policy.Kind, d policy.Decision)
	// Log receives what cannot be told to a client (default slog.Default()).
	Log *slog.Logger
}

// Mirror is a proxy.Mirror that applies the policy; see the package
// documentation.
type Mirror struct {
	inner       proxy.Mirror
	infoFetcher InfoFetcher // inner's, nil if it has none
	live        *policy.Live
	store       modinfo.Reader
	describer   *modinfo.Describer
	vulns       Vulns
	onDecision  func(policy.Kind, policy.Decision)
	log         *slog.Logger
	// retractions is by module path (at most retractionModules, each at
	// most maxRetractions: memory is bounded whatever go.mod files say).
	retractions *expirable.LRU[string, []retraction]
}

var (
	_ proxy.Mirror         = (*Mirror)(nil)
	_ proxy.FetchTimeouter = (*Mirror)(nil)
	_ proxy.Judging        = (*Mirror)(nil)
)

// Judging reports that every answer is decided by a policy, which a reload
// may change (revocable), and whether the policy in force decides per
// client (it has sets).
func (g *Mirror) Judging() (perClient, revocable bool) {
	return g.live.Policy().PerClient(), true
}

// New returns the gate in front of opts.Mirror.
func New(opts Options) *Mirror {
	if opts.RetractedTTL <= 0 {
		opts.RetractedTTL = 10 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Describer == nil {
		opts.Describer = modinfo.NewDescriber(opts.Store, modinfo.DescriberOptions{})
	}
	fetcher, _ := opts.Mirror.(InfoFetcher)
	return &Mirror{inner: opts.Mirror, infoFetcher: fetcher, live: opts.Live, store: opts.Store, describer: opts.Describer,
		vulns: opts.Vulns, onDecision: opts.OnDecision, log: opts.Log,
		retractions: expirable.NewLRU[string, []retraction](retractionModules, nil, opts.RetractedTTL)}
}

// FetchTimeout is the decorated mirror's, if it has one.
func (g *Mirror) FetchTimeout() time.Duration {
	if ft, ok := g.inner.(proxy.FetchTimeouter); ok {
		return ft.FetchTimeout()
	}
	return 0
}

func subject(ctx context.Context) policy.Subject {
	return policy.Subject{Token: auth.Identity(ctx)}
}

// check decides about m's version for a request of kind k: nil to serve
// it (a warning recorded), or the refusal.
func (g *Mirror) check(ctx context.Context, m layout.Module, k policy.Kind, f *facts) error {
	d, err := g.decide(ctx, m, k, f)
	if err != nil {
		return err
	}
	return g.apply(ctx, k, d)
}

// checkInfo is check for a canonical .info; fetched: the decision fetched
// the .info through InfoFetcher.
func (g *Mirror) checkInfo(ctx context.Context, m layout.Module) (fetched bool, err error) {
	subj := subject(ctx)
	d, ok := g.live.Cached(subj, m.Version(), policy.KindInfo)
	if !ok {
		f := &facts{g: g, m: m}
		if d, err = g.live.Decide(ctx, subj, m.Version(), policy.KindInfo, f); err != nil {
			return false, err
		}
		fetched = f.fetched
	}
	return fetched, g.apply(ctx, policy.KindInfo, d)
}

// decide is the decision about m's version for a request of kind k, from
// the cache or with facts f (nil: fetched as needed).
func (g *Mirror) decide(ctx context.Context, m layout.Module, k policy.Kind, f *facts) (policy.Decision, error) {
	subj := subject(ctx)
	mv := m.Version()
	if d, ok := g.live.Cached(subj, mv, k); ok {
		return d, nil
	}
	if f == nil {
		f = &facts{g: g, m: m}
	}
	return g.live.Decide(ctx, subj, mv, k, f)
}

// apply records a decision that refuses, and returns the error of an
// enforced one.
func (g *Mirror) apply(ctx context.Context, k policy.Kind, d policy.Decision) error {
	if d.Allowed {
		return nil
	}
	obs.RequestFrom(ctx).Policy = d.Summary()
	if g.onDecision != nil {
		g.onDecision(k, d)
	}
	if d.Refused() {
		return &policy.RefusedError{Decision: d}
	}
	return nil
}

// Info answers m's .info, if the policy allows the version (for a query,
// the version it resolves to).
func (g *Mirror) Info(ctx context.Context, m layout.Module) (*storage.Object, cache.Source, error) {
	if m.Canonical() {
		fetched, err := g.checkInfo(ctx, m)
		if err != nil {
			return nil, cache.Source{}, err
		}
		if fetched {
			// The decision fetched the .info without what the mirror
			// starts with it: the version is allowed, start it now.
			g.infoFetcher.PrefetchVersion(ctx, m)
		}
		return g.inner.Info(ctx, m)
	}
	obj, src, err := g.inner.Info(ctx, m)
	if err != nil {
		return nil, src, err
	}
	b, err := readSmall(obj)
	if err != nil {
		return nil, src, err
	}
	info, err := parseInfo(b)
	if err != nil {
		return nil, src, fmt.Errorf("%s@%s: %w", m.Version().Path, m.Version().Version, err)
	}
	rm, err := layout.Escape(module.Version{Path: m.Version().Path, Version: info.Version})
	if err != nil {
		return nil, src, err
	}
	if err := g.check(ctx, rm, policy.KindInfo, &facts{g: g, m: rm, time: info.Time}); err != nil {
		return nil, src, err
	}
	return storage.BytesObject(b), src, nil
}

// GoMod answers m's .mod, if the policy allows the version. A version
// that is not canonical is the mirror's to refuse (400, as without a
// policy): there is nothing to decide about.
func (g *Mirror) GoMod(ctx context.Context, m layout.Module) (*storage.Object, cache.Source, error) {
	if !m.Canonical() {
		return g.inner.GoMod(ctx, m)
	}
	if err := g.check(ctx, m, policy.KindMod, nil); err != nil {
		return nil, cache.Source{}, err
	}
	return g.inner.GoMod(ctx, m)
}

// Zip answers m's .zip, if the policy allows the version (a version that
// is not canonical: see GoMod).
func (g *Mirror) Zip(ctx context.Context, m layout.Module) (*storage.Object, cache.Source, error) {
	if !m.Canonical() {
		return g.inner.Zip(ctx, m)
	}
	if err := g.check(ctx, m, policy.KindZip, nil); err != nil {
		return nil, cache.Source{}, err
	}
	return g.inner.Zip(ctx, m)
}

// maxFullJudgments bounds how many of a list's newest versions whose
// decision needed a fact not at hand (their .info not stored) are judged
// with the fact fetched, per list request; fullJudgmentsAtOnce of them
// at a time.
const (
	maxFullJudgments    = 64
	fullJudgmentsAtOnce = 8
)

// List answers m's list without the versions the policy refuses. Each
// version is judged with what is at hand (a min-age rule needs the .info
// time: stored .info files only); then the newest versions that could not
// be judged whole are judged with their .info fetched (fullJudgmentsAtOnce
// at a time), newest first (as the go command prefers them) until one is
// allowed, so that the version `go get M@latest` and `go get -u` choose
// is one the policy allows. After maxFullJudgments refusals, the versions
// not judged are left out down to the newest one judged whole and allowed
// (a version left out can still be asked for by its name). An older
// version refused by min-age whose .info is not stored stays listed;
// asking for it is answered 403. A decision the vulnerability database
// is wanted for while it loads fails the list (RefusedError.Unavailable:
// 503), rather than leave out versions that a retry may list.
func (g *Mirror) List(ctx context.Context, m layout.Module) ([]byte, cache.Source, error) {
	b, src, err := g.inner.List(ctx, m)
	if err != nil {
		return b, src, err
	}
	kept, err := g.filter(ctx, m.Version().Path, b)
	if err != nil {
		return nil, src, err
	}
	return kept, src, nil
}

// FilterList returns list (versions, one a line, as a list answer has
// them) of module path without the versions the policy refuses for the
// client in ctx, judged as List judges its own (snapshot views filter
// their lists with it).
func (g *Mirror) FilterList(ctx context.Context, path string, list []byte) ([]byte, error) {
	return g.filter(ctx, path, list)
}

// filter returns list without the versions the policy refuses.
func (g *Mirror) filter(ctx context.Context, path string, list []byte) ([]byte, error) {
	subj := subject(ctx)
	versions := strings.Fields(string(list))
	allowed := make([]string, 0, len(versions))
	infos := &storedInfos{}
	unjudged := map[string]bool{}
	changed := false
	for _, v := range versions {
		mv := module.Version{Path: path, Version: v}
		d, ok := g.live.Cached(subj, mv, policy.KindList)
		if !ok {
			em, err := layout.Escape(mv)
			if err != nil {
				changed = true
				continue
			}
			if d, err = g.live.Decide(ctx, subj, mv, policy.KindList, &facts{g: g, m: em, stored: true, infos: infos}); err != nil {
				return nil, err
			}
		}
		if d.Refused() {
			if d.Unavailable() {
				return nil, g.apply(ctx, policy.KindList, d)
			}
			changed = true
			continue
		}
		if !d.Cacheable() {
			unjudged[v] = true
		}
		allowed = append(allowed, v)
	}
	if len(unjudged) > 0 {
		order, err := g.latestCandidates(ctx, path, allowed)
		if err != nil {
			g.log.Warn("policy: newest compatible go.mod not read; +incompatible versions judged as candidates", "module", path, "err", err)
		}
		// The candidates to judge whole: the newest, down to the first
		// one judged whole and allowed (the go command's choice).
		if i := slices.IndexFunc(order, func(v string) bool { return !unjudged[v] }); i >= 0 {
			order = order[:i]
		}
		refused := map[string]bool{}
		judged := 0
	judging:
		for len(order) > 0 && judged < maxFullJudgments {
			batch := order[:min(len(order), fullJudgmentsAtOnce, maxFullJudgments-judged)]
			order = order[len(batch):]
			judged += len(batch)
			ds, err := g.judgeWhole(ctx, subj, path, batch)
			if err != nil {
				return nil, err
			}
			for i, d := range ds {
				if !d.Refused() {
					// The newest allowed version: as a .info request whose
					// decision fetched the .info, start its .mod and .zip.
					break judging
				}
				refused[batch[i]] = true
			}
		}
		if judged == maxFullJudgments && len(order) > 0 {
			// Not judged: left out rather than offered unjudged.
			for _, v := range order {
				refused[v] = true
			}
			g.log.Warn("policy: list has more versions to judge than are judged per request; the rest left out", "module", path, "judged", judged, "left out", len(order))
		}
		if len(refused) > 0 {
			changed = true
			allowed = slices.DeleteFunc(allowed, func(s string) bool { return refused[s] })
		}
	}
	if !changed {
		return list, nil
	}
	var out strings.Builder
	for _, v := range allowed {
		out.WriteString(v)
		out.WriteByte('\n')
	}
	return []byte(out.String()), nil
}

// judgeWhole decides about versions (path's, newest first) for a .info
// request, their facts fetched, concurrently. Its decisions are those of
// the versions up to and including the newest allowed one (the rest not
// judged, or their decisions dropped); the allowed one's .mod and .zip
// are started when its decision fetched its .info (as checkInfo's
// caller does). A decision that the vulnerability database is wanted for
// while it loads is its error (RefusedError, Unavailable).
func (g *Mirror) judgeWhole(ctx context.Context, subj policy.Subject, path string, versions []string) ([]policy.Decision, error) {
	ds := make([]policy.Decision, len(versions))
	fcs := make([]*facts, len(versions))
	eg, ectx := errgroup.WithContext(ctx)
	for i, v := range versions {
		em, err := layout.Escape(module.Version{Path: path, Version: v})
		if err != nil {
			return nil, err
		}
		fcs[i] = &facts{g: g, m: em}
		eg.Go(func() error {
			d, err := g.live.Decide(ectx, subj, em.Version(), policy.KindInfo, fcs[i])
			ds[i] = d
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	for i, d := range ds {
		if d.Unavailable() {
			return nil, g.apply(ctx, policy.KindList, d)
		}
		if !d.Refused() {
			if fcs[i].fetched && g.infoFetcher != nil {
				g.infoFetcher.PrefetchVersion(ctx, fcs[i].m)
			}
			return ds[:i+1], nil
		}
	}
	return ds, nil
}

// latestCandidates returns versions (a list's) in the go command's order
// of preference for "latest" (layout.LatestOrder), without the +incompatible
// versions when the newest compatible version (the highest without
// +incompatible, pre-releases included) has a go.mod of its own, not the
// one the go command makes up for a module without one: the go command
// does not choose a +incompatible version as latest then
// (cmd/go/internal/modload's filterVersions). Its error is that go.mod's
// fetch's; the versions are then returned with the +incompatible ones.
func (g *Mirror) latestCandidates(ctx context.Context, path string, versions []string) ([]string, error) {
	order := slices.Clone(versions)
	slices.SortFunc(order, layout.LatestOrder)
	compatible := ""
	for _, v := range versions {
		if !strings.HasSuffix(v, "+incompatible") && semver.IsValid(v) && (compatible == "" || semver.Compare(v, compatible) > 0) {
			compatible = v
		}
	}
	if compatible == "" || !slices.ContainsFunc(order, func(v string) bool { return strings.HasSuffix(v, "+incompatible") }) {
		return order, nil
	}
	em, err := layout.Escape(module.Version{Path: path, Version: compatible})
	if err != nil {
		return order, err
	}
	obj, _, err := g.inner.GoMod(ctx, em)
	if err != nil {
		return order, err
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(io.LimitReader(obj.Body, 1<<20))
	if err != nil {
		return order, err
	}
	if string(data) == "module "+modfile.AutoQuote(path)+"\n" {
		return order, nil // no go.mod of its own: +incompatible versions are candidates
	}
	return slices.DeleteFunc(order, func(v string) bool { return strings.HasSuffix(v, "+incompatible") }), nil
}

// Latest answers m's @latest: the upstream's latest if the policy allows
// it, else the newest version of the (filtered) list that it allows, as
// the go command would choose it; if there is none, the latest's refusal.
func (g *Mirror) Latest(ctx context.Context, m layout.Module) ([]byte, cache.Source, error) {
	b, src, err := g.inner.Latest(ctx, m)
	if err != nil {
		return b, src, err
	}
	info, err := parseInfo(b)
	if err != nil {
		return nil, src, fmt.Errorf("%s@latest: %w", m.Version().Path, err)
	}
	lm, err := layout.Escape(module.Version{Path: m.Version().Path, Version: info.Version})
	if err != nil {
		return nil, src, err
	}
	d, err := g.decide(ctx, lm, policy.KindInfo, &facts{g: g, m: lm, time: info.Time})
	if err != nil {
		return nil, src, err
	}
	if !d.Refused() {
		return b, src, g.apply(ctx, policy.KindInfo, d)
	}
	list, _, err := g.List(ctx, m)
	if err != nil {
		return nil, src, err
	}
	versions, err := g.latestCandidates(ctx, m.Version().Path, strings.Fields(string(list)))
	if err != nil {
		g.log.Warn("policy: newest compatible go.mod not read; +incompatible versions judged as candidates", "module", m.Version().Path, "err", err)
	}
	for _, v := range versions {
		vm, err := layout.Escape(module.Version{Path: m.Version().Path, Version: v})
		if err != nil {
			continue
		}
		vd, err := g.decide(ctx, vm, policy.KindInfo, nil)
		if err != nil {
			return nil, src, err
		}
		if vd.Refused() {
			continue
		}
		if err := g.apply(ctx, policy.KindInfo, vd); err != nil {
			return nil, src, err
		}
		obj, _, err := g.inner.Info(ctx, vm)
		if err != nil {
			return nil, src, err
		}
		nb, err := readSmall(obj)
		if err != nil {
			return nil, src, err
		}
		return nb, src, nil
	}
	return nil, src, g.apply(ctx, policy.KindInfo, d)
}

// info is a .info file.
type info struct {
	Version string
	Time    time.Time
}

func parseInfo(b []byte) (info, error) {
	var i info
	if err := json.Unmarshal(b, &i); err != nil {
		return info{}, fmt.Errorf("bad .info: %w", err)
	}
	if i.Version == "" {
		return info{}, errors.New("bad .info: no Version")
	}
	return i, nil
}

// maxInfo bounds a .info (or @latest answer) read.
const maxInfo = 64 << 10

// readSmall reads and closes obj, a .info.
func readSmall(obj *storage.Object) ([]byte, error) {
	defer obj.Body.Close()
	b, err := io.ReadAll(io.LimitReader(obj.Body, maxInfo+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInfo {
		return nil, errors.New("a .info over 64 KiB")
	}
	return b, nil
}

// facts are a decision's facts about m's version.
type facts struct {
	g *Mirror
	m layout.Module
	// time, if not zero, is the version's time, known already.
	time time.Time
	// stored: answer from storage only (a list's versions): a .info not
	// stored is policy.ErrUnknown.
	stored bool
	// infos, with stored, are the module's stored .info files, listed
	// once for all the versions of a list.
	infos *storedInfos
	// fetched: Time fetched the .info from the upstream through
	// InfoFetcher (nothing started for the version's .mod and .zip).
	fetched bool
}

var _ policy.Facts = (*facts)(nil)

func (f *facts) Time(ctx context.Context, mv module.Version) (time.Time, error) {
	if !f.time.IsZero() {
		return f.time, nil
	}
	var obj *storage.Object
	if f.stored {
		key, err := f.m.Key(layout.Info)
		if err != nil {
			return time.Time{}, err
		}
		if f.infos != nil {
			ok, err := f.infos.has(ctx, f.g.store, f.m, key)
			if err != nil {
				return time.Time{}, err
			}
			if !ok {
				return time.Time{}, fmt.Errorf("%s@%s: no .info stored: %w", mv.Path, mv.Version, policy.ErrUnknown)
			}
		}
		obj, err = f.g.store.Get(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			return time.Time{}, fmt.Errorf("%s@%s: no .info stored: %w", mv.Path, mv.Version, policy.ErrUnknown)
		}
		if err != nil {
			return time.Time{}, err
		}
	} else {
		var err error
		if f.g.infoFetcher != nil {
			var src cache.Source
			if obj, src, err = f.g.infoFetcher.InfoNoPrefetch(ctx, f.m); err != nil {
				return time.Time{}, err
			}
			f.fetched = src.Outcome != cache.Hit
		} else if obj, _, err = f.g.inner.Info(ctx, f.m); err != nil {
			return time.Time{}, err
		}
	}
	b, err := readSmall(obj)
	if err != nil {
		return time.Time{}, err
	}
	i, err := parseInfo(b)
	if err != nil {
		return time.Time{}, err
	}
	if i.Time.IsZero() {
		return time.Time{}, fmt.Errorf("%s@%s: .info has no Time", mv.Path, mv.Version)
	}
	return i.Time, nil
}

// storedInfos are the keys of a module's stored .info files, listed from
// storage once (one List of the module's versions, instead of one Get per
// version of a list: a list of 2,000 versions in an object store).
type storedInfos struct {
	listed bool
	keys   map[string]bool
}

// has reports whether key, m's .info, is stored.
func (s *storedInfos) has(ctx context.Context, store modinfo.Reader, m layout.Module, key string) (bool, error) {
	if !s.listed {
		listKey, err := m.Key(layout.List)
		if err != nil {
			return false, err
		}
		keys, err := store.List(ctx, layout.VersionsPrefix(listKey))
		if err != nil {
			return false, err
		}
		s.keys = make(map[string]bool)
		for _, k := range keys {
			if strings.HasSuffix(k, ".info") {
				s.keys[k] = true
			}
		}
		s.listed = true
	}
	return s.keys[key], nil
}

func (f *facts) Retracted(ctx context.Context, mv module.Version) (string, bool, error) {
	rs, err := f.g.retracted(ctx, mv.Path)
	if err != nil {
		if ctx.Err() != nil {
			return "", false, err
		}
		// The latest go.mod cannot be read (an upstream outage): the
		// check is skipped, and the decision not kept, rather than the
		// module's stored versions made unavailable.
		f.g.log.Warn("policy: retractions not known; deny-retracted skipped", "module", mv.Path, "err", err)
		return "", false, fmt.Errorf("retractions of %s: %v: %w", mv.Path, err, policy.ErrUnknown)
	}
	for _, r := range rs {
		if semver.Compare(r.low, mv.Version) <= 0 && semver.Compare(mv.Version, r.high) <= 0 {
			return r.rationale, true, nil
		}
	}
	return "", false, nil
}

// retraction is a retract directive as kept: its interval and the start
// of its rationale.
type retraction struct {
	low, high, rationale string
}

const (
	retractionModules = 1024 // modules whose retractions are kept
	maxRetractions    = 256  // retractions kept per module (the first ones)
	maxRationale      = 200  // bytes of a rationale kept
)

// retracted returns the retractions in the go.mod of path's latest
// version, as the go command finds it: the newest release of the list,
// else its newest pre-release, else @latest (also when the list is "not
// found"); none when the module has no latest version ("not found"). Its
// error (the upstream down) makes facts.Retracted answer ErrUnknown.
func (g *Mirror) retracted(ctx context.Context, path string) ([]retraction, error) {
	if rs, ok := g.retractions.Get(path); ok {
		return rs, nil
	}
	em, err := layout.Escape(module.Version{Path: path})
	if err != nil {
		return nil, err
	}
	list, _, err := g.inner.List(ctx, em)
	if errors.Is(err, fs.ErrNotExist) {
		list, err = nil, nil // no list (a module with only pseudo-versions): its @latest
	}
	if err != nil {
		return nil, err
	}
	versions, err := g.latestCandidates(ctx, path, strings.Fields(string(list)))
	if err != nil {
		return nil, err
	}
	latest := ""
	if len(versions) > 0 {
		latest = versions[0]
	} else {
		b, _, err := g.inner.Latest(ctx, em)
		if errors.Is(err, fs.ErrNotExist) {
			// No latest version the go command could read retractions
			// from: none apply, as for the go command.
			g.retractions.Add(path, nil)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		i, err := parseInfo(b)
		if err != nil {
			return nil, err
		}
		latest = i.Version
	}
	lm, err := layout.Escape(module.Version{Path: path, Version: latest})
	if err != nil {
		return nil, err
	}
	obj, _, err := g.inner.GoMod(ctx, lm)
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(io.LimitReader(obj.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	mf, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		// A go.mod the go command cannot read retracts nothing it can see.
		g.log.Warn("policy: latest go.mod unreadable; no retractions", "module", path, "version", latest, "err", err)
		mf = &modfile.File{}
	}
	rs := make([]retraction, 0, min(len(mf.Retract), maxRetractions))
	for _, r := range mf.Retract {
		if len(rs) == maxRetractions {
			g.log.Warn("policy: more retractions than are kept; the rest are ignored", "module", path, "version", latest, "kept", maxRetractions, "retractions", len(mf.Retract))
			break
		}
		why := r.Rationale
		if len(why) > maxRationale {
			why = strings.ToValidUTF8(why[:maxRationale], "") + "..."
		}
		rs = append(rs, retraction{low: r.Low, high: r.High, rationale: why})
	}
	g.retractions.Add(path, rs)
	return rs, nil
}

func (f *facts) Licenses(ctx context.Context, mv module.Version) ([]string, error) {
	key, err := f.m.Key(layout.Zip)
	if err != nil {
		return nil, err
	}
	if _, err := f.g.store.Stat(ctx, key); errors.Is(err, fs.ErrNotExist) {
		// Not stored yet: fill it (verified) and wait for it to be stored.
		obj, _, err := f.g.inner.Zip(ctx, f.m)
		if err != nil {
			return nil, err
		}
		if fl, ok := obj.Body.(proxy.Following); ok {
			whole, err := fl.Complete(ctx)
			obj.Body.Close()
			if err != nil {
				return nil, err
			}
			whole.Body.Close()
		} else {
			obj.Body.Close()
		}
	} else if err != nil {
		return nil, err
	}
	det, err := f.g.describer.Get(ctx, mv)
	if err != nil {
		return nil, err
	}
	if det.ZipError != "" {
		return nil, fmt.Errorf("%s@%s: licenses not read: %s", mv.Path, mv.Version, det.ZipError)
	}
	var ids []string
	for _, l := range det.Licenses {
		for _, id := range l.IDs {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

func (f *facts) Vulns(ctx context.Context, mv module.Version) ([]policy.Advisory, error) {
	if f.g.vulns == nil {
		return nil, fmt.Errorf("no vulnerability database configured: %w", policy.ErrNoVulnDB)
	}
	return f.g.vulns.Vulns(ctx, mv)
}
