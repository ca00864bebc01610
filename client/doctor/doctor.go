package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/client/mirrors"
	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/redact"
)

// Status is a verdict: ok, warn or fail.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

func worse(a, b Status) Status {
	rank := map[Status]int{OK: 0, Warn: 1, Fail: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Result is one finding.
type Result struct {
	// Check names the check: go-version, goproxy, private, goinsecure,
	// gosumdb, goflags, http-proxy, proxy, sumdb, modcache.
	Check  string `json:"check"`
	Target string `json:"target,omitempty"` // the proxy URL, or the directory, checked
	Status Status `json:"status"`
	// Problem is a stable name for what is wrong (empty when ok), e.g.
	// "connection-refused", "slow", "unknown-authority", "self-signed",
	// "private-sent-to-sumdb", "goproxy-off", "no-direct".
	Problem string    `json:"problem,omitempty"`
	Message i18n.Text `json:"message"`
	Fix     i18n.Text `json:"fix,omitzero"`
	Steps   []Step    `json:"steps,omitempty"`
}

// Step is one step of a connection check.
type Step struct {
	Name      string    `json:"name"` // dns, tcp, tls, protocol, sumdb
	Status    Status    `json:"status"`
	Skipped   bool      `json:"skipped,omitempty"`
	LatencyMS float64   `json:"latency_ms"`
	Detail    i18n.Text `json:"detail"`

	latency time.Duration
}

// Report is the outcome of Run.
type Report struct {
	Verdict  Status            `json:"verdict"`
	Failed   int               `json:"failed"`
	Warnings int               `json:"warnings"`
	GoEnv    map[string]string `json:"go_env,omitempty"`
	Results  []Result          `json:"results"`
	// Suggestions is advice beyond single results (e.g. run gomirror
	// setup --fastest).
	Suggestions []i18n.Text `json:"suggestions,omitempty"`
}

// Options configure Run. The zero value checks with the real go command
// and the real environment.
type Options struct {
	Go          gocmd.Runner        // the go command; gocmd.Cmd{} if nil
	Getenv      func(string) string // HTTP_PROXY and friends; os.Getenv if nil
	ProbeModule string              // setup.DefaultProbeModule if empty
	Timeout     time.Duration       // per step; 5s if zero
	Slow        time.Duration       // a slower step is a warning; 2s if zero
	RootCAs     *x509.CertPool      // TLS roots; the system's if nil
	Resolver    *net.Resolver       // net.DefaultResolver if nil
	// LagModules are the modules, besides ProbeModule, whose version
	// lists are compared across proxies; DefaultLagModules() if nil, none
	// but the probe module if empty and not nil.
	LagModules []string
	// Compare are proxy URLs the lists of GOPROXY's proxies are also
	// compared with (references; they are not themselves reported on).
	Compare []string
	// LagGrace: a version a proxy lacks counts as lag only when the
	// source that lists it says (its .info Time) it was published longer
	// ago than this; 1h if zero. Mirrors fetch new tags on demand.
	LagGrace time.Duration

	noSumDB, noProxy string // GONOSUMDB, GONOPROXY (defaulting to GOPRIVATE), set by Run
}

func (o *Options) defaults() {
	if o.Go == nil {
		o.Go = gocmd.Cmd{}
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.ProbeModule == "" {
		o.ProbeModule = setup.DefaultProbeModule
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Slow <= 0 {
		o.Slow = 2 * time.Second
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.LagGrace <= 0 {
		o.LagGrace = time.Hour
	}
}

// EnvKeys are the go env variables Run reads.
var EnvKeys = []string{"GOPROXY", "GOSUMDB", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOINSECURE", "GOFLAGS", "GOMODCACHE", "GOENV", "GOVERSION", "GOROOT"}

// Run runs every check. Failing to run the go command is itself a failed
// check, not an error.
func Run(ctx context.Context, opts Options) *Report {
	opts.defaults()
	var res []Result
	add := func(r ...Result) { res = append(res, r...) }

	vctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	out, err := opts.Go.Run(vctx, "version")
	cancel()
	if err != nil {
		add(Result{Check: "go-version", Status: Fail, Problem: "no-go-command",
			Message: i18n.T("cannot run the go command: %v", err),
			Fix:     i18n.T("Install Go (https://go.dev/dl/) and put its bin directory on PATH.")})
		return finish(nil, res)
	}
	add(checkVersion(strings.TrimSpace(string(out))))

	ectx, cancel := context.WithTimeout(ctx, opts.Timeout)
	env, err := gocmd.Env(ectx, opts.Go, EnvKeys...)
	cancel()
	if err != nil {
		add(Result{Check: "go-env", Status: Fail, Problem: "go-env",
			Message: i18n.T("cannot read go env: %v", err),
			Fix:     i18n.T("Run go env yourself and fix what it complains about (often a bad line in the file go env GOENV names).")})
		return finish(nil, res)
	}

	opts.noSumDB, opts.noProxy = env["GONOSUMDB"], env["GONOPROXY"]
	if opts.noSumDB == "" {
		opts.noSumDB = env["GOPRIVATE"]
	}
	if opts.noProxy == "" {
		opts.noProxy = env["GOPRIVATE"]
	}
	proxies, pres := checkGOPROXY(env["GOPROXY"])
	add(pres...)
	add(checkPrivate(env)...)
	add(checkInsecure(env, opts.ProbeModule))
	db := resolveSumDB(env["GOSUMDB"], env["GOROOT"])
	add(checkSumDB(env["GOSUMDB"], db))
	add(checkGOFLAGS(env["GOFLAGS"])...)
	add(checkHTTPProxy(opts.Getenv, proxies))

	// Connection checks, in parallel, reported in GOPROXY order.
	conn := make([][]Result, len(proxies))
	clients := make([]*http.Client, len(proxies))
	var wg sync.WaitGroup
	for i, p := range proxies {
		wg.Go(func() { conn[i], clients[i] = checkProxy(ctx, &opts, p, db) })
	}
	wg.Wait()
	for _, c := range conn {
		add(c...)
	}

	// Lag: the lists of the proxies that answered, and the references.
	var sources []source
	for i, p := range proxies {
		if clients[i] != nil {
			sources = append(sources, source{url: p, client: clients[i], report: true})
		}
	}
	if len(opts.Compare) > 0 {
		pf := proxyConfig(opts.Getenv).ProxyFunc()
		client := &http.Client{Transport: &http.Transport{Proxy: func(req *http.Request) (*url.URL, error) { return pf(req.URL) },
			TLSClientConfig: &tls.Config{RootCAs: opts.RootCAs}, DisableKeepAlives: true}}
		for _, c := range opts.Compare {
			sources = append(sources, source{url: strings.TrimRight(c, "/"), client: client})
		}
	}
	var lagMods, private []string
	for _, m := range lagModules(opts.ProbeModule, opts.LagModules) {
		if module.MatchPrefixPatterns(opts.noProxy, m) {
			private = append(private, m) // the go command never asks a proxy for it
		} else {
			lagMods = append(lagMods, m)
		}
	}
	add(checkLag(ctx, &opts, sources, lagMods, private)...)
	add(checkModCache(env["GOMODCACHE"]))
	if env != nil {
		env["GOPROXY"] = redactGOPROXY(env["GOPROXY"])
	}
	rep := finish(env, res)
	rep.Suggestions = suggest(proxies, res)
	return rep
}

// suggest returns advice beyond the fixes of single results: when the
// proxy the go command asks first is slow, failing, lagging or fails the
// checksum database checks, measure the public mirrors and switch
// (mirrors.Suggestion, a text in the user's language), worded by the
// worst of these. Not for a problem another proxy would not fix (a GOSUMDB
// key doctor cannot find) nor for one that is only informational (latest
// of the checksum database, a probe that could not be looked up).
func suggest(proxies []string, res []Result) []i18n.Text {
	if len(proxies) == 0 {
		return nil
	}
	first := redact.URL(proxies[0])
	// The worst problem of the first proxy decides the wording: failing,
	// then lagging, then slow. What is only informational (the checksum
	// database's latest, which the go command never reads through a
	// proxy; a key or probe that could not be checked) is no reason to
	// leave a mirror, least of all an offline company one.
	const (
		none = iota
		slow
		lags
		fails
	)
	worst := none
	for _, r := range res {
		if r.Target != first || r.Status == OK {
			continue
		}
		if r.Check != "proxy" && r.Check != "sumdb" && r.Check != "lag" {
			continue
		}
		got := none
		switch {
		case r.Status == Fail:
			got = fails
		case r.Check == "lag":
			got = lags
		case r.Problem == "slow":
			got = slow
		case r.Problem == "sumdb-latest":
			// Slow only if a step other than latest was (latest's own
			// warning is its failure).
			for _, s := range r.Steps {
				if s.Status == Warn && s.Name != "latest" {
					got = slow
				}
			}
		}
		worst = max(worst, got)
	}
	var verb i18n.Text
	switch worst {
	case none:
		return nil
	case fails:
		verb = i18n.T("%s, the first proxy in GOPROXY, fails", first)
	case lags:
		verb = i18n.T("%s, the first proxy in GOPROXY, lags", first)
	default:
		verb = i18n.T("%s, the first proxy in GOPROXY, is slow", first)
	}
	return []i18n.Text{i18n.T("%s: %s. If it also serves your private modules, keep it first in GOPROXY for them (e.g. GOPROXY=%s,<public mirror>,direct, or a profile for the office: gomirror setup --profile) and list them in GONOSUMDB; GOPRIVATE instead makes them bypass every proxy, fetched directly from version control.", verb, mirrors.Suggestion(), first)}
}

func finish(env map[string]string, res []Result) *Report {
	r := &Report{Verdict: OK, GoEnv: env, Results: res}
	for _, x := range res {
		r.Verdict = worse(r.Verdict, x.Status)
		switch x.Status {
		case Fail:
			r.Failed++
		case Warn:
			r.Warnings++
		}
	}
	return r
}

// WriteText prints the report for people, in p's language (English if
// p is nil). Check and step names are identifiers and stay as they are.
func WriteText(w io.Writer, p *i18n.Printer, r *Report) error {
	if p == nil {
		p = i18n.English()
	}
	label := func(s Status) string {
		switch s {
		case OK:
			return p.Sprintf("ok")
		case Warn:
			return p.Sprintf("warn")
		}
		return p.Sprintf("fail")
	}
	var b strings.Builder
	for _, x := range r.Results {
		name := x.Check
		if x.Target != "" {
			name += " " + x.Target
		}
		fmt.Fprintf(&b, "%s  %s: %s\n", i18n.Pad(label(x.Status), 4), name, p.Text(x.Message))
		for _, s := range x.Steps {
			st := label(s.Status)
			lat := fmt.Sprintf("%8.1fms", s.LatencyMS)
			if s.Skipped {
				st, lat = p.Sprintf("skip"), fmt.Sprintf("%10s", "")
			}
			// One line per step: a detail never breaks the table.
			detail := strings.ReplaceAll(p.Text(s.Detail), "\n", " ")
			fmt.Fprintf(&b, "        %s %s %s  %s\n", i18n.Pad(s.Name, 8), i18n.Pad(st, 4), lat, detail)
		}
		if !x.Fix.IsZero() {
			b.WriteString(p.Sprintf("      fix: %s\n", x.Fix))
		}
	}
	for _, s := range r.Suggestions {
		b.WriteString(p.Sprintf("suggestion: %s\n", s))
	}
	b.WriteString(p.Sprintf("verdict: %s (failed: %d, warnings: %d, checks: %d)\n", label(r.Verdict), r.Failed, r.Warnings, len(r.Results)))
	_, err := io.WriteString(w, b.String())
	return err
}
