package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/atomicfile"
	"github.com/gomirror/gomirror/internal/wire"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/server"
	"github.com/gomirror/gomirror/snapshot"
	"github.com/gomirror/gomirror/storage"
)

// storeCommand gives cmd the serve settings (--config, GOMIRROR_*, flags)
// and runs run with them and the storage they name, opened directly.
func storeCommand(cmd *cobra.Command, args cobra.PositionalArgs, run func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error) {
	defaults := config.Defaults()
	var configFile string
	cmd.Flags().StringVar(&configFile, "config", "", "YAML config file, as for serve (env GOMIRROR_CONFIG)")
	config.RegisterFlags(cmd.Flags(), &defaults)
	cmd.SetFlagErrorFunc(usageError)
	cmd.Args = func(cmd *cobra.Command, a []string) error {
		if err := args(cmd, a); err != nil {
			return usageError(cmd, err)
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if configFile == "" {
			configFile = os.Getenv("GOMIRROR_CONFIG")
		}
		cfg, err := config.LoadServe(config.Sources{File: configFile, Env: os.LookupEnv, Flags: cmd.Flags()}, goEnv(cmd.Context()))
		if err != nil {
			return usageError(cmd, err)
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		store, err := wire.OpenStorage(ctx, cfg)
		if err != nil {
			return usageError(cmd, err)
		}
		return run(ctx, cfg, store, args)
	}
}

// namedArgs is args, and then the first n arguments must be valid
// snapshot or environment names (snapshot.ValidName): an invalid one is a
// usage error (exit status 2), as a wrong number of arguments is.
func namedArgs(args cobra.PositionalArgs, n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := args(cmd, a); err != nil {
			return err
		}
		for _, name := range a[:min(n, len(a))] {
			if err := snapshot.ValidName(name); err != nil {
				return err
			}
		}
		return nil
	}
}

// inProcessConfig is cfg for an operator command's in-process mirror: it
// logs warnings and errors only (its requests are not news; the settings'
// log-level is the server's), unless --log-level is on the command line.
func inProcessConfig(cmd *cobra.Command, cfg *config.Serve) *config.Serve {
	c := *cfg
	if f := cmd.Flags().Lookup("log-level"); f == nil || !f.Changed {
		c.LogLevel = "warn"
	}
	return &c
}

// whoami names the operator in a manifest or an environment's record.
func whoami() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

func newSnapshot() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Manage snapshots: named, immutable sets of module versions served at /snapshots/NAME/",
		Long: `A snapshot is a named, immutable set of module versions, with the h1: hashes
of their zips and go.mod files, kept in storage (.gomirror/snapshots/NAME.json)
so that every replica sees it. The mirror serves it at /snapshots/NAME/ as a
GOPROXY of its own: list shows only the snapshot's versions, @latest its
version, anything else is 404 with a message naming the snapshot. An
environment (gomirror env) points at one.

Every subcommand takes the same settings as serve (--config, GOMIRROR_*
variables, flags) and opens the storage directly.`,
	}
	cmd.AddCommand(newSnapshotCreate(), newSnapshotList(), newSnapshotShow(), newSnapshotDiff(),
		newSnapshotDelete(), newSnapshotExport(), newSnapshotImport())
	return cmd
}

