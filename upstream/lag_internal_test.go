package upstream

import (
	"bytes"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestListVersionsKeepsCanonicalSemverSorted(t *testing.T) {
	for _, tc := range []struct{ path, in, want string }{
		{"example.com/m", "", ""},
		{"example.com/m", "v1.2.0\nv1.0.0\nv1.1.0\n", "v1.0.0 v1.1.0 v1.2.0"},
		{"example.com/m", "v1.0.0\nv1.0.0\n", "v1.0.0"},
		{"example.com/m", "v1.2\nlatest\nv1.0.0-rc.1\nv1.0.0\n1.3.0\n", "v1.0.0-rc.1 v1.0.0"},
		{"example.com/m", "v2.1.0+incompatible\nv2.0.0+meta\n", "v2.1.0+incompatible"},
		{"example.com/m", "  v1.0.0  v1.1.0\r\n", "v1.0.0 v1.1.0"},
		{"example.com/m", "v1.10.0\nv1.9.0\nv1.9.0-rc.2\nv1.9.0-rc.10\nv10.0.0+incompatible\n", "v1.9.0-rc.2 v1.9.0-rc.10 v1.9.0 v1.10.0 v10.0.0+incompatible"},
		// the go command ignores pseudo-versions in a list
		{"example.com/m", "v1.0.0\nv1.0.1-0.20240101000000-abcdefabcdef\n", "v1.0.0"},
		// versions of another major version than the path's are not its versions
		{"example.com/m", "v1.0.0\nv2.0.0\n", "v1.0.0"},
		{"example.com/m/v2", "v1.0.0\nv2.0.0\nv3.0.0\n", "v2.0.0"},
	} {
		if got := strings.Join(listVersions(tc.path, []byte(tc.in)), " "); got != tc.want {
			t.Errorf("listVersions(%s, %q) = %q, want %q", tc.path, tc.in, got, tc.want)
		}
	}
}

func TestListVersionsReadsAtMostMaxListVersions(t *testing.T) {
	var b strings.Builder
	for i := range maxListVersions + 10 {
		fmt.Fprintf(&b, "v0.%d.0\n", i)
	}
	if vs := listVersions("example.com/m", []byte(b.String())); len(vs) != maxListVersions || vs[len(vs)-1] != fmt.Sprintf("v0.%d.0", maxListVersions-1) {
		t.Errorf("listVersions of %d lines: %d versions", maxListVersions+10, len(vs))
	}
}

func TestDiffVersionsKeepsTheNewestMissing(t *testing.T) {
	split := func(s string) []string { return strings.Fields(s) }
	for _, tc := range []struct {
		a, b         string
		missA, missB string
	}{
		{"", "", "", ""},
		{"v1.0.0 v1.1.0", "v1.0.0 v1.1.0", "", ""},
		// b lags: it lacks the newest versions, listed newest first.
		{"v1.0.0 v1.1.0 v1.2.0 v1.3.0", "v1.0.0 v1.1.0", "", "v1.3.0 v1.2.0"},
		{"v1.0.0", "v1.0.0 v1.5.0", "v1.5.0", ""},
		// each lacks something the other has
		{"v1.0.0 v1.2.0", "v1.1.0 v1.2.0", "v1.1.0", "v1.0.0"},
		// a does not know the module (not found: no versions)
		{"", "v0.1.0 v0.2.0", "v0.2.0 v0.1.0", ""},
		{"v1.0.0-rc.1 v1.0.0", "v1.0.0", "", "v1.0.0-rc.1"},
	} {
		ma, mb := diffVersions(split(tc.a), split(tc.b))
		if got := strings.Join(ma.last(), " "); got != tc.missA || ma.count != len(split(tc.missA)) {
			t.Errorf("diff(%q, %q): a misses %q (%d), want %q", tc.a, tc.b, got, ma.count, tc.missA)
		}
		if got := strings.Join(mb.last(), " "); got != tc.missB || mb.count != len(split(tc.missB)) {
			t.Errorf("diff(%q, %q): b misses %q (%d), want %q", tc.a, tc.b, got, mb.count, tc.missB)
		}
	}
	var many []string
	for i := range 100 {
		many = append(many, fmt.Sprintf("v1.0.%d", i))
	}
	ma, _ := diffVersions(nil, many)
	if got := ma.last(); ma.count != 100 || len(got) != maxConfirmed || got[0] != "v1.0.99" || got[maxConfirmed-1] != "v1.0.80" {
		t.Errorf("a lacking 100 versions: count %d, newest %q", ma.count, got)
	}
}

func TestFormatListCapsKeepingTheNewest(t *testing.T) {
	few := []string{"v1.0.0", "v1.1.0"}
	if b, capped := formatList(few); string(b) != "v1.0.0\nv1.1.0\n" || capped {
		t.Errorf("formatList(%q) = %q, %v", few, b, capped)
	}
	many := make([]string, maxListVersions+10)
	for i := range many {
		many[i] = fmt.Sprintf("v0.0.%d", i)
	}
	b, capped := formatList(many)
	lines := strings.Fields(string(b))
	if !capped || len(lines) != maxListVersions || lines[len(lines)-1] != many[len(many)-1] || lines[0] != many[10] {
		t.Errorf("formatList of %d versions: %d lines from %s to %s, capped %v; want the newest %d", len(many), len(lines), lines[0], lines[len(lines)-1], capped, maxListVersions)
	}
	long := make([]string, 50_000) // 50,000 × ~100 bytes: over maxList
	for i := range long {
		long[i] = fmt.Sprintf("v0.0.%d-%s", i, strings.Repeat("a", 90))
	}
	b, capped = formatList(long)
	if !capped || len(b) > maxList || !strings.HasSuffix(string(b), long[len(long)-1]+"\n") {
		t.Errorf("formatList of %d long versions: %d bytes, capped %v; want at most %d, the newest kept", len(long), len(b), capped, maxList)
	}
}

// confirms is a confirmFunc that confirms the versions given, and counts
// what it was asked.
type confirms struct {
	ok    map[string]bool
	asked []string
}

func (c *confirms) fn() confirmFunc {
	if c == nil {
		return nil
	}
	return func(vs []string) map[string]bool {
		c.asked = append(c.asked, vs...)
		out := map[string]bool{}
		for _, v := range vs {
			if c.ok[v] {
				out[v] = true
			}
		}
		return out
	}
}

func confirming(vs ...string) *confirms {
	c := &confirms{ok: map[string]bool{}}
	for _, v := range vs {
		c.ok[v] = true
	}
	return c
}

func TestCompareListAndLatest(t *testing.T) {
	a, b := &member{p: &Proxy{name: "http://a.test"}}, &member{p: &Proxy{name: "http://b.test"}}
	notFound := fmt.Errorf("404: %w", fs.ErrNotExist)
	failed := &StatusError{Code: 502}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	info := func(v string) string { return `{"Version":"` + v + `","Time":"2024-01-02T03:04:05Z"}` }
	type want struct {
		body      string // what is served; "" with err for a's error
		from      *member
		merged    bool
		lagged    map[*member]string // mirror → missing versions
		agreed    []*member
		disagreed []*member // the mirrors that listed unconfirmed versions
		skip      bool
	}
	type cmpFunc = func(p, o answerOf, module string, conf confirmFunc, now time.Time) comparison
	// a is the preferred mirror throughout.
	for _, tc := range []struct {
		name   string
		cmp    cmpFunc
		ea, eb error
		ba, bb string
		conf   *confirms // nil: the module is not covered
		want   want
	}{
		{name: "lists agree", cmp: compareList, ba: "v1.0.0\nv1.1.0\n", bb: "v1.1.0\nv1.0.0\n", conf: confirming(),
			want: want{body: "v1.0.0\nv1.1.0\n", from: a, agreed: []*member{a, b}}},
		{name: "preferred lags, confirmed", cmp: compareList, ba: "v1.0.0\n", bb: "v1.0.0\nv1.1.0\nv1.2.0\n", conf: confirming("v1.1.0", "v1.2.0"),
			want: want{body: "v1.0.0\nv1.1.0\nv1.2.0\n", from: b, merged: true, lagged: map[*member]string{a: "v1.2.0 v1.1.0"}, agreed: []*member{b}}},
		{name: "preferred lags, only some confirmed", cmp: compareList, ba: "v1.0.0\n", bb: "v1.0.0\nv1.1.0\nv1.9.9\n", conf: confirming("v1.1.0"),
			want: want{body: "v1.0.0\nv1.1.0\n", from: b, merged: true, lagged: map[*member]string{a: "v1.1.0"}, agreed: []*member{b}, disagreed: []*member{b}}},
		{name: "the other adds an unconfirmed version", cmp: compareList, ba: "v1.0.0\n", bb: "v1.0.0\nv1.9.9\n", conf: confirming(),
			want: want{body: "v1.0.0\n", from: a, agreed: []*member{b}, disagreed: []*member{b}}},
		{name: "module not covered: the preferred answer as it came", cmp: compareList, ba: "v1.0.0\n", bb: "v1.0.0\nv1.1.0\n",
			want: want{body: "v1.0.0\n", from: a, agreed: []*member{b}, disagreed: []*member{b}}},
		{name: "the other lags, confirmed", cmp: compareList, ba: "v1.0.0\nv1.2.0\n", bb: "v1.0.0\n", conf: confirming("v1.2.0"),
			want: want{body: "v1.0.0\nv1.2.0\n", from: a, lagged: map[*member]string{b: "v1.2.0"}, agreed: []*member{a}}},
		{name: "the other lags, unconfirmed: not served", cmp: compareList, ba: "v1.0.0\nv1.2.0\n", bb: "v1.0.0\n", conf: confirming(),
			want: want{body: "v1.0.0\n", from: a, merged: true, agreed: []*member{a}, disagreed: []*member{a}}},
		{name: "the other lags, not covered", cmp: compareList, ba: "v1.0.0\nv1.2.0\n", bb: "v1.0.0\n",
			want: want{body: "v1.0.0\nv1.2.0\n", from: a, agreed: []*member{a}, disagreed: []*member{a}}},
		{name: "the preferred adds an unconfirmed version, the other lags", cmp: compareList, ba: "v1.0.0\nv1.9.9\n", bb: "v1.0.0\n", conf: confirming(),
			want: want{body: "v1.0.0\n", from: a, merged: true, agreed: []*member{a}, disagreed: []*member{a}}},
		{name: "the preferred adds an unconfirmed version, the other has a confirmed one", cmp: compareList, ba: "v1.0.0\nv1.9.9\n", bb: "v1.0.0\nv1.1.0\n", conf: confirming("v1.1.0"),
			want: want{body: "v1.0.0\nv1.1.0\n", from: b, merged: true, disagreed: []*member{b, a}}},
		{name: "diverged: confirmed versions added, nobody scored", cmp: compareList, ba: "v1.0.0\nv1.2.0\n", bb: "v1.1.0\n", conf: confirming("v1.0.0", "v1.1.0", "v1.2.0"),
			want: want{body: "v1.0.0\nv1.1.0\nv1.2.0\n", from: a, merged: true, disagreed: []*member{b, a}}},
		{name: "preferred does not know the module", cmp: compareList, ea: notFound, bb: "v0.1.0\n", conf: confirming("v0.1.0"),
			want: want{body: "v0.1.0\n", from: b, merged: true, lagged: map[*member]string{a: "v0.1.0"}, agreed: []*member{b}}},
		{name: "preferred does not know the module, unconfirmed", cmp: compareList, ea: notFound, bb: "v0.1.0\n", conf: confirming(),
			want: want{from: a, agreed: []*member{b}, disagreed: []*member{b}}},
		{name: "junk is not a version", cmp: compareList, ba: "v1.0.0\n", bb: "v1.0.0\nnonsense\nv1.1\n", conf: confirming(),
			want: want{body: "v1.0.0\n", from: a, agreed: []*member{a, b}}},
		{name: "both not found: no comparison", cmp: compareList, ea: notFound, eb: notFound, conf: confirming(),
			want: want{from: a, skip: true}},
		{name: "peer failed", cmp: compareList, ba: "v1.0.0\n", eb: failed, conf: confirming(),
			want: want{body: "v1.0.0\n", from: a, skip: true}},
		{name: "a pseudo-version is not a lag", cmp: compareList, ba: "v1.0.0\n", bb: "v1.0.0\nv1.0.1-0.20240101000000-abcdefabcdef\n", conf: confirming("v1.0.1-0.20240101000000-abcdefabcdef"),
			want: want{body: "v1.0.0\n", from: a, agreed: []*member{a, b}}},
		{name: "a version of another major version is not merged", cmp: compareList, ba: "v1.0.0\n", bb: "v1.0.0\nv2.0.0\n", conf: confirming("v2.0.0"),
			want: want{body: "v1.0.0\n", from: a, agreed: []*member{a, b}}},
		{name: "latest agrees", cmp: compareLatest, ba: info("v1.2.0"), bb: info("v1.2.0"), conf: confirming(),
			want: want{body: info("v1.2.0"), from: a, agreed: []*member{a, b}}},
		{name: "preferred latest is older, confirmed", cmp: compareLatest, ba: info("v1.1.0"), bb: info("v1.2.0"), conf: confirming("v1.2.0"),
			want: want{body: info("v1.2.0"), from: b, merged: true, lagged: map[*member]string{a: "v1.2.0"}, agreed: []*member{b}}},
		{name: "preferred latest is older, unconfirmed", cmp: compareLatest, ba: info("v1.1.0"), bb: info("v1.9.9"), conf: confirming(),
			want: want{body: info("v1.1.0"), from: a, disagreed: []*member{b}}},
		{name: "preferred latest is newer, unconfirmed: the other's confirmed one", cmp: compareLatest, ba: info("v1.9.9"), bb: info("v1.2.0"), conf: confirming("v1.2.0"),
			want: want{body: info("v1.2.0"), from: b, merged: true, disagreed: []*member{a}}},
		{name: "other latest is older", cmp: compareLatest, ba: info("v1.2.0"), bb: info("v1.1.0"), conf: confirming("v1.2.0"),
			want: want{body: info("v1.2.0"), from: a, lagged: map[*member]string{b: "v1.2.0"}, agreed: []*member{a}}},
		{name: "latest unknown to the preferred", cmp: compareLatest, ea: notFound, bb: info("v0.1.0"), conf: confirming("v0.1.0"),
			want: want{body: info("v0.1.0"), from: b, merged: true, lagged: map[*member]string{a: "v0.1.0"}, agreed: []*member{b}}},
		{name: "latest: a release over a newer pre-release, no lag", cmp: compareLatest, ba: info("v1.5.0"), bb: info("v1.6.0-rc.1"), conf: confirming("v1.5.0", "v1.6.0-rc.1"),
			want: want{body: info("v1.5.0"), from: a, agreed: []*member{a}}},
		{name: "latest: the other's confirmed release over the preferred's pre-release", cmp: compareLatest, ba: info("v1.6.0-rc.1"), bb: info("v1.5.0"), conf: confirming("v1.5.0"),
			want: want{body: info("v1.5.0"), from: b, merged: true, agreed: []*member{b}}},
		{name: "latest without a version", cmp: compareLatest, ba: `{}`, bb: info("v1.2.0"), conf: confirming("v1.2.0"),
			want: want{body: `{}`, from: a, skip: true}},
		{name: "latest of another major version", cmp: compareLatest, ba: info("v1.1.0"), bb: info("v2.0.0"), conf: confirming("v2.0.0"),
			want: want{body: info("v1.1.0"), from: a, disagreed: []*member{b}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pa, pb []byte
			if tc.ea == nil {
				pa = []byte(tc.ba)
			}
			if tc.eb == nil {
				pb = []byte(tc.bb)
			}
			c := tc.cmp(answerOf{pa, tc.ea, a}, answerOf{pb, tc.eb, b}, "example.com/m", tc.conf.fn(), now)
			if string(c.served.body) != tc.want.body || c.served.m != tc.want.from || c.merged != tc.want.merged || c.skipped != tc.want.skip {
				t.Errorf("got body %q from %s merged %v skipped %v; want %q from %s merged %v skipped %v",
					c.served.body, c.served.m.p, c.merged, c.skipped, tc.want.body, tc.want.from.p, tc.want.merged, tc.want.skip)
			}
			lagged := map[*member]string{}
			for _, l := range c.lags {
				lagged[l.m] = strings.Join(l.event.Missing, " ")
				if l.event.Module != "example.com/m" || !l.event.At.Equal(now) || l.event.MissingCount != len(l.event.Missing) || l.event.Peer == l.m.p.String() {
					t.Errorf("lag event %+v", l.event)
				}
			}
			if len(lagged) != len(tc.want.lagged) {
				t.Errorf("lagged %v, want %v", lagged, tc.want.lagged)
			}
			for m, v := range tc.want.lagged {
				if lagged[m] != v {
					t.Errorf("%s lagged by %q, want %q", m.p, lagged[m], v)
				}
			}
			if !slices.Equal(c.agreed, tc.want.agreed) {
				t.Errorf("agreed %d mirrors, want %d", len(c.agreed), len(tc.want.agreed))
			}
			var dis []*member
			for _, d := range c.disagreed {
				dis = append(dis, d.m)
			}
			if !slices.Equal(dis, tc.want.disagreed) {
				t.Errorf("disagreements %+v, want by %d mirrors", c.disagreed, len(tc.want.disagreed))
			}
		})
	}
}

func TestLagEventNamesAtMostTheNewest20(t *testing.T) {
	m := &member{p: &Proxy{name: "http://peer.test"}}
	var missing []string
	for i := 30; i > 0; i-- {
		missing = append(missing, fmt.Sprintf("v1.0.%d", i))
	}
	e := lagEvent("example.com/m", "list", m, missing, len(missing), time.Time{})
	if len(e.Missing) != maxLagShown || e.Missing[0] != "v1.0.30" || e.MissingCount != 30 || !e.Capped || e.Peer != "http://peer.test" {
		t.Errorf("lagEvent of 30 missing versions: %+v", e)
	}
}

func TestLagScoresDownAndRecovers(t *testing.T) {
	w := weights{latency: 1, errors: 2, lag: 1, lagHalfLife: 10 * time.Minute}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var lagging, full health
	for i := range 3 {
		if !lagging.lagged(&LagEvent{Module: fmt.Sprintf("example.com/m%d", i), Op: "list"}, now, w.lagHalfLife) {
			t.Errorf("lag %d not counted", i)
		}
		full.lagged(nil, now, w.lagHalfLife)
	}
	if l, f := lagging.cost(w, now), full.cost(w, now); l < 0.45 || f != 0 {
		t.Errorf("after 3 lags: cost %v (full mirror %v); want about 0.49 and 0", l, f)
	}
	// Time alone halves the penalty every half-life...
	if l := lagging.cost(w, now.Add(10*time.Minute)); l < 0.24 || l > 0.25 {
		t.Errorf("one half-life later: cost %v, want about 0.244", l)
	}
	// ...and complete answers bring it down too.
	for range 10 {
		lagging.lagged(nil, now, w.lagHalfLife)
	}
	if l := lagging.cost(w, now); l > 0.06 {
		t.Errorf("after 10 complete answers: cost %v, want below 0.06", l)
	}
	st := lagging.status(w, now)
	if st.Lags != 3 || st.Compared != 13 || st.LastLag == nil || st.LastLag.Module != "example.com/m2" {
		t.Errorf("status %+v", st)
	}
}

func TestLagCountsAModuleOncePerHalfLife(t *testing.T) {
	const halfLife = 10 * time.Minute
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var h health
	e := &LagEvent{Module: "example.com/m", Op: "list"}
	for i, tc := range []struct {
		at      time.Duration
		e       *LagEvent
		counted bool
	}{
		{0, e, true},
		{time.Second, e, false}, // the same module again: a client asking again
		{time.Minute, &LagEvent{Module: "example.com/m", Op: "latest"}, true},
		{2 * time.Minute, &LagEvent{Module: "example.com/other", Op: "list"}, true},
		{halfLife - time.Second, e, false},
		{halfLife, e, true},
	} {
		if got := h.lagged(tc.e, now.Add(tc.at), halfLife); got != tc.counted {
			t.Errorf("lag %d (%s %s at +%v): counted %v, want %v", i, tc.e.Op, tc.e.Module, tc.at, got, tc.counted)
		}
	}
	st := h.status(weights{lag: 1, lagHalfLife: halfLife}, now.Add(halfLife))
	if st.Lags != 4 || st.Compared != 4 || st.LastLag == nil || st.LastLag.Module != e.Module || st.LastLag.Op != e.Op {
		t.Errorf("status %+v; want 4 lags counted of 6, the last one noted", st)
	}
}

// hugeList is a hostile list answer: as many distinct valid versions as
// fit in maxList (about 430,000).
func hugeList() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < maxList-16; i++ {
		fmt.Fprintf(&b, "v%d.%d.%d\n", i/100000, (i/1000)%100, i%1000)
	}
	return b.Bytes()
}

