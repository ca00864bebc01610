package db

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
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

// isHit and isMiss: answered from storage (or a zip a prefetch had
// fetched: the client did not wait for an upstream), or fetched from an
// upstream.
func isHit(r *audit.Record) bool {
	return r.Cache == "hit" || r.Cache == "stale" || r.Cache == "prefetched"
}
func isMiss(r *audit.Record) bool { return r.Cache == "miss" || r.Cache == "fresh" }

// counts are the summed figures of a roll-up row.
type counts struct{ requests, downloads, bytes, hits, misses int64 }

// add counts n records like r, whose Bytes is their sum.
func (c *counts) add(r *audit.Record, n int64) {
	c.requests += n
	if isDownload(r) {
		c.downloads += n
	}
	c.bytes += r.Bytes
	if isHit(r) {
		c.hits += n
	}
	if isMiss(r) {
		c.misses += n
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
	minutes    map[int64]*minuteCounts
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
		minutes:    map[int64]*minuteCounts{},
		modClients: map[dayModClient]bool{},
		clients:    map[dayClient]bool{},
		moduleKeys: map[string]bool{},
		downloaded: map[artifactKey]int64{},
	}
}

func bump[K comparable](m map[K]*counts, k K, r *audit.Record, n int64) {
	c := m[k]
	if c == nil {
		c = &counts{}
		m[k] = c
	}
	c.add(r, n)
}

// rollKey is what the roll-up rows of a record depend on (with its day,
// from the minute): records of one rollKey are added as one.
type rollKey struct {
	minute                                       int64
	module, version, client, kind, method, cache string
	status                                       int
}

// addAll adds recs: the records with the same rollKey (a batch of the
// same few requests, the usual) once, with their count, summed bytes and
// latest time, so that each batch costs a map look-up per record and the
// roll-ups' look-ups per distinct request only.
func (u *rollup) addAll(recs []audit.Record) {
	type agg struct{ n, bytes, last int64 }
	aggs := make(map[rollKey]*agg, 16)
	// Records of one shape often come in runs (a build fetching what it
	// has cached): the previous record's key is compared before the map
	// is hashed (equal strings that share their bytes compare at once).
	var lastK rollKey
	var a *agg
	for i := range recs {
		r := &recs[i]
		k := rollKey{minuteOf(r.Time), r.Module, r.Version, clientOf(r), r.Kind, r.Method, r.Cache, r.Status}
		if a == nil || k != lastK {
			if a = aggs[k]; a == nil {
				a = &agg{last: math.MinInt64}
				aggs[k] = a
			}
			lastK = k
		}
		a.n++
		a.bytes += r.Bytes
		a.last = max(a.last, r.Time.UnixNano())
	}
	for k, a := range aggs {
		u.add(&audit.Record{Time: time.Unix(0, a.last).UTC(), Client: k.client, Method: k.method, Module: k.module, Version: k.version,
			Kind: k.kind, Status: k.status, Bytes: a.bytes, Cache: k.cache}, a.n)
	}
}

