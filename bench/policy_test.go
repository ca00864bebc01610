package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// policy500 is a policy of 500 rules (10 sets of 10 rules, 400 top-level
// rules that match nothing the benchmark asks for, and a last one that
// matches everything), every kind of check among them: a cached .info
// request of the benchmark scans the whole top-level list when its
// decision is not cached, and costs one cache lookup when it is.
func policy500() string {
	var sb strings.Builder
	sb.WriteString("# BenchmarkCachedInfoPolicy: 500 rules\ngroups:\n  ci: [ci-1, ci-2]\nsets:\n")
	for s := range 10 {
		fmt.Fprintf(&sb, "  - name: set%d\n    tokens: [token-%d]\n    groups: [ci]\n    rules:\n", s, s)
		for r := range 10 {
			fmt.Fprintf(&sb, "      - module: corp%d.example/team%d\n        deny-vulnerable: true\n", s, r)
		}
	}
	sb.WriteString("rules:\n")
	for i := range 399 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&sb, "  - name: deny-%d\n    module: github.com/org%d/*\n    versions: \"<1.%d.0\"\n    action: deny\n", i, i, i)
		case 1:
			fmt.Fprintf(&sb, "  - module: [gitlab.example/g%d, \"*.corp%d.example\"]\n    min-age: 14\n    deny-retracted: true\n", i, i)
		case 2:
			fmt.Fprintf(&sb, "  - module: example.org/m%d\n    licenses: [MIT, Apache-2.0]\n    mode: warn\n", i)
		case 3:
			fmt.Fprintf(&sb, "  - module: golang.example/x%d\n    deny-vulnerable:\n      except: [GO-2024-%04d]\n", i, i)
		}
	}
	sb.WriteString("  - name: everything\n    module: \"*\"\n    deny-pseudo-versions: true\n")
	return sb.String()
}

// BenchmarkCachedInfoPolicy: BenchmarkCachedInfo's load (wrk, 64
// connections, 8 stored .info files round robin) on gomirror with a
// 500-rule policy and on gomirror without one, both with the database off
// (the audit log is not what is measured). Alternating 5 s rounds after a
// warm-up; medians. Target (issue 16): req/s ratio (policy / none) ≥ 0.95.
// ratio-cpu, the same from the server's CPU per request (none / policy),
// is the figure that other load on the machine moves least.
func BenchmarkCachedInfoPolicy(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("needs wrk (Debian: apt-get install wrk)")
	}
	tmp := workDir(b)
	store := filepath.Join(tmp, "storage")
	var paths []string
	for i := range infoFiles {
		key := fmt.Sprintf("example.com/bench/info%d/@v/v1.0.%d.info", i, i)
		writeStored(b, store, key, fmt.Appendf(nil, `{"Version":"v1.0.%d","Time":"2026-11-28T12:00:00Z"}`, i))
		paths = append(paths, "/"+key)
	}
	policyPath := filepath.Join(tmp, "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(policy500()), 0o644); err != nil {
		b.Fatal(err)
	}
	args := []string{"--storage-dir", store, "--upstream", "off", "--sumdb", "off", "--database", "off"}
	withPolicy := startMirror(b, tmp, append(args, "--policy", policyPath)...)
	none := startMirror(b, tmp, args...)
	if !strings.Contains(withPolicy.tail(200), "rules=500") {
		b.Fatalf("the policy is not in force with 500 rules:\n%s", withPolicy.tail(20))
	}
	sides := []wrkSide{{"policy", withPolicy.URL, withPolicy.Pid()}, {"none", none.URL, none.Pid()}}
	for _, p := range paths {
		var bodies [2][]byte
		for i, s := range sides {
			resp, err := http.Get(s.url + p)
			if err != nil {
				b.Fatal(err)
			}
			bodies[i], _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("%s%s: %d %s", s.name, p, resp.StatusCode, bodies[i])
			}
		}
		if !bytes.Equal(bodies[0], bodies[1]) {
			b.Fatalf("%s: answers differ: %q, %q", p, bodies[0], bodies[1])
		}
	}
	script := filepath.Join(tmp, "paths.lua")
	if err := os.WriteFile(script, []byte(wrkScript(paths)), 0o644); err != nil {
		b.Fatal(err)
	}
	offset := withPolicy.logSize()
	b.ResetTimer()
	results := interleavedRounds(b, wrk, script, sides)
	b.StopTimer()
	st := withPolicy.stats(offset)
	b.Logf("gomirror (policy) log during the load: %s", st)
	b.Logf("load average at the end: %s", loadAvg())
	if n := st.Requests - st.Cache["hit"]; n > 0 {
		b.Logf("PROBLEM: %d of %d requests were not cache hits", n, st.Requests)
	}
	med := func(name string, f func(r *wrkResult) float64) float64 { return medianOf(results[name], f) }
	rps := func(r *wrkResult) float64 { return r.rps }
	p99 := func(r *wrkResult) float64 { return r.p99 }
	cpu := func(r *wrkResult) float64 { return r.cpuPerReq }
	var ratios, cpuRatios []string
	for i := range infoRounds {
		ratios = append(ratios, fmt.Sprintf("%.3f", results["policy"][i].rps/results["none"][i].rps))
		cpuRatios = append(cpuRatios, fmt.Sprintf("%.3f", results["none"][i].cpuPerReq/results["policy"][i].cpuPerReq))
	}
	b.Logf("per-round req/s ratios policy/none: %s; CPU per request none/policy: %s", strings.Join(ratios, " "), strings.Join(cpuRatios, " "))
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(med("policy", rps), "req/s")
	b.ReportMetric(med("none", rps), "req/s-baseline")
	b.ReportMetric(med("policy", rps)/med("none", rps), "ratio")
	b.ReportMetric(med("none", cpu)/med("policy", cpu), "ratio-cpu")
	b.ReportMetric(med("policy", cpu), "us-cpu/req")
	b.ReportMetric(med("none", cpu), "us-cpu/req-baseline")
	b.ReportMetric(med("policy", p99), "ms-p99")
	b.ReportMetric(med("none", p99), "ms-p99-baseline")
}
