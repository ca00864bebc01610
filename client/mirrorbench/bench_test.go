package mirrorbench

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/fakeproxy"
)

var testModules = []module.Version{
	{Path: "example.com/hello", Version: "v1.1.0"},
	{Path: "example.com/dep", Version: "v1.0.0"},
}

// deadURL is the URL of a loopback port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

func run(t *testing.T, samples int, mirrors ...string) *Report {
	t.Helper()
	rep, err := Run(context.Background(), Config{Mirrors: mirrors, Modules: testModules, Samples: samples, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Mirrors) != len(mirrors) {
		t.Fatalf("%d mirrors in report, want %d", len(rep.Mirrors), len(mirrors))
	}
	var b strings.Builder
	rep.WriteTable(&b, nil)
	t.Logf("\n%s", b.String())
	return rep
}

func TestFasterMirrorRecommended(t *testing.T) {
	fast := fakeproxy.New(t)
	slow := fakeproxy.NewMirror(t, fast)
	slow.Inject(fakeproxy.Modules, fakeproxy.Slow(50*time.Millisecond))

	const samples = 2
	rep := run(t, samples, slow.URL, fast.URL) // the slow one first: order must not matter
	s, f := rep.Mirrors[0], rep.Mirrors[1]
	for _, m := range rep.Mirrors {
		if want := samples * len(testModules) * len(Kinds); m.Requests != want || m.OK != want || m.SuccessPct != 100 {
			t.Errorf("%s: %d/%d requests ok (%v%%), want %d/%d", m.URL, m.OK, m.Requests, m.SuccessPct, want, want)
		}
		if m.ZipBytes == 0 || m.ZipMBps <= 0 {
			t.Errorf("%s: zip %d bytes, %v MB/s", m.URL, m.ZipBytes, m.ZipMBps)
		}
	}
	for _, k := range []struct {
		name       string
		slow, fast Stats
	}{{"list", s.List, f.List}, {"info", s.Info, f.Info}, {"mod", s.Mod, f.Mod}} {
		if k.slow.P50Ms < 50 || k.slow.P95Ms < k.slow.P50Ms {
			t.Errorf("slow mirror %s p50/p95 = %v/%v ms, want >= 50", k.name, k.slow.P50Ms, k.slow.P95Ms)
		}
		if k.fast.P50Ms >= k.slow.P50Ms {
			t.Errorf("%s p50: fast mirror %vms, slow %vms", k.name, k.fast.P50Ms, k.slow.P50Ms)
		}
	}
	if rep.Best != fast.URL {
		t.Errorf("Best = %q, want the fast mirror %q", rep.Best, fast.URL)
	}
	if !strings.Contains(rep.Reason, "lowest info+mod median latency") || !strings.Contains(rep.Reason, slow.URL) {
		t.Errorf("Reason = %q", rep.Reason)
	}
	if got, want := fast.Hits("/example.com/hello/@v/v1.1.0.zip"), samples; got != want {
		t.Errorf("fast mirror got %d zip requests, want %d", got, want)
	}
}

func TestFailingAndDeadMirrorsNotRecommended(t *testing.T) {
	failing := fakeproxy.New(t)
	failing.Inject(fakeproxy.Suffix(".zip"), fakeproxy.Status(http.StatusBadGateway, "upstream broke"))
	healthy := fakeproxy.NewMirror(t, failing)
	healthy.Inject(fakeproxy.Modules, fakeproxy.Slow(20*time.Millisecond)) // slower, but right
	dead := deadURL(t)

	rep := run(t, 2, failing.URL, dead, healthy.URL)
	fm, dm, hm := rep.Mirrors[0], rep.Mirrors[1], rep.Mirrors[2]
	if fm.SuccessPct != 75 || fm.Zip.OK != 0 || fm.Info.OK != fm.Info.Requests {
		t.Errorf("failing mirror: %v%% success, zip %d/%d ok; want 75%%, zip never", fm.SuccessPct, fm.Zip.OK, fm.Zip.Requests)
	}
	if len(fm.Errors) != 1 || !strings.Contains(fm.Errors[0].Error, "zip: 502") || fm.Errors[0].Count != 4 {
		t.Errorf("failing mirror errors = %+v", fm.Errors)
	}
	if dm.SuccessPct != 0 || dm.OK != 0 || dm.Requests != 16 {
		t.Errorf("dead mirror: %d/%d ok (%v%%), want 0/16", dm.OK, dm.Requests, dm.SuccessPct)
	}
	if len(dm.Errors) == 0 || !strings.Contains(dm.Errors[0].Error, "connection refused") {
		t.Errorf("dead mirror errors = %+v", dm.Errors)
	}
	if hm.SuccessPct != 100 {
		t.Errorf("healthy mirror: %v%% success", hm.SuccessPct)
	}
	if rep.Best != healthy.URL {
		t.Errorf("Best = %q, want the healthy mirror %q", rep.Best, healthy.URL)
	}
	if !strings.Contains(rep.Reason, "highest success rate") {
		t.Errorf("Reason = %q", rep.Reason)
	}
}

func TestNoRecommendation(t *testing.T) {
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>hello</body></html>"))
	}))
	defer html.Close()
	rep := run(t, 1, html.URL, deadURL(t))
	for _, m := range rep.Mirrors {
		if m.OK != 0 {
			t.Errorf("%s: %d requests ok, want 0", m.URL, m.OK)
		}
	}
	if rep.Best != "" || !strings.Contains(rep.Reason, "no mirror") {
		t.Errorf("Best = %q, Reason = %q; want none", rep.Best, rep.Reason)
	}
}

