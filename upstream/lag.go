package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/layout"
)

// Limits on what comparing two mirrors' answers costs and shows.
const (
	// maxListVersions bounds the versions of a list that a comparison
	// parses (the first ones of each answer) and of a merged list, as
	// maxList bounds its bytes (about 100,000 versions either way): a
	// merged list over either limit keeps the newest versions and is
	// marked capped.
	maxListVersions = 100_000
	// maxLagShown bounds the missing versions a lag record names (the
	// newest ones); MissingCount says how many there were.
	maxLagShown = 20
	// maxConfirmed bounds the versions one comparison asks the Confirmer
	// about: the newest of those one mirror lists and the other lacks.
	maxConfirmed = 20
	// confirmLookups bounds the Confirmer lookups of one comparison that
	// run at a time.
	confirmLookups = 4
	// maxCompareWait caps how long a list or @latest waits for the second
	// mirror (and the confirmation of what it adds) after the first
	// answer, unless GroupOptions.HedgeAfterMin asks for longer (see
	// Group.compareWait).
	maxCompareWait = 500 * time.Millisecond
)

// A Confirmer confirms that a module version was published, so that a
// version one mirror lists and its peer lacks may be served. *sumdb.Verifier
// implements it: a checksum database that has a record of path@version
// proves the version exists (the database fetches it from its origin and
// never forgets it), whatever the mirrors say.
type Confirmer interface {
	// Exempt reports whether path is not covered (GONOSUMDB, private
	// modules): its versions cannot be confirmed and must not be named
	// to the database.
	Exempt(path string) bool
	// Lookup succeeds when the database has path@version. It caches
	// what it learns, so that asking again is cheap.
	Lookup(ctx context.Context, path, version string) ([]string, error)
}

// A LagEvent records that a mirror of a group lagged: its answer to a list
// or @latest lacked versions a peer mirror had, confirmed published.
type LagEvent struct {
	Module string `json:"module"`
	Op     string `json:"op"` // "list" or "latest"
	// Peer is the mirror (its redacted URL) that had the versions.
	Peer string `json:"peer"`
	// Missing names the confirmed versions the mirror lacked, newest
	// first, at most 20 of them; MissingCount is how many it lacked in all
	// (those confirmed, and those beyond the newest maxConfirmed that were
	// not looked up), and Capped says Missing left some out.
	Missing      []string  `json:"missing"`
	MissingCount int       `json:"missing_count"`
	Capped       bool      `json:"capped,omitempty"`
	At           time.Time `json:"at"`
}

// versionKey is a version parsed once for sorting: where its numeric
// parts end (compared as text: canonical versions have no leading zeros,
// so longer is larger) and whether it has a pre-release, the only part
// semver.Compare is needed for. It is small: a comparison holds up to
// maxListVersions of them.
type versionKey struct {
	v                      string
	majEnd, minEnd, patEnd uint32 // v[1:majEnd], v[majEnd+1:minEnd], v[minEnd+1:patEnd]
	pre                    bool
}

// keyOf parses v, a canonical version (layout.Listable).
func keyOf(v string) versionKey {
	k := versionKey{v: v}
	i := 1
	next := func() uint32 {
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		end := uint32(i)
		i++ // the separator
		return end
	}
	k.majEnd, k.minEnd, k.patEnd = next(), next(), next()
	k.pre = int(k.patEnd) < len(v) && v[k.patEnd] == '-'
	return k
}

func (k versionKey) major() string { return k.v[1:k.majEnd] }
func (k versionKey) minor() string { return k.v[k.majEnd+1 : k.minEnd] }
func (k versionKey) patch() string { return k.v[k.minEnd+1 : k.patEnd] }

