package db

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/modpattern"
)

// BadQueryError is a query the database cannot answer because it is
// malformed: a cursor that no call returned, a bad module pattern, a
// bad argument. It is a bad request (proxy.BadRequester).
type BadQueryError struct{ Msg string }

func (e *BadQueryError) Error() string { return "db: " + e.Msg }

// BadRequest reports true: the request was malformed.
func (e *BadQueryError) BadRequest() bool { return true }

// auditColumns are the columns of the audit table, in the order that
// WriteAudit binds them and scanRecord scans them.
const auditColumns = "id, time_ns, client, remote, method, module, module_key, version, kind, status, bytes, duration_ns, cache, upstream, agent, replica"

const auditColumnCount = 16

// day returns the day of t: whole days since the Unix epoch, UTC.
func day(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 86399) / 86400
	}
	return s / 86400
}

// week returns the week of day n: whole weeks since the epoch.
func week(n int64) int64 {
	if n < 0 {
		return (n - 6) / 7
	}
	return n / 7
}

// dayTime returns the UTC midnight that starts day n.
func dayTime(n int64) time.Time { return time.Unix(n*86400, 0).UTC() }

// clientOf returns the client a record counts for in the roll-ups: its
// token's name, else its address.
func clientOf(r *audit.Record) string {
	if r.Client != "" {
		return r.Client
	}
	return r.Remote
}

// isDownload reports whether r is a download: a GET of a .zip answered
// with it (200) or with a redirect to it in S3 (307, s3-zip-redirect).
func isDownload(r *audit.Record) bool {
	return r.Kind == audit.KindZip && r.Method != http.MethodHead && (r.Status == http.StatusOK || r.Status == http.StatusTemporaryRedirect)
}

// served reports whether r was answered with what it asked for (or a
// redirect to it): the module roll-ups count only such requests, so that
// requests for modules that do not exist, or that were refused, leave no
// module path behind once the records are pruned.
func served(r *audit.Record) bool { return r.Status > 0 && r.Status < 400 }

// isHit and isMiss: answered from storage, or fetched from an upstream.
func isHit(r *audit.Record) bool  { return r.Cache == "hit" || r.Cache == "stale" }
func isMiss(r *audit.Record) bool { return r.Cache == "miss" || r.Cache == "fresh" }

// counts are the summed figures of a roll-up row.
type counts struct{ requests, downloads, bytes, hits, misses int64 }

func (c *counts) add(r *audit.Record) {
	c.requests++
	if isDownload(r) {
		c.downloads++
	}
	c.bytes += r.Bytes
	if isHit(r) {
		c.hits++
	}
	if isMiss(r) {
		c.misses++
	}
}

type dayModVer struct {
	day             int64
	module, version string
}

type dayMod struct {
	day    int64 // or week
	module string
}

type dayClient struct {
	day    int64
	client string
}

type dayModClient struct {
	day            int64
	module, client string
}

type artifactKey struct{ module, version, file string }

// rollup is what a batch's stored records add to the roll-ups.
type rollup struct {
	versions   map[dayModVer]*counts
	modules    map[dayMod]*counts
	weeks      map[dayMod]*counts
	totals     map[int64]*counts
	modClients map[dayModClient]bool
	clients    map[dayClient]bool
	moduleKeys map[string]bool
	downloaded map[artifactKey]int64 // latest time_ns of a successful info/mod/zip
}

func newRollup() *rollup {
	return &rollup{
		versions:   map[dayModVer]*counts{},
		modules:    map[dayMod]*counts{},
		weeks:      map[dayMod]*counts{},
		totals:     map[int64]*counts{},
		modClients: map[dayModClient]bool{},
		clients:    map[dayClient]bool{},
		moduleKeys: map[string]bool{},
		downloaded: map[artifactKey]int64{},
	}
}

func bump[K comparable](m map[K]*counts, k K, r *audit.Record) {
	c := m[k]
	if c == nil {
		c = &counts{}
		m[k] = c
	}
	c.add(r)
}

