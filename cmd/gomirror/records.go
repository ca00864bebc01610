package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/catalog"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/internal/wire"
)

// dbCommand is a command that opens the database of the serve settings
// (--config, GOMIRROR_* variables, flags) and runs with it. An SQLite
// database that does not exist is a usage error (a wrong storage-dir
// must not read as an empty audit log), unless create (index rebuild,
// which fills a new database from storage; its fs storage-dir must exist
// then: a wrong one must not empty the catalog).
func dbCommand(cmd *cobra.Command, create bool, run func(ctx context.Context, cfg *config.Serve, d *db.DB) error) {
	dbCommandOff(cmd, create, false, run)
}

// dbCommandOff is dbCommand; with allowOff, a database set to off is no
// error: run gets a nil *db.DB.
func dbCommandOff(cmd *cobra.Command, create, allowOff bool, run func(ctx context.Context, cfg *config.Serve, d *db.DB) error) {
	defaults := config.Defaults()
	var configFile string
	cmd.Flags().StringVar(&configFile, "config", "", "YAML config file, as for serve (env GOMIRROR_CONFIG)")
	config.RegisterFlags(cmd.Flags(), &defaults)
	cmd.SetFlagErrorFunc(usageError)
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError(cmd, fmt.Errorf("%s takes no arguments, got %q", cmd.Name(), args))
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
		if cfg.DatabaseOff() {
			if allowOff {
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return run(ctx, cfg, nil)
			}
			return usageError(cmd, errors.New("database is off"))
		}
		if create && wire.StorageDriver(cfg) == "fs" {
			if fi, err := os.Stat(cfg.StorageDir); err != nil {
				return usageError(cmd, &config.Error{Key: "storage-dir", Source: cfg.StorageDir, Err: err})
			} else if !fi.IsDir() {
				return usageError(cmd, &config.Error{Key: "storage-dir", Source: cfg.StorageDir, Err: errors.New("not a directory")})
			}
		}
		if !cfg.PostgresDatabase() {
			if create {
				if err := os.MkdirAll(filepath.Dir(cfg.Database), 0o700); err != nil {
					return usageError(cmd, &config.Error{Key: "database", Source: cfg.Database, Err: err})
				}
			} else if _, err := os.Stat(cfg.Database); err != nil {
				return usageError(cmd, &config.Error{Key: "database", Source: cfg.Database,
					Err: fmt.Errorf("%w (gomirror serve creates it; is storage-dir right?)", err)})
			}
		}
		dsn, err := wire.DatabaseDSN(cfg)
		if err != nil {
			return usageError(cmd, err)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		d, err := db.Open(ctx, dsn)
		if err != nil {
			return fmt.Errorf("opening the database %s: %w", redact.URL(cfg.Database), redact.Err(err))
		}
		defer d.Close()
		return run(ctx, cfg, d)
	}
}

// newAudit returns `gomirror audit`: query the audit log.
func newAudit() *cobra.Command {
	var (
		since, until, module, client, remote, kind, cacheResult, status string
		limit                                                           int
		asJSON, asCSV, decided                                          bool
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show who downloaded what: the audit log",
		Long: `Show the audit log: one record per request for a module artifact or the
checksum database, newest first, from the database of the serve settings
(--config, GOMIRROR_* variables, flags).

	gomirror audit --since 24h --module 'github.com/corp/*' --status 4xx
	gomirror audit --client ci --since 7d --csv > ci.csv
	gomirror audit --policy-decisions --since 7d      # refused and warned

--since and --until take a duration back from now (24h, 7d), an RFC 3339
time or a date; --module a module path pattern in GOPRIVATE syntax;
--status 404, 4xx or 500-599.`,
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "24h", "records since (24h, 7d, an RFC 3339 time or a date)")
	f.StringVar(&until, "until", "", "records before (as --since; default now)")
	f.StringVar(&module, "module", "", "module path pattern (GOPRIVATE syntax)")
	f.StringVar(&client, "client", "", "token name")
	f.StringVar(&remote, "remote", "", "client address")
	f.StringVar(&kind, "kind", "", "list, latest, info, mod, zip or sumdb")
	f.StringVar(&cacheResult, "cache", "", "hit, miss, prefetched, fresh or stale")
	f.StringVar(&status, "status", "", "status: 404, 4xx or 500-599")
	f.BoolVar(&decided, "policy-decisions", false, "only records with a policy decision (refused or warned)")
	f.IntVar(&limit, "limit", 1000, "at most this many records")
	f.BoolVar(&asJSON, "json", false, "one JSON object per line")
	f.BoolVar(&asCSV, "csv", false, "CSV with a header line")
	dbCommand(cmd, false, func(ctx context.Context, _ *config.Serve, d *db.DB) error {
		if asJSON && asCSV {
			return usageError(cmd, errors.New("give --json or --csv, not both"))
		}
		now := time.Now()
		q := audit.Query{Module: module, Client: client, Remote: remote, Kind: kind, Cache: cacheResult, Decided: decided}
		var err error
		if q.Since, err = api.ParseTime(since, now); err != nil {
			return usageError(cmd, fmt.Errorf("--since: %w", err))
		}
		if q.Until, err = api.ParseTime(until, now); err != nil {
			return usageError(cmd, fmt.Errorf("--until: %w", err))
		}
		if status != "" {
			if q.StatusMin, q.StatusMax, err = audit.ParseStatus(status); err != nil {
				return usageError(cmd, fmt.Errorf("--status: %w", err))
			}
		}
		if limit < 1 {
			return usageError(cmd, fmt.Errorf("--limit must be at least 1"))
		}
		if kind != "" && !audit.Audited(kind) {
			return usageError(cmd, fmt.Errorf("--kind: %q is none of list, latest, info, mod, zip, sumdb", kind))
		}
		switch cacheResult {
		case "", "hit", "miss", "prefetched", "fresh", "stale":
		default:
			return usageError(cmd, fmt.Errorf("--cache: %q is none of hit, miss, prefetched, fresh, stale", cacheResult))
		}
		out := newAuditWriter(cmd.OutOrStdout(), asJSON, asCSV)
		for left := limit; left > 0; {
			q.Limit = min(left, 1000)
			page, err := d.QueryAudit(ctx, q)
			if err != nil {
				return err
			}
			for _, r := range page.Records {
				if err := out.write(r); err != nil {
					return err
				}
			}
			left -= len(page.Records)
			if page.Next == "" || len(page.Records) == 0 {
				break
			}
			q.Cursor = page.Next
		}
		return out.flush()
	})
	return cmd
}

