package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/internal/gocmd"
)

// newSetup returns `gomirror setup`: point the go command at a mirror, or
// print the settings for CI, or undo.
func newSetup() *cobra.Command {
	var (
		sumdb, private, nosumdb, noproxy string
		probe, shell                     string
		undo, print, noCheck             bool
		timeout                          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "setup [--sumdb DB] [--private PATTERNS] [--nosumdb PATTERNS] [--noproxy PATTERNS] URL | --print [--shell sh|fish|powershell] URL | --undo",
		Short: "Point the go command at a mirror (go env -w GOPROXY=URL), or undo that",
		Long: `Point the go command at the mirror at URL: check that URL answers the module
proxy protocol, save the current settings, then run

	go env -w GOPROXY=URL [GOSUMDB=... GOPRIVATE=... GONOSUMDB=... GONOPROXY=...]

(the other variables only when their flag is given). The go command writes
them to the file GOENV names (see go env GOENV); the settings from before the
first setup are saved next to it, in ` + setup.StateFileName + `, until
'gomirror setup --undo' puts them back: variables the GOENV file set get their
old values, the others are removed from it. Running setup again before undo
keeps the original saved settings.

The check is GET URL/<probe module>/@v/list: a 200 with a plain-text version
list, or a 404 or 410 with a plain-text message, is a module proxy; anything
else (no answer, a TLS error, 5xx, an HTML page) is refused and nothing is
changed. --no-check skips it.

With --print, nothing is changed: the settings are printed as commands for
the shell given with --shell, for CI, e.g. eval "$(gomirror setup --print URL)".`,
		Args: func(cmd *cobra.Command, args []string) error {
			if undo {
				return cobra.NoArgs(cmd, args)
			}
			if len(args) != 1 {
				return errors.New("give the mirror URL (or --undo)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			goCmd := gocmd.Cmd{Stderr: cmd.ErrOrStderr()}
			stderr := cmd.ErrOrStderr()

			if undo {
				for _, f := range []string{"sumdb", "private", "nosumdb", "noproxy", "probe-module", "no-check", "print", "shell", "timeout"} {
					if cmd.Flags().Changed(f) {
						return fmt.Errorf("--undo takes no other flags (got --%s)", f)
					}
				}
				res, state, err := setup.Undo(ctx, goCmd)
				if errors.Is(err, setup.ErrNoState) {
					return fmt.Errorf("nothing to undo: %v (gomirror setup has not changed this GOENV file, or it was undone already)", err)
				}
				if err != nil {
					return err
				}
				for _, k := range setup.Keys {
					v, ok := state.Vars[k]
					if !ok {
						continue
					}
					if v.InFile {
						fmt.Fprintf(stderr, "%s restored to %q in %s\n", k, v.Value, res.GOENV)
					} else {
						fmt.Fprintf(stderr, "%s removed from %s (now %q)\n", k, res.GOENV, res.Effective[k])
					}
				}
				return nil
			}

			extra := map[string]string{}
			for _, x := range []struct{ flag, key, val string }{
				{"sumdb", "GOSUMDB", sumdb},
				{"private", "GOPRIVATE", private},
				{"nosumdb", "GONOSUMDB", nosumdb},
				{"noproxy", "GONOPROXY", noproxy},
			} {
				if cmd.Flags().Changed(x.flag) {
					extra[x.key] = x.val
				}
			}
			settings, err := setup.Settings(args[0], extra)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("shell") && !print {
				return errors.New("--shell goes with --print")
			}
			if print {
				// Refuse an unknown shell before any network traffic.
				if _, err := setup.Exports(shell, []setup.Setting{{Key: "GOPROXY"}}); err != nil {
					return err
				}
			}
			if !noCheck {
				cctx, cancel := context.WithTimeout(ctx, timeout)
				err := setup.Check(cctx, &http.Client{}, settings[0].Value, probe)
				cancel()
				if err != nil {
					return fmt.Errorf("%v; nothing changed (--no-check skips this check)", err)
				}
			}
			if print {
				out, err := setup.Exports(shell, settings)
				if err != nil {
					return err
				}
				fmt.Fprint(cmd.OutOrStdout(), out)
				return nil
			}
			res, err := setup.Apply(ctx, goCmd, settings)
			if err != nil {
				return err
			}
			for _, s := range settings {
				fmt.Fprintf(stderr, "%s=%s written to %s\n", s.Key, s.Value, res.GOENV)
				if eff := res.Effective[s.Key]; eff != s.Value {
					fmt.Fprintf(stderr, "  but the environment variable %s=%s overrides it\n", s.Key, eff)
				}
			}
			if res.Kept {
				fmt.Fprintf(stderr, "The settings from before the first setup stay saved in %s; undo with: gomirror setup --undo\n", res.StateFile)
			} else {
				fmt.Fprintf(stderr, "The previous settings are saved in %s; undo with: gomirror setup --undo\n", res.StateFile)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&sumdb, "sumdb", "", "also set GOSUMDB")
	f.StringVar(&private, "private", "", "also set GOPRIVATE")
	f.StringVar(&nosumdb, "nosumdb", "", "also set GONOSUMDB")
	f.StringVar(&noproxy, "noproxy", "", "also set GONOPROXY")
	f.StringVar(&probe, "probe-module", setup.DefaultProbeModule, "module whose version list the check asks for")
	f.BoolVar(&noCheck, "no-check", false, "do not check that URL is a module proxy")
	f.DurationVar(&timeout, "timeout", 10*time.Second, "time limit for the check")
	f.BoolVar(&print, "print", false, "print shell commands setting the variables instead of changing anything")
	f.StringVar(&shell, "shell", "sh", "shell for --print: sh, fish or powershell")
	f.BoolVar(&undo, "undo", false, "restore the settings from before the first setup")
	return cmd
}