func (u *rollup) add(r *audit.Record) {
	dy := day(r.Time)
	bump(u.totals, dy, r)
	client := clientOf(r)
	u.clients[dayClient{dy, client}] = true
	if r.Module == "" {
		return
	}
	u.moduleKeys[strings.ToLower(r.Module)] = true // for pattern queries of the records, pruned with them
	if !served(r) {
		return
	}
	bump(u.versions, dayModVer{dy, r.Module, r.Version}, r)
	bump(u.modules, dayMod{dy, r.Module}, r)
	bump(u.weeks, dayMod{week(dy), r.Module}, r)
	u.modClients[dayModClient{dy, r.Module, client}] = true
	if r.Version != "" && (isDownload(r) || r.Status == http.StatusOK && r.Method != http.MethodHead && (r.Kind == audit.KindInfo || r.Kind == audit.KindMod)) {
		k := artifactKey{r.Module, r.Version, r.Kind}
		if ns := r.Time.UnixNano(); ns > u.downloaded[k] {
			u.downloaded[k] = ns
		}
	}
}

// WriteAudit implements audit.Sink: it stores the batch in one
// transaction, skipping records whose ID is stored (also a second record
// of the batch with an ID the batch had before), and adds the records it
// stored, and only those, to the daily roll-ups (Downloads, Summary,
// TopModules) and to the catalog's last-downloaded times (a catalogued
// artifact's, for a successful info, mod or zip request of it). A record
// without an ID is an error, and nothing of the batch is stored.
//
// The usual batch is all new: it is inserted without asking which rows
// went in, and only when fewer did (a batch written again after a
// timeout, or a replayed spill file) is the transaction rolled back and
// the batch written again, learning which records are new.
func (d *DB) WriteAudit(ctx context.Context, batch []audit.Record) error {
	if len(batch) == 0 {
		return nil
	}
	for i := range batch {
		if batch[i].ID == "" {
			return &BadQueryError{Msg: fmt.Sprintf("audit record %d of the batch has no ID", i)}
		}
	}
	batch = firstOfEachID(batch)
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		n, err := d.insertRecords(ctx, tx, batch, nil)
		if err != nil {
			return err
		}
		if n < int64(len(batch)) {
			return errSeen
		}
		u := newRollup()
		for i := range batch {
			u.add(&batch[i])
		}
		return d.writeRollup(ctx, tx, u)
	})
	if !errors.Is(err, errSeen) {
		return err
	}
	return d.inTx(ctx, func(tx *sql.Tx) error {
		stored := make(map[string]bool, len(batch))
		if _, err := d.insertRecords(ctx, tx, batch, stored); err != nil {
			return err
		}
		u := newRollup()
		for i := range batch {
			if stored[batch[i].ID] {
				u.add(&batch[i])
			}
		}
		return d.writeRollup(ctx, tx, u)
	})
}

// errSeen is WriteAudit's first transaction finding a record stored.
var errSeen = errors.New("db: some audit records are stored already")

// firstOfEachID returns batch without the records whose ID an earlier
// record of batch has (batch itself when there are none: the usual case).
func firstOfEachID(batch []audit.Record) []audit.Record {
	seen := make(map[string]struct{}, len(batch))
	for i := range batch {
		if _, dup := seen[batch[i].ID]; dup {
			out := slices.Clone(batch[:i])
			for _, r := range batch[i+1:] {
				if _, dup := seen[r.ID]; !dup {
					seen[r.ID] = struct{}{}
					out = append(out, r)
				}
			}
			return out
		}
		seen[batch[i].ID] = struct{}{}
	}
	return batch
}

// inTx runs f in a write transaction, committing if it returns nil.
func (d *DB) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: %w", err)
	}
	defer d.prepare(ctx)
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	d.ckpt.wrote()
	return nil
}

// maxChunk is the most rows one INSERT of WriteAudit writes (a batch of
// the Recorder is one statement), and maxUpsertChunk of a roll-up upsert.
const (
	maxChunk       = 256
	maxUpsertChunk = 64
)

