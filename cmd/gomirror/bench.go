package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/mirrorbench"
	"github.com/gomirror/gomirror/client/mirrors"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
)

// newBench returns `gomirror bench`: compare module mirrors side by side.
func newBench() *cobra.Command {
	var (
		modules []string
		samples int
		timeout time.Duration
		asJSON  bool
		catFile string
	)
	var defaults []string
	for _, m := range mirrorbench.DefaultModules {
		defaults = append(defaults, m.String())
	}
	cmd := &cobra.Command{
		Use:   "bench [--modules PATH@VERSION,...] [--samples N] [--timeout D] [--json] [--catalogue FILE] [URL...]",
		Short: "Compare module mirrors: success rate, latency and zip throughput",
		Long: `Compare the module mirrors at the URLs, or with no URL the public mirrors of the
catalogue (see below): for each of --samples samples and each
module version in --modules, GET its version list, .info, .mod and .zip from
every mirror, one request at a time, the mirrors taking turns (the first one
rotating) so that changing network conditions hit them all alike.

A request succeeds when it answers 2xx with a plausible body (a version list,
.info naming the version, a go.mod naming the module, a zip of the module);
each has a time limit of --timeout. The table shows per mirror the success
rate, the median and 95th percentile latency of the successful list, .info
and .mod requests, and the zip throughput in MB/s; --json prints the same
data as JSON.

The mirrors are ranked by the highest success rate, then the lowest sum of
the .info and .mod medians (within 5% counts as equal), then the highest
zip throughput; the recommendation is the first. A mirror that answered
nothing successfully is never recommended. Bodies are bounded (list and
.mod 1 MiB, .info 64 KiB, .zip 500 MiB, read as a stream): a larger one is
a failed request.

With no URL, the mirrors compared are those of the catalogue: the go
command's own default proxy ("official default", read from the go command
with GOTOOLCHAIN=local), then the public mirrors built into gomirror (the
table names them), or those of --catalogue FILE instead, then the changes of
the user's file ` + "`" + `$XDG_CONFIG_HOME/gomirror/mirrors.yaml` + "`" + `
(os.UserConfigDir): an entry with the id of an earlier one replaces it,
"disabled: true" removes it ("id: official" is the go command's default,
which then needs no go command; with no go command on PATH it is left out
with a warning), and a URL given twice is measured once
(the later entry describes it). A mirror whose requests fail ` + strconv.Itoa(mirrorbench.CatalogueMaxFailures) + ` times in a
row is given up on for the rest of the run. See docs/client-tools.md for the
file's format.

Exit status: 0 when a mirror is recommended; 1 for a usage error or when no
mirror answered any request successfully (the report is printed first).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			p, err := printer(cmd)
			if err != nil {
				return err
			}
			mods, err := mirrorbench.ParseModules(modules)
			if err != nil {
				return i18n.Errorf("--modules: %v", err)
			}
			if samples < 1 {
				return i18n.Errorf("--samples %s: want at least 1", fmt.Sprint(samples))
			}
			if timeout <= 0 {
				return i18n.Errorf("--timeout %s: want a positive duration", timeout.String())
			}
			cfg := mirrorbench.Config{Mirrors: args, Modules: mods, Samples: samples, Timeout: timeout}
			if len(args) == 0 {
				cat, err := mirrors.Load(ctx, gocmd.Cmd{}, mirrors.Sources{Catalogue: catFile, User: mirrors.UserFile()})
				if err != nil {
					return err
				}
				for _, w := range cat.Warnings {
					p.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
				}
				cfg.Mirrors = cat.URLs()
				for _, m := range cat.Mirrors {
					cfg.IDs = append(cfg.IDs, m.ID)
					cfg.Names = append(cfg.Names, m.Title(i18n.English()))
					cfg.Titles = append(cfg.Titles, m.Title(p))
				}
				cfg.MaxFailures = mirrorbench.CatalogueMaxFailures
			} else if catFile != "" {
				return i18n.Errorf("--catalogue goes with no URL")
			}
			for _, u := range cfg.Mirrors {
				if _, err := mirrorbench.NormalizeURL(u); err != nil {
					return err
				}
			}
			stderr := cmd.ErrOrStderr()
			p.Fprintf(stderr, "benchmarking %s mirrors: %s samples of %s\n", fmt.Sprint(len(cfg.Mirrors)), fmt.Sprint(samples), strings.Join(modules, ", "))
			cfg.Progress = func(i, n int) {
				p.Fprintf(stderr, "sample %s/%s done\n", fmt.Sprint(i), fmt.Sprint(n))
			}
			rep, err := mirrorbench.Run(ctx, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep.Redacted()); err != nil {
					return err
				}
			} else if err := rep.WriteTable(out, p); err != nil {
				return err
			}
			if rep.Best == "" {
				return i18n.Errorf("no mirror to recommend: %v", rep.ReasonText)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&modules, "modules", defaults, "module versions to fetch, as path@version, comma-separated")
	f.IntVar(&samples, "samples", mirrorbench.DefaultSamples, "how many times to fetch each artifact from each mirror")
	f.DurationVar(&timeout, "timeout", mirrorbench.DefaultTimeout, "time limit for one request")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	f.StringVar(&catFile, "catalogue", "", "with no URL: compare the mirrors of this catalogue file instead of the built-in one")
	return cmd
}
