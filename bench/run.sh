#!/usr/bin/env bash
# Runs gomirror's benchmarks (see bench/README.md) and prints a summary.
#
#   bench/run.sh                  all of them (about 20 minutes on 2 cores, plus the audit ones;
#                                 ColdZip only with GOMIRROR_BENCH_BASE)
#   bench/run.sh 'RPS|SameZip'    only those matching the regexp (these two
#                                 need no network)
#   bench/run.sh LoadWithFaults   the load run with faults (no network; about
#                                 1.5 minutes; GOMIRROR_LOAD_SECONDS=10 for a
#                                 quick try)
#   bench/run.sh StalledReaders   1000 connections stalled on a 15 MiB .mod
#                                 (no network; about 30 seconds)
#   bench/run.sh 'CachedInfo$'    cached .info under wrk vs a bare net/http
#                                 server (no network; needs wrk; about 1 minute;
#                                 GOMIRROR_BENCH_BASE_BINARY=<gomirror built
#                                 from another commit> compares that one too)
#   bench/run.sh CachedInfoPolicy cached .info with a 500-rule policy vs none
#                                 (no network; needs wrk; about 1 minute)
#   bench/run.sh 'Audit|Catalog'  the audit database on SQLite: a 10,000,000-
#                                 record database built (about NN minutes), two
#                                 queries timed on it, and the sustained insert
#                                 rate (no network; GOMIRROR_AUDIT_RECORDS=1000000
#                                 for a quick try), and a catalog of 100,000
#                                 versions
#   bench/run.sh GC100k           gomirror gc over 100,000 stored versions vs a
#                                 plain find walk (no network; about 1.5 minutes,
#                                 2 GB of small files; GOMIRROR_GC_VERSIONS=2000
#                                 for a quick try)
#   GOMIRROR_BENCH_BASE=<commit> bench/run.sh ColdZip
#                                 one large cold zip, this tree vs gomirror
#                                 built from <commit> (no network; about
#                                 1.5 minutes; skipped without the variable)
#
# WarmDownload and ColdFill fetch testdata/bigproject, and ColdToolchainZip the
# go1.27.3 toolchain zip, from the upstream that `go env GOPROXY` names
# first; everything else stays on 127.0.0.1.
# The full `go test -v` output is kept in a temporary file named at the end.
set -uo pipefail
cd "$(dirname "$0")/.."

pattern=${1:-.}
out=$(mktemp -t gomirror-bench-XXXXXX.txt)

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $(nproc) cores, $(go version | cut -d' ' -f3-)"
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== go test -run '^\$' -bench '$pattern' -benchtime 1x -timeout 60m -v ./bench/"
start=$(date +%s)
go test -run '^$' -bench "$pattern" -benchtime 1x -timeout 60m -v ./bench/ 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
elapsed=$(($(date +%s) - start))

