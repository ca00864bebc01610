package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/client/warm"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/internal/tty"
	"github.com/gomirror/gomirror/sumdb"
)

// warmLong is warm's Long help text (a key of the catalogue, translated
// as it is).
const warmLong = `Fetch through the mirror at --mirror every module file a project needs, so
that it is stored there and the project builds from the mirror alone later
(gomirror serve --upstream off).

With a go.mod file (./go.mod if no argument is given), the go command, pointed
at the mirror, resolves the project's module graph, without changing the
project's go.mod or go.sum: every module in the requirement graph (go mod
graph) gets its .info and .mod fetched, and the modules the build downloads
get their .zip too: those whose packages go build ./... and go test ./... of
the project load (as with GOFLAGS=-mod=mod, so also a module that a go.mod
that is not tidy lacks) and those go mod download fetches. With --all, the
.zip of every module of the build list (go list -m all) is fetched as well;
the upstream's refusal (403, 404, 410) of one of those extra zips is a
warning, listed in the summary, not a failure. With module@version
arguments, the same is done for a main module requiring them (their zips
are the ones needed).

With --sumdb, the checksum database lookups of every module version of the
graph, and the tiles that prove them, are fetched through the mirror too
(<mirror>/sumdb/<name>/lookup/..., tile/...), as the go command asks for
them with an empty go.sum and module cache; the database is the one
go env GOSUMDB names (an alias of it as the go command maps it), less the
paths of GONOSUMDB. If the go command here already holds a tree of that
database ($GOPATH/pkg/sumdb/<name>/latest), the lookups are also proven
consistent with that tree, which asks for more tiles. A client with an
empty go.sum, and either no checksum database state or this machine's,
then builds the project through the mirror with its upstream off.

Each file is fetched with a plain GET of URL/<module>/@v/<version>.info|.mod|.zip,
--jobs at a time. Progress goes to standard error (a bar on a terminal, a
line now and then otherwise); the summary, with every failure and warning and
its reason, to standard output. The exit status is 1 if a file the build
needs could not be fetched or a lookup failed, 0 if only warnings.`