func cmpNum(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// compareKeys orders as semver.Sort does: by precedence, then by text.
func compareKeys(a, b versionKey) int {
	if c := cmpNum(a.major(), b.major()); c != 0 {
		return c
	}
	if c := cmpNum(a.minor(), b.minor()); c != 0 {
		return c
	}
	if c := cmpNum(a.patch(), b.patch()); c != 0 {
		return c
	}
	if a.pre || b.pre {
		if c := semver.Compare(a.v, b.v); c != 0 {
			return c
		}
	}
	return strings.Compare(a.v, b.v)
}

// listVersions returns the versions of path that a list answer names and
// a list may serve: listable (layout.Listable, the cache's rule), not
// pseudo-versions (the go command ignores them in a list), and valid for
// the path's major version (module.CheckPathMajor: no v2.0.0 of a path
// without /v2), sorted as semver.Sort does, without duplicates. Only the
// first maxListVersions valid lines are read. Other lines (a mirror's junk,
// a version cut short) are dropped.
func listVersions(path string, b []byte) []string {
	_, pathMajor, ok := module.SplitPathVersion(path)
	if !ok {
		return nil
	}
	keys := make([]versionKey, 0, min(bytes.Count(b, []byte("\n"))+1, maxListVersions))
	for len(b) > 0 && len(keys) < maxListVersions {
		var f []byte
		i := bytes.IndexAny(b, " \t\r\n")
		if i < 0 {
			f, b = b, nil
		} else {
			f, b = b[:i], b[i+1:]
		}
		if len(f) == 0 {
			continue
		}
		v := string(f)
		if layout.Listable(v) && !module.IsPseudoVersion(v) && module.CheckPathMajor(v, pathMajor) == nil {
			keys = append(keys, keyOf(v))
		}
	}
	slices.SortFunc(keys, compareKeys)
	vs := make([]string, 0, len(keys))
	for i, k := range keys {
		if i == 0 || k.v != keys[i-1].v {
			vs = append(vs, k.v)
		}
	}
	return vs
}

// newest keeps the newest n versions of an ascending sequence it is fed,
// and counts them all.
type newest struct {
	vs    []string
	count int
}

func (n *newest) add(v string) {
	n.count++
	n.vs = append(n.vs, v)
	if len(n.vs) >= 2*maxConfirmed {
		n.vs = append(n.vs[:0], n.vs[len(n.vs)-maxConfirmed:]...)
	}
}

// last returns the newest versions kept, newest first.
func (n *newest) last() []string {
	s := slices.Clone(n.vs[max(0, len(n.vs)-maxConfirmed):])
	slices.Reverse(s)
	return s
}

// diffVersions walks two sorted version lists (listVersions) and returns
// the newest versions each one lacks and how many it lacks.
func diffVersions(a, b []string) (missA, missB newest) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var c int
		switch {
		case i == len(a):
			c = 1
		case j == len(b):
			c = -1
		default:
			c = compareKeys(keyOf(a[i]), keyOf(b[j]))
		}
		switch {
		case c < 0:
			missB.add(a[i])
			i++
		case c > 0:
			missA.add(b[j])
			j++
		default:
			i++
			j++
		}
	}
	return missA, missB
}

// withVersions returns vs (sorted) with add merged in, sorted.
func withVersions(vs, add []string) []string {
	out := make([]string, 0, len(vs)+len(add))
	out = append(append(out, vs...), add...)
	slices.SortFunc(out, func(a, b string) int { return compareKeys(keyOf(a), keyOf(b)) })
	return slices.Compact(out)
}

// formatList writes vs, sorted, as a list answer: one version a line. A
// list over maxListVersions versions or maxList bytes keeps its newest
// versions up to those limits, and capped reports it.
func formatList(vs []string) (body []byte, capped bool) {
	if len(vs) > maxListVersions {
		vs, capped = vs[len(vs)-maxListVersions:], true
	}
	size := 0
	first := len(vs)
	for first > 0 && size+len(vs[first-1])+1 <= maxList {
		first--
		size += len(vs[first]) + 1
	}
	if first > 0 {
		capped = true
	}
	var buf bytes.Buffer
	buf.Grow(size)
	for _, v := range vs[first:] {
		buf.WriteString(v)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), capped
}

// latestVersion returns the Version of an @latest (.info) answer, or ""
// if it has none that is valid.
func latestVersion(b []byte) string {
	var info struct{ Version string }
	if json.Unmarshal(b, &info) != nil || !semver.IsValid(info.Version) {
		return ""
	}
	return info.Version
}

// answerOf is one mirror's answer to a list or @latest: its body, or the
// error it gave.
type answerOf struct {
	body []byte
	err  error
	m    *member
}

// comparable reports whether the answer can be compared with a peer's: a
// body, or "not found" (a mirror that does not know the module yet lacks
// all its versions). A failure or another refusal proves nothing.
func (a answerOf) comparable() bool { return a.err == nil || IsNotExist(a.err) }

