// Package db holds the operator's data that is not an artifact: the audit
// log, its daily roll-ups (download statistics), the catalog of stored
// module versions, and the history of alerts. One type, DB, on SQLite (an
// embedded file, the default, through the pure-Go modernc.org/sqlite) or
// PostgreSQL (shared by replicas, through pgx), with the same schema and
// behaviour on both, which the conformance suite in dbtest checks.
//
// Storage stays the source of truth for artifacts: the catalog can be
// rebuilt from it (ReplaceCatalog), and gomirror serves modules without a
// database.
package db

import (
	"context"
	"errors"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/audit"
)

// errTODO marks what is not implemented yet.
var errTODO = errors.New("db: not implemented yet")

// DB is an open database. Its methods are safe for concurrent use, also by
// several processes on one database (replicas on PostgreSQL; the CLI next
// to a running server on SQLite).
type DB struct{}

// Open opens the database that dsn names and applies the schema
// migrations it lacks: a postgres:// or postgresql:// URL for PostgreSQL,
// anything else is the path of an SQLite file (created if missing).
func Open(ctx context.Context, dsn string) (*DB, error) { return nil, errTODO }

// Close closes the database.
func (d *DB) Close() error { return nil }

// WriteAudit implements audit.Sink: it stores the batch in one
// transaction, skipping records whose ID is stored, and adds the records
// it stored to the daily roll-ups (Downloads, Summary) and to the
// catalog's last-downloaded times.
func (d *DB) WriteAudit(ctx context.Context, batch []audit.Record) error { return errTODO }

var _ audit.Sink = (*DB)(nil)

// QueryAudit returns a page of the records that q selects, newest first.
func (d *DB) QueryAudit(ctx context.Context, q audit.Query) (audit.Page, error) {
	return audit.Page{}, errTODO
}

// PruneAudit deletes the audit records older than before, keeping the
// daily roll-ups, and returns how many it deleted.
func (d *DB) PruneAudit(ctx context.Context, before time.Time) (int64, error) { return 0, errTODO }

// Period is a span of days: From and To are dates (UTC midnights), both
// included.
type Period struct{ From, To time.Time }

// ModuleCount is one module's downloads over a period.
type ModuleCount struct {
	Module    string `json:"module"`
	Downloads int64  `json:"downloads"` // successful .zip requests
	Requests  int64  `json:"requests"`  // every audited request naming the module
	Bytes     int64  `json:"bytes"`
	Clients   int64  `json:"clients"` // distinct clients (token name, else address)
}

// TopModules returns the n modules with the most downloads in p, most
// first.
func (d *DB) TopModules(ctx context.Context, p Period, n int) ([]ModuleCount, error) {
	return nil, errTODO
}

// DayCount is one day's figures, for a module's version or for the whole
// mirror.
type DayCount struct {
	Day       time.Time `json:"day"`               // UTC midnight
	Version   string    `json:"version,omitempty"` // "" for totals
	Downloads int64     `json:"downloads"`
	Requests  int64     `json:"requests"`
	Bytes     int64     `json:"bytes"`
	Hits      int64     `json:"hits"`   // answered from storage
	Misses    int64     `json:"misses"` // fetched from an upstream
	Clients   int64     `json:"clients"`
}

// Downloads returns module's figures per day and version in p.
func (d *DB) Downloads(ctx context.Context, module string, p Period) ([]DayCount, error) {
	return nil, errTODO
}

// Summary is the whole mirror's figures over a period.
type Summary struct {
	Requests int64      `json:"requests"`
	Bytes    int64      `json:"bytes"`
	Hits     int64      `json:"hits"`
	Misses   int64      `json:"misses"`
	HitRatio float64    `json:"hit_ratio"` // Hits / (Hits + Misses), 0 without either
	Clients  int64      `json:"clients"`
	Modules  int64      `json:"modules"` // distinct modules requested
	Days     []DayCount `json:"days"`    // per day, oldest first
}

// Summarize returns the mirror's figures over p.
func (d *DB) Summarize(ctx context.Context, p Period) (Summary, error) { return Summary{}, errTODO }

// Artifact is one stored file of a module version, as the catalog has it.
type Artifact struct {
	Module         string    `json:"module"`
	Version        string    `json:"version"`
	File           string    `json:"file"` // info, mod or zip
	Size           int64     `json:"size"`
	Stored         time.Time `json:"stored"`
	LastDownloaded time.Time `json:"last_downloaded,omitzero"`
}

// PutArtifact records that a is stored (replacing what the catalog had for
// its module, version and file; keeping its LastDownloaded).
func (d *DB) PutArtifact(ctx context.Context, a Artifact) error { return errTODO }

// DeleteArtifact records that a module version's file is no longer stored.
func (d *DB) DeleteArtifact(ctx context.Context, module, version, file string) error { return errTODO }

// ReplaceCatalog makes the catalog exactly the artifacts that next yields
// (next returns false when there are no more): what storage holds, for
// `gomirror index rebuild`. Download times of artifacts still stored are
// kept.
func (d *DB) ReplaceCatalog(ctx context.Context, next func() (Artifact, bool, error)) (added, removed int64, err error) {
	return 0, 0, errTODO
}

// ModuleSummary is one module in the catalog.
type ModuleSummary struct {
	Module         string    `json:"module"`
	Versions       int64     `json:"versions"`
	Bytes          int64     `json:"bytes"`
	LastStored     time.Time `json:"last_stored"`
	LastDownloaded time.Time `json:"last_downloaded,omitzero"`
}

// Modules returns up to limit modules whose path contains q (all for ""),
// in path order, after the cursor (a previous call's next, "" to start);
// next is "" after the last.
func (d *DB) Modules(ctx context.Context, q, cursor string, limit int) (mods []ModuleSummary, next string, err error) {
	return nil, "", errTODO
}

// Module returns every stored file of module, by version (semver order,
// newest first) then file; fs.ErrNotExist if it has none.
func (d *DB) Module(ctx context.Context, module string) ([]Artifact, error) { return nil, errTODO }

// Totals is what the catalog holds in all.
type Totals struct {
	Modules, Versions, Objects, Bytes int64
}

// CatalogTotals returns what the catalog holds in all.
func (d *DB) CatalogTotals(ctx context.Context) (Totals, error) { return Totals{}, errTODO }

// AlertEvent is a change of an alert's state.
type AlertEvent struct {
	Time   time.Time         `json:"time"`
	Rule   string            `json:"rule"`
	State  string            `json:"state"`         // firing, resolved
	Key    string            `json:"key,omitempty"` // what the alert is about (a client, an upstream), "" for the whole mirror
	Value  float64           `json:"value"`
	Text   string            `json:"text"`
	Labels map[string]string `json:"labels,omitempty"`
}

// AddAlertEvent appends e to the alert history.
func (d *DB) AddAlertEvent(ctx context.Context, e AlertEvent) error { return errTODO }

// AlertEvents returns the history since a time, newest first, at most limit.
func (d *DB) AlertEvents(ctx context.Context, since time.Time, limit int) ([]AlertEvent, error) {
	return nil, errTODO
}

// Versions returns up to limit stored module versions (those with a
// catalogued .info, .mod or .zip), ordered by module path then version,
// after the cursor (a previous call's next, "" to start); next is "" after
// the last. It is the Athens-compatible /catalog.
func (d *DB) Versions(ctx context.Context, cursor string, limit int) (vs []module.Version, next string, err error) {
	return nil, "", errTODO
}
