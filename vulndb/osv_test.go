package vulndb

import (
	"os"
	"path/filepath"
	"testing"
)

// readEntry parses testdata/osv/<id>.json, a real entry of the database.
func readEntry(t testing.TB, id string) *Entry {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "osv", id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != id {
		t.Fatalf("entry %s has ID %s", id, e.ID)
	}
	return e
}

func TestAffectsRealEntries(t *testing.T) {
	tests := []struct {
		id, module, version string
		want                bool
		fix                 string
	}{
		// introduced 0, fixed 0.3.8
		{"GO-2022-1059", "golang.org/x/text", "v0.3.7", true, "v0.3.8"},
		{"GO-2022-1059", "golang.org/x/text", "v0.3.8", false, ""},
		{"GO-2022-1059", "golang.org/x/text", "v0.0.0-20170915032832-14c0d48ead0c", true, "v0.3.8"},
		{"GO-2022-1059", "golang.org/x/text", "v0.3.8-0.20220101000000-abcdefabcdef", true, "v0.3.8"}, // pseudo-version before the fix
		{"GO-2022-1059", "golang.org/x/text", "v0.4.0", false, ""},
		{"GO-2022-1059", "golang.org/x/text", "0.3.7", true, "v0.3.8"}, // OSV's bare form accepted
		{"GO-2022-1059", "golang.org/x/texts", "v0.3.7", false, ""},    // another module
		{"GO-2022-1059", "golang.org/x/text", "not-a-version", false, ""},
		{"GO-2021-0113", "golang.org/x/text", "v0.3.6", true, "v0.3.7"},
		{"GO-2021-0113", "golang.org/x/text", "v0.3.7", false, ""},
		// introduced 0, fixed 1.4.13, introduced 1.5.0, fixed 1.5.10, introduced 1.6.0, fixed 1.6.1
		{"GO-2022-0344", "github.com/containerd/containerd", "v1.4.12", true, "v1.4.13"},
		{"GO-2022-0344", "github.com/containerd/containerd", "v1.4.13", false, ""},
		{"GO-2022-0344", "github.com/containerd/containerd", "v1.4.99", false, ""},
		{"GO-2022-0344", "github.com/containerd/containerd", "v1.5.0", true, "v1.5.10"},
		{"GO-2022-0344", "github.com/containerd/containerd", "v1.5.9", true, "v1.5.10"},
		{"GO-2022-0344", "github.com/containerd/containerd", "v1.5.10", false, ""},
		{"GO-2022-0344", "github.com/containerd/containerd", "v1.6.0", true, "v1.6.1"},
		{"GO-2022-0344", "github.com/containerd/containerd", "v1.6.0-rc.1", false, ""}, // below introduced 1.6.0
		{"GO-2022-0344", "github.com/containerd/containerd", "v1.6.1", false, ""},
		{"GO-2022-0344", "github.com/containerd/containerd", "v2.0.0+incompatible", false, ""},
		// first event is not introduced 0
		{"GO-2022-0354", "github.com/cri-o/cri-o", "v1.18.9", false, ""},
		{"GO-2022-0354", "github.com/cri-o/cri-o", "v1.19.0", true, "v1.19.6"},
		{"GO-2022-0354", "github.com/cri-o/cri-o", "v1.23.1", true, "v1.23.2"},
		{"GO-2022-0354", "github.com/cri-o/cri-o", "v1.23.2", false, ""},
		// open at the end: introduced 1.0.0-rc.0 after the last fix
		{"GO-2026-5264", "github.com/prometheus/prometheus", "v0.305.1", true, "v0.305.2"},
		{"GO-2026-5264", "github.com/prometheus/prometheus", "v0.305.2", false, ""},
		{"GO-2026-5264", "github.com/prometheus/prometheus", "v0.311.2", true, "v0.311.3"},
		{"GO-2026-5264", "github.com/prometheus/prometheus", "v0.311.3", false, ""},
		{"GO-2026-5264", "github.com/prometheus/prometheus", "v1.0.0-rc.0", true, ""},
		{"GO-2026-5264", "github.com/prometheus/prometheus", "v3.0.0", true, ""},
		// stdlib: Go versions as tags or semver, prereleases
		{"GO-2023-2102", "stdlib", "go1.20.9", true, "v1.20.10"},
		{"GO-2023-2102", "stdlib", "v1.20.9", true, "v1.20.10"},
		{"GO-2023-2102", "stdlib", "go1.20.10", false, ""},
		{"GO-2023-2102", "stdlib", "go1.21", true, "v1.21.3"},
		{"GO-2023-2102", "stdlib", "go1.21rc2", true, "v1.21.3"},
		{"GO-2023-2102", "stdlib", "go1.21.3", false, ""},
		{"GO-2023-2102", "stdlib", "go1.22.0", false, ""},
		{"GO-2023-2102", "golang.org/x/net", "v0.16.0", true, "v0.17.0"},
		{"GO-2023-2102", "toolchain", "go1.20.9", false, ""},
		// withdrawn: affects nothing
		{"GO-2022-0617", "k8s.io/kubernetes", "v1.0.0", false, ""},
		// only introduced 0 in its SEMVER ranges (custom_ranges ignored)
		{"GO-2023-2385", "github.com/pubnub/go", "v1.0.0", true, ""},
		{"GO-2023-2385", "github.com/pubnub/go/v5", "v5.0.4", true, ""},
	}
	for _, tt := range tests {
		e := readEntry(t, tt.id)
		if got := e.Affects(tt.module, tt.version); got != tt.want {
			t.Errorf("%s.Affects(%s, %s) = %v, want %v", tt.id, tt.module, tt.version, got, tt.want)
		}
		if got := e.Fix(tt.module, tt.version); got != tt.fix && tt.want {
			t.Errorf("%s.Fix(%s, %s) = %q, want %q", tt.id, tt.module, tt.version, got, tt.fix)
		}
	}
}