// lag is one mirror found lagging by a comparison.
type lag struct {
	m     *member
	event LagEvent
}

// disagreement is a difference between the mirrors that is not scored:
// versions a mirror listed that its peer lacked and that were not
// confirmed (or could not be: no Confirmer for the module), or lists where
// each lacks versions the other has.
type disagreement struct {
	m, peer     *member
	unconfirmed []string // newest first, at most maxConfirmed
	count       int      // the versions m had and peer lacked
	diverged    bool     // peer also had versions m lacked
}

// comparison is the outcome of comparing two mirrors' answers.
type comparison struct {
	served    answerOf // what to serve (its m names the mirror that answered)
	capped    bool     // served is a merged list cut to the limits
	lags      []lag    // the mirrors that lacked confirmed versions
	agreed    []*member
	disagreed []disagreement
	merged    bool // served was built from both answers
	skipped   bool // the answers could not be compared
}

// confirmFunc returns which of versions (of the module being compared)
// are confirmed published. A nil confirmFunc confirms nothing: the
// module is not covered by a Confirmer.
type confirmFunc func(versions []string) map[string]bool

// confirmNewest asks conf about the newest maxConfirmed versions of both
// sides' missing ones, and returns those confirmed and those asked about.
func confirmNewest(conf confirmFunc, a, b []string) (ok map[string]bool, asked []string) {
	if conf == nil || len(a)+len(b) == 0 {
		return nil, nil
	}
	all := append(slices.Clone(a), b...)
	slices.SortFunc(all, func(x, y string) int { return compareKeys(keyOf(y), keyOf(x)) })
	asked = all[:min(len(all), maxConfirmed)]
	return conf(asked), asked
}

// compareList compares two mirrors' list answers: p is the preferred
// mirror's (the group's best), o the other's. What is served is p's
// answer, plus the versions only o lists that conf confirms, less the
// versions only p lists that conf was asked about and did not confirm
// (then merged): a version one mirror lists and the other lacks is never
// served on that mirror's word alone. Without conf (a module it does not
// cover), p's answer is served as it came. A mirror is recorded lagging only when its versions
// are a subset of its peer's and the ones it lacks were confirmed; any
// other difference is a disagreement, logged but not scored. Two "not
// found" answers are no comparison.
func compareList(p, o answerOf, path string, conf confirmFunc, now time.Time) comparison {
	skip := comparison{served: p, skipped: true}
	if !p.comparable() || !o.comparable() || (p.err != nil && o.err != nil) {
		return skip
	}
	if p.err == nil && o.err == nil && bytes.Equal(p.body, o.body) {
		return comparison{served: p, agreed: []*member{p.m, o.m}} // the common case: nothing to parse
	}
	vp, vo := listVersions(path, p.body), listVersions(path, o.body)
	missP, missO := diffVersions(vp, vo) // what p lacks (o has), what o lacks
	if missP.count == 0 && missO.count == 0 {
		return comparison{served: p, agreed: []*member{p.m, o.m}}
	}
	lackP, lackO := missP.last(), missO.last()
	ok, asked := confirmNewest(conf, lackP, lackO)
	c := comparison{served: p}
	addP := confirmedOf(lackP, ok) // versions to add to p's answer
	var dropP []string             // versions only p lists, found unconfirmed
	for _, v := range lackO {
		if slices.Contains(asked, v) && !ok[v] {
			dropP = append(dropP, v)
		}
	}
	side := func(m, peer *member, lacks, has newest, shown []string) {
		got := confirmedOf(shown, ok)
		switch {
		case lacks.count == 0:
			c.agreed = append(c.agreed, m) // has all its peer's versions
		case has.count == 0 && len(got) > 0:
			// A subset of its peer's versions, and the newest missing
			// ones confirmed: it lags.
			counted := lacks.count - (len(shown) - len(got)) // the unconfirmed ones are not counted
			c.lags = append(c.lags, lag{m, lagEvent(path, "list", peer, got, counted, now)})
		}
		if lacks.count > 0 && (has.count > 0 || len(got) < len(shown)) {
			c.disagreed = append(c.disagreed, disagreement{m: peer, peer: m, unconfirmed: unconfirmedOf(shown, ok),
				count: lacks.count, diverged: has.count > 0})
		}
	}
	side(p.m, o.m, missP, missO, lackP)
	side(o.m, p.m, missO, missP, lackO)
	if len(addP) == 0 && len(dropP) == 0 {
		return c // p's answer as it came
	}
	if len(dropP) > 0 {
		vp = slices.DeleteFunc(slices.Clone(vp), func(v string) bool { return slices.Contains(dropP, v) })
	}
	c.served.body, c.capped = formatList(withVersions(vp, addP))
	c.served.err = nil
	c.merged = true
	if missO.count == len(dropP) && len(addP) > 0 || missO.count == 0 {
		c.served.m = o.m // o has all that is served
	}
	return c
}