func newSnapshotCreate() *cobra.Command {
	var (
		from    []string
		jobs    int
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create NAME (--from DIR|go.mod|go.sum ... | module@version ...)",
		Short: "Resolve a project's module graph, fetch and verify it all, and record it as a snapshot",
		Long: `Create the snapshot NAME from --from sources (a directory with a go.mod, a
go.mod file, a go.sum file; repeatable) or module@version arguments.

The command starts the mirror in-process, with the serve settings, on a
127.0.0.1 port: the go command, pointed at it, resolves each go.mod's module
graph (as gomirror warm does: every module whose go.mod the graph reads, and
the zips of the build list); a go.sum adds the versions it lists and its
hashes must match. Every file is fetched through the mirror, so it is
verified against the checksum database, allowed by the policy, and stored.
The manifest records each version with the h1: hashes of its zip and go.mod,
the sources, the time and the creator. Anything that fails fails the whole:
no snapshot is recorded. NAME must be new.`,
	}
	storeCommand(cmd, namedArgs(cobra.MinimumNArgs(1), 1), func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		name, mods := args[0], args[1:]
		srcs, names, err := snapshot.ParseSources(from, mods)
		if err != nil {
			return usageError(cmd, err)
		}
		if _, err := store.Stat(ctx, layout.SnapshotKey(name)); err == nil {
			return fmt.Errorf("snapshot %s: %w", name, snapshot.ErrExist)
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		m, err := resolveManifest(ctx, cmd, cfg, name, names, srcs, jobs)
		if err != nil {
			return err
		}
		if err := snapshot.Create(ctx, store, m); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "snapshot %s created: %d module versions (%d with zips)\n", name, len(m.Modules), zips(m))
		return nil
	})
	cmd.Flags().StringArrayVar(&from, "from", nil, "a directory with a go.mod, a go.mod or a go.sum file (repeatable)")
	cmd.Flags().IntVar(&jobs, "jobs", 8, "files fetched at the same time")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "time limit for the whole (0: none)")
	return cmd
}

// resolveManifest resolves srcs through an in-process mirror with cfg's
// settings into the manifest of a new snapshot name.
func resolveManifest(ctx context.Context, cmd *cobra.Command, cfg *config.Serve, name string, sources []string, srcs []snapshot.Source, jobs int) (*snapshot.Manifest, error) {
	stderr := cmd.ErrOrStderr()
	c := inProcessConfig(cmd, cfg)
	l, err := server.StartLoopback(ctx, c, server.NewLogger(stderr, c))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "resolving and fetching %s through the in-process mirror\n", strings.Join(sources, ", "))
	r := &snapshot.Resolver{Mirror: l.URL, Go: golist.GoCommand{}, Jobs: jobs, Warn: stderr}
	entries, err := r.Resolve(ctx, srcs)
	if cerr := l.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return snapshot.New(name, whoami(), sources, entries), nil
}

func zips(m *snapshot.Manifest) int {
	n := 0
	for _, e := range m.Modules {
		if e.Hash != "" {
			n++
		}
	}
	return n
}

func newSnapshotList() *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "List the snapshots"}
	storeCommand(cmd, cobra.NoArgs, func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		names, err := snapshot.List(ctx, store)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED\tCREATOR\tMODULES")
		for _, n := range names {
			m, err := snapshot.Get(ctx, store, n)
			if err != nil {
				fmt.Fprintf(tw, "%s\t(unreadable: %v)\t\t\n", n, err)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", n, m.Created.Format(time.RFC3339), m.Creator, len(m.Modules))
		}
		return tw.Flush()
	})
	return cmd
}

func newSnapshotShow() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{Use: "show NAME", Short: "Show a snapshot's modules"}
	storeCommand(cmd, namedArgs(cobra.ExactArgs(1), 1), func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		m, err := snapshot.Get(ctx, store, args[0])
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if asJSON {
			return m.Encode(out)
		}
		fmt.Fprintf(out, "snapshot %s\ncreated %s by %s\nsources: %s\nmodules: %d (%d with zips)\n",
			m.Name, m.Created.Format(time.RFC3339), m.Creator, strings.Join(m.Sources, ", "), len(m.Modules), zips(m))
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, e := range m.Modules {
			zip := e.Hash
			if zip == "" {
				zip = "(go.mod only)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Path, e.Version, zip)
		}
		return tw.Flush()
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the manifest (JSON)")
	return cmd
}

func newSnapshotDiff() *cobra.Command {
	cmd := &cobra.Command{Use: "diff A B", Short: "Show the module versions that differ between two snapshots",
		Long: `Print one line per module version that differs from snapshot A to B:
"+ path version" only in B, "- path version" only in A, "~ path version" in
both with other hashes; "(go.mod only)" marks a version whose zip is not in
the snapshot. The exit status is 0 if they do not differ, 1 if they do (as
diff(1)), 2 for a usage error, and more for a failure.`}
	storeCommand(cmd, namedArgs(cobra.ExactArgs(2), 2), func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		a, err := snapshot.Get(ctx, store, args[0])
		if err != nil {
			return err
		}
		b, err := snapshot.Get(ctx, store, args[1])
		if err != nil {
			return err
		}
		changes := snapshot.Diff(a, b)
		for _, c := range changes {
			fmt.Fprintln(cmd.OutOrStdout(), c)
		}
		if len(changes) > 0 {
			return &exitCodeError{code: 1} // they differ, as diff(1) says
		}
		return nil
	})
	return cmd
}