// insertRecords inserts batch, which has no ID twice, skipping IDs the
// table has, and returns how many it inserted. With stored, it also
// notes there the IDs it inserted (RETURNING, which costs more).
func (d *DB) insertRecords(ctx context.Context, tx *sql.Tx, batch []audit.Record, stored map[string]bool) (int64, error) {
	var total int64
	args := make([]any, 0, min(len(batch), maxChunk)*auditColumnCount)
	for _, n := range chunkSizes(len(batch), maxChunk) {
		chunk := batch[:n]
		batch = batch[n:]
		args = args[:0]
		for i := range chunk {
			r := &chunk[i]
			args = append(args, r.ID, r.Time.UnixNano(), r.Client, r.Remote, r.Method, r.Module, strings.ToLower(r.Module),
				r.Version, r.Kind, r.Status, r.Bytes, int64(r.Duration), r.Cache, r.Upstream, r.Agent, r.Replica)
		}
		q := "INSERT INTO audit (" + auditColumns + ") VALUES " + valuesList(n, auditColumnCount) +
			" ON CONFLICT (time_ns, id) DO NOTHING"
		if stored == nil {
			res, err := d.execTx(ctx, tx, q, args...)
			if err != nil {
				return 0, fmt.Errorf("db: storing audit records: %w", err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return 0, fmt.Errorf("db: storing audit records: %w", err)
			}
			total += k
			continue
		}
		rows, err := d.queryTx(ctx, tx, q+" RETURNING id", args...)
		if err != nil {
			return 0, fmt.Errorf("db: storing audit records: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return 0, fmt.Errorf("db: storing audit records: %w", err)
			}
			stored[id] = true
			total++
		}
		if err := rows.Close(); err != nil {
			return 0, fmt.Errorf("db: storing audit records: %w", err)
		}
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("db: storing audit records: %w", err)
		}
	}
	return total, nil
}

// valuesList returns "(?, ?), (?, ?)" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	one := "(" + strings.Repeat("?, ", cols-1) + "?)"
	var b strings.Builder
	b.Grow(rows * (len(one) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(one)
	}
	return b.String()
}

// upsert runs "INSERT INTO table (cols) VALUES ... ON CONFLICT tail" for
// rows, in chunks of chunkSizes. It sorts rows first: transactions of two
// replicas that change the same rows then lock them in the same order,
// instead of deadlocking.
func (d *DB) upsert(ctx context.Context, tx *sql.Tx, table, cols string, ncols int, tail string, rows [][]any) error {
	slices.SortFunc(rows, compareRows)
	args := make([]any, 0, min(len(rows), maxUpsertChunk)*ncols)
	for _, n := range chunkSizes(len(rows), maxUpsertChunk) {
		args = args[:0]
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		rows = rows[n:]
		q := "INSERT INTO " + table + " (" + cols + ") VALUES " + valuesList(n, ncols) + " ON CONFLICT " + tail
		if _, err := d.execTx(ctx, tx, q, args...); err != nil {
			return fmt.Errorf("db: updating %s: %w", table, err)
		}
	}
	return nil
}

// compareRows orders rows of int64 and string values column by column.
func compareRows(a, b []any) int {
	for i := range min(len(a), len(b)) {
		switch x := a[i].(type) {
		case int64:
			if c := cmp.Compare(x, b[i].(int64)); c != 0 {
				return c
			}
		case string:
			if c := strings.Compare(x, b[i].(string)); c != 0 {
				return c
			}
		}
	}
	return 0
}

const addCounts = "requests = %[1]s.requests + excluded.requests, downloads = %[1]s.downloads + excluded.downloads, " +
	"bytes = %[1]s.bytes + excluded.bytes, hits = %[1]s.hits + excluded.hits, misses = %[1]s.misses + excluded.misses"

// writeRollup adds u to the roll-up tables and the catalog.
func (d *DB) writeRollup(ctx context.Context, tx *sql.Tx, u *rollup) error {
	var rows [][]any
	for k, c := range u.versions {
		rows = append(rows, []any{k.day, k.module, k.version, c.requests, c.downloads, c.bytes, c.hits, c.misses})
	}
	if err := d.upsert(ctx, tx, "daily_versions", "day, module, version, requests, downloads, bytes, hits, misses", 8,
		"(day, module, version) DO UPDATE SET "+fmt.Sprintf(addCounts, "daily_versions"), rows); err != nil {
		return err
	}
	for _, t := range []struct {
		table, col string
		m          map[dayMod]*counts
	}{{"daily_modules", "day", u.modules}, {"weekly_modules", "week", u.weeks}} {
		rows = rows[:0]
		for k, c := range t.m {
			rows = append(rows, []any{k.day, k.module, c.requests, c.downloads, c.bytes, c.hits, c.misses})
		}
		if err := d.upsert(ctx, tx, t.table, t.col+", module, requests, downloads, bytes, hits, misses", 7,
			"("+t.col+", module) DO UPDATE SET "+fmt.Sprintf(addCounts, t.table), rows); err != nil {
			return err
		}
	}
	rows = rows[:0]
	for k, c := range u.totals {
		rows = append(rows, []any{k, c.requests, c.downloads, c.bytes, c.hits, c.misses})
	}
	if err := d.upsert(ctx, tx, "daily_totals", "day, requests, downloads, bytes, hits, misses", 6,
		"(day) DO UPDATE SET "+fmt.Sprintf(addCounts, "daily_totals"), rows); err != nil {
		return err
	}
	rows = rows[:0]
	for k := range u.modClients {
		rows = append(rows, []any{k.day, k.module, k.client})
	}
	if err := d.upsert(ctx, tx, "daily_module_clients", "day, module, client", 3, "DO NOTHING", rows); err != nil {
		return err
	}
	rows = rows[:0]
	for k := range u.clients {
		rows = append(rows, []any{k.day, k.client})
	}
	if err := d.upsert(ctx, tx, "daily_clients", "day, client", 2, "DO NOTHING", rows); err != nil {
		return err
	}
	rows = rows[:0]
	for k := range u.moduleKeys {
		rows = append(rows, []any{k})
	}
	if err := d.upsert(ctx, tx, "audit_modules", "module_key", 1, "DO NOTHING", rows); err != nil {
		return err
	}
	return d.markDownloaded(ctx, tx, u.downloaded)
}