// confirmedOf returns the versions of vs that ok holds (is true), in
// order; unconfirmedOf those it does not.
func confirmedOf(vs []string, ok map[string]bool) []string { return filterBy(vs, ok, true) }

func unconfirmedOf(vs []string, ok map[string]bool) []string { return filterBy(vs, ok, false) }

func filterBy(vs []string, ok map[string]bool, want bool) []string {
	var out []string
	for _, v := range vs {
		if ok[v] == want {
			out = append(out, v)
		}
	}
	return out
}

// compareLatest compares two mirrors' @latest answers: p is the preferred
// mirror's, o the other's. The version the go command would prefer
// (layout.LatestOrder: a release over a pre-release, then the higher) is
// served if conf confirms it; else the other one if conf confirms that;
// else p's (as without conf, a module it does not cover). A mirror is
// recorded lagging when its version is both less preferred and lower than
// its peer's confirmed one (a pseudo-version is never a lag), or when it
// does not know a module whose peer's version is confirmed. Answers naming
// no valid version, and two "not found" answers, are not compared.
func compareLatest(p, o answerOf, path string, conf confirmFunc, now time.Time) comparison {
	skip := comparison{served: p, skipped: true}
	if !p.comparable() || !o.comparable() || (p.err != nil && o.err != nil) {
		return skip
	}
	var vp, vo string
	if p.err == nil {
		if vp = latestVersion(p.body); vp == "" {
			return skip
		}
	}
	if o.err == nil {
		if vo = latestVersion(o.body); vo == "" {
			return skip
		}
	}
	if vp == vo {
		return comparison{served: p, agreed: []*member{p.m, o.m}}
	}
	// better reports whether x is preferred to y ("" is no version).
	better := func(x, y string) bool { return y == "" || (x != "" && layout.LatestOrder(x, y) < 0) }
	lags := func(x, y string) bool { // x lags behind y
		return x == "" || (semver.Compare(x, y) < 0 && !module.IsPseudoVersion(y))
	}
	confirmed := func(v string) bool {
		if conf == nil || module.CheckPathMajor(v, pathMajorOf(path)) != nil {
			return false
		}
		return conf([]string{v})[v]
	}
	if better(vp, vo) {
		// o's answer differs only in the go command's preference (a
		// higher pre-release) unless it is lower too.
		if conf != nil && !confirmed(vp) {
			// p's version on its word alone: o's if that is confirmed.
			d := []disagreement{{m: p.m, peer: o.m, unconfirmed: []string{vp}, count: 1}}
			if vo != "" && confirmed(vo) {
				return comparison{served: o, merged: true, disagreed: d}
			}
			return comparison{served: p, disagreed: d}
		}
		c := comparison{served: p, agreed: []*member{p.m}}
		if lags(vo, vp) {
			if conf != nil {
				c.lags = []lag{{o.m, lagEvent(path, "latest", p.m, []string{vp}, 1, now)}}
			} else {
				c.disagreed = []disagreement{{m: p.m, peer: o.m, unconfirmed: []string{vp}, count: 1}}
			}
		}
		return c
	}
	if !confirmed(vo) {
		return comparison{served: p, disagreed: []disagreement{{m: o.m, peer: p.m, unconfirmed: []string{vo}, count: 1}}}
	}
	c := comparison{served: o, agreed: []*member{o.m}, merged: true}
	if lags(vp, vo) {
		c.lags = []lag{{p.m, lagEvent(path, "latest", o.m, []string{vo}, 1, now)}}
	}
	return c
}

func pathMajorOf(path string) string {
	_, major, _ := module.SplitPathVersion(path)
	return major
}