// Within a sample the mirrors take turns request by request, and the
// first one rotates.
func TestInterleaved(t *testing.T) {
	a, b := fakeproxy.New(t), fakeproxy.New(t)
	var mu sync.Mutex
	var order []string
	for name, s := range map[string]*fakeproxy.Server{"a": a, "b": b} {
		s.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
			mu.Lock()
			order = append(order, name+r.URL.Path)
			mu.Unlock()
			return false
		})
	}
	run(t, 1, a.URL, b.URL)
	if len(order) != 16 {
		t.Fatalf("%d requests, want 16: %v", len(order), order)
	}
	for i := 0; i < len(order); i += 2 {
		first, second := order[i], order[i+1]
		want := "a"
		if i/2%2 == 1 {
			want = "b"
		}
		if first[:1] != want || second[:1] == want || first[1:] != second[1:] {
			t.Errorf("requests %d,%d = %s, %s; want the same path, %s first", i, i+1, first, second, want)
		}
	}
}

func TestCompareZipBreaksLatencyTie(t *testing.T) {
	a := &Mirror{URL: "a", Requests: 4, OK: 4, SuccessPct: 100, Info: Stats{OK: 1, P50Ms: 10}, Mod: Stats{OK: 1, P50Ms: 10}, ZipMBps: 5}
	b := &Mirror{URL: "b", Requests: 4, OK: 4, SuccessPct: 100, Info: Stats{OK: 1, P50Ms: 10.2}, Mod: Stats{OK: 1, P50Ms: 10}, ZipMBps: 9}
	best, why := recommend([]Mirror{*a, *b})
	if best != "b" || !strings.Contains(why.String(), "zip throughput") {
		t.Errorf("recommend = %q, %q; want b for its zip throughput", best, why)
	}
	b.Info.P50Ms = 30
	if best, why := recommend([]Mirror{*a, *b}); best != "a" || !strings.Contains(why.String(), "latency") {
		t.Errorf("recommend = %q, %q; want a for its latency", best, why)
	}
}

