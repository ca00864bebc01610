package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/server"
	"github.com/gomirror/gomirror/verify"
)

// exit ends the process with a status; tests replace it.
var exit = os.Exit

// errCorrupt is returned when verify found corrupt artifacts: main exits 1.
var errCorrupt = errors.New("corrupt artifacts found")

// newVerify returns `gomirror verify`: re-check every stored artifact.
func newVerify() *cobra.Command {
	defaults := config.Defaults()
	var (
		configFile string
		asJSON     bool
		repair     bool
		workers    int
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Re-check every stored artifact against the checksum database",
		Long: `Re-check every module artifact in the storage directory.

A .zip must be a valid module zip and a .mod must hash as the checksum
database says (lookups and tiles stored by the server are used first, so this
works mostly offline, also with --upstream off); modules exempt from the
database (nosumdb, private) are compared with the hash recorded when they were
stored. A .info must name the version in its file name.

It takes the same settings as serve (--config, GOMIRROR_* variables, flags).
It prints one line per bad artifact,

	corrupt <key>: <reason>
	unverifiable <key>: <reason>

then the summary

	verified N artifacts: ok A, corrupt C, unverifiable U

or, with --json, one JSON object. --repair deletes the corrupt artifacts
(printing "repaired <key>"), so that the next request fetches them again.

Exit status: 0 if nothing is corrupt (unverifiable artifacts are reported but
do not fail), 1 if something is corrupt (also after --repair), 2 for a usage
or configuration error.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError(cmd, fmt.Errorf("verify takes no arguments, got %q", args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if configFile == "" {
				configFile = os.Getenv("GOMIRROR_CONFIG")
			}
			if workers < 1 {
				return usageError(cmd, fmt.Errorf("--workers must be at least 1, not %d", workers))
			}
			cfg, err := config.LoadServe(config.Sources{File: configFile, Env: os.LookupEnv, Flags: cmd.Flags()}, goEnv(cmd.Context()))
			if err != nil {
				return usageError(cmd, err)
			}
			opts, err := verify.FromConfig(cfg, server.NewLogger(cmd.ErrOrStderr(), cfg))
			if err != nil {
				return usageError(cmd, err)
			}
			opts.Workers, opts.Repair = workers, repair
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, runErr := verify.Run(ctx, opts)
			if rep != nil {
				out := cmd.OutOrStdout()
				if asJSON {
					err = rep.WriteJSON(out)
				} else {
					err = rep.WriteText(out)
				}
				if err != nil {
					return err
				}
			}
			switch {
			case runErr != nil:
				return runErr
			case len(rep.Corrupt) > 0:
				return fmt.Errorf("%w: %d", errCorrupt, len(rep.Corrupt))
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(usageError)
	cmd.Flags().StringVar(&configFile, "config", "", "YAML config file, as for serve (env GOMIRROR_CONFIG)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	cmd.Flags().BoolVar(&repair, "repair", false, "delete corrupt artifacts so that the next request fetches them again")
	cmd.Flags().IntVar(&workers, "workers", 4, "artifacts checked at once")
	config.RegisterFlags(cmd.Flags(), &defaults)
	return cmd
}

// usageError reports a usage or configuration error on one line and ends
// the process with status 2; the error is returned for when exit does not
// end it (tests).
func usageError(cmd *cobra.Command, err error) error {
	fmt.Fprintln(cmd.ErrOrStderr(), "gomirror:", errorPrinter(cmd).Error(flagError(err)))
	exit(2)
	return err
}
