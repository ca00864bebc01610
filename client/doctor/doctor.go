package doctor

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/internal/gocmd"
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
	Problem string `json:"problem,omitempty"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
	Steps   []Step `json:"steps,omitempty"`
}

// Step is one step of a connection check.
type Step struct {
	Name      string  `json:"name"` // dns, tcp, tls, protocol, sumdb
	Status    Status  `json:"status"`
	Skipped   bool    `json:"skipped,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
	Detail    string  `json:"detail"`

	latency time.Duration
}

// Report is the outcome of Run.
type Report struct {
	Verdict  Status            `json:"verdict"`
	Failed   int               `json:"failed"`
	Warnings int               `json:"warnings"`
	GoEnv    map[string]string `json:"go_env,omitempty"`
	Results  []Result          `json:"results"`
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
}

// EnvKeys are the go env variables Run reads.
var EnvKeys = []string{"GOPROXY", "GOSUMDB", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOINSECURE", "GOFLAGS", "GOMODCACHE", "GOENV", "GOVERSION"}

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
			Message: fmt.Sprintf("cannot run the go command: %v", err),
			Fix:     "Install Go (https://go.dev/dl/) and put its bin directory on PATH."})
		return finish(nil, res)
	}
	add(checkVersion(strings.TrimSpace(string(out))))

	ectx, cancel := context.WithTimeout(ctx, opts.Timeout)
	env, err := gocmd.Env(ectx, opts.Go, EnvKeys...)
	cancel()
	if err != nil {
		add(Result{Check: "go-env", Status: Fail, Problem: "go-env",
			Message: fmt.Sprintf("cannot read go env: %v", err),
			Fix:     "Run go env yourself and fix what it complains about (often a bad line in the file go env GOENV names)."})
		return finish(nil, res)
	}

	proxies, pres := checkGOPROXY(env["GOPROXY"])
	add(pres...)
	add(checkPrivate(env)...)
	add(checkInsecure(env, opts.ProbeModule))
	add(checkSumDB(env["GOSUMDB"]))
	add(checkGOFLAGS(env["GOFLAGS"])...)
	add(checkHTTPProxy(opts.Getenv, proxies))

	// Connection checks, in parallel, reported in GOPROXY order.
	sumdbName := sumDBName(env["GOSUMDB"])
	conn := make([][]Result, len(proxies))
	var wg sync.WaitGroup
	for i, p := range proxies {
		wg.Go(func() { conn[i] = checkProxy(ctx, &opts, p, sumdbName) })
	}
	wg.Wait()
	for _, c := range conn {
		add(c...)
	}
	add(checkModCache(env["GOMODCACHE"]))
	return finish(env, res)
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

// WriteText prints the report for people.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, x := range r.Results {
		name := x.Check
		if x.Target != "" {
			name += " " + x.Target
		}
		fmt.Fprintf(&b, "%-4s  %s: %s\n", x.Status, name, x.Message)
		for _, s := range x.Steps {
			st := string(s.Status)
			lat := fmt.Sprintf("%8.1fms", s.LatencyMS)
			if s.Skipped {
				st, lat = "skip", fmt.Sprintf("%10s", "")
			}
			fmt.Fprintf(&b, "        %-8s %-4s %s  %s\n", s.Name, st, lat, s.Detail)
		}
		if x.Fix != "" {
			fmt.Fprintf(&b, "      fix: %s\n", x.Fix)
		}
	}
	fmt.Fprintf(&b, "verdict: %s (%d failed, %d warnings, %d checks)\n", r.Verdict, r.Failed, r.Warnings, len(r.Results))
	_, err := io.WriteString(w, b.String())
	return err
}
