package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/client/warm"
)

// newWarm returns `gomirror warm`: fetch everything a project needs through
// a mirror, so that the mirror can serve it later on its own.
func newWarm() *cobra.Command {
	var (
		mirror  string
		jobs    int
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "warm --mirror URL [go.mod | module@version ...]",
		Short: "Fetch every module a project needs through a mirror, so the mirror has it stored",
		Long: `Fetch through the mirror at --mirror every module file a project needs, so
that it is stored there and the project builds from the mirror alone later.

With a go.mod file (./go.mod if no argument is given), the go command, pointed
at the mirror, resolves the project's module graph, without changing the
project's go.mod or go.sum: every module in the requirement graph gets its
.info and .mod fetched (including modules only whose go.mod is read), and
every module in the build list its .zip too. With module@version arguments,
the same is done for a main module requiring them.

Each file is fetched with a plain GET of URL/<module>/@v/<version>.info|.mod|.zip,
--jobs at a time. Progress goes to standard error (a bar on a terminal, a
line now and then otherwise); the summary, with every failure and its reason,
to standard output. The exit status is 1 if anything failed.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if mirror == "" {
				return errors.New("give the mirror URL with --mirror")
			}
			u, err := url.Parse(mirror)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("--mirror %q: want an http or https URL", mirror)
			}
			if jobs < 1 {
				return fmt.Errorf("--jobs %d: want at least 1", jobs)
			}
			var gomods, mods int
			for _, a := range args {
				if strings.Contains(a, "@") {
					mods++
				} else {
					gomods++
				}
			}
			if gomods > 1 || gomods == 1 && mods > 0 {
				return errors.New("give one go.mod file, or module@version arguments")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			gomod := "go.mod"
			var mods []string
			if len(args) > 0 {
				if strings.Contains(args[0], "@") {
					gomod, mods = "", args
				} else {
					gomod = args[0]
				}
			}
			what := gomod
			if gomod == "" {
				what = strings.Join(mods, " ")
			}
			fmt.Fprintf(stderr, "resolving the module graph of %s through %s\n", what, mirror)
			plan, err := warm.Resolve(ctx, golist.GoCommand{}, mirror, gomod, mods)
			if err != nil {
				return fmt.Errorf("resolving the module graph: %v", err)
			}
			fmt.Fprintf(stderr, "fetching %d files of %d modules, %d at a time\n", len(plan.Fetches), len(plan.Modules), jobs)
			progress := &warm.Reporter{W: stderr, Total: len(plan.Fetches), TTY: isTerminal(stderr)}
			sum := warm.Run(ctx, &http.Client{}, mirror, plan, jobs, progress)
			fmt.Fprintf(stdout, "modules: %d\nfiles fetched: %d\nbytes: %d (%s)\nfailures: %d\n",
				sum.Modules, sum.Files, sum.Bytes, warm.Bytes(sum.Bytes), len(sum.Failures))
			for _, f := range sum.Failures {
				fmt.Fprintf(stdout, "  %s: %s\n", f.Fetch, f.Reason)
			}
			if n := len(sum.Failures); n > 0 {
				return fmt.Errorf("%d of %d files could not be fetched", n, len(plan.Fetches))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&mirror, "mirror", "", "the mirror's URL (required), as in GOPROXY")
	f.IntVar(&jobs, "jobs", 8, "files fetched at the same time")
	f.DurationVar(&timeout, "timeout", 0, "time limit for the whole warm (0: none)")
	return cmd
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
