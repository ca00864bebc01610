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
	)
	cmd := &cobra.Command{
		Use:   "doctor [--json] [--timeout D] [--slow D] [--probe-module PATH] [--lag-modules M,...] [--compare URL,...]",
		Short: "Check the go command's settings and the module proxies it uses",
		Long: `Check this machine's go command settings (read with go version and
go env -json) and its route to every proxy in GOPROXY, and print a verdict
per check, ok, warn or fail, with a fix for every problem:

  - the go version (warn below go1.21);
  - GOPROXY syntax, "off", a missing direct fallback; GOPRIVATE against
    GONOSUMDB and GONOPROXY; GOINSECURE; GOSUMDB=off; GOFLAGS;
  - HTTP_PROXY, HTTPS_PROXY and NO_PROXY;
  - for every proxy: DNS, TCP connect, TLS handshake (naming an unknown
    authority, a self-signed certificate, a hostname mismatch or an expired
    certificate) and GET <proxy>/<probe module>/@v/list, each with its
    latency;
  - the checksum database through every proxy that says it serves it
    (<proxy>/sumdb/<name>/supported): the signed tree head (latest),
    verified with the GOSUMDB key (for a bare name, the key the go command
    knows); one lookup of the probe module's newest version, its record
    and its tree head; and the tiles that prove the record in the signed
    tree. A proxy whose upstream is off or broken fails here, naming the
    step;
  - lag: with two or more proxies in GOPROXY (or --compare URLs), the
    version lists of the probe module and --lag-modules from each; a proxy
    whose list lacks versions another lists is a warning naming them;
  - the module cache (GOMODCACHE): creatable, writable, free space.

When the first proxy in GOPROXY is slow or failing, doctor suggests
gomirror setup --fastest. Output is in Chinese under a zh locale
(LANG=zh_CN.UTF-8) or with --lang zh; --json is always English.

Every network step has its own --timeout; a step slower than --slow is a
warning. Exit status 1 if any check fails.`,
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
	f.BoolVar(&asJSON, "json", false, "print a JSON report instead of text")
	f.StringVar(&probe, "probe-module", setup.DefaultProbeModule, "module whose version list the protocol check asks for")
	f.StringSliceVar(&lagModules, "lag-modules", doctor.DefaultLagModules(), "modules, besides the probe module, whose version lists are compared across proxies")
	f.StringSliceVar(&compare, "compare", nil, "proxy URLs to compare GOPROXY's version lists with (references, not reported on)")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "time limit for each check step")
	f.DurationVar(&slow, "slow", 2*time.Second, "a step slower than this is a warning")
	return cmd
}