// add adds n records like r (r.Bytes their sum, r.Time the latest).
func (u *rollup) add(r *audit.Record, n int64) {
	dy := day(r.Time)
	bump(u.totals, dy, r, n)
	mn := minuteOf(r.Time)
	m := u.minutes[mn]
	if m == nil {
		m = &minuteCounts{}
		u.minutes[mn] = m
	}
	m.add(r, n)
	client := clientOf(r)
	u.clients[dayClient{dy, client}] = true
	if r.Module == "" {
		return
	}
	u.moduleKeys[strings.ToLower(r.Module)] = true // for pattern queries of the records, pruned with them
	if !served(r) {
		return
	}
	bump(u.versions, dayModVer{dy, r.Module, r.Version}, r, n)
	bump(u.modules, dayMod{dy, r.Module}, r, n)
	bump(u.weeks, dayMod{week(dy), r.Module}, r, n)
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
// The records are stored as segments (see segment.go): one row per
// writer of the batch (writerOf: the Recorder's batches have one), the
// records encoded in it, plus a few rows of audit_segment_keys. Before a
// segment is added, the segments of the same writer whose range (of
// sequence numbers, or of times for other IDs) meets the batch's are
// read, and the records they hold are left out: for the Recorder's
// batches there are none unless the batch, or records of it, were
// written before (after a timeout whose write landed, or replayed from a
// spill file, in the same batches or not), so that the usual check is
// one index look-up that finds nothing. On PostgreSQL the check and the
// insert hold an advisory lock of the writer, so that two transactions
// writing the same records at once store them once.
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
	enc, _ := d.encoders.Get().(*segmentEncoder)
	if enc == nil {
		enc = &segmentEncoder{}
	}
	defer d.encoders.Put(enc.reset())
	return d.inTx(ctx, func(tx *sql.Tx) error {
		u := newRollup()
		for _, g := range byWriter(batch) {
			stored, err := d.writeSegment(ctx, tx, enc, g.writer, g.recs, true)
			if err != nil {
				return err
			}
			u.addAll(stored)
		}
		return d.writeRollup(ctx, tx, u)
	})
}

// writerGroup is the records of a batch of one writer (writerOf).
type writerGroup struct {
	writer string
	recs   []audit.Record
}

// byWriter splits batch by writer, keeping the records' order; a batch
// of one writer (the usual) is not copied.
func byWriter(batch []audit.Record) []writerGroup {
	w0, _ := writerOf(batch[0].ID)
	i := 1
	for i < len(batch) {
		if w, _ := writerOf(batch[i].ID); w != w0 {
			break
		}
		i++
	}
	if i == len(batch) {
		return []writerGroup{{w0, batch}}
	}
	var out []writerGroup
	at := map[string]int{}
	for _, r := range batch {
		w, _ := writerOf(r.ID)
		j, ok := at[w]
		if !ok {
			j = len(out)
			at[w] = j
			out = append(out, writerGroup{writer: w})
		}
		out[j].recs = append(out[j].recs, r)
	}
	return out
}

// segBounds returns the range of a segment of recs by writer that the
// duplicate check compares: sequence numbers, or times for writer "".
func segBounds(writer string, recs []audit.Record) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	for i := range recs {
		var v int64
		if writer == "" {
			v = recs[i].Time.UnixNano()
		} else {
			_, seq := writerOf(recs[i].ID)
			v = int64(seq)
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// writerLock is the namespace of the PostgreSQL advisory locks that
// WriteAudit takes per writer (two int4 keys: this, and the writer's
// hash).
const writerLock = 0x61756474 // "audt"

// writeSegment stores recs, of writer writer, as a segment, without the
// records that segments of the writer hold when check is set, and
// returns the records it stored.
func (d *DB) writeSegment(ctx context.Context, tx *sql.Tx, enc *segmentEncoder, writer string, recs []audit.Record, check bool) ([]audit.Record, error) {
	lo, hi := segBounds(writer, recs)
	if check {
		if d.d.postgres {
			h := fnv.New32a()
			h.Write([]byte(writer))
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, $2)", int32(writerLock), int32(h.Sum32())); err != nil {
				return nil, fmt.Errorf("db: storing audit records: %w", err)
			}
		}
		rows, err := d.queryTx(ctx, tx, "SELECT data FROM audit_segments WHERE writer = ? AND hi >= ? AND lo <= ?", writer, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("db: storing audit records: %w", err)
		}
		var have map[string]bool
		for rows.Next() {
			var data []byte
			if err := rows.Scan(&data); err != nil {
				rows.Close()
				return nil, fmt.Errorf("db: storing audit records: %w", err)
			}
			if have == nil {
				have = map[string]bool{}
			}
			if _, err := decodeSegment(data, nil, &segFilter{keep: func(r *audit.Record) bool {
				have[r.ID] = true
				return false
			}}); err != nil {
				rows.Close()
				return nil, err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("db: storing audit records: %w", err)
		}
		if len(have) > 0 {
			var fresh []audit.Record
			for _, r := range recs {
				if !have[r.ID] {
					fresh = append(fresh, r)
				}
			}
			if len(fresh) == 0 {
				return nil, nil
			}
			recs = fresh
			lo, hi = segBounds(writer, recs)
		}
	}
	data, first, last := enc.encode(writer, recs)
	var id int64
	rows, err := d.queryTx(ctx, tx, "INSERT INTO audit_segments (writer, lo, hi, first_ns, last_ns, records, data) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
		writer, lo, hi, first, last, len(recs), data)
	if err != nil {
		return nil, fmt.Errorf("db: storing audit records: %w", err)
	}
	if rows.Next() {
		err = rows.Scan(&id)
	}
	rows.Close()
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("db: storing audit records: %w", err)
	}
	keys := segmentKeys(recs)
	args := make([]any, 0, min(len(keys), maxChunk)*5)
	for _, n := range chunkSizes(len(keys), maxChunk) {
		args = args[:0]
		for _, k := range keys[:n] {
			args = append(args, k.kind, k.key, last, id, first)
		}
		keys = keys[n:]
		q := "INSERT INTO audit_segment_keys (kind, key, last_ns, segment, first_ns) VALUES " + valuesList(n, 5)
		if _, err := d.execTx(ctx, tx, q, args...); err != nil {
			return nil, fmt.Errorf("db: storing audit records: %w", err)
		}
	}
	return recs, nil
}