// newWarm returns `gomirror warm`: fetch everything a project needs through
// a mirror, so that the mirror can serve it later on its own.
func newWarm() *cobra.Command {
	var (
		mirror  string
		jobs    int
		timeout time.Duration
		all     bool
		withSum bool
	)
	cmd := &cobra.Command{
		Use:   "warm --mirror URL [--all] [--sumdb] [go.mod | module@version ...]",
		Short: "Fetch every module a project needs through a mirror, so the mirror has it stored",
		Long:  warmLong,
		Args: func(cmd *cobra.Command, args []string) error {
			if mirror == "" {
				return i18n.Errorf("give the mirror URL with --mirror")
			}
			u, err := url.Parse(mirror)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return i18n.Errorf("--mirror %q: want an http or https URL", redact.URL(mirror))
			}
			if jobs < 1 {
				return i18n.Errorf("--jobs %v: want at least 1", strconv.Itoa(jobs))
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
				return i18n.Errorf("give one go.mod file, or module@version arguments")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := printer(cmd)
			if err != nil {
				return err
			}
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
			// The checksum database first: a --sumdb that cannot work
			// fails before anything is fetched.
			var db *sumdb.DB
			var exempt func(string) bool
			var latest []byte
			if withSum {
				if db, exempt, latest, err = clientSumDB(ctx); err != nil {
					return err
				}
			}
			what := gomod
			if gomod == "" {
				what = strings.Join(mods, " ")
			}
			p.Fprintf(stderr, "resolving the module graph of %s through %s\n", what, redact.URL(mirror))
			plan, err := warm.Resolve(ctx, golist.GoCommand{}, mirror, gomod, mods, all)
			if err != nil {
				return i18n.Errorf("resolving the module graph: %v", redact.Err(err))
			}
			p.Fprintf(stderr, "fetching %d files of %d modules, %d at a time\n", len(plan.Fetches), len(plan.Modules), jobs)
			progress := &warm.Reporter{W: stderr, P: p, Total: len(plan.Fetches), TTY: tty.IsTerminal(stderr)}
			sum := warm.Run(ctx, &http.Client{}, mirror, plan, jobs, progress)
			p.Fprintf(stdout, "modules: %d\nfiles fetched: %d\nbytes: %v (%s)\nfailures: %d\n",
				sum.Modules, sum.Files, strconv.FormatInt(sum.Bytes, 10), warm.Bytes(sum.Bytes), len(sum.Failures))
			for _, f := range sum.Failures {
				fmt.Fprintf(stdout, "  %s: %s\n", f.Fetch, f.Reason) // data: no words to translate
			}
			if len(sum.Warnings) > 0 {
				p.Fprintf(stdout, "warnings: %d\n", len(sum.Warnings))
				for _, f := range sum.Warnings {
					p.Fprintf(stdout, "  %s: %s (not needed to build)\n", f.Fetch, f.Reason)
				}
			}
			var lookupsFailed int
			if db != nil {
				p.Fprintf(stderr, "looking up %d module versions in the checksum database %s through %s\n", len(plan.Modules), db.Name, redact.URL(mirror))
				ss, err := warm.Lookups(ctx, &http.Client{}, mirror, db.Key, latest, plan.Modules, exempt, jobs)
				if err != nil {
					return err
				}
				p.Fprintf(stdout, "checksum database lookups: %d\nchecksum database files fetched: %d\nchecksum database bytes: %v (%s)\nexempt (GONOSUMDB): %d\nlookup failures: %d\n",
					ss.Lookups, ss.Files, strconv.FormatInt(ss.Bytes, 10), warm.Bytes(ss.Bytes), ss.Exempt, len(ss.Failures))
				if ss.LocalTree > 0 {
					p.Fprintf(stdout, "also proven from the local go command's tree of %d records\n", ss.LocalTree)
				}
				for _, f := range ss.Failures {
					fmt.Fprintf(stdout, "  %s: %s\n", f.Mod.Path+"@"+f.Mod.Version, f.Reason)
				}
				lookupsFailed = len(ss.Failures)
			}
			if n := len(sum.Failures); n > 0 {
				return i18n.Errorf("%d of %d files could not be fetched", n, len(plan.Fetches))
			}
			if lookupsFailed > 0 {
				return i18n.Errorf("checksum database lookups failed: %d", lookupsFailed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&mirror, "mirror", "", "the mirror's URL (required), as in GOPROXY")
	f.IntVar(&jobs, "jobs", 8, "files fetched at the same time")
	f.DurationVar(&timeout, "timeout", 0, "time limit for the whole warm (0: none)")
	f.BoolVar(&all, "all", false, "also fetch the zip of every module of the build list (go list -m all), not only those the build needs")
	f.BoolVar(&withSum, "sumdb", false, "also fetch the checksum database lookups (and their proofs' tiles) of every module version, through the mirror")
	return cmd
}

// clientSumDB is the checksum database a client verifies modules with,
// as the go command in PATH says (go env GOSUMDB, its key from the go
// command's table when GOSUMDB names it without one, an alias as the go
// command maps it), which paths it does not check (go env GONOSUMDB,
// which is GOPRIVATE if GONOSUMDB is unset), and the signed tree head the go command
// holds for it ($GOPATH/pkg/sumdb/<name>/latest of the first GOPATH
// entry; nil if none).
func clientSumDB(ctx context.Context) (*sumdb.DB, func(string) bool, []byte, error) {
	env, err := gocmd.Cmd{}.Env(ctx, "GOSUMDB", "GONOSUMDB", "GOPATH")
	if err != nil {
		return nil, nil, nil, i18n.Errorf("--sumdb: reading go env GOSUMDB: %v", err)
	}
	db, err := sumdb.Parse(env["GOSUMDB"])
	if err != nil {
		return nil, nil, nil, i18n.Errorf("--sumdb: GOSUMDB %q: %v", env["GOSUMDB"], err)
	}
	if db == nil {
		return nil, nil, nil, i18n.Errorf("--sumdb: GOSUMDB is off: clients check no checksum database, there is nothing to fetch")
	}
	// go env GONOSUMDB is GOPRIVATE when GONOSUMDB is not set.
	patterns := env["GONOSUMDB"]
	exempt := func(path string) bool { return module.MatchPrefixPatterns(patterns, path) }
	var latest []byte
	if gopath, _, _ := strings.Cut(env["GOPATH"], string(filepath.ListSeparator)); gopath != "" {
		latest, err = os.ReadFile(filepath.Join(gopath, "pkg", "sumdb", db.Name, "latest"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil, err
		}
	}
	return db, exempt, latest, nil
}