func newSnapshotDelete() *cobra.Command {
	cmd := &cobra.Command{Use: "delete NAME", Short: "Delete a snapshot (refused while an environment points at it or may roll back to it)",
		Long: `Delete the snapshot NAME's manifest. It is refused while an environment's
current snapshot is NAME. The module files stay in storage (the garbage
collector no longer counts them as pinned).`}
	storeCommand(cmd, namedArgs(cobra.ExactArgs(1), 1), func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		if err := snapshot.Delete(ctx, store, args[0]); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "snapshot %s deleted\n", args[0])
		return nil
	})
	return cmd
}

func newSnapshotExport() *cobra.Command {
	var out string
	cmd := &cobra.Command{Use: "export NAME -o FILE.json", Short: "Write a snapshot's manifest as JSON (for snapshot import)"}
	storeCommand(cmd, namedArgs(cobra.ExactArgs(1), 1), func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		if out == "" {
			return usageError(cmd, errors.New("give the output file with -o (- for standard output)"))
		}
		m, err := snapshot.Get(ctx, store, args[0])
		if err != nil {
			return err
		}
		if out == "-" {
			return m.Encode(cmd.OutOrStdout())
		}
		return atomicfile.Write(out, 0o644, m.Encode)
	})
	cmd.Flags().StringVarP(&out, "output", "o", "", "the JSON file to write (- for standard output)")
	return cmd
}

func newSnapshotImport() *cobra.Command {
	var (
		name    string
		noFetch bool
		jobs    int
	)
	cmd := &cobra.Command{
		Use:   "import FILE.json",
		Short: "Record a snapshot from an exported manifest, fetching and checking every version in it",
		Long: `Read FILE.json (as snapshot export writes it) strictly: at most 32 MiB, no
unknown field, valid names, module paths, canonical versions and h1: hashes,
sorted, each version once. Then, unless --no-fetch, fetch every version in it
through the in-process mirror (as snapshot create does: verified against the
checksum database and the policy, stored) and check that each hashes as the
manifest says; any difference fails the import whole. With --no-fetch
nothing is fetched (for a store that already holds the files, e.g. from a
bundle import): each version's hashes must be the ones the store recorded when
it verified and stored its go.mod and zip (.modhash, .ziphash); one that
differs or is not stored fails the import whole, saying which. --name records it under another name. The
creation time and creator are kept; the source "import FILE" is added.`,
	}
	storeCommand(cmd, cobra.ExactArgs(1), func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		f, err := os.Open(args[0])
		if err != nil {
			return err // a failure (1), not a usage error
		}
		if name != "" {
			if err := snapshot.ValidName(name); err != nil {
				f.Close()
				return usageError(cmd, err)
			}
		}
		var m *snapshot.Manifest
		if name != "" {
			m, err = snapshot.DecodeAs(f, name) // the file's own name may be invalid here
		} else {
			m, err = snapshot.Decode(f)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		if len(m.Sources) < snapshot.MaxSources {
			m.Sources = append(m.Sources, "import "+args[0])
		}
		if _, err := store.Stat(ctx, layout.SnapshotKey(m.Name)); err == nil {
			return fmt.Errorf("snapshot %s: %w", m.Name, snapshot.ErrExist)
		}
		if noFetch {
			if err := snapshot.CheckStored(ctx, store, m, jobs); err != nil {
				return fmt.Errorf("%s: --no-fetch: the store does not hold what the manifest says:\n%w", args[0], err)
			}
		} else {
			got, err := resolveManifest(ctx, cmd, cfg, m.Name, []string{args[0]}, []snapshot.Source{{Entries: m.Modules, Name: args[0]}}, jobs)
			if err != nil {
				return err
			}
			if d := snapshot.Diff(m, got); len(d) > 0 {
				return fmt.Errorf("%s: the mirror's files differ from the manifest: %v", args[0], d[0])
			}
		}
		if err := snapshot.Create(ctx, store, m); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "snapshot %s imported: %d module versions (%d with zips)\n", m.Name, len(m.Modules), zips(m))
		return nil
	})
	cmd.Flags().StringVar(&name, "name", "", "record the snapshot under this name instead of the manifest's")
	cmd.Flags().BoolVar(&noFetch, "no-fetch", false, "record the manifest without fetching, checked against the hashes the store recorded")
	cmd.Flags().IntVar(&jobs, "jobs", 8, "files fetched at the same time")
	return cmd
}

