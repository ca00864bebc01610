package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/doctor"
	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
)

// newDoctor returns `gomirror doctor`: check this machine's go settings and
// its route to the module proxies.
func newDoctor() *cobra.Command {
	var (
		asJSON        bool
		probe         string
		lagModules    []string
		compare       []string
		timeout, slow time.Duration
		lagGrace      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "doctor [--json] [--timeout D] [--slow D] [--probe-module PATH] [--lag-modules M,...] [--compare URL,...] [--lag-grace D]",
		Short: "Check the go command's settings and the module proxies it uses",
		Long: `Check this machine's go command settings (read with go version and
go env -json) and its route to every proxy in GOPROXY, and print a verdict
per check, ok, warn or fail, with a fix for every problem:

  - the go version (warn below go1.21);
  - GOPROXY syntax, "off", a missing direct fallback; GOPRIVATE against
    GONOSUMDB and GONOPROXY; GOINSECURE; GOSUMDB (off, or a name the go
    command knows no key for); GOFLAGS;
  - HTTP_PROXY, HTTPS_PROXY and NO_PROXY;
  - for every proxy: DNS, TCP connect, TLS handshake (naming an unknown
    authority, a self-signed certificate, a hostname mismatch or an expired
    certificate) and GET <proxy>/<probe module>/@v/list, each with its
    latency;
  - the checksum database through every proxy that says it serves it
    (<proxy>/sumdb/<name>/supported), checked with the go command's own
    client as a go command with an empty go.sum uses it: the lookup of the
    probe module's newest release (its tree head verified with the GOSUMDB
    key; for a bare name, the key the go command knows) and the tiles that
    prove its record in that signed tree. A proxy whose upstream is off or
    broken fails here, naming the step. Then latest, which the go command
    never reads through a proxy: a failure is a warning; two signed trees
    that contradict each other fail. A probe module covered by GONOSUMDB or
    GOPRIVATE is not looked up; one the proxy does not hold (its list is
    404, e.g. a mirror with its upstream off that never fetched it) leaves
    the lookup unchecked, a warning that says so;
  - lag: with two or more proxies in GOPROXY (or --compare URLs), the
    version lists of the probe module and --lag-modules from each (modules
    covered by GONOPROXY or GOPRIVATE are skipped); a proxy whose list lacks
    releases another lists, published more than --lag-grace ago, is a
    warning naming them. With one proxy and no --compare, doctor says lag
    was not checked;
  - the module cache (GOMODCACHE): creatable, writable, free space.

When the first proxy in GOPROXY is slow, failing or lagging, doctor
suggests gomirror setup --fastest (not for a warning on latest alone). Proxy URLs are shown without their
password. Output is in Chinese under a zh locale (LANG=zh_CN.UTF-8) or
with --lang zh; --json is always English.

Every network step has its own --timeout; a step slower than --slow is a
warning. Exit status 1 if any check fails; 0 when every check is ok or
only warns.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			p, err := printer(cmd)
			if err != nil {
				return err
			}
			rep := doctor.Run(ctx, doctor.Options{
				Go:          gocmd.Cmd{},
				ProbeModule: probe,
				Timeout:     timeout,
				Slow:        slow,
				LagModules:  lagModules,
				Compare:     compare,
				LagGrace:    lagGrace,
			})
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := doctor.WriteText(out, p, rep); err != nil {
				return err
			}
			if rep.Failed > 0 {
				return i18n.Errorf("doctor: checks failed: %d", rep.Failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the doctor report as JSON (always English) instead of text")
	f.StringVar(&probe, "probe-module", setup.DefaultProbeModule, "module whose version list the protocol check asks for")
	f.StringSliceVar(&lagModules, "lag-modules", doctor.DefaultLagModules(), "modules, besides the probe module, whose version lists are compared across proxies")
	f.StringSliceVar(&compare, "compare", nil, "proxy URLs to compare GOPROXY's version lists with (references, not reported on)")
	f.DurationVar(&lagGrace, "lag-grace", time.Hour, "a version another proxy lists counts as missing only when published longer ago than this")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "time limit for each check step")
	f.DurationVar(&slow, "slow", 2*time.Second, "a step slower than this is a warning")
	return cmd
}