// TestCompareHugeListIsBounded: a 4 MiB hostile list costs one bounded
// parse (the first maxListVersions versions, each parsed once), and equal
// answers cost nothing. (Before: 106 MiB allocated per comparison.)
func TestCompareHugeListIsBounded(t *testing.T) {
	hostile, honest := hugeList(), []byte("v0.0.1\n")
	a, b := &member{p: &Proxy{name: "a"}}, &member{p: &Proxy{name: "b"}}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	c := compareList(answerOf{honest, nil, a}, answerOf{hostile, nil, b}, "example.com/m", confirming().fn(), time.Time{})
	runtime.ReadMemStats(&ms1)
	alloc := ms1.TotalAlloc - ms0.TotalAlloc
	t.Logf("one comparison with a %d-byte list: %.1f MiB allocated", len(hostile), float64(alloc)/(1<<20))
	if alloc > 16<<20 {
		t.Errorf("one comparison with a 4 MiB list allocated %d MiB, want at most 16", alloc>>20)
	}
	if string(c.served.body) != "v0.0.1\n" || c.merged {
		t.Errorf("served %.40q merged %v; want the preferred answer (nothing confirmed)", c.served.body, c.merged)
	}
	if n := testing.AllocsPerRun(5, func() {
		compareList(answerOf{hostile, nil, a}, answerOf{hostile, nil, b}, "example.com/m", nil, time.Time{})
	}); n > 1 {
		t.Errorf("comparing two equal 4 MiB lists: %v allocations, want none (no parse)", n)
	}
}

func BenchmarkCompareHugeList(b *testing.B) {
	hostile, honest := hugeList(), []byte("v0.0.1\n")
	x, y := &member{p: &Proxy{name: "a"}}, &member{p: &Proxy{name: "b"}}
	b.ReportAllocs()
	for b.Loop() {
		compareList(answerOf{honest, nil, x}, answerOf{hostile, nil, y}, "example.com/m", nil, time.Time{})
	}
}

func TestLagWeightNegativeRecordsWithoutScoring(t *testing.T) {
	for _, tc := range []struct {
		in, want float64
	}{{0, 1}, {-1, 0}, {3, 3}} {
		o := GroupOptions{LagWeight: tc.in}
		o.setDefaults()
		if o.LagWeight != tc.want {
			t.Errorf("LagWeight %v: %v after the defaults, want %v", tc.in, o.LagWeight, tc.want)
		}
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var h health
	h.lagged(&LagEvent{Module: "example.com/m", Op: "list"}, now, time.Minute)
	if st := h.status(weights{lag: 0, lagHalfLife: time.Minute}, now); st.Lags != 1 || st.LagRate == 0 || st.Score != 0 {
		t.Errorf("a lag with lag weight 0: %+v; want it recorded, the score unchanged", st)
	}
}
