// Command gomirror is a self-hosted Go module mirror.
//
//	gomirror serve [flags]              run the mirror (see gomirror serve --help)
//	gomirror verify [--repair] [flags]  re-check every stored artifact
//	gomirror token add|list|revoke      manage client tokens
//	gomirror audit|stats                 query the audit log and download statistics
//	gomirror index rebuild               recreate the catalog from storage
//	gomirror setup|doctor|explain|bench|warm   client tools (see each --help)
//	gomirror policy check|explain        check a project against the dependency policy (CI gate)
//	gomirror snapshot create|list|show|diff|delete|export|import   snapshots (/snapshots/NAME/)
//	gomirror env list|show|promote|rollback   environments (/env/NAME/)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/server"
)

func main() {
	// Every command's context ends at SIGINT or SIGTERM, so that what it
	// started (a go command, temporary directories) is stopped and cleaned
	// up before it exits; a second signal while it does so is caught too
	// (the go command is killed when its context ends, so that is quick).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	cmd, err := newRoot().ExecuteContextC(ctx)
	stop()
	if code, msg := exitStatus(err, errorPrinter(cmd)); code != 0 {
		fmt.Fprint(os.Stderr, msg)
		os.Exit(code)
	}
}

// exitStatus is the exit status of a command that returned err, and what
// it prints on standard error ("" or a line), in p's language.
func exitStatus(err error, p *i18n.Printer) (code int, msg string) {
	if err == nil {
		return 0, ""
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		if ec.err != nil {
			msg = "gomirror: " + p.Error(ec.err) + "\n"
		}
		return ec.code, msg
	}
	return 1, "gomirror: " + p.Error(err) + "\n"
}

// errorPrinter is the printer of the error cmd ended with: the language
// it ran in (the locale's when its --lang was not valid).
func errorPrinter(cmd *cobra.Command) *i18n.Printer {
	if p, err := printer(cmd); err == nil {
		return p
	}
	tag, _ := i18n.Lang("", os.Getenv) // never fails without a flag
	return i18n.NewPrinter(tag)
}

// exitCodeError ends the command with exit status code, printing err if
// it is not nil (a command that has printed its result returns one with a
// nil err).
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCodeError) Unwrap() error { return e.err }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "gomirror",
		Short:         "A self-hosted Go module mirror",
		SilenceUsage:  true,
		SilenceErrors: true,
		// An unsupported --lang is refused by every command, not only by
		// those that print texts.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			_, err := printer(cmd)
			return err
		},
	}
	root.PersistentFlags().String(langFlag, "", "language of the client tools' output: en or zh (default: from LC_ALL, LC_MESSAGES or LANG)")
	localizeHelp(root)
	root.AddCommand(newServe(), newToken(), newVerify(), newSetup(), newExplain(), newWarm(), newGraph(), newBench(), newDoctor(), newAudit(), newStats(), newIndex(), newPolicy(), newSnapshot(), newEnv(), newGC(), newBundle())
	return root
}

func newServe() *cobra.Command {
	defaults := config.Defaults()
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the module mirror (a GOPROXY server)",
		Long: `Run the module mirror: a GOPROXY server that stores every artifact it serves
and verifies every module against the checksum database.

Every setting is also a YAML key in --config and an environment variable
GOMIRROR_<NAME> (upper case, '-' as '_'); flags win over the environment,
which wins over the file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if configFile == "" {
				configFile = os.Getenv("GOMIRROR_CONFIG")
			}
			cfg, err := config.LoadServe(config.Sources{File: configFile, Env: os.LookupEnv, Flags: cmd.Flags()}, goEnv(cmd.Context()))
			if err != nil {
				return err
			}
			// Log lines (one per request) leave the request path: they
			// are written out by one goroutine, all of them by the time
			// serve returns.
			lw := obs.NewLogWriter(os.Stderr)
			defer lw.Close()
			log := server.NewLogger(lw, cfg)
			srv, err := server.New(cfg, log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return srv.Run(ctx, nil)
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "YAML config file (env GOMIRROR_CONFIG)")
	config.RegisterFlags(cmd.Flags(), &defaults)
	return cmd
}

// goEnv asks the go command for variables, for config.LoadServe. An
// argument of the form K=V is set in the go command's environment instead
// of being asked for.
func goEnv(ctx context.Context) func(vars ...string) (map[string]string, error) {
	return func(vars ...string) (map[string]string, error) {
		var ask, env []string
		for _, v := range vars {
			if strings.Contains(v, "=") {
				env = append(env, v)
			} else {
				ask = append(ask, v)
			}
		}
		return gocmd.Cmd{Environ: gocmd.WithEnv(nil, env...)}.Env(ctx, ask...)
	}
}
