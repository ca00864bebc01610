package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/doctor"
	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/internal/gocmd"
)

// newDoctor returns `gomirror doctor`: check this machine's go settings and
// its route to the module proxies.
func newDoctor() *cobra.Command {
	var (
		asJSON        bool
		probe         string
		timeout, slow time.Duration
	)
	cmd := &cobra.Command{
		Use:   "doctor [--json] [--timeout D] [--slow D] [--probe-module PATH]",
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
    latency; then <proxy>/sumdb/<GOSUMDB name>/supported;
  - the module cache (GOMODCACHE): creatable, writable, free space.

Every network step has its own --timeout; a step slower than --slow is a
warning. Exit status 1 if any check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			rep := doctor.Run(ctx, doctor.Options{
				Go:          gocmd.Cmd{},
				ProbeModule: probe,
				Timeout:     timeout,
				Slow:        slow,
			})
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else if err := doctor.WriteText(out, rep); err != nil {
				return err
			}
			if rep.Failed > 0 {
				return fmt.Errorf("doctor: %d check(s) failed", rep.Failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print a JSON report instead of text")
	f.StringVar(&probe, "probe-module", setup.DefaultProbeModule, "module whose version list the protocol check asks for")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "time limit for each check step")
	f.DurationVar(&slow, "slow", 2*time.Second, "a step slower than this is a warning")
	return cmd
}