// lagEvent records that a mirror lacked missing (confirmed, newest first),
// count versions in all, which peer had, naming at most maxLagShown.
func lagEvent(module, op string, peer *member, missing []string, count int, now time.Time) LagEvent {
	e := LagEvent{Module: module, Op: op, Peer: peer.p.String(), MissingCount: max(count, len(missing)), At: now}
	if len(missing) > maxLagShown {
		missing = missing[:maxLagShown]
	}
	e.Capped = e.MissingCount > len(missing)
	e.Missing = slices.Clone(missing)
	return e
}

// SetConfirmer sets what confirms the versions one mirror lists and its
// peer lacks (the server's checksum database verifier). Without one (or
// for a module it is Exempt for), no version is ever added to what the
// preferred mirror answered and no mirror is recorded lagging:
// disagreements are only logged.
func (g *Group) SetConfirmer(c Confirmer) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.confirmer = c
}

// confirmFor returns how a comparison confirms versions of path, within
// ctx: Confirmer lookups, confirmLookups at a time; nil if nothing covers
// path.
func (g *Group) confirmFor(ctx context.Context, path string) confirmFunc {
	g.mu.Lock()
	c := g.confirmer
	g.mu.Unlock()
	if c == nil || c.Exempt(path) {
		return nil
	}
	return func(versions []string) map[string]bool {
		ok := make([]bool, len(versions))
		sem := make(chan struct{}, confirmLookups)
		var wg sync.WaitGroup
		for i, v := range versions {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				_, err := c.Lookup(ctx, path, v)
				ok[i] = err == nil
			})
		}
		wg.Wait()
		out := map[string]bool{}
		for i, v := range versions {
			if ok[i] {
				out[v] = true
			}
		}
		return out
	}
}

// compareWait is how long a list or @latest waits, after the first
// answer (which took first), for the second mirror's answer and the
// comparison: as long as the first took, at least HedgeAfterMin, at most
// maxCompareWait (or HedgeAfterMin if that is longer), and no longer than
// the second mirror's p90 when that is known.
func (g *Group) compareWait(first time.Duration, peer *member) time.Duration {
	w := max(g.opts.HedgeAfterMin, min(first, maxCompareWait))
	if p := peer.h.p90(); p > 0 {
		w = min(w, p)
	}
	return w
}