echo
echo "== summary ($((elapsed / 60))m$((elapsed % 60))s; full output: $out)"
awk '
function num(x) { return x + 0 }
function verdict(ok) { return ok ? "PASS" : "MISSED" }
# rr is the median of per-round ratios of a benchmark, or its ratio of medians
# when it reports none.
function rr(b) { return ((b, "round-ratio") in m) ? m[b, "round-ratio"] : m[b, "ratio"] }
function baseArm(b) {
	if ((b, "base-round-ratio") in m)
		printf "  %-20s GOMIRROR_BENCH_BASE: its ratio %.3f, gomirror/base %.3f (medians of per-round ratios); its CPU %.2f s per fill\n", "",
			m[b, "base-round-ratio"], m[b, "vs-base-round-ratio"], m[b, "cpu-s/base"]
}
/^Benchmark[A-Za-z0-9_]+$/ { cur = $1; order[++n] = cur; next }
/^Benchmark[A-Za-z0-9_\/]+-[0-9]+[ \t]/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i += 2) m[name, $(i + 1)] = $i
	parent = name; sub(/\/.*/, "", parent)
	done[name] = 1; done[parent] = 1
	next
}
/^--- FAIL: Benchmark/ { name = $3; sub(/-[0-9]+$/, "", name); failed[name] = 1; next }
/other processes used/ && cur != "" {
	if (match($0, /\(([0-9.]+) of [0-9]+ cores\)/)) {
		s = substr($0, RSTART + 1); split(s, a, " ")
		if (!(cur in busy) || num(a[1]) > num(busy[cur])) busy[cur] = a[1]
	}
}
/PROBLEM:|5xx during|answered [0-9]+ requests with a 5xx|failed requests|clients failed/ && cur != "" {
	line = $0; sub(/^[ \t]+/, "", line); problems[cur] = problems[cur] "\n      ! " line
}
END {
	for (k = 1; k <= n; k++) {
		b = order[k]; short = b; sub(/^Benchmark/, "", short)
		if (!(b in done)) { printf "  %-20s %s\n", short, (b in failed) ? "FAILED (see output)" : "no result (skipped?)"; continue }
		if (short == "WarmDownload") {
			printf "  %-20s ratio %.3f  (gomirror %.2f s, file:// %.2f s; medians)  target <= 1.3: %s\n", short,
				m[b, "ratio"], m[b, "s/mirror"], m[b, "s/baseline"], verdict(num(m[b, "ratio"]) <= 1.3)
		} else if (short == "ColdFill") {
			printf "  %-20s ratio %.3f  (median of per-round ratios; gomirror %.2f s, upstream %.2f s; medians)  target <= 1.05: %s\n", short,
				rr(b), m[b, "s/mirror"], m[b, "s/baseline"], verdict(num(rr(b)) <= 1.05)
			printf "  %-20s CPU floor %.3f  (the mirrored download'"'"'s CPU time, go command + gomirror (%.2f CPU-s), over this machine'"'"'s cores, against the upstream'"'"'s time: no ratio below it is possible here)%s\n", "",
				m[b, "cpu-floor"], m[b, "cpu-s/gomirror"], (num(m[b, "cpu-floor"]) > 1.05) ? "; the 1.05 target is below it" : ""
			baseArm(b)
		} else if (short == "ColdModGraph") {
			printf "  %-20s ratio %.3f  (median of per-round ratios; gomirror %.2f s, upstream %.2f s; medians)  no fixed target\n", short,
				m[b, "round-ratio"], m[b, "s/mirror"], m[b, "s/baseline"]
			baseArm(b)
		} else if (short == "ColdToolchainZip") {
			printf "  %-20s ratio %.3f  (median of per-round ratios; gomirror %.2f s, upstream %.2f s; medians; gomirror %.2f CPU-s per fill)  target <= 1.1: %s\n", short,
				m[b, "round-ratio"], m[b, "s/mirror"], m[b, "s/baseline"], m[b, "cpu-s/gomirror"], verdict(num(m[b, "round-ratio"]) <= 1.1)
			baseArm(b)
		} else if (short == "CachedInfoRPS") {
			printf "  %-20s ratio %.3f  (gomirror %.0f req/s p50 %.2f ms p99 %.2f ms; FileServer %.0f req/s p50 %.2f ms p99 %.2f ms)  no fixed target\n", short,
				m[b, "ratio"], m[b, "req/s"], m[b, "ms-p50"], m[b, "ms-p99"], m[b, "req/s-baseline"], m[b, "ms-p50-baseline"], m[b, "ms-p99-baseline"]
		} else if (short == "CachedInfo") {
			printf "  %-20s ratio %.3f  (gomirror %.0f req/s p99 %.2f ms; bare net/http %.0f req/s p99 %.2f ms; medians)  target >= 0.8: %s\n", short,
				m[b, "ratio"], m[b, "req/s"], m[b, "ms-p99"], m[b, "req/s-baseline"], m[b, "ms-p99-baseline"], verdict(num(m[b, "ratio"]) >= 0.8)
			printf "  %-20s p99 ratio %.3f; server CPU per request: gomirror %.1f us, bare %.1f us\n", "",
				m[b, "ratio-p99"], m[b, "us-cpu/req"], m[b, "us-cpu/req-baseline"]
			if ((b, "ratio-base") in m)
				printf "  %-20s GOMIRROR_BENCH_BASE_BINARY: ratio %.3f, p99 ratio %.3f, %.1f us CPU per request\n", "",
					m[b, "ratio-base"], m[b, "ratio-p99-base"], m[b, "us-cpu/req-base"]
		} else if (short == "CachedInfoPolicy") {
			printf "  %-20s ratio %.3f  (500-rule policy %.0f req/s, none %.0f req/s; medians)  target >= 0.95: %s\n", short,
				m[b, "ratio"], m[b, "req/s"], m[b, "req/s-baseline"], verdict(num(m[b, "ratio"]) >= 0.95)
			printf "  %-20s CPU per request: policy %.1f us, none %.1f us (ratio-cpu %.3f); p99 %.2f ms vs %.2f ms\n", "",
				m[b, "us-cpu/req"], m[b, "us-cpu/req-baseline"], m[b, "ratio-cpu"], m[b, "ms-p99"], m[b, "ms-p99-baseline"]
		} else if (short == "SameZip100Clients") {
			ok = num(m[b, "MB-rss-growth"]) < 50 && num(m[b, "MB-rss-growth-warm"]) < 50
			printf "  %-20s RSS growth cold %.1f MB, warm %.1f MB  target < 50 MB: %s\n", short,
				m[b, "MB-rss-growth"], m[b, "MB-rss-growth-warm"], verdict(ok)
			printf "  %-20s throughput cold %.0f MB/s (fill: first byte after %.2f s), warm %.0f MB/s, FileServer %.0f MB/s (ratio warm/FileServer %.3f)\n", "",
				m[b, "MB/s"], m[b, "s/fill"], m[b, "MB/s-warm"], m[b, "MB/s-baseline"], m[b, "ratio"]
		} else if (short == "StalledReaders") {
			printf "  %-20s RSS growth %.1f MB with 1000 connections stalled on a 15 MiB .mod  target < 100 MB: %s\n", short,
				m[b, "MB-rss-growth"], verdict(num(m[b, "MB-rss-growth"]) < 100)
			printf "  %-20s cached .info during the stall: p50 %.2f ms (ratio %.3f), p99 %.2f ms (ratio %.3f); without: p50 %.2f ms, p99 %.2f ms\n", "",
				m[b, "ms-p50"], m[b, "ratio"], m[b, "ms-p99"], m[b, "ratio-p99"], m[b, "ms-p50-baseline"], m[b, "ms-p99-baseline"]
		} else if (short == "ColdZip") {
			for (k2 = 1; k2 <= 2; k2++) {
				sb = b "/" (k2 == 1 ? "loopback" : "40MBps")
				if (!(sb in done)) continue
				printf "  %-20s %s: whole zip ratio %.3f (%.3f s vs base %.3f s; first byte %.3f s vs %.3f s); last upstream byte to last byte %.1f ms vs base %.1f ms; gomirror CPU %.2f s vs base %.2f s (medians)\n", short,
					substr(sb, length(b) + 2), m[sb, "ratio"], m[sb, "s/fill"], m[sb, "s/fill-base"], m[sb, "s/first-byte"], m[sb, "s/first-byte-base"], m[sb, "ms-tail"], m[sb, "ms-tail-base"], m[sb, "cpu-s"], m[sb, "cpu-s-base"]
			}
		} else if (short == "AuditQuery10M") {
			ok = num(m[b, "ms-top20-max"]) < 500 && num(m[b, "ms-query-module-max"]) < 500 && num(m[b, "ms-query-module2-max"]) < 500
			printf "  %-20s TopModules(30 days, 20) %.1f ms (max %.1f); QueryAudit of one module %.1f ms (max %.1f), of a middling one %.1f ms (max %.1f); database %.0f MB  target < 500 ms: %s\n", short,
				m[b, "ms-top20"], m[b, "ms-top20-max"], m[b, "ms-query-module"], m[b, "ms-query-module-max"], m[b, "ms-query-module2"], m[b, "ms-query-module2-max"], m[b, "MB-db"], verdict(ok)
		} else if (short == "AuditInsert") {
			for (k2 = 1; k2 <= 2; k2++) {
				sb = b "/" (k2 == 1 ? "fresh" : "10M")
				if (!(sb in done)) continue
				printf "  %-20s %s: %.0f records/s in batches of 256 (batch p50 %.1f ms, p99 %.1f ms)  target >= 5000: %s\n", short,
					substr(sb, length(b) + 2), m[sb, "records/s"], m[sb, "ms-batch-p50"], m[sb, "ms-batch-p99"], verdict(num(m[sb, "records/s"]) >= 5000)
			}
		} else if (short == "Catalog100k") {
			printf "  %-20s 100,000 versions: Modules first page %.1f ms, substring search %.1f ms, page by cursor %.1f ms; Module %.1f ms; CatalogTotals %.1f ms; PutArtifact %.1f ms (medians)  no fixed target\n", short,
				m[b, "ms-modules"], m[b, "ms-modules-search"], m[b, "ms-modules-cursor"], m[b, "ms-module"], m[b, "ms-totals"], m[b, "ms-put"]
		} else if (short == "ConsolePages") {
			printf "  %-20s 1 M records, 100,000 versions: overview %.1f ms, modules %.1f, search %.1f, module %.1f, activity %.1f (later page %.1f, by module %.1f, by client %.1f), alerts %.1f (medians); slowest %.1f ms  target < 50 ms: %s\n", short,
				m[b, "ms-overview"], m[b, "ms-modules"], m[b, "ms-modules-search"], m[b, "ms-module"], m[b, "ms-activity"], m[b, "ms-activity-page2"], m[b, "ms-activity-module"], m[b, "ms-activity-client"], m[b, "ms-alerts"], m[b, "ms-worst"], verdict(num(m[b, "ms-worst"]) < 50)
		} else if (short == "WarmDownloadS3") {
			printf "  %-20s ratio %.3f  (MinIO-backed %.2f s, local disk %.2f s; medians)  no fixed target\n", short,
				m[b, "ratio"], m[b, "s/mirror"], m[b, "s/baseline"]
		} else if (short == "LoadWithFaults") {
			ok = num(m[b, "wrong-bytes"]) == 0 && num(m[b, "cached-5xx"]) == 0
			printf "  %-20s %.0f requests, %.0f req/s; cached p50 %.1f ms p99 %.1f ms; uncached p50 %.1f ms p99 %.1f ms, %.2f%% ok\n", short,
				m[b, "requests"], m[b, "req/s"], m[b, "ms-cached-p50"], m[b, "ms-cached-p99"], m[b, "ms-uncached-p50"], m[b, "ms-uncached-p99"], m[b, "uncached-ok-%"]
			printf "  %-20s %d faults injected; wrong bytes %d, cached 5xx %d (target 0 and 0: %s); gomirror peak RSS %.1f MB\n", "",
				m[b, "faults"], m[b, "wrong-bytes"], m[b, "cached-5xx"], verdict(ok), m[b, "MB-peak-rss"]
		} else {
			printf "  %-20s", short
			for (key in m) { split(key, kk, SUBSEP); if (kk[1] == b) printf " %s %s", m[key], kk[2] }
			printf "\n"
		}
		if (b in busy) printf "  %-20s other processes kept up to %s of the cores busy during a measurement\n", "", busy[b]
		if (problems[b] != "") printf "%s\n", substr(problems[b], 2)
	}
}' "$out"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