func newEnv() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Manage environments: /env/NAME/ serves the snapshot an environment points at",
		Long: `An environment (prod, staging, ...) points at a snapshot; the mirror serves it
at /env/NAME/ as that snapshot's GOPROXY. Each promotion or rollback is one
new record in storage (.gomirror/env/NAME/), written atomically and never
changed, so the history is kept; every replica serves the new snapshot
within 2 seconds. Two promotions at the same moment both stay in the
history; the later one is in force, and the other command reports the
conflict.

Every subcommand takes the same settings as serve and opens the storage
directly.`,
	}
	list := &cobra.Command{Use: "list", Short: "List the environments and their snapshots"}
	storeCommand(list, cobra.NoArgs, func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		envs, err := snapshot.Envs(ctx, store)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(list.OutOrStdout(), 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ENV\tSNAPSHOT\tSINCE\tBY")
		for _, e := range envs {
			r, err := snapshot.Current(ctx, store, e)
			if err != nil {
				fmt.Fprintf(tw, "%s\t(unreadable: %v)\t\t\n", e, err)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e, r.Snapshot, r.Time.Format(time.RFC3339), r.By)
		}
		return tw.Flush()
	})
	var (
		max    int
		asJSON bool
	)
	show := &cobra.Command{Use: "show ENV", Short: "Show an environment's snapshot and history (newest first)"}
	storeCommand(show, namedArgs(cobra.ExactArgs(1), 1), func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		h, err := snapshot.History(ctx, store, args[0], max)
		if err != nil {
			return err
		}
		out := show.OutOrStdout()
		if asJSON {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(h)
		}
		cur := h[len(h)-1]
		fmt.Fprintf(out, "environment %s: snapshot %s\n", cur.Env, cur.Snapshot)
		if len(cur.Previous) > 0 {
			fmt.Fprintf(out, "rollback goes to: %s\n", cur.Previous[0])
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tACTION\tSNAPSHOT\tBY\tRECORD")
		for i := len(h) - 1; i >= 0; i-- {
			r := h[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Time.Format(time.RFC3339), r.Action, r.Snapshot, r.By, r.ID)
		}
		return tw.Flush()
	})
	show.Flags().IntVar(&max, "max", 50, "records shown, newest first (0: all)")
	show.Flags().BoolVar(&asJSON, "json", false, "print the records as JSON (oldest first)")
	promote := &cobra.Command{Use: "promote ENV SNAPSHOT", Short: "Point an environment at a snapshot (creating the environment if new)"}
	storeCommand(promote, namedArgs(cobra.ExactArgs(2), 2), func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		r, err := snapshot.Promote(ctx, store, args[0], args[1], whoami())
		if err != nil {
			return err
		}
		fmt.Fprintf(promote.OutOrStdout(), "environment %s: snapshot %s (record %s)\n", r.Env, r.Snapshot, r.ID)
		return nil
	})
	rollback := &cobra.Command{Use: "rollback ENV", Short: "Point an environment back at the snapshot it had before"}
	storeCommand(rollback, namedArgs(cobra.ExactArgs(1), 1), func(ctx context.Context, cfg *config.Serve, store storage.Storage, args []string) error {
		r, err := snapshot.Rollback(ctx, store, args[0], whoami())
		if err != nil {
			return err
		}
		fmt.Fprintf(rollback.OutOrStdout(), "environment %s: snapshot %s (record %s)\n", r.Env, r.Snapshot, r.ID)
		return nil
	})
	cmd.AddCommand(list, show, promote, rollback)
	return cmd
}
