package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/coord"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/gc"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/internal/wire"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/server"
	"github.com/gomirror/gomirror/snapshot"
)

// newGC returns `gomirror gc`: one garbage collection now.
func newGC() *cobra.Command {
	var (
		dryRun, asJSON bool
		grace          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Evict what storage-max-size and retention say must go (--dry-run: show it)",
		Long: `Run the garbage collector once, as serve does every gc-interval: evict the
zips of versions not downloaded within retention, then the least recently
downloaded zips until the store is under storage-max-size (with
gc-evict-metadata, their .mod and .info too). Versions pinned by a snapshot,
private modules (unless gc-evict-private), the checksum database's data and
gomirror's state never go; neither does a version downloaded or stored within
--grace (a running server writes its downloads every 30s, and this process
cannot see what it is serving).

It takes the same settings as serve (--config, GOMIRROR_* variables, flags)
and reads the download times from its database. With database off only
--dry-run works: versions are then ordered by when they were stored (a
running serve keeps its downloads in memory, out of this command's sight). With redis set, it waits for
no replica: if one is collecting, it says so and stops.

It prints one line per version,

	evict <module>@<version> <files> <bytes> <reason> <last download>

(reason quota or retention; "stored" after the date when no download was
recorded; "failed to evict" instead of "evict" when a deletion failed: it
is left for the next run and not counted), then the totals; --dry-run prints the same without deleting;
--json prints one JSON object.`,
	}
	dbCommandOff(cmd, false, true, func(ctx context.Context, cfg *config.Serve, d *db.DB) error {
		if !cfg.GCEnabled() {
			return usageError(cmd, errors.New("nothing to collect: set storage-max-size or retention"))
		}
		if d == nil && !dryRun {
			return usageError(cmd, errors.New("the database is off: no downloads are recorded (serve keeps them in its memory), so this command could only order versions by when they were stored and could evict what clients use; run it with --dry-run to see that order, or let serve collect"))
		}
		if d == nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "note: the database is off: no downloads are recorded; a version counts as last downloaded when it was stored")
		}
		if grace < 0 {
			return usageError(cmd, fmt.Errorf("--grace must not be negative, not %v", grace))
		}
		log := server.NewLogger(cmd.ErrOrStderr(), cfg)
		store, err := wire.OpenStorage(ctx, cfg)
		if err != nil {
			return usageError(cmd, err)
		}
		private, err := cfg.NoProxyPatterns()
		if err != nil {
			return usageError(cmd, err)
		}
		var held func(context.Context) bool
		if cfg.Redis != "" && !dryRun {
			var password string
			if cfg.RedisPasswordFile != "" {
				if password, err = config.ReadSecretFile(cfg.RedisPasswordFile); err != nil {
					return usageError(cmd, &config.Error{Key: "redis-password-file", Source: cfg.RedisPasswordFile, Err: err})
				}
			}
			r, err := coord.New(cfg.Redis, coord.Options{LockTTL: cfg.RedisLockTTL, Logger: log, Password: password})
			if err != nil {
				return usageError(cmd, &config.Error{Key: "redis", Source: redact.URL(cfg.Redis), Err: redact.Err(err)})
			}
			defer r.Close()
			lease, err := r.TryLock(ctx, layout.GCLock)
			if errors.Is(err, coord.ErrHeld) {
				return errors.New("another replica is collecting now; try again later")
			}
			if err != nil {
				return fmt.Errorf("taking the collection lock (redis): %w", redact.Err(err))
			}
			defer lease.Unlock()
			held = lease.Valid
		}
		pins := []gc.Pins{snapshot.Pins{Storage: store}}
		if p := server.VulnDBPins(cfg, store, nil); p != nil {
			pins = append(pins, p)
		}
		var (
			accesses gc.Accesses
			catalog  gc.Catalog
		)
		if d != nil {
			accesses, catalog = d, d
		}
		rep, err := gc.Collect(ctx, gc.Options{Storage: store, MaxBytes: cfg.MaxStoredBytes, Retention: cfg.RetentionPeriod,
			EvictMetadata: cfg.GCEvictMetadata, EvictPrivate: cfg.GCEvictPrivate, Private: private.Match,
			Pins: pins, Accesses: accesses, Catalog: catalog, Grace: grace, DryRun: dryRun, Held: held, Logger: log})
		if errors.Is(err, gc.ErrLockLost) {
			// Report what was done, then fail.
			writeGCReport(cmd.OutOrStdout(), rep)
			return err
		}
		if err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		return writeGCReport(cmd.OutOrStdout(), rep)
	})
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be evicted and why, deleting nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	cmd.Flags().DurationVar(&grace, "grace", 10*time.Minute, "keep versions downloaded or stored more recently than this")
	return cmd
}

// writeGCReport writes rep as text: a line per eviction, then the totals.
func writeGCReport(w io.Writer, rep gc.Report) error {
	verb := "evict"
	if rep.DryRun {
		verb = "would evict"
	}
	for _, e := range rep.Evictions {
		verb := verb
		if e.Failed {
			verb = "failed to evict"
		}
		last := e.LastAccess.UTC().Format(time.DateOnly)
		if !e.Recorded {
			last += " stored"
		}
		if _, err := fmt.Fprintf(w, "%s %s@%s %s %d %s %s\n", verb, e.Module, e.Version, strings.Join(e.Files, ","), e.Bytes, e.Reason, last); err != nil {
			return err
		}
	}
	quota := "none"
	if rep.MaxBytes > 0 {
		quota = fmt.Sprint(rep.MaxBytes)
	}
	_, err := fmt.Fprintf(w, "%d versions, %d bytes stored, %d after (quota %s); evicted: quota %d (%d bytes), retention %d (%d bytes); kept: pinned %d, private %d, serving %d, grace %d; failed %d\n",
		rep.Versions, rep.StoredBytes, rep.AfterBytes, quota,
		rep.Evicted[gc.ReasonQuota], rep.Freed[gc.ReasonQuota], rep.Evicted[gc.ReasonRetention], rep.Freed[gc.ReasonRetention],
		rep.Kept["pinned"], rep.Kept["private"], rep.Kept["serving"], rep.Kept["grace"], rep.Failed)
	return err
}
