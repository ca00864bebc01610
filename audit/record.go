// Package audit records who downloaded what: one Record per request for a
// module artifact or a checksum-database endpoint, written off the request
// path in batches to a Sink (the database), spilled to a local append-only
// file while the sink fails and replayed when it is back, and optionally
// copied as JSON lines to a file or stdout for log shippers.
//
// A Recorder (New) does that: Record is called on the request path and
// only appends to a bounded in-memory queue; one goroutine writes the
// batches, spills, replays and copies. Nothing is lost across a failing
// or slow sink, a restart, or a SIGTERM (Close flushes to the sink or the
// spill file); a crash loses what was in memory (about FlushInterval's
// records, more while the writer falls behind), and a record is
// dropped, and counted (Stats.Dropped), only when the sink and the spill
// disk both fall behind by QueueSize records.
package audit

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is what the audit log keeps of one request. Strings are as the
// request had them, decoded (Module is a module path, not its escaped
// form); empty when they do not apply (Version of a list, Client of an
// anonymous request, Upstream of a hit).
type Record struct {
	// ID is unique per record, set by the Recorder when empty: a sink
	// keeps a record whose ID it already has once, so that a batch written
	// again (after a timeout whose write did land, or replayed from the
	// spill file) is counted once.
	ID       string        `json:"id"`
	Time     time.Time     `json:"time"`              // when the request arrived, UTC
	Client   string        `json:"client,omitempty"`  // the authenticated token's name
	Remote   string        `json:"remote"`            // the client address, after trusted-proxies
	Method   string        `json:"method"`            // GET or HEAD
	Module   string        `json:"module,omitempty"`  // module path; for sumdb, the module a lookup names, else ""
	Version  string        `json:"version,omitempty"` // as requested (a query for a non-canonical .info)
	Kind     string        `json:"kind"`              // list, latest, info, mod, zip, sumdb
	Status   int           `json:"status"`            // HTTP status sent
	Bytes    int64         `json:"bytes"`             // response body bytes sent
	Duration time.Duration `json:"duration_ns"`
	Cache    string        `json:"cache,omitempty"`    // hit, miss, prefetched, fresh, stale, or ""
	Upstream string        `json:"upstream,omitempty"` // the upstream that answered a fetch, redacted
	Agent    string        `json:"user_agent,omitempty"`
	// Replica names the gomirror process that served the request (its
	// host name and listen address), so that replicas sharing a database
	// can be told apart.
	Replica string `json:"replica,omitempty"`
	// Policy is the policy's decision when it refused the version, enforced
	// (a 403) or warned (served): policy.Decision.Summary, e.g.
	// `warned by rule "legacy" (policy.yaml:12): affected by GO-2024-0001`.
	Policy string `json:"policy,omitempty"`
}

// MaxField bounds each string of a Record, in bytes: the client chooses
// several of them (method, module path, version query, user agent) and
// must not make each record of its requests cost kilobytes of memory,
// database and spill file.
const MaxField = 256

// Clean returns s as a Record keeps it: at most MaxField bytes (cut at a
// character's start), valid UTF-8 (what is not is replaced by U+FFFD) and
// without NUL bytes (which PostgreSQL refuses). It does not allocate for a
// string that is already clean.
func Clean(s string) string {
	// The common case, one pass: short, ASCII, no NUL.
	if len(s) <= MaxField {
		i := 0
		for ; i < len(s); i++ {
			if c := s[i]; c == 0 || c >= utf8.RuneSelf {
				break
			}
		}
		if i == len(s) {
			return s
		}
	}
	if len(s) > MaxField {
		s = s[:MaxField]
	}
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	}
	if len(s) > MaxField { // a replacement is 3 bytes
		i := MaxField
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}

// Kinds of Record.Kind: the requests that are audited.
const (
	KindList   = "list"
	KindLatest = "latest"
	KindInfo   = "info"
	KindMod    = "mod"
	KindZip    = "zip"
	KindSumDB  = "sumdb"
)

// Audited reports whether requests of kind (obs.Request.Kind) are audited.
func Audited(kind string) bool {
	switch kind {
	case KindList, KindLatest, KindInfo, KindMod, KindZip, KindSumDB:
		return true
	}
	return false
}

// Sink is where batches of records go: the database. WriteAudit stores
// every record of batch or none of them (one transaction), and skips a
// record whose ID it already has, so that a batch can be written again,
// whole, after any failure, and each record counts once.
// WriteAudit must not keep batch after it returns (the Recorder reuses
// it), and should return soon after ctx is done (a call that does not is
// left running by the Recorder, which starts no other call until it
// returns).
type Sink interface {
	WriteAudit(ctx context.Context, batch []Record) error
}

// Query selects audit records, newest first. Zero fields select anything.
type Query struct {
	Since, Until time.Time // Since inclusive, Until exclusive; zero Until is now
	// Module is a module path pattern in GOPRIVATE syntax (modpattern):
	// a record matches when its module path matches it.
	Module    string
	Client    string // token name, exact
	Remote    string // client address, exact
	Kind      string // one of the Kind constants
	Cache     string // hit, miss, prefetched, fresh, stale
	StatusMin int    // inclusive; 0: any (ParseStatus turns "4xx" into 400..499)
	StatusMax int    // inclusive; 0: any
	Decided   bool   // only records with a policy decision (Policy: refused or warned)
	Limit     int    // at most this many records per page; 0 means 100, more than 1000 means 1000
	Cursor    string // Page.Next of the previous page, or "" for the first
}

// Page is one page of records answering a Query.
type Page struct {
	Records []Record `json:"records"`
	// Next is the cursor of the following page, "" when this one is the
	// last. It is opaque to the caller.
	Next string `json:"next,omitempty"`
}