func TestRangesAffect(t *testing.T) {
	semverRange := func(events ...Event) Range { return Range{Type: RangeSemver, Events: events} }
	in := func(v string) Event { return Event{Introduced: v} }
	fix := func(v string) Event { return Event{Fixed: v} }
	tests := []struct {
		name    string
		ranges  []Range
		version string
		want    bool
	}{
		{"no ranges: all", nil, "v1.0.0", true},
		{"no events: all", []Range{{Type: RangeSemver}}, "v1.0.0", true},
		{"no semver range: all", []Range{{Type: "ECOSYSTEM", Events: []Event{in("0"), fix("1.0.0")}}}, "v2.0.0", true},
		{"unsorted events", []Range{semverRange(fix("1.5.0"), in("1.2.0"), fix("1.1.0"), in("0"))}, "v1.3.0", true},
		{"unsorted events, fixed", []Range{semverRange(fix("1.5.0"), in("1.2.0"), fix("1.1.0"), in("0"))}, "v1.1.5", false},
		{"introduced equals version", []Range{semverRange(in("1.2.0"))}, "v1.2.0", true},
		{"below introduced", []Range{semverRange(in("1.2.0"))}, "v1.1.9", false},
		{"fixed equals version", []Range{semverRange(in("0"), fix("1.2.0"))}, "v1.2.0", false},
		{"second range", []Range{semverRange(in("0"), fix("1.0.0")), semverRange(in("2.0.0"), fix("2.1.0"))}, "v2.0.5", true},
		{"between ranges", []Range{semverRange(in("0"), fix("1.0.0")), semverRange(in("2.0.0"), fix("2.1.0"))}, "v1.5.0", false},
		{"invalid version", []Range{semverRange(in("0"))}, "latest", false},
		{"incompatible", []Range{semverRange(in("0"), fix("3.0.0+incompatible"))}, "v2.9.0+incompatible", true},
	}
	for _, tt := range tests {
		if got := RangesAffect(tt.ranges, tt.version); got != tt.want {
			t.Errorf("%s: RangesAffect(%v, %s) = %v, want %v", tt.name, tt.ranges, tt.version, got, tt.want)
		}
	}
}

func TestLatestFix(t *testing.T) {
	semverRange := func(events ...Event) Range { return Range{Type: RangeSemver, Events: events} }
	in := func(v string) Event { return Event{Introduced: v} }
	fix := func(v string) Event { return Event{Fixed: v} }
	tests := []struct {
		name   string
		ranges []Range
		want   string
	}{
		{"none", nil, ""},
		{"one fix", []Range{semverRange(in("0"), fix("0.3.8"))}, "0.3.8"},
		{"several", []Range{semverRange(in("0"), fix("1.4.13"), in("1.5.0"), fix("1.5.10"))}, "1.5.10"},
		{"unsorted", []Range{semverRange(fix("1.5.10"), in("1.5.0"), fix("1.4.13"), in("0"))}, "1.5.10"},
		{"reintroduced", []Range{semverRange(in("0"), fix("0.305.2"), in("0.306.0"))}, ""},
		{"no fix", []Range{semverRange(in("0"))}, ""},
		{"one range open", []Range{semverRange(in("0"), fix("1.0.0")), semverRange(in("2.0.0"))}, ""},
		{"two ranges", []Range{semverRange(in("0"), fix("1.0.0")), semverRange(in("2.0.0"), fix("2.1.0"))}, "2.1.0"},
		{"no semver range", []Range{{Type: "ECOSYSTEM", Events: []Event{in("0"), fix("1.0.0")}}}, ""},
	}
	for _, tt := range tests {
		if got := LatestFix(tt.ranges); got != tt.want {
			t.Errorf("%s: LatestFix = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, json string }{
		{"not json", `{`},
		{"no id", `{"affected":[]}`},
		{"path id", `{"id":"../etc/passwd"}`},
		{"slash id", `{"id":"GO-2022/1059"}`},
		{"no package name", `{"id":"GO-2022-1059","affected":[{"package":{"name":""}}]}`},
		{"bad introduced", `{"id":"GO-2022-1059","affected":[{"package":{"name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"x.y"}]}]}]}`},
		{"bad fixed", `{"id":"GO-2022-1059","affected":[{"package":{"name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3.4"}]}]}]}`},
		{"both in one event", `{"id":"GO-2022-1059","affected":[{"package":{"name":"m"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0","fixed":"1.0.0"}]}]}]}`},
	}
	for _, tt := range tests {
		if e, err := Parse([]byte(tt.json)); err == nil {
			t.Errorf("%s: Parse = %+v, want an error", tt.name, e)
		}
	}
	if _, err := Parse([]byte(`{"id":"GHSA-ppp9-7jff-5vj2","affected":[{"package":{"name":"m"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"whatever"}]}]}]}`)); err != nil {
		t.Errorf("a non-SEMVER range's events are not checked: %v", err)
	}
}

func TestAffectsAllocs(t *testing.T) {
	e := readEntry(t, "GO-2022-0354")
	if n := testing.AllocsPerRun(100, func() { e.Affects("github.com/cri-o/cri-o", "v1.23.1") }); n > 12 {
		t.Errorf("Affects allocates %v times, want at most 12", n)
	}
}