// downloadedResolution is how far behind a catalogued artifact's last
// download time may be: a time is only written over one older by more,
// so that an artifact downloaded again and again (a CI fleet) costs a
// look-up, not a write, per batch.
const downloadedResolution = time.Hour

// markDownloaded sets the last-downloaded times of the catalogued
// artifacts in downloaded (and of their modules) where they are later by
// more than downloadedResolution.
func (d *DB) markDownloaded(ctx context.Context, tx *sql.Tx, downloaded map[artifactKey]int64) error {
	if len(downloaded) == 0 {
		return nil
	}
	const art = "UPDATE catalog SET last_downloaded_ns = ? WHERE module = ? AND version = ? AND file = ? AND last_downloaded_ns < ?"
	const mod = "UPDATE catalog_modules SET last_downloaded_ns = ? WHERE module = ? AND last_downloaded_ns < ?"
	// In key order: replicas' transactions lock the rows in one order.
	keys := slices.SortedFunc(maps.Keys(downloaded), func(a, b artifactKey) int {
		return cmp.Or(strings.Compare(a.module, b.module), strings.Compare(a.version, b.version), strings.Compare(a.file, b.file))
	})
	for _, k := range keys {
		ns := downloaded[k]
		res, err := d.execTx(ctx, tx, art, ns, k.module, k.version, k.file, ns-int64(downloadedResolution))
		if err != nil {
			return fmt.Errorf("db: updating download times: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		if _, err := d.execTx(ctx, tx, mod, ns, k.module, ns-int64(downloadedResolution)); err != nil {
			return fmt.Errorf("db: updating download times: %w", err)
		}
	}
	return nil
}

// Query limits: the page size without a limit, and the largest.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// maxModuleKeys is how many module paths a module pattern may match for
// QueryAudit to name them in SQL; beyond, it narrows by the patterns'
// literal prefixes only and filters the rest in Go.
const maxModuleKeys = 500

// QueryAudit returns a page of the records that q selects, newest first
// (by time, then ID, descending), at most q.Limit of them (0 means
// DefaultAuditLimit; more than MaxAuditLimit means MaxAuditLimit), and the
// cursor of the next page. Module matches as modpattern.List.Match does
// (ignoring case). A malformed cursor or module pattern is a
// *BadQueryError.
func (d *DB) QueryAudit(ctx context.Context, q audit.Query) (audit.Page, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultAuditLimit
	case limit > MaxAuditLimit:
		limit = MaxAuditLimit
	}
	var where []string
	var args []any
	if !q.Since.IsZero() {
		where = append(where, "time_ns >= ?")
		args = append(args, q.Since.UnixNano())
	}
	until := q.Until
	if until.IsZero() {
		until = time.Now()
	}
	untilNS := until.UnixNano()
	for _, f := range []struct{ col, v string }{{"client", q.Client}, {"remote", q.Remote}, {"kind", q.Kind}, {"cache", q.Cache}} {
		if f.v != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	if q.Client != "" {
		where = append(where, "client <> ''") // the client index's condition, for the planners
	}
	if q.StatusMin > 0 {
		where = append(where, "status >= ?")
		args = append(args, q.StatusMin)
	}
	if q.StatusMax > 0 {
		where = append(where, "status <= ?")
		args = append(args, q.StatusMax)
	}
	if q.StatusMin > 200 || q.StatusMax > 0 && q.StatusMax < 200 {
		where = append(where, "status <> 200") // the status index's condition
	}
	var match func(module string) bool
	if q.Module != "" {
		pats, err := modpattern.Parse(q.Module)
		if err != nil {
			return audit.Page{}, &BadQueryError{Msg: "module pattern: " + err.Error()}
		}
		cond, condArgs, filter, err := d.moduleCondition(ctx, pats)
		if err != nil {
			return audit.Page{}, err
		}
		if cond == "" {
			return audit.Page{}, nil // no module matches
		}
		where = append(where, cond)
		args = append(args, condArgs...)
		if filter {
			match = pats.Match
		}
	}
	after, hasAfter, err := decodeCursor(q.Cursor)
	if err != nil {
		return audit.Page{}, err
	}
	// Rows are read limit+1 at a time, or more when a pattern filters
	// them in Go, each read starting below the last row read: one bound
	// on time_ns, the key's first column, so that SQLite seeks to it
	// rather than walking down from until (with the cursor's bound as a
	// second condition, it did: a page deep in a large log cost time in
	// proportion to the records above it).
	chunk := limit + 1
	if match != nil {
		chunk = max(chunk, 1000)
	}
	var page audit.Page
	for {
		w, a := where, args
		bound := untilNS
		if hasAfter && after.ns < bound {
			bound = after.ns + 1 // time_ns <= after.ns
		}
		w = append(w[:len(w):len(w)], "time_ns < ?")
		a = append(a[:len(a):len(a)], bound)
		if hasAfter {
			w = append(w, "(time_ns < ? OR id < ?)")
			a = append(a, after.ns, after.id)
		}
		query := "SELECT " + auditColumns + " FROM audit WHERE " + strings.Join(w, " AND ") +
			" ORDER BY time_ns DESC, id DESC LIMIT " + strconv.Itoa(chunk)
		rows, err := d.r.QueryContext(ctx, d.d.rebind(query), a...)
		if err != nil {
			return audit.Page{}, fmt.Errorf("db: querying the audit log: %w", err)
		}
		n := 0
		for rows.Next() {
			n++
			var r audit.Record
			var ns, dur int64
			var key string
			if err := rows.Scan(&r.ID, &ns, &r.Client, &r.Remote, &r.Method, &r.Module, &key, &r.Version, &r.Kind,
				&r.Status, &r.Bytes, &dur, &r.Cache, &r.Upstream, &r.Agent, &r.Replica); err != nil {
				rows.Close()
				return audit.Page{}, fmt.Errorf("db: querying the audit log: %w", err)
			}
			r.Time = time.Unix(0, ns).UTC()
			r.Duration = time.Duration(dur)
			after, hasAfter = cursor{ns: ns, id: r.ID}, true
			if match == nil || match(r.Module) {
				page.Records = append(page.Records, r)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return audit.Page{}, fmt.Errorf("db: querying the audit log: %w", err)
		}
		if len(page.Records) > limit {
			page.Records = page.Records[:limit]
			last := page.Records[limit-1]
			page.Next = cursor{ns: last.Time.UnixNano(), id: last.ID}.String()
			return page, nil
		}
		if n < chunk {
			return page, nil
		}
	}
}

// moduleCondition returns the SQL condition on module_key that narrows
// the records to those pats may match, and whether rows must still be
// filtered with pats.Match. The module paths the patterns match are
// looked up in audit_modules (by each pattern's literal prefix, before
// any glob character) and named in the condition; when there are too
// many, the condition is on the prefixes alone. An empty condition means
// that no record matches.
func (d *DB) moduleCondition(ctx context.Context, pats modpattern.List) (cond string, args []any, filter bool, err error) {
	var prefixes []string
	for _, p := range pats.Patterns() {
		pre := strings.ToLower(strings.ReplaceAll(p, "!", ""))
		if i := strings.IndexAny(pre, `*?[\`); i >= 0 {
			pre = pre[:i]
		}
		if pre == "" {
			prefixes = nil // a pattern matching any prefix: look at every path
			break
		}
		prefixes = append(prefixes, pre)
	}
	// The ranges of the prefixes, for audit_modules and, when a pattern
	// matches too many paths to name, for audit itself: there the column
	// is written so that SQLite does not use the module index for it
	// ("+module_key"), since walking the records newest first and
	// filtering finds a page of a pattern that matches many modules far
	// sooner than sorting all their records by time.
	rangesOf := func(col string) ([]string, []any) {
		var ranges []string
		var args []any
		for _, pre := range prefixes {
			if hi, ok := prefixEnd(pre); ok {
				ranges = append(ranges, "("+col+" >= ? AND "+col+" < ?)")
				args = append(args, pre, hi)
			} else {
				ranges = append(ranges, col+" >= ?")
				args = append(args, pre)
			}
		}
		return ranges, args
	}
	ranges, rangeArgs := rangesOf("module_key")
	query := "SELECT module_key FROM audit_modules"
	if len(ranges) > 0 {
		query += " WHERE " + strings.Join(ranges, " OR ")
	}
	rows, err := d.r.QueryContext(ctx, d.d.rebind(query), rangeArgs...)
	if err != nil {
		return "", nil, false, fmt.Errorf("db: querying the audit log: %w", err)
	}
	defer rows.Close()
	var keys []any
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return "", nil, false, fmt.Errorf("db: querying the audit log: %w", err)
		}
		if pats.Match(k) {
			keys = append(keys, k)
			if len(keys) > maxModuleKeys {
				if len(ranges) == 0 {
					return "1 = 1", nil, true, nil
				}
				col := "module_key"
				if !d.d.postgres {
					col = "+module_key"
				}
				ranges, rangeArgs := rangesOf(col)
				return "(" + strings.Join(ranges, " OR ") + ")", rangeArgs, true, nil
			}
		}
	}
	if err := rows.Err(); err != nil {
		return "", nil, false, fmt.Errorf("db: querying the audit log: %w", err)
	}
	if len(keys) == 0 {
		return "", nil, false, nil
	}
	if len(keys) == 1 {
		return "module_key = ?", keys, false, nil
	}
	return "module_key IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ") + ")", keys, false, nil
}

// prefixEnd returns the least string greater than every string with
// prefix pre, if there is one.
func prefixEnd(pre string) (string, bool) {
	b := []byte(pre)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// cursor is where a page of QueryAudit ends: the last record's time and
// ID. Its String form is opaque to callers.
type cursor struct {
	ns int64
	id string
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.ns, 10) + "/" + c.id))
}

func decodeCursor(s string) (cursor, bool, error) {
	if s == "" {
		return cursor{}, false, nil
	}
	bad := &BadQueryError{Msg: "malformed cursor"}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false, bad
	}
	ns, id, ok := strings.Cut(string(b), "/")
	if !ok || id == "" {
		return cursor{}, false, bad
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return cursor{}, false, bad
	}
	return cursor{ns: n, id: id}, true, nil
}

// pruneChunk is how many records PruneAudit deletes per statement, so
// that a large prune does not hold SQLite's write lock for long.
const pruneChunk = 10000

// PruneAudit deletes the audit records older than before, and the
// roll-ups' lists of the clients seen each day (which name clients, like
// the records) of the days before before's, keeping the daily counts, and
// returns how many records it deleted. It deletes in chunks, each its own
// transaction: a prune that fails part way has deleted some of the old
// records and can be run again. Unique clients are counted for the
// days kept only.
func (d *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	for _, table := range []string{"daily_clients", "daily_module_clients"} {
		if _, err := d.w.ExecContext(ctx, d.d.rebind("DELETE FROM "+table+" WHERE day < ?"), day(before)); err != nil {
			return 0, fmt.Errorf("db: pruning %s: %w", table, err)
		}
	}
	var total int64
	q := d.d.rebind("DELETE FROM audit WHERE (time_ns, id) IN (SELECT time_ns, id FROM audit WHERE time_ns < ? ORDER BY time_ns LIMIT " + strconv.Itoa(pruneChunk) + ")")
	for {
		res, err := d.w.ExecContext(ctx, q, before.UnixNano())
		if err != nil {
			return total, fmt.Errorf("db: pruning the audit log: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("db: pruning the audit log: %w", err)
		}
		total += n
		d.ckpt.wrote()
		if n < pruneChunk {
			break
		}
	}
	// The module paths that pattern queries look up go with the last
	// record naming them (a client's requests for made-up modules leave
	// nothing behind).
	if total > 0 {
		if _, err := d.w.ExecContext(ctx, `DELETE FROM audit_modules WHERE NOT EXISTS
			(SELECT 1 FROM audit WHERE audit.module_key = audit_modules.module_key)`); err != nil {
			return total, fmt.Errorf("db: pruning the audit log's module paths: %w", err)
		}
	}
	return total, nil
}