// auditWriter prints audit records as a table, JSON lines or CSV.
type auditWriter struct {
	json *json.Encoder
	csv  *csv.Writer
	tab  *tabwriter.Writer
	n    int
}

func newAuditWriter(w io.Writer, asJSON, asCSV bool) *auditWriter {
	switch {
	case asJSON:
		return &auditWriter{json: json.NewEncoder(w)}
	case asCSV:
		return &auditWriter{csv: csv.NewWriter(w)}
	}
	return &auditWriter{tab: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
}

func (w *auditWriter) write(r audit.Record) error {
	w.n++
	switch {
	case w.json != nil:
		return w.json.Encode(r)
	case w.csv != nil:
		if w.n == 1 {
			if err := w.csv.Write(audit.CSVColumns); err != nil {
				return err
			}
		}
		return w.csv.Write(audit.CSVRow(r))
	}
	if w.n == 1 {
		fmt.Fprintln(w.tab, "TIME\tCLIENT\tREMOTE\tKIND\tMODULE\tVERSION\tSTATUS\tBYTES\tDURATION\tCACHE\tUPSTREAM\tPOLICY")
	}
	client := r.Client
	if client == "" {
		client = "-"
	}
	_, err := fmt.Fprintf(w.tab, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%v\t%s\t%s\t%s\n", r.Time.Local().Format("2006-01-02 15:04:05"),
		client, r.Remote, r.Kind, dash(r.Module), dash(r.Version), r.Status, r.Bytes, r.Duration.Round(time.Millisecond), dash(r.Cache), dash(r.Upstream), dash(r.Policy))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (w *auditWriter) flush() error {
	switch {
	case w.csv != nil:
		if w.n == 0 { // the header all the same: a CSV file of no records
			w.csv.Write(audit.CSVColumns)
		}
		w.csv.Flush()
		return w.csv.Error()
	case w.tab != nil:
		if w.n == 0 {
			fmt.Fprintln(w.tab, "no records")
		}
		return w.tab.Flush()
	}
	return nil
}

// newStats returns `gomirror stats`: download statistics.
func newStats() *cobra.Command {
	var (
		days     int
		from, to string
		top      int
		module   string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Download statistics: totals, hit ratio, top modules, one module per day",
		Long: `Show download statistics from the database of the serve settings: the
mirror's requests, bytes, hit ratio and clients over a period, and its most
downloaded modules; with --module, one module's figures per day and version.

	gomirror stats --days 30 --top 20
	gomirror stats --module github.com/corp/lib --days 7 --json`,
	}
	f := cmd.Flags()
	f.IntVar(&days, "days", 30, "the last N days, today included")
	f.StringVar(&from, "from", "", "first day (2006-01-02), instead of --days")
	f.StringVar(&to, "to", "", "last day (2006-01-02; default today)")
	f.IntVar(&top, "top", 20, "how many of the most downloaded modules to show")
	f.StringVar(&module, "module", "", "one module's figures per day and version")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	dbCommand(cmd, false, func(ctx context.Context, _ *config.Serve, d *db.DB) error {
		if from != "" && cmd.Flags().Changed("days") {
			return usageError(cmd, errors.New("give --days or --from, not both"))
		}
		if top < 1 {
			return usageError(cmd, errors.New("--top must be at least 1"))
		}
		p, err := period(days, from, to, time.Now())
		if err != nil {
			return usageError(cmd, err)
		}
		w := cmd.OutOrStdout()
		if module != "" {
			counts, err := d.Downloads(ctx, module, p)
			if err != nil {
				return err
			}
			if counts == nil {
				counts = []db.DayCount{}
			}
			if asJSON {
				return printJSON(w, counts)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "%s, %s to %s\n", module, p.From.Format(time.DateOnly), p.To.Format(time.DateOnly))
			fmt.Fprintln(tw, "DAY\tVERSION\tDOWNLOADS\tREQUESTS\tBYTES\tHITS\tMISSES\tCLIENTS")
			for _, c := range counts {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", c.Day.Format(time.DateOnly), dash(c.Version), c.Downloads, c.Requests, c.Bytes, c.Hits, c.Misses, c.Clients)
			}
			return tw.Flush()
		}
		sum, err := d.Summarize(ctx, p)
		if err != nil {
			return err
		}
		mods, err := d.TopModules(ctx, p, top)
		if err != nil {
			return err
		}
		stored, err := d.CatalogTotals(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(w, struct {
				From    string           `json:"from"`
				To      string           `json:"to"`
				Summary db.Summary       `json:"summary"`
				Top     []db.ModuleCount `json:"top"`
				Stored  db.Totals        `json:"stored"`
			}{p.From.Format(time.DateOnly), p.To.Format(time.DateOnly), sum, mods, stored})
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "%s to %s: %d requests, %d bytes, hit ratio %.1f%%, %d clients, %d modules\n",
			p.From.Format(time.DateOnly), p.To.Format(time.DateOnly), sum.Requests, sum.Bytes, 100*sum.HitRatio, sum.Clients, sum.Modules)
		fmt.Fprintf(tw, "stored: %d modules, %d versions, %d files, %d bytes\n\n", stored.Modules, stored.Versions, stored.Objects, stored.Bytes)
		fmt.Fprintln(tw, "MODULE\tDOWNLOADS\tREQUESTS\tBYTES\tCLIENTS")
		for _, m := range mods {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", m.Module, m.Downloads, m.Requests, m.Bytes, m.Clients)
		}
		return tw.Flush()
	})
	return cmd
}

// period returns the days of a stats command: from..to, or the last days
// days up to to (default today).
func period(days int, from, to string, now time.Time) (db.Period, error) {
	p := db.Period{To: now.UTC().Truncate(24 * time.Hour)}
	var err error
	if to != "" {
		if p.To, err = time.Parse(time.DateOnly, to); err != nil {
			return p, fmt.Errorf("--to: %q is not a date (2006-01-02)", to)
		}
	}
	if from != "" {
		if p.From, err = time.Parse(time.DateOnly, from); err != nil {
			return p, fmt.Errorf("--from: %q is not a date (2006-01-02)", from)
		}
	} else {
		if days < 1 {
			return p, fmt.Errorf("--days must be at least 1")
		}
		p.From = p.To.AddDate(0, 0, -(days - 1))
	}
	if p.From.After(p.To) {
		return p, fmt.Errorf("--from %s is after --to %s", p.From.Format(time.DateOnly), p.To.Format(time.DateOnly))
	}
	return p, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newIndex returns `gomirror index rebuild`.
func newIndex() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Maintain the catalog of stored modules",
	}
	var workers int
	rebuild := &cobra.Command{
		Use:   "rebuild",
		Short: "Recreate the catalog from what storage holds",
		Long: `Recreate the database's catalog of stored module versions from storage (fs or
s3, from the serve settings), which is the source of truth: entries for
artifacts no longer stored are removed, stored ones added, download times
kept. Safe while gomirror serves.`,
	}
	rebuild.Flags().IntVar(&workers, "workers", 8, "objects read at once")
	dbCommand(rebuild, true, func(ctx context.Context, cfg *config.Serve, d *db.DB) error {
		store, err := wire.OpenStorage(ctx, cfg)
		if err != nil {
			return usageError(rebuild, err)
		}
		start := time.Now()
		added, removed, err := catalog.Rebuild(ctx, store, d, workers)
		if err != nil {
			return err
		}
		t, err := d.CatalogTotals(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(rebuild.OutOrStdout(), "catalog rebuilt in %v: %d added, %d removed; %d modules, %d versions, %d files, %d bytes\n",
			time.Since(start).Round(time.Millisecond), added, removed, t.Modules, t.Versions, t.Objects, t.Bytes)
		return nil
	})
	cmd.AddCommand(rebuild)
	return cmd
}