func TestParseModules(t *testing.T) {
	got, err := ParseModules([]string{"example.com/a@v1.0.0", " example.com/b/v2@v2.1.0 ", "", "example.com/legacy@v2.1.0+incompatible"})
	if err != nil || len(got) != 3 || got[1].Path != "example.com/b/v2" || got[1].Version != "v2.1.0" {
		t.Errorf("ParseModules = %v, %v", got, err)
	}
	for _, bad := range []string{"example.com/a", "example.com/a@latest", "example.com/a@v1", "example.com/legacy@v2.1.0+incompatible@x", "example.com/b/v2@v1.0.0", "@v1.0.0"} {
		if _, err := ParseModules([]string{bad}); err == nil {
			t.Errorf("ParseModules(%q) succeeded", bad)
		}
	}
	if _, err := ParseModules(nil); err == nil {
		t.Error("ParseModules(nil) succeeded")
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(i))
	}
	if p50, p95 := percentile(ds, 50), percentile(ds, 95); p50 != 10 || p95 != 19 {
		t.Errorf("p50, p95 = %d, %d; want 10, 19", p50, p95)
	}
	if p := percentile(ds[:1], 95); p != 1 {
		t.Errorf("p95 of one = %d", p)
	}
	if p := percentile(nil, 50); p != 0 {
		t.Errorf("p50 of none = %d", p)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Mirrors: []string{"ftp://127.0.0.1"}},
		{Mirrors: []string{"127.0.0.1:3000"}},
		{Mirrors: []string{"http://127.0.0.1:1"}, Samples: -1},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) succeeded", cfg)
		}
	}
}

