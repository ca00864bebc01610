package upstream

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestListVersionsKeepsCanonicalSemverSorted(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"v1.2.0\nv1.0.0\nv1.1.0\n", "v1.0.0 v1.1.0 v1.2.0"},
		{"v1.0.0\nv1.0.0\n", "v1.0.0"},
		{"v1.2\nlatest\nv1.0.0-rc.1\nv1.0.0\n1.3.0\n", "v1.0.0-rc.1 v1.0.0"},
		{"v2.1.0+incompatible\nv2.0.0+meta\n", "v2.1.0+incompatible"},
		{"  v1.0.0  v1.1.0\r\n", "v1.0.0 v1.1.0"},
	} {
		if got := strings.Join(listVersions([]byte(tc.in)), " "); got != tc.want {
			t.Errorf("listVersions(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUnionVersions(t *testing.T) {
	split := func(s string) []string { return strings.Fields(s) }
	for _, tc := range []struct {
		a, b                string
		union, missA, missB string
	}{
		{"", "", "", "", ""},
		{"v1.0.0 v1.1.0", "v1.0.0 v1.1.0", "v1.0.0 v1.1.0", "", ""},
		// b lags: it lacks the newest versions, listed newest first.
		{"v1.0.0 v1.1.0 v1.2.0 v1.3.0", "v1.0.0 v1.1.0", "v1.0.0 v1.1.0 v1.2.0 v1.3.0", "", "v1.3.0 v1.2.0"},
		{"v1.0.0", "v1.0.0 v1.5.0", "v1.0.0 v1.5.0", "v1.5.0", ""},
		// each lacks something the other has
		{"v1.0.0 v1.2.0", "v1.1.0 v1.2.0", "v1.0.0 v1.1.0 v1.2.0", "v1.1.0", "v1.0.0"},
		// a does not know the module (not found: no versions)
		{"", "v0.1.0 v0.2.0", "v0.1.0 v0.2.0", "v0.2.0 v0.1.0", ""},
		{"v1.0.0-rc.1 v1.0.0", "v1.0.0", "v1.0.0-rc.1 v1.0.0", "", "v1.0.0-rc.1"},
	} {
		u, ma, mb := unionVersions(split(tc.a), split(tc.b))
		if got := strings.Join(u, " "); got != tc.union {
			t.Errorf("union(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.union)
		}
		if got := strings.Join(ma, " "); got != tc.missA {
			t.Errorf("union(%q, %q): a misses %q, want %q", tc.a, tc.b, got, tc.missA)
		}
		if got := strings.Join(mb, " "); got != tc.missB {
			t.Errorf("union(%q, %q): b misses %q, want %q", tc.a, tc.b, got, tc.missB)
		}
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

func TestCompareListAndLatest(t *testing.T) {
	a, b := &member{p: &Proxy{name: "http://a.test"}}, &member{p: &Proxy{name: "http://b.test"}}
	notFound := fmt.Errorf("404: %w", fs.ErrNotExist)
	failed := &StatusError{Code: 502}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	info := func(v string) []byte { return []byte(`{"Version":"` + v + `","Time":"2024-01-02T03:04:05Z"}`) }
	type want struct {
		body   string // what is served; "" with err for a's error
		from   *member
		merged bool
		lagged map[*member]string // mirror → missing versions
		agreed []*member
		skip   bool
	}
	for _, tc := range []struct {
		name   string
		cmp    func(a, b answerOf, module string, now time.Time) comparison
		ea, eb error
		ba, bb string
		want   want
	}{
		{name: "lists agree", cmp: compareList, ba: "v1.0.0\nv1.1.0\n", bb: "v1.1.0\nv1.0.0\n",
			want: want{body: "v1.0.0\nv1.1.0\n", from: a, agreed: []*member{a, b}}},
		{name: "first lags", cmp: compareList, ba: "v1.0.0\n", bb: "v1.0.0\nv1.1.0\nv1.2.0\n",
			want: want{body: "v1.0.0\nv1.1.0\nv1.2.0\n", from: b, merged: true, lagged: map[*member]string{a: "v1.2.0 v1.1.0"}, agreed: []*member{b}}},
		{name: "second lags", cmp: compareList, ba: "v1.0.0\nv1.2.0\n", bb: "v1.0.0\n",
			want: want{body: "v1.0.0\nv1.2.0\n", from: a, lagged: map[*member]string{b: "v1.2.0"}, agreed: []*member{a}}},
		{name: "both lack something", cmp: compareList, ba: "v1.0.0\nv1.2.0\n", bb: "v1.1.0\n",
			want: want{body: "v1.0.0\nv1.1.0\nv1.2.0\n", from: a, merged: true, lagged: map[*member]string{a: "v1.1.0", b: "v1.2.0 v1.0.0"}}},
		{name: "first does not know the module", cmp: compareList, ea: notFound, bb: "v0.1.0\n",
			want: want{body: "v0.1.0\n", from: b, merged: true, lagged: map[*member]string{a: "v0.1.0"}, agreed: []*member{b}}},
		{name: "junk is not a version", cmp: compareList, ba: "v1.0.0\n", bb: "v1.0.0\nnonsense\nv1.1\n",
			want: want{body: "v1.0.0\n", from: a, agreed: []*member{a, b}}},
		{name: "both not found", cmp: compareList, ea: notFound, eb: notFound,
			want: want{from: a, agreed: []*member{a, b}}},
		{name: "peer failed", cmp: compareList, ba: "v1.0.0\n", eb: failed,
			want: want{body: "v1.0.0\n", from: a, skip: true}},
		{name: "latest agrees", cmp: compareLatest, ba: string(info("v1.2.0")), bb: string(info("v1.2.0")),
			want: want{body: string(info("v1.2.0")), from: a, agreed: []*member{a, b}}},
		{name: "first latest is older", cmp: compareLatest, ba: string(info("v1.1.0")), bb: string(info("v1.2.0")),
			want: want{body: string(info("v1.2.0")), from: b, merged: true, lagged: map[*member]string{a: "v1.2.0"}, agreed: []*member{b}}},
		{name: "second latest is older", cmp: compareLatest, ba: string(info("v1.2.0")), bb: string(info("v1.1.0")),
			want: want{body: string(info("v1.2.0")), from: a, lagged: map[*member]string{b: "v1.2.0"}, agreed: []*member{a}}},
		{name: "latest unknown to the first", cmp: compareLatest, ea: notFound, bb: string(info("v0.1.0")),
			want: want{body: string(info("v0.1.0")), from: b, merged: true, lagged: map[*member]string{a: "v0.1.0"}, agreed: []*member{b}}},
		{name: "latest without a version", cmp: compareLatest, ba: `{}`, bb: string(info("v1.2.0")),
			want: want{body: `{}`, from: a, skip: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pa, pb []byte
			if tc.ea == nil {
				pa = []byte(tc.ba)
			}
			if tc.eb == nil {
				pb = []byte(tc.bb)
			}
			c := tc.cmp(answerOf{pa, tc.ea, a}, answerOf{pb, tc.eb, b}, "example.com/m", now)
			if string(c.body) != tc.want.body || c.from != tc.want.from || c.merged != tc.want.merged || c.skipped != tc.want.skip {
				t.Errorf("got body %q from %s merged %v skipped %v; want %q from %s merged %v skipped %v",
					c.body, c.from.p, c.merged, c.skipped, tc.want.body, tc.want.from.p, tc.want.merged, tc.want.skip)
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
		})
	}
}

func TestLagEventNamesAtMostTheNewest20(t *testing.T) {
	m := &member{p: &Proxy{name: "http://peer.test"}}
	var missing []string
	for i := 30; i > 0; i-- {
		missing = append(missing, fmt.Sprintf("v1.0.%d", i))
	}
	e := lagEvent("example.com/m", "list", m, missing, time.Time{})
	if len(e.Missing) != maxLagShown || e.Missing[0] != "v1.0.30" || e.MissingCount != 30 || !e.Capped || e.Peer != "http://peer.test" {
		t.Errorf("lagEvent of 30 missing versions: %+v", e)
	}
}

func TestLagScoresDownAndRecovers(t *testing.T) {
	w := weights{latency: 1, errors: 2, lag: 1, lagHalfLife: 10 * time.Minute}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var lagging, full health
	for range 3 {
		lagging.lagged(&LagEvent{Module: "example.com/m"}, now, w.lagHalfLife)
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
	if st.Lags != 3 || st.Compared != 13 || st.LastLag == nil || st.LastLag.Module != "example.com/m" {
		t.Errorf("status %+v", st)
	}
}
