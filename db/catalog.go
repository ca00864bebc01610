package db

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// Artifact is one stored file of a module version, as the catalog has it.
type Artifact struct {
	Module  string    `json:"module"`
	Version string    `json:"version"`
	File    string    `json:"file"` // info, mod or zip
	Size    int64     `json:"size"`
	Stored  time.Time `json:"stored"`
	// LastDownloaded is the time of the last successful request for the
	// file that the audit log recorded (WriteAudit), or up to an hour
	// before it: a later download is written only over a time more than
	// an hour older. Zero if none was recorded.
	LastDownloaded time.Time `json:"last_downloaded,omitzero"`
}

// nsOf and timeOf convert the catalog's times: the zero time is 0.
func nsOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// PutArtifact records that a is stored (replacing what the catalog had for
// its module, version and file; keeping its LastDownloaded, which a's own
// is ignored for unless the catalog had none).
func (d *DB) PutArtifact(ctx context.Context, a Artifact) error {
	if a.Module == "" || a.Version == "" || a.File == "" {
		return &BadQueryError{Msg: "artifact without module, version or file"}
	}
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, d.d.rebind(`INSERT INTO catalog (module, version, file, size, stored_ns, last_downloaded_ns)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (module, version, file) DO UPDATE SET size = excluded.size, stored_ns = excluded.stored_ns`),
			a.Module, a.Version, a.File, a.Size, nsOf(a.Stored), nsOf(a.LastDownloaded)); err != nil {
			return fmt.Errorf("db: cataloguing %s@%s %s: %w", a.Module, a.Version, a.File, err)
		}
		return d.refreshModule(ctx, tx, a.Module)
	})
}

// DeleteArtifact records that a module version's file is no longer
// stored. A file the catalog does not have is no error.
func (d *DB) DeleteArtifact(ctx context.Context, module, version, file string) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.d.rebind("DELETE FROM catalog WHERE module = ? AND version = ? AND file = ?"), module, version, file)
		if err != nil {
			return fmt.Errorf("db: uncataloguing %s@%s %s: %w", module, version, file, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return d.refreshModule(ctx, tx, module)
	})
}

// refreshModule recomputes module's row of catalog_modules from catalog.
func (d *DB) refreshModule(ctx context.Context, tx *sql.Tx, module string) error {
	var versions, objects, bytes, stored, downloaded int64
	if err := tx.QueryRowContext(ctx, d.d.rebind(`SELECT COUNT(DISTINCT version), COUNT(*), COALESCE(SUM(size), 0),
		COALESCE(MAX(stored_ns), 0), COALESCE(MAX(last_downloaded_ns), 0) FROM catalog WHERE module = ?`), module).
		Scan(&versions, &objects, &bytes, &stored, &downloaded); err != nil {
		return fmt.Errorf("db: cataloguing %s: %w", module, err)
	}
	var err error
	if objects == 0 {
		_, err = tx.ExecContext(ctx, d.d.rebind("DELETE FROM catalog_modules WHERE module = ?"), module)
	} else {
		_, err = tx.ExecContext(ctx, d.d.rebind(`INSERT INTO catalog_modules
			(module, module_key, versions, objects, bytes, last_stored_ns, last_downloaded_ns) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (module) DO UPDATE SET versions = excluded.versions, objects = excluded.objects, bytes = excluded.bytes,
			last_stored_ns = excluded.last_stored_ns, last_downloaded_ns = excluded.last_downloaded_ns`),
			module, strings.ToLower(module), versions, objects, bytes, stored, downloaded)
	}
	if err != nil {
		return fmt.Errorf("db: cataloguing %s: %w", module, err)
	}
	return nil
}

// replaceChunk is how many artifacts ReplaceCatalog stages per statement.
const replaceChunk = 500

