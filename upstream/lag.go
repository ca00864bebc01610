package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Limits on what comparing two mirrors' answers keeps in memory and shows.
const (
	// maxListVersions bounds the versions of a merged list, as maxList
	// bounds its bytes (about 100,000 versions either way): a merged list
	// over either limit keeps the newest versions and is marked capped.
	maxListVersions = 100_000
	// maxLagShown bounds the missing versions a lag record names (the
	// newest ones); MissingCount says how many there were.
	maxLagShown = 20
)

// A LagEvent records that a mirror of a group lagged: its answer to a list
// or @latest lacked versions a peer mirror had.
type LagEvent struct {
	Module string `json:"module"`
	Op     string `json:"op"` // "list" or "latest"
	// Peer is the mirror (its redacted URL) that had the versions.
	Peer string `json:"peer"`
	// Missing names the versions the mirror lacked, newest first, at most
	// 20 of them; MissingCount is how many it lacked in all, and Capped
	// says Missing left some out.
	Missing      []string  `json:"missing"`
	MissingCount int       `json:"missing_count"`
	Capped       bool      `json:"capped,omitempty"`
	At           time.Time `json:"at"`
}

// listVersions returns the versions of a list answer that a list may
// name: valid, canonical semantic versions (module.CanonicalVersion, which
// keeps +incompatible), sorted as semver.Sort does, without duplicates.
// Other lines (a mirror's junk, a version cut short) are dropped.
func listVersions(b []byte) []string {
	var vs []string
	for v := range strings.FieldsSeq(string(b)) {
		if semver.IsValid(v) && module.CanonicalVersion(v) == v {
			vs = append(vs, v)
		}
	}
	semver.Sort(vs)
	return slices.Compact(vs)
}

// unionVersions merges two sorted version lists (listVersions) and returns
// the union, sorted, and the versions each list lacks, newest first.
func unionVersions(a, b []string) (union, missingA, missingB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var c int
		switch {
		case i == len(a):
			c = 1
		case j == len(b):
			c = -1
		default:
			c = semver.Compare(a[i], b[j])
			if c == 0 && a[i] != b[j] { // same precedence, different text: as semver.Sort
				c = strings.Compare(a[i], b[j])
			}
		}
		switch {
		case c < 0:
			union = append(union, a[i])
			missingB = append(missingB, a[i])
			i++
		case c > 0:
			union = append(union, b[j])
			missingA = append(missingA, b[j])
			j++
		default:
			union = append(union, a[i])
			i++
			j++
		}
	}
	slices.Reverse(missingA)
	slices.Reverse(missingB)
	return union, missingA, missingB
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

// comparison is the outcome of comparing two mirrors' answers.
type comparison struct {
	body    []byte  // what to serve
	from    *member // the mirror named as having answered
	capped  bool    // body is a merged list cut to the limits
	lags    []lag   // the mirrors that lacked versions
	agreed  []*member
	merged  bool // body was built from both answers
	skipped bool // the answers could not be compared
}

// compareList compares two mirrors' list answers (a is the one that
// answered first). When both can be compared and one lacks versions the
// other has, the union is served and each mirror that lacked versions is
// named with them; otherwise a's answer is served as it came.
func compareList(a, b answerOf, module string, now time.Time) comparison {
	if !a.comparable() || !b.comparable() {
		return comparison{body: a.body, from: a.m, skipped: true}
	}
	va, vb := listVersions(a.body), listVersions(b.body)
	union, missA, missB := unionVersions(va, vb)
	c := comparison{body: a.body, from: a.m}
	for _, x := range []struct {
		m, peer *member
		missing []string
	}{{a.m, b.m, missA}, {b.m, a.m, missB}} {
		if len(x.missing) == 0 {
			c.agreed = append(c.agreed, x.m)
			continue
		}
		c.lags = append(c.lags, lag{x.m, lagEvent(module, "list", x.peer, x.missing, now)})
	}
	if len(missA) == 0 {
		return c // a has every version: served as it came
	}
	if len(missB) == 0 {
		c.from = b.m // b is the complete one
	}
	c.body, c.capped = formatList(union)
	c.merged = true
	return c
}