// TestMaxFailuresBoundsAHangingMirror: a mirror whose every request hangs
// costs MaxFailures timeouts, not one per request; the others are
// measured in full and ranked.
func TestMaxFailuresBoundsAHangingMirror(t *testing.T) {
	fast := fakeproxy.New(t)
	slow := fakeproxy.NewMirror(t, fast)
	slow.Inject(fakeproxy.Modules, fakeproxy.Slow(30*time.Millisecond))
	hanging := fakeproxy.NewMirror(t, fast)
	hanging.Inject(fakeproxy.Modules, fakeproxy.Hang())
	rep, err := Run(context.Background(), Config{
		Mirrors: []string{hanging.URL, slow.URL, fast.URL}, Names: []string{"H", "S"},
		Modules: testModules, Samples: 2, Timeout: 200 * time.Millisecond, MaxFailures: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := rep.Mirrors[0]
	if reqs := len(hanging.Requests()); reqs != 2 {
		t.Errorf("hanging mirror got %d requests, want 2 (MaxFailures)", reqs)
	}
	if h.Requests != 16 || h.OK != 0 || h.Skipped != 14 || len(h.Errors) != 1 || h.Errors[0].Error != "timeout" || h.Errors[0].Count != 2 {
		t.Errorf("hanging mirror: %d/%d ok, errors %+v", h.OK, h.Requests, h.Errors)
	}
	if got := rep.Ranking(); len(got) != 2 || got[0] != fast.URL || got[1] != slow.URL {
		t.Errorf("Ranking = %q, want fast, slow", got)
	}
	if rep.Mirrors[0].Name != "H" || rep.Mirrors[1].Name != "S" || rep.Mirrors[2].Name != "" {
		t.Errorf("names = %+v", rep.Mirrors)
	}
	var b strings.Builder
	if err := rep.WriteTable(&b, i18n.NewPrinter(i18n.Supported[1])); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{"名称", "镜像", "成功率", "推荐：" + fast.URL, "成功率相同", hanging.URL + "：连续失败 2 次后，跳过了其余 14 个请求"} {
		if !strings.Contains(out, want) {
			t.Errorf("zh table lacks %q", want)
		}
	}
}

// TestFallbackHoldsOnlyMirrorsThatAnsweredEverything: a mirror that
// failed any request is never in the fallback order, however it ranks
// against a dead one; Best is the fallback's first.
func TestFallbackHoldsOnlyMirrorsThatAnsweredEverything(t *testing.T) {
	fast := fakeproxy.New(t)
	partial := fakeproxy.NewMirror(t, fast)
	partial.Inject(fakeproxy.Suffix(".info", ".mod", ".zip"), fakeproxy.Status(http.StatusInternalServerError, "broken"))
	rep := run(t, 1, partial.URL, deadURL(t), fast.URL)
	if got := rep.Fallback(); len(got) != 1 || got[0] != fast.URL {
		t.Errorf("Fallback = %q, want only %s", got, fast.URL)
	}
	if r := rep.Ranking(); len(r) != 2 || r[0] != rep.Best || r[1] != partial.URL {
		t.Errorf("Ranking = %q, Best %s", r, rep.Best)
	}
}

// TestBestIsRankingFirst: with latencies where the 5% tolerance makes
// compare non-transitive (a≈b, b≈c, a better than c on latency), Best and
// the ranking's first are the same mirror, whatever the input order.
func TestBestIsRankingFirst(t *testing.T) {
	mk := func(u string, infoMod, zip float64) Mirror {
		return Mirror{URL: u, Requests: 8, OK: 8, SuccessPct: 100, Info: Stats{OK: 2, P50Ms: infoMod / 2}, Mod: Stats{OK: 2, P50Ms: infoMod / 2}, ZipMBps: zip}
	}
	base := []Mirror{mk("a", 100, 1), mk("b", 104, 3), mk("c", 108, 2)}
	for _, perm := range [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
		ms := []Mirror{base[perm[0]], base[perm[1]], base[perm[2]]}
		rep := &Report{Mirrors: ms}
		rep.Best, rep.ReasonText = recommend(rep.Mirrors)
		if r := rep.Ranking(); r[0] != rep.Best {
			t.Errorf("order %v: Best %s, Ranking %q", perm, rep.Best, r)
		}
	}
}

// TestReasonZh: the Chinese comparison names the other mirror with its
// own figure ("而 <URL> 为 <figure>"), never "<figure> 为 <URL>".
func TestReasonZh(t *testing.T) {
	zh := i18n.NewPrinter(i18n.Supported[1])
	a := &Mirror{URL: "http://a", Requests: 4, OK: 4, SuccessPct: 100, Info: Stats{OK: 1, P50Ms: 1}, Mod: Stats{OK: 1, P50Ms: 1}}
	b := &Mirror{URL: "http://b", Requests: 4, OK: 2, SuccessPct: 50, Info: Stats{OK: 1, P50Ms: 5}, Mod: Stats{OK: 1, P50Ms: 5}}
	why, _ := compare(a, b)
	if got := zh.Text(why); !strings.Contains(got, "而 http://b 为 50%") {
		t.Errorf("zh reason = %s", got)
	}
	b.OK, b.SuccessPct = 4, 100
	why, _ = compare(a, b)
	if got := zh.Text(why); !strings.Contains(got, "而 http://b 为 10.0ms") {
		t.Errorf("zh reason = %s", got)
	}
}

// TestReportRedacted: mirror URLs with a token as user name are measured
// as given, but the table and Redacted (what --json prints) name them
// without it, in errors too.
func TestReportRedacted(t *testing.T) {
	good := fakeproxy.New(t)
	withTok := strings.Replace(good.URL, "http://", "http://tok3nGood@", 1)
	dead := strings.Replace(deadURL(t), "http://", "http://tok3nDead@", 1)
	rep := run(t, 1, withTok, dead)
	if rep.Mirrors[0].SuccessPct != 100 || rep.Best != withTok {
		t.Fatalf("the URL with a token was not measured as given: %+v", rep.Mirrors[0])
	}
	var table strings.Builder
	if err := rep.WriteTable(&table, i18n.English()); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(rep.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{table.String(), string(js)} {
		if strings.Contains(out, "tok3n") || !strings.Contains(out, good.URL) {
			t.Errorf("a token is shown, or the mirror is not named:\n%s", out)
		}
	}
	if rep.Mirrors[0].URL != withTok {
		t.Errorf("Redacted changed the report: %q", rep.Mirrors[0].URL)
	}
}