// compared answers a list or @latest of path from the two best mirrors (f
// asks one), as the Group's doc says, and records what cmp finds.
//
// Bounds: the answer waits for the first mirror to answer (as an
// unhedged request does; a failure of it is replaced by the other's
// answer, as a hedge's is) plus at most compareWait; a mirror that fails
// or refuses the connection delays nothing, a slow one delays the answer
// by compareWait. The comparison then goes on in the background (at most
// maxBackgroundCompares at a time; until Timeout, or Close) and records
// what it finds, so that a fast mirror that lags is scored down. When both
// fail, the request goes on as do's retries would (doFrom). Cost: two
// upstream requests per list or @latest fetch instead of one (and no
// hedge), and up to maxConfirmed Confirmer lookups when they differ.
func (g *Group) compared(ctx context.Context, path string, cmp func(p, o answerOf, module string, conf confirmFunc, now time.Time) comparison, f func(ctx context.Context, p *Proxy) ([]byte, error)) ([]byte, Answer, error) {
	if g.opts.NoCompare || len(g.members) < 2 {
		return doBytes(ctx, g, f)
	}
	cands := g.candidates()
	for _, m := range cands[min(2, len(cands)):] {
		m.h.release() // claimed by candidates but not used
	}
	if len(cands) < 2 {
		cands[0].h.release()
		return doBytes(ctx, g, f)
	}
	results := make(chan answerOf, 2)
	var abandoned [2]atomic.Bool // the group stopped waiting for cands[i]
	var cancels [2]context.CancelFunc
	// The attempts outlive the caller's context only to finish a
	// comparison in the background; each is bounded by Timeout and by
	// the group's life (Close).
	bg := context.WithoutCancel(ctx)
	begin := g.opts.Now()
	for i, m := range cands[:2] {
		actx, cancel := context.WithTimeout(bg, g.opts.Timeout)
		stop := context.AfterFunc(g.life, cancel)
		cancels[i] = cancel
		g.spawn(func() {
			defer stop()
			defer cancel()
			begin := g.opts.Now()
			b, err := f(actx, m.p)
			timedOut := errors.Is(actx.Err(), context.DeadlineExceeded)
			err = g.settle(m, begin, err, timedOut, abandoned[i].Load() || g.life.Err() != nil, false)
			results <- answerOf{b, err, m}
		})
	}
	abandon := func(m *member) {
		i := slices.Index(cands[:2], m)
		abandoned[i].Store(true)
		cancels[i]()
	}
	serve := func(a answerOf) ([]byte, Answer, error) {
		if a.err != nil {
			return nil, Answer{}, a.err
		}
		return a.body, AnswerOf(a.m.p), nil
	}
	var first answerOf
	select {
	case first = <-results:
	case <-ctx.Done():
		abandon(cands[0])
		abandon(cands[1])
		return nil, Answer{}, ctx.Err()
	}
	other := cands[0]
	if first.m == other {
		other = cands[1]
	}
	if isFailure(first.err) {
		// The other answer is the answer now, as a hedge's would be.
		var second answerOf
		select {
		case second = <-results:
		case <-ctx.Done():
			abandon(other)
			return nil, Answer{}, ctx.Err()
		}
		if !isFailure(second.err) {
			return serve(second)
		}
		if g.opts.Retries == 0 || ctx.Err() != nil {
			return nil, Answer{}, first.err
		}
		tried := map[*member]bool{cands[0]: true, cands[1]: true}
		if err := g.backoff(ctx, 0, second.err, len(g.members) == 2); err != nil {
			return nil, Answer{}, first.err
		}
		ctx, cancel := context.WithCancel(ctx) // as doBytes: the winner's context ends here
		defer cancel()
		b, m, err := doFrom(ctx, g, f, nil, tried, 1)
		if err != nil {
			return b, Answer{}, err
		}
		return b, AnswerOf(m.p), nil
	}
	if !first.comparable() {
		abandon(other) // a refusal: nothing to compare it with
		return serve(first)
	}
	wait := g.compareWait(g.opts.Now().Sub(begin), other)
	// The comparison runs on its own, so that the answer waits for it
	// at most wait; it is bounded by Timeout and the group's life.
	cctx, ccancel := context.WithTimeout(g.life, g.opts.Timeout)
	done := make(chan comparison, 1)
	finished := make(chan struct{})
	g.spawn(func() {
		defer close(finished)
		defer ccancel()
		var second answerOf
		select {
		case second = <-results:
		case <-cctx.Done():
			abandon(other)
			return
		}
		p, o := first, second
		if o.m == cands[0] {
			p, o = o, p
		}
		c := cmp(p, o, path, g.confirmFor(cctx, path), g.opts.Now())
		if c.skipped {
			c.served = first
		}
		g.record(c, path)
		done <- c
	})
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case c := <-done:
		return serve(c.served)
	case <-t.C:
	case <-ctx.Done():
	}
	select {
	case g.compares <- struct{}{}:
		g.spawn(func() {
			<-finished
			<-g.compares
		})
	default:
		ccancel() // enough comparisons in the background
		abandon(other)
	}
	return serve(first)
}

// record notes what a comparison found in the mirrors' health and logs
// each lag and disagreement.
func (g *Group) record(c comparison, path string) {
	if c.skipped {
		return
	}
	now := g.opts.Now()
	for _, m := range c.agreed {
		m.h.lagged(nil, now, g.opts.LagHalfLife)
	}
	for _, l := range c.lags {
		counted := l.m.h.lagged(&l.event, now, g.opts.LagHalfLife)
		g.opts.Logger.Warn("upstream mirror lags behind its group", "group", g.name, "op", l.event.Op,
			"module", l.event.Module, "mirror", l.m.p.String(), "peer", l.event.Peer,
			"missing", strings.Join(l.event.Missing, " "), "missing_count", l.event.MissingCount,
			"capped", l.event.Capped, "list_capped", c.capped, "scored", counted && g.opts.LagWeight > 0)
	}
	for _, d := range c.disagreed {
		d.m.h.disagreed()
		g.opts.Logger.Info("upstream mirrors disagree; unconfirmed versions not served", "group", g.name,
			"module", path, "mirror", d.m.p.String(), "peer", d.peer.p.String(),
			"unconfirmed", strings.Join(d.unconfirmed, " "), "count", d.count, "diverged", d.diverged)
	}
}