// compareLatest compares two mirrors' @latest answers (a is the one that
// answered first): the one naming the higher version is served, and the
// other lagged by that version. Answers naming no valid version, or equal
// ones, serve a's.
func compareLatest(a, b answerOf, module string, now time.Time) comparison {
	if !a.comparable() || !b.comparable() {
		return comparison{body: a.body, from: a.m, skipped: true}
	}
	var va, vb string
	if a.err == nil {
		if va = latestVersion(a.body); va == "" {
			return comparison{body: a.body, from: a.m, skipped: true}
		}
	}
	if b.err == nil {
		if vb = latestVersion(b.body); vb == "" {
			return comparison{body: a.body, from: a.m, skipped: true}
		}
	}
	switch {
	case va == vb:
		return comparison{body: a.body, from: a.m, agreed: []*member{a.m, b.m}}
	case vb == "" || (va != "" && semver.Compare(va, vb) > 0):
		return comparison{body: a.body, from: a.m, agreed: []*member{a.m},
			lags: []lag{{b.m, lagEvent(module, "latest", a.m, []string{va}, now)}}}
	default:
		return comparison{body: b.body, from: b.m, agreed: []*member{b.m}, merged: true,
			lags: []lag{{a.m, lagEvent(module, "latest", b.m, []string{vb}, now)}}}
	}
}

// lagEvent records that a mirror lacked missing (newest first), which
// peer had, keeping at most maxLagShown of them.
func lagEvent(module, op string, peer *member, missing []string, now time.Time) LagEvent {
	e := LagEvent{Module: module, Op: op, Peer: peer.p.String(), MissingCount: len(missing), At: now}
	if len(missing) > maxLagShown {
		missing, e.Capped = missing[:maxLagShown], true
	}
	e.Missing = slices.Clone(missing)
	return e
}

// compared answers a list or @latest of path from the two best mirrors (f
// asks one), as the Group's doc says, and records what cmp finds.
//
// Bounds: the answer waits for the first mirror to answer (as an
// unhedged request does; a failure of it is replaced by the other's
// answer, as a hedge's is) plus at most the second's hedge delay; a mirror
// that fails or refuses the connection delays nothing, one that hangs
// delays the answer by its hedge delay. When both fail, the request goes
// on as do's retries would (doFrom). Cost: two upstream requests per
// list or @latest fetch instead of one (and no hedge).
func (g *Group) compared(ctx context.Context, path string, cmp func(a, b answerOf, module string, now time.Time) comparison, f func(ctx context.Context, p *Proxy) ([]byte, error)) ([]byte, Answer, error) {
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
	// comparison in the background; each is bounded by Timeout.
	bg := context.WithoutCancel(ctx)
	for i, m := range cands[:2] {
		actx, cancel := context.WithTimeout(bg, g.opts.Timeout)
		cancels[i] = cancel
		go func() {
			defer cancel()
			begin := g.opts.Now()
			b, err := f(actx, m.p)
			timedOut := errors.Is(actx.Err(), context.DeadlineExceeded)
			if timedOut && err != nil {
				err = fmt.Errorf("%s: no answer within %v: %w", m.p, g.opts.Timeout, context.DeadlineExceeded)
			}
			d := g.opts.Now().Sub(begin)
			switch {
			case err == nil || (!isFailure(err) && !timedOut):
				m.h.success(d, g.opts.Now())
			case abandoned[i].Load():
				m.h.slow(d) // not waited for: nothing learned but its slowness
			default:
				if m.h.failure(err, g.opts.Now(), g.opts.BreakerFailures, retryAfterOf(err)) {
					g.opts.Logger.Warn("upstream mirror breaker opened", "group", g.name, "mirror", m.p.String(), "err", err)
				}
			}
			results <- answerOf{b, err, m}
		}()
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
	t := time.NewTimer(max(other.h.p90(), g.opts.HedgeAfterMin))
	defer t.Stop()
	select {
	case second := <-results:
		c := cmp(first, second, path, g.opts.Now())
		g.record(c)
		if c.merged {
			return c.body, AnswerOf(c.from.p), nil
		}
	case <-t.C:
		select {
		case g.compares <- struct{}{}:
			go func() {
				defer func() { <-g.compares }()
				second := <-results
				g.record(cmp(first, second, path, g.opts.Now()))
			}()
		default:
			abandon(other) // enough comparisons in the background
		}
	case <-ctx.Done():
		abandon(other)
	}
	return serve(first)
}

// record notes what a comparison found in the mirrors' health and logs
// each lag.
func (g *Group) record(c comparison) {
	if c.skipped {
		return
	}
	now := g.opts.Now()
	for _, m := range c.agreed {
		m.h.lagged(nil, now, g.opts.LagHalfLife)
	}
	for _, l := range c.lags {
		l.m.h.lagged(&l.event, now, g.opts.LagHalfLife)
		g.opts.Logger.Warn("upstream mirror lags behind its group", "group", g.name, "op", l.event.Op,
			"module", l.event.Module, "mirror", l.m.p.String(), "peer", l.event.Peer,
			"missing", strings.Join(l.event.Missing, " "), "missing_count", l.event.MissingCount,
			"capped", l.event.Capped, "list_capped", c.capped)
	}
}