// segKey is a row of audit_segment_keys, without its segment.
type segKey struct {
	kind int
	key  string
}

// segmentKeys returns the distinct keys of recs, sorted: module keys,
// token names, status classes, and token names with their non-2xx
// classes.
func segmentKeys(recs []audit.Record) []segKey {
	seen := make(map[segKey]struct{}, 16)
	var prevMod, prevClient string
	prevStatus := -1
	for i := range recs {
		r := &recs[i]
		if r.Module != "" && r.Module != prevMod {
			prevMod = r.Module
			seen[segKey{keyModule, strings.ToLower(r.Module)}] = struct{}{}
		}
		if r.Client != "" && r.Client != prevClient {
			prevClient = r.Client
			seen[segKey{keyClient, r.Client}] = struct{}{}
		}
		if c := r.Status / 100; c != prevStatus {
			prevStatus = c
			seen[segKey{keyStatus, strconv.Itoa(c)}] = struct{}{}
		}
		if c := r.Status / 100; c != 2 && r.Client != "" {
			seen[segKey{keyClientStatus, clientStatusKey(c, r.Client)}] = struct{}{}
		}
	}
	keys := slices.Collect(maps.Keys(seen))
	slices.SortFunc(keys, compareSegKeys)
	return keys
}

// firstOfEachID returns batch without the records whose ID an earlier
// record of batch has (batch itself when there are none: the usual case).
func firstOfEachID(batch []audit.Record) []audit.Record {
	// The Recorder's batches: one writer, numbers that increase, so no
	// ID twice, found without a map.
	if w0, prev := writerOf(batch[0].ID); w0 != "" {
		i := 1
		for ; i < len(batch); i++ {
			w, seq := writerOf(batch[i].ID)
			if w != w0 || seq <= prev {
				break
			}
			prev = seq
		}
		if i == len(batch) {
			return batch
		}
	}
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
	defer d.endTx(tx)
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

// maxChunk is the most rows one INSERT of audit_segment_keys writes, and
// maxUpsertChunk of a roll-up upsert.
const (
	maxChunk       = 256
	maxUpsertChunk = 64
)

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
	for k, c := range u.minutes {
		rows = append(rows, []any{k, c.requests, c.hits, c.misses, c.bytes, c.errors})
	}
	if err := d.upsert(ctx, tx, "minute_totals", "minute, requests, hits, misses, bytes, errors", 6,
		"(minute) DO UPDATE SET requests = minute_totals.requests + excluded.requests, hits = minute_totals.hits + excluded.hits, "+
			"misses = minute_totals.misses + excluded.misses, bytes = minute_totals.bytes + excluded.bytes, errors = minute_totals.errors + excluded.errors", rows); err != nil {
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
// QueryAudit to read their segments through audit_segment_keys; beyond,
// it walks all segments by time and filters in Go.
const maxModuleKeys = 500

// maxSegmentChunk is the most segments QueryAudit reads per statement
// (the first reads 2, each next twice as many).
const maxSegmentChunk = 64

// QueryAudit returns a page of the records that q selects, newest first
// (by time, then ID, descending), at most q.Limit of them (0 means
// DefaultAuditLimit; more than MaxAuditLimit means MaxAuditLimit), and the
// cursor of the next page. Module matches as modpattern.List.Match does
// (ignoring case). A malformed cursor or module pattern is a
// *BadQueryError.
//
// It reads segments newest first by their last record's time (through
// audit_segment_keys when q names modules, a client, or status classes
// without 2xx; else all of them), decodes and filters their records in
// Go, and hands out a record once no segment still unread can hold a
// later one (segments of several replicas overlap in time): the order is
// exact whatever the segments.
func (d *DB) QueryAudit(ctx context.Context, q audit.Query) (audit.Page, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultAuditLimit
	case limit > MaxAuditLimit:
		limit = MaxAuditLimit
	}
	sinceNS := int64(math.MinInt64)
	if !q.Since.IsZero() {
		sinceNS = q.Since.UnixNano()
	}
	until := q.Until
	if until.IsZero() {
		until = time.Now()
	}
	untilNS := until.UnixNano()
	after, hasAfter, err := decodeCursor(q.Cursor)
	if err != nil {
		return audit.Page{}, err
	}
	// Where the segments come from: keyKind and keys, or all of them.
	keyKind := 0
	var keys []any
	var modSet map[string]bool
	var match func(string) bool
	if q.Module != "" {
		pats, err := modpattern.Parse(q.Module)
		if err != nil {
			return audit.Page{}, &BadQueryError{Msg: "module pattern: " + err.Error()}
		}
		mk, tooMany, err := d.moduleKeys(ctx, pats)
		if err != nil {
			return audit.Page{}, err
		}
		if tooMany {
			match = pats.Match
		} else {
			if len(mk) == 0 {
				return audit.Page{}, nil // no module matches
			}
			keyKind, keys = keyModule, mk
			modSet = make(map[string]bool, len(mk))
			for _, k := range mk {
				modSet[k.(string)] = true
			}
		}
	}
	if keyKind == 0 && (q.StatusMin > 299 || q.StatusMax > 0 && q.StatusMax < 200) {
		lo, hi := q.StatusMin/100, 9
		if q.StatusMax > 0 {
			hi = q.StatusMax / 100
		}
		if lo > hi {
			return audit.Page{}, nil
		}
		// A client's failed requests: the segments that hold the two
		// together; else those of the classes.
		keyKind = keyStatus
		if q.Client != "" {
			keyKind = keyClientStatus
		}
		for c := lo; c <= hi; c++ {
			if keyKind == keyClientStatus {
				keys = append(keys, clientStatusKey(c, q.Client))
			} else {
				keys = append(keys, strconv.Itoa(c))
			}
		}
	}
	if keyKind == 0 && q.Client != "" {
		keyKind, keys = keyClient, []any{q.Client}
	}
	filter := &segFilter{keep: func(r *audit.Record) bool {
		ns := r.Time.UnixNano()
		switch {
		case ns < sinceNS || ns >= untilNS,
			hasAfter && (ns > after.ns || ns == after.ns && r.ID >= after.id),
			q.StatusMin > 0 && r.Status < q.StatusMin,
			q.StatusMax > 0 && r.Status > q.StatusMax,
			q.Decided && r.Policy == "":
			return false
		}
		return true
	}}
	for _, f := range []struct {
		field int
		v     string
	}{{fieldClient, q.Client}, {fieldRemote, q.Remote}, {fieldKind, q.Kind}, {fieldCache, q.Cache}} {
		if v := f.v; v != "" {
			filter.str[f.field] = func(s string) bool { return s == v }
		}
	}
	switch {
	case modSet != nil:
		filter.str[fieldModule] = func(s string) bool { return modSet[strings.ToLower(s)] }
	case match != nil:
		filter.str[fieldModule] = func(s string) bool { return s != "" && match(s) }
	}
	// Segments hold records below bound and at or above sinceNS.
	bound := untilNS
	if hasAfter && after.ns < bound {
		bound = after.ns + 1
	}
	var query string
	var args []any
	if keyKind != 0 {
		in := "k.key = ?"
		if len(keys) > 1 {
			in = "k.key IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ") + ")"
		}
		// The key rows are ordered and cut to the chunk before the
		// segments' data is joined: with several keys, the rows are
		// sorted, and data in the sort would be read for every segment
		// that matches.
		query = "SELECT x.segment, x.last_ns, s.data FROM (SELECT DISTINCT k.segment, k.last_ns FROM audit_segment_keys k WHERE k.kind = ? AND " + in +
			" AND k.last_ns >= ? AND k.first_ns < ? AND k.last_ns <= ? AND (k.last_ns < ? OR k.segment < ?) ORDER BY k.last_ns DESC, k.segment DESC LIMIT ?) x" +
			" JOIN audit_segments s ON s.id = x.segment ORDER BY x.last_ns DESC, x.segment DESC"
		args = append(append([]any{keyKind}, keys...), sinceNS, bound)
	} else {
		query = "SELECT id, last_ns, data FROM audit_segments WHERE last_ns >= ? AND first_ns < ? AND last_ns <= ? AND (last_ns < ? OR id < ?) ORDER BY last_ns DESC, id DESC LIMIT ?"
		args = []any{sinceNS, bound}
	}
	query = d.d.rebind(query)
	var page audit.Page
	var buf []audit.Record // decoded, not handed out yet
	// emit moves the records of buf later than ns to the page, in order.
	emit := func(ns int64) {
		slices.SortFunc(buf, func(a, b audit.Record) int {
			return cmp.Or(b.Time.Compare(a.Time), strings.Compare(b.ID, a.ID))
		})
		i := 0
		for i < len(buf) && buf[i].Time.UnixNano() > ns {
			i++
		}
		page.Records = append(page.Records, buf[:i]...)
		buf = slices.Delete(buf, 0, i)
	}
	seen := map[int64]bool{}
	posNS, posID := int64(math.MaxInt64), int64(math.MaxInt64)
	chunk := 2
	for len(page.Records) <= limit {
		rows, err := d.r.QueryContext(ctx, query, append(args[:len(args):len(args)], posNS, posNS, posID, chunk)...)
		if err != nil {
			return audit.Page{}, fmt.Errorf("db: querying the audit log: %w", err)
		}
		n := 0
		for rows.Next() && len(page.Records) <= limit {
			n++
			var id, last int64
			var data sql.RawBytes // decoded before the next row: no copy
			if err := rows.Scan(&id, &last, &data); err != nil {
				rows.Close()
				return audit.Page{}, fmt.Errorf("db: querying the audit log: %w", err)
			}
			posNS, posID = last, id
			if seen[id] {
				continue // a segment of two of the keys
			}
			seen[id] = true
			emit(last)
			if buf, err = decodeSegment(data, buf, filter); err != nil {
				rows.Close()
				return audit.Page{}, fmt.Errorf("%w %d", err, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return audit.Page{}, fmt.Errorf("db: querying the audit log: %w", err)
		}
		if len(page.Records) > limit {
			break
		}
		if n < chunk {
			emit(math.MinInt64)
			break
		}
		chunk = min(2*chunk, maxSegmentChunk)
	}
	if len(page.Records) > limit {
		page.Records = page.Records[:limit]
		last := page.Records[limit-1]
		page.Next = cursor{ns: last.Time.UnixNano(), id: last.ID}.String()
	}
	return page, nil
}

// moduleKeys returns the module keys (lower-case module paths) of the
// audit log that pats match, looked up in audit_modules by each
// pattern's literal prefix (before any glob character); tooMany when
// they are more than maxModuleKeys, and QueryAudit walks the records by
// time instead, filtering them with pats.Match (which finds a page of a
// pattern that matches many modules far sooner than merging their
// segments).
func (d *DB) moduleKeys(ctx context.Context, pats modpattern.List) (keys []any, tooMany bool, err error) {
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
	var ranges []string
	var args []any
	for _, pre := range prefixes {
		if hi, ok := prefixEnd(pre); ok {
			ranges = append(ranges, "(module_key >= ? AND module_key < ?)")
			args = append(args, pre, hi)
		} else {
			ranges = append(ranges, "module_key >= ?")
			args = append(args, pre)
		}
	}
	query := "SELECT module_key FROM audit_modules"
	if len(ranges) > 0 {
		query += " WHERE " + strings.Join(ranges, " OR ")
	}
	rows, err := d.r.QueryContext(ctx, d.d.rebind(query), args...)
	if err != nil {
		return nil, false, fmt.Errorf("db: querying the audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, false, fmt.Errorf("db: querying the audit log: %w", err)
		}
		if pats.Match(k) {
			keys = append(keys, k)
			if len(keys) > maxModuleKeys {
				return nil, true, nil
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("db: querying the audit log: %w", err)
	}
	return keys, false, nil
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

// pruneSegments is how many segments (of up to 256 records each)
// PruneAudit deletes per transaction, so that a large prune does not hold
// SQLite's write lock for long.
const pruneSegments = 40

// PruneAudit deletes the audit records older than before, the
// roll-ups' lists of the clients seen each day (which name clients, like
// the records) of the days before before's, keeping the daily counts,
// and the per-minute totals of the minutes before before's, and
// returns how many records it deleted. It deletes whole segments, oldest
// first, in chunks, each its own transaction, and then cuts the segments
// that hold records on both sides of before: a prune that fails part way
// has deleted some of the old records and can be run again. Unique
// clients are counted for the days kept only.
func (d *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) {
	for _, table := range []string{"daily_clients", "daily_module_clients"} {
		if _, err := d.w.ExecContext(ctx, d.d.rebind("DELETE FROM "+table+" WHERE day < ?"), day(before)); err != nil {
			return 0, fmt.Errorf("db: pruning %s: %w", table, err)
		}
	}
	if _, err := d.w.ExecContext(ctx, d.d.rebind("DELETE FROM minute_totals WHERE minute < ?"), minuteOf(before)); err != nil {
		return 0, fmt.Errorf("db: pruning minute_totals: %w", err)
	}
	b := before.UnixNano()
	var total int64
	for {
		var n int64
		more := false
		err := d.inTx(ctx, func(tx *sql.Tx) error {
			// The chunk: the oldest segments, up to the last_ns of the
			// pruneSegments-th, so that it holds every segment of
			// that last_ns and a key row's last_ns tells whether its
			// segment is in the chunk.
			var upTo sql.NullInt64
			err := tx.QueryRowContext(ctx, d.d.rebind("SELECT last_ns FROM audit_segments WHERE last_ns < ? ORDER BY last_ns LIMIT 1 OFFSET ?"), b, pruneSegments-1).Scan(&upTo)
			if errors.Is(err, sql.ErrNoRows) {
				err = tx.QueryRowContext(ctx, d.d.rebind("SELECT MAX(last_ns) FROM audit_segments WHERE last_ns < ?"), b).Scan(&upTo)
			} else {
				more = true
			}
			if err != nil || !upTo.Valid {
				return err
			}
			rows, err := tx.QueryContext(ctx, d.d.rebind("SELECT data FROM audit_segments WHERE last_ns <= ?"), upTo.Int64)
			if err != nil {
				return err
			}
			keys := map[segKey]bool{}
			var recs []audit.Record
			for rows.Next() {
				var data []byte
				if err := rows.Scan(&data); err != nil {
					rows.Close()
					return err
				}
				if recs, err = decodeSegment(data, recs[:0], nil); err != nil {
					rows.Close()
					return err
				}
				n += int64(len(recs))
				for _, k := range segmentKeys(recs) {
					keys[k] = true
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, k := range slices.SortedFunc(maps.Keys(keys), compareSegKeys) {
				if _, err := d.execTx(ctx, tx, "DELETE FROM audit_segment_keys WHERE kind = ? AND key = ? AND last_ns <= ?", k.kind, k.key, upTo.Int64); err != nil {
					return err
				}
			}
			_, err = d.execTx(ctx, tx, "DELETE FROM audit_segments WHERE last_ns <= ?", upTo.Int64)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("db: pruning the audit log: %w", err)
		}
		total += n
		if !more {
			break
		}
	}
	// The segments with records on both sides of before.
	var cut int64
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		type seg struct {
			id, last int64
			writer   string
			data     []byte
		}
		var segs []seg
		rows, err := tx.QueryContext(ctx, d.d.rebind("SELECT id, last_ns, writer, data FROM audit_segments WHERE last_ns >= ? AND first_ns < ?"), b, b)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s seg
			if err := rows.Scan(&s.id, &s.last, &s.writer, &s.data); err != nil {
				rows.Close()
				return err
			}
			segs = append(segs, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var enc segmentEncoder
		for _, s := range segs {
			recs, err := decodeSegment(s.data, nil, nil)
			if err != nil {
				return err
			}
			had, all := segmentKeys(recs), len(recs)
			recs = slices.DeleteFunc(recs, func(r audit.Record) bool { return r.Time.UnixNano() < b })
			cut += int64(all - len(recs))
			lo, hi := segBounds(s.writer, recs)
			data, first, _ := enc.encode(s.writer, recs)
			if _, err := d.execTx(ctx, tx, "UPDATE audit_segments SET lo = ?, hi = ?, first_ns = ?, records = ?, data = ? WHERE id = ?",
				lo, hi, first, len(recs), data, s.id); err != nil {
				return err
			}
			has := segmentKeys(recs)
			for _, k := range had {
				if _, ok := slices.BinarySearchFunc(has, k, compareSegKeys); !ok {
					if _, err := d.execTx(ctx, tx, "DELETE FROM audit_segment_keys WHERE kind = ? AND key = ? AND last_ns = ? AND segment = ?", k.kind, k.key, s.last, s.id); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return total, fmt.Errorf("db: pruning the audit log: %w", err)
	}
	total += cut
	// The module paths that pattern queries look up go with the last
	// record naming them (a client's requests for made-up modules leave
	// nothing behind).
	if total > 0 {
		if _, err := d.w.ExecContext(ctx, d.d.rebind(`DELETE FROM audit_modules WHERE NOT EXISTS
			(SELECT 1 FROM audit_segment_keys WHERE kind = ? AND key = audit_modules.module_key)`), keyModule); err != nil {
			return total, fmt.Errorf("db: pruning the audit log's module paths: %w", err)
		}
	}
	return total, nil
}

func compareSegKeys(a, b segKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), strings.Compare(a.key, b.key))
}
