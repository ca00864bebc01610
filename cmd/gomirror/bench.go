package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/mirrorbench"
)

// newBench returns `gomirror bench`: compare module mirrors side by side.
func newBench() *cobra.Command {
	var (
		modules []string
		samples int
		timeout time.Duration
		asJSON  bool
	)
	var defaults []string
	for _, m := range mirrorbench.DefaultModules {
		defaults = append(defaults, m.String())
	}
	cmd := &cobra.Command{
		Use:   "bench [--modules PATH@VERSION,...] [--samples N] [--timeout D] [--json] URL...",
		Short: "Compare module mirrors: success rate, latency and zip throughput",
		Long: `Compare the module mirrors at the URLs: for each of --samples samples and each
module version in --modules, GET its version list, .info, .mod and .zip from
every mirror, one request at a time, the mirrors taking turns (the first one
rotating) so that changing network conditions hit them all alike.

A request succeeds when it answers 2xx with a plausible body (a version list,
.info naming the version, a go.mod naming the module, a zip of the module);
each has a time limit of --timeout. The table shows per mirror the success
rate, the median and 95th percentile latency of the successful list, .info
and .mod requests, and the zip throughput in MB/s; --json prints the same
data as JSON.

The recommendation is the mirror with the highest success rate, then the
lowest sum of the .info and .mod medians (within 5% counts as equal), then
the highest zip throughput. A mirror that answered nothing successfully is
never recommended.

Exit status: 0 when a mirror is recommended; 1 for a usage error or when no
mirror answered any request successfully (the report is printed first).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			mods, err := mirrorbench.ParseModules(modules)
			if err != nil {
				return fmt.Errorf("--modules: %v", err)
			}
			if samples < 1 {
				return fmt.Errorf("--samples %d: want at least 1", samples)
			}
			if timeout <= 0 {
				return fmt.Errorf("--timeout %v: want a positive duration", timeout)
			}
			for _, u := range args {
				if _, err := mirrorbench.NormalizeURL(u); err != nil {
					return err
				}
			}
			stderr := cmd.ErrOrStderr()
			fmt.Fprintf(stderr, "benchmarking %d mirrors: %d samples of %s\n", len(args), samples, strings.Join(modules, ", "))
			rep, err := mirrorbench.Run(ctx, mirrorbench.Config{
				Mirrors: args,
				Modules: mods,
				Samples: samples,
				Timeout: timeout,
				Progress: func(i, n int) {
					fmt.Fprintf(stderr, "sample %d/%d done\n", i, n)
				},
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := rep.WriteTable(out); err != nil {
				return err
			}
			if rep.Best == "" {
				return errors.New("no mirror to recommend: " + rep.Reason)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&modules, "modules", defaults, "module versions to fetch, as path@version, comma-separated")
	f.IntVar(&samples, "samples", mirrorbench.DefaultSamples, "how many times to fetch each artifact from each mirror")
	f.DurationVar(&timeout, "timeout", mirrorbench.DefaultTimeout, "time limit for one request")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}