// ReplaceCatalog makes the catalog exactly the artifacts that next yields
// (next returns false when there are no more): what storage holds, for
// `gomirror index rebuild`; but an entry stored at or after keep (by
// PutArtifact while storage was being listed: newer than the listing) is
// kept although next does not yield it (zero keep keeps none). Download
// times of artifacts still stored are kept (and a yielded LastDownloaded
// is ignored). added counts the
// artifacts the catalog did not have, removed those it had and next did
// not yield. It is one transaction: an error from next leaves the catalog
// as it was. On SQLite it holds the write lock until next is done (audit
// writes wait for it), so next should list storage at its own pace, not
// wait on anything else.
func (d *DB) ReplaceCatalog(ctx context.Context, keep time.Time, next func() (Artifact, bool, error)) (added, removed int64, err error) {
	keepNS := int64(math.MaxInt64)
	if !keep.IsZero() {
		keepNS = nsOf(keep)
	}
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		create := `CREATE TEMP TABLE catalog_next (module TEXT NOT NULL, version TEXT NOT NULL, file TEXT NOT NULL,
			size BIGINT NOT NULL, stored_ns BIGINT NOT NULL, PRIMARY KEY (module, version, file))`
		if d.d.postgres {
			create = strings.ReplaceAll(create, "TEXT NOT NULL", `TEXT COLLATE "C" NOT NULL`) + " ON COMMIT DROP"
		} else {
			if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS temp.catalog_next"); err != nil {
				return fmt.Errorf("db: replacing the catalog: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, create); err != nil {
			return fmt.Errorf("db: replacing the catalog: %w", err)
		}
		var rows [][]any
		inChunk := map[artifactKey]int{} // a key twice in one statement is an error on PostgreSQL
		flush := func() error {
			err := d.upsert(ctx, tx, "catalog_next", "module, version, file, size, stored_ns", 5,
				"(module, version, file) DO UPDATE SET size = excluded.size, stored_ns = excluded.stored_ns", rows)
			rows = rows[:0]
			clear(inChunk)
			return err
		}
		for {
			a, ok, err := next()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if a.Module == "" || a.Version == "" || a.File == "" {
				return &BadQueryError{Msg: "artifact without module, version or file"}
			}
			row := []any{a.Module, a.Version, a.File, a.Size, nsOf(a.Stored)}
			if i, ok := inChunk[artifactKey{a.Module, a.Version, a.File}]; ok {
				rows[i] = row // the last one yielded wins
				continue
			}
			inChunk[artifactKey{a.Module, a.Version, a.File}] = len(rows)
			rows = append(rows, row)
			if len(rows) == replaceChunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM catalog_next n WHERE NOT EXISTS
			(SELECT 1 FROM catalog c WHERE c.module = n.module AND c.version = n.version AND c.file = n.file)`).Scan(&added); err != nil {
			return fmt.Errorf("db: replacing the catalog: %w", err)
		}
		res, err := tx.ExecContext(ctx, d.d.rebind(`DELETE FROM catalog WHERE stored_ns < ? AND NOT EXISTS (SELECT 1 FROM catalog_next n
			WHERE n.module = catalog.module AND n.version = catalog.version AND n.file = catalog.file)`), keepNS)
		if err != nil {
			return fmt.Errorf("db: replacing the catalog: %w", err)
		}
		removed, _ = res.RowsAffected()
		for _, q := range []string{
			`INSERT INTO catalog (module, version, file, size, stored_ns, last_downloaded_ns)
				SELECT module, version, file, size, stored_ns, 0 FROM catalog_next WHERE true
				ON CONFLICT (module, version, file) DO UPDATE SET size = excluded.size, stored_ns = excluded.stored_ns`,
			`DELETE FROM catalog_modules`,
			`INSERT INTO catalog_modules (module, module_key, versions, objects, bytes, last_stored_ns, last_downloaded_ns)
				SELECT module, LOWER(module), COUNT(DISTINCT version), COUNT(*), SUM(size), MAX(stored_ns), MAX(last_downloaded_ns)
				FROM catalog GROUP BY module`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("db: replacing the catalog: %w", err)
			}
		}
		if !d.d.postgres {
			if _, err := tx.ExecContext(ctx, "DROP TABLE temp.catalog_next"); err != nil {
				return fmt.Errorf("db: replacing the catalog: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return added, removed, nil
}

// ModuleSummary is one module in the catalog.
type ModuleSummary struct {
	Module         string    `json:"module"`
	Versions       int64     `json:"versions"` // versions with at least one file
	Objects        int64     `json:"objects"`  // files
	Bytes          int64     `json:"bytes"`
	LastStored     time.Time `json:"last_stored"`
	LastDownloaded time.Time `json:"last_downloaded,omitzero"`
}

// Page sizes of Modules: without a limit, and the largest.
const (
	DefaultModulesLimit = 100
	MaxModulesLimit     = 1000
)

// Modules returns up to limit modules whose path contains q, ignoring
// case (all for ""), in path order (bytewise), after the cursor (a
// previous call's next, "" to start); next is "" after the last. A limit
// of 0 or less means DefaultModulesLimit, more than MaxModulesLimit means
// MaxModulesLimit. A malformed cursor is a *BadQueryError.
func (d *DB) Modules(ctx context.Context, q, cursor string, limit int) (mods []ModuleSummary, next string, err error) {
	switch {
	case limit <= 0:
		limit = DefaultModulesLimit
	case limit > MaxModulesLimit:
		limit = MaxModulesLimit
	}
	after := ""
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(b) == 0 {
			return nil, "", &BadQueryError{Msg: "malformed cursor"}
		}
		after = string(b)
	}
	where, args := "module > ?", []any{after}
	if q != "" {
		where += ` AND module_key LIKE ? ESCAPE '\'`
		args = append(args, "%"+escapeLike(strings.ToLower(q))+"%")
	}
	args = append(args, limit+1)
	rows, err := d.r.QueryContext(ctx, d.d.rebind(`SELECT module, versions, objects, bytes, last_stored_ns, last_downloaded_ns
		FROM catalog_modules WHERE `+where+` ORDER BY module LIMIT ?`), args...)
	if err != nil {
		return nil, "", fmt.Errorf("db: listing modules: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m ModuleSummary
		var stored, downloaded int64
		if err := rows.Scan(&m.Module, &m.Versions, &m.Objects, &m.Bytes, &stored, &downloaded); err != nil {
			return nil, "", fmt.Errorf("db: listing modules: %w", err)
		}
		m.LastStored, m.LastDownloaded = timeOf(stored), timeOf(downloaded)
		mods = append(mods, m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("db: listing modules: %w", err)
	}
	if len(mods) > limit {
		mods = mods[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(mods[limit-1].Module))
	}
	return mods, next, nil
}

// escapeLike escapes LIKE's wildcards (and the escape character '\').
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Module returns every stored file of module, by version (semver order,
// newest first; invalid versions last, by string) then file; an error
// wrapping fs.ErrNotExist if it has none. The path is compared exactly.
func (d *DB) Module(ctx context.Context, module string) ([]Artifact, error) {
	rows, err := d.r.QueryContext(ctx, d.d.rebind(`SELECT version, file, size, stored_ns, last_downloaded_ns
		FROM catalog WHERE module = ?`), module)
	if err != nil {
		return nil, fmt.Errorf("db: module %s: %w", module, err)
	}
	defer rows.Close()
	var out []Artifact
	for rows.Next() {
		a := Artifact{Module: module}
		var stored, downloaded int64
		if err := rows.Scan(&a.Version, &a.File, &a.Size, &stored, &downloaded); err != nil {
			return nil, fmt.Errorf("db: module %s: %w", module, err)
		}
		a.Stored, a.LastDownloaded = timeOf(stored), timeOf(downloaded)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: module %s: %w", module, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("db: module %s: not in the catalog: %w", module, fs.ErrNotExist)
	}
	slices.SortFunc(out, func(a, b Artifact) int {
		if c := semver.Compare(b.Version, a.Version); c != 0 {
			return c
		}
		if c := strings.Compare(b.Version, a.Version); c != 0 {
			return c
		}
		return strings.Compare(a.File, b.File)
	})
	return out, nil
}

// Totals is what the catalog holds in all.
type Totals struct {
	Modules, Versions, Objects, Bytes int64
}

// CatalogTotals returns what the catalog holds in all.
func (d *DB) CatalogTotals(ctx context.Context) (Totals, error) {
	var t Totals
	err := d.r.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(versions), 0), COALESCE(SUM(objects), 0), COALESCE(SUM(bytes), 0)
		FROM catalog_modules`).Scan(&t.Modules, &t.Versions, &t.Objects, &t.Bytes)
	if err != nil {
		return Totals{}, fmt.Errorf("db: catalog totals: %w", err)
	}
	return t, nil
}

// Versions returns up to limit stored module versions (those with a
// catalogued .info, .mod or .zip), ordered by module path then version
// (bytewise), after the cursor (a previous call's next, "" to start); next
// is "" after the last. It is the Athens-compatible /catalog. A limit of 0
// or less means DefaultModulesLimit. A malformed cursor is a
// *BadQueryError.
func (d *DB) Versions(ctx context.Context, cursor string, limit int) (vs []module.Version, next string, err error) {
	if limit <= 0 {
		limit = DefaultModulesLimit
	}
	var after module.Version
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		path, version, ok := strings.Cut(string(b), "\x00")
		if err != nil || !ok {
			return nil, "", &BadQueryError{Msg: "malformed cursor"}
		}
		after = module.Version{Path: path, Version: version}
	}
	rows, err := d.r.QueryContext(ctx, d.d.rebind(`SELECT DISTINCT module, version FROM catalog
		WHERE module > ? OR (module = ? AND version > ?) ORDER BY module, version LIMIT ?`),
		after.Path, after.Path, after.Version, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("db: listing versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var mv module.Version
		if err := rows.Scan(&mv.Path, &mv.Version); err != nil {
			return nil, "", fmt.Errorf("db: listing versions: %w", err)
		}
		vs = append(vs, mv)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("db: listing versions: %w", err)
	}
	if len(vs) > limit {
		vs = vs[:limit]
		last := vs[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(last.Path + "\x00" + last.Version))
	}
	return vs, next, nil
}
