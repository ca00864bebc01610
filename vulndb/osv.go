// Package vulndb is gomirror's copy of the Go vulnerability database: the
// OSV entries (Entry, Parse) and the one implementation of their affected
// version ranges (Entry.Affects), an index of them built from the OSV
// files of a zip (the golang.org/x/vulndb module's data/osv, or a zip
// gomirror wrote from a database URL), a DB that keeps the current index
// and refreshes it in the background (swapping atomically, keeping the last
// good copy when a refresh fails), the database's HTTP API as govulncheck
// reads it (Handler, mounted at /vuln/ by the server), and a Client of that
// API for the command line.
package vulndb

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// The pseudo module paths of the Go vulnerability database: advisories of
// the standard library and of the go command (the toolchain). Their
// versions are Go versions, written as semver in the ranges ("1.21.3");
// Affects also takes them as Go tags ("go1.21.3").
const (
	StdlibModule    = "stdlib"
	ToolchainModule = "toolchain"
)

// RangeSemver is the only range type whose events Affects reads; the Go
// database writes every range as SEMVER.
const RangeSemver = "SEMVER"

// Entry is an OSV entry with the fields the Go vulnerability database
// writes (schema 1.3.1 and the Go-specific parts). It is decoded and never
// served re-encoded: the database's files are served as stored.
type Entry struct {
	SchemaVersion    string            `json:"schema_version,omitempty"`
	ID               string            `json:"id"`
	Modified         time.Time         `json:"modified"`
	Published        time.Time         `json:"published,omitempty"`
	Withdrawn        *time.Time        `json:"withdrawn,omitempty"`
	Aliases          []string          `json:"aliases,omitempty"`
	Summary          string            `json:"summary,omitempty"`
	Details          string            `json:"details"`
	Affected         []Affected        `json:"affected"`
	References       []Reference       `json:"references,omitempty"`
	Credits          []Credit          `json:"credits,omitempty"`
	DatabaseSpecific *DatabaseSpecific `json:"database_specific,omitempty"`
}

// Affected is one module an entry affects and the versions affected.
type Affected struct {
	Module            Module             `json:"package"`
	Ranges            []Range            `json:"ranges,omitempty"`
	EcosystemSpecific *EcosystemSpecific `json:"ecosystem_specific,omitempty"`
}

// Module names a module: Path is the module path, or StdlibModule or
// ToolchainModule; Ecosystem is "Go".
type Module struct {
	Path      string `json:"name"`
	Ecosystem string `json:"ecosystem"`
}

// Range is a list of events over versions of one type (RangeSemver).
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event opens (Introduced) or closes (Fixed) an affected interval. Its
// version is semver WITHOUT the "v" prefix, as OSV writes it; Introduced
// "0" is the beginning of time.
type Event struct {
	Introduced string `json:"introduced,omitempty"`
	Fixed      string `json:"fixed,omitempty"`
}

// EcosystemSpecific is the Go part of an Affected: the packages and
// symbols that govulncheck looks for.
type EcosystemSpecific struct {
	Packages []Package `json:"imports,omitempty"`
}

// Package is an affected package of a module.
type Package struct {
	Path    string   `json:"path,omitempty"`
	GOOS    []string `json:"goos,omitempty"`
	GOARCH  []string `json:"goarch,omitempty"`
	Symbols []string `json:"symbols,omitempty"`
}

// Reference is a link of an entry.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Credit names someone an entry credits.
type Credit struct {
	Name string `json:"name"`
}

// DatabaseSpecific is the Go database's own part of an entry.
type DatabaseSpecific struct {
	URL          string `json:"url,omitempty"`
	ReviewStatus string `json:"review_status,omitempty"`
}

// idPattern is what Parse accepts as an ID, and the HTTP API as a file
// name: the Go database's GO-YYYY-NNNN, and any OSV-like ID of letters,
// digits and dashes (a fork may use its own prefix), short enough to be a
// file name.
var idPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)+$`)

// ValidID reports whether id can name an entry: letters, digits and
// dashes, starting with a letter, at most 64 bytes (e.g. GO-2022-1059).
// Everything that turns an ID into a path or a lookup checks it first.
func ValidID(id string) bool {
	return len(id) <= 64 && idPattern.MatchString(id)
}

// Parse decodes one OSV entry and checks what the rest of the package
// relies on: a valid ID, module paths, and range events with valid
// versions (an event with a version that is not semver is an error, not
// skipped: an entry read wrongly would hide a vulnerability).
func Parse(b []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("osv entry: %w", err)
	}
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("osv entry %q: %w", e.ID, err)
	}
	return &e, nil
}

// Limits of an entry: what it may make a database keep in memory. The
// Go database's largest in 2026: 8 aliases, 22 affected modules, 24 events.
const (
	maxAliases  = 256
	maxAffected = 1024
	maxEvents   = 4096 // in all its ranges
)

func (e *Entry) check() error {
	if !ValidID(e.ID) {
		return errors.New("invalid id")
	}
	if len(e.Aliases) > maxAliases {
		return fmt.Errorf("over %d aliases", maxAliases)
	}
	if len(e.Affected) > maxAffected {
		return fmt.Errorf("over %d affected modules", maxAffected)
	}
	events := 0
	for _, a := range e.Affected {
		for _, r := range a.Ranges {
			if events += len(r.Events); events > maxEvents {
				return fmt.Errorf("over %d range events", maxEvents)
			}
		}
	}
	for _, a := range e.Affected {
		if a.Module.Path == "" {
			return errors.New("affected package without a name")
		}
		for _, r := range a.Ranges {
			if r.Type != RangeSemver {
				continue
			}
			for _, ev := range r.Events {
				switch {
				case ev.Introduced != "" && ev.Fixed != "":
					return errors.New("range event both introduced and fixed")
				case ev.Introduced == "0":
				case ev.Introduced != "" && !semver.IsValid(canonical(ev.Introduced)):
					return fmt.Errorf("invalid introduced version %q", ev.Introduced)
				case ev.Fixed != "" && !semver.IsValid(canonical(ev.Fixed)):
					return fmt.Errorf("invalid fixed version %q", ev.Fixed)
				}
			}
		}
	}
	return nil
}

// canonical turns an OSV version ("1.2.3"), a module version ("v1.2.3")
// or a Go tag ("go1.21", "go1.21rc2") into a "v"-prefixed semver for
// x/mod/semver, or "" if it is none.
func canonical(v string) string {
	switch {
	case strings.HasPrefix(v, "v"):
		return v
	case strings.HasPrefix(v, "go"):
		return goTagSemver(v)
	case v == "":
		return ""
	}
	return "v" + v
}

// goTagPattern is a Go release tag: go1.21, go1.21.3, go1.22rc1, go1.9beta2.
var goTagPattern = regexp.MustCompile(`^go(\d+)\.(\d+)(?:\.(\d+))?(?:(beta|rc)(\d+))?$`)

// goTagSemver turns a Go tag into the semver the database writes for it
// (go1.21.3 -> v1.21.3, go1.21 -> v1.21.0, go1.22rc1 -> v1.22.0-rc.1,
// go1 -> v1.0.0), or "" if it is not one.
func goTagSemver(tag string) string {
	if tag == "go1" {
		return "v1.0.0"
	}
	m := goTagPattern.FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	v := "v" + m[1] + "." + m[2]
	if m[3] != "" {
		v += "." + m[3]
	} else {
		v += ".0"
	}
	if m[4] != "" {
		v += "-" + m[4] + "." + m[5]
	}
	return v
}

// Affects reports whether the entry affects version of modulePath: one of
// its Affected names the module and its ranges contain the version (see
// RangesAffect). version is a module version ("v1.2.3"); for StdlibModule
// and ToolchainModule a Go version ("go1.21.3" or "v1.21.3"). A version
// that is not valid semver is affected by nothing; a withdrawn entry
// affects nothing.
func (e *Entry) Affects(modulePath, version string) bool {
	if e.Withdrawn != nil {
		return false
	}
	v := canonical(version)
	if !semver.IsValid(v) {
		return false
	}
	for i := range e.Affected {
		if e.Affected[i].Module.Path == modulePath && rangesAffect(e.Affected[i].Ranges, v) {
			return true
		}
	}
	return false
}

// moduleFix returns the LatestFix of a module's affected blocks in one
// entry (an entry may have several for a module: fixed in 9.5.5, and
// 9.6.0 to 9.6.3): the highest of their fixes, or "" if one of them has
// none (it ends open, or has no SEMVER range: every version).
func moduleFix(blocks [][]Range) string {
	best := ""
	for _, ranges := range blocks {
		fix := LatestFix(ranges)
		if fix == "" {
			return ""
		}
		if best == "" || semver.Compare("v"+fix, "v"+best) > 0 {
			best = fix
		}
	}
	return best
}

// moduleBlocks returns the ranges of each of e's affected blocks for
// modulePath.
func (e *Entry) moduleBlocks(modulePath string) [][]Range {
	var out [][]Range
	for _, a := range e.Affected {
		if a.Module.Path == modulePath {
			out = append(out, a.Ranges)
		}
	}
	return out
}

// Fix returns the version (with "v", as modules write it) that fixes what
// the entry says of version of modulePath: the first fixed event above it
// in the range that affects it, or "" if the entry does not affect it or
// no fix is known.
func (e *Entry) Fix(modulePath, version string) string {
	v := canonical(version)
	if !semver.IsValid(v) {
		return ""
	}
	for i := range e.Affected {
		a := &e.Affected[i]
		if a.Module.Path != modulePath {
			continue
		}
		for _, r := range a.Ranges {
			if r.Type == RangeSemver && rangeAffects(r.Events, v) {
				return fixAbove(r.Events, v)
			}
		}
	}
	return ""
}

// RangesAffect reports whether ranges contain version (a "v"-prefixed or
// bare semver, or a Go tag). Following OSV and govulncheck: no ranges at
// all, or no SEMVER range among them, means every version is affected;
// otherwise a version is affected when a SEMVER range contains it. A
// range contains v when, of its events at or below v (an introduced
// version at or below it, "0" being below everything, or a fixed version
// at or below it), the highest is an introduced one; a fixed and an
// introduced event at the same version count as fixed. Events need not be
// sorted and are not modified: entries are shared by concurrent readers.
func RangesAffect(ranges []Range, version string) bool {
	v := canonical(version)
	if !semver.IsValid(v) {
		return false
	}
	return rangesAffect(ranges, v)
}

func rangesAffect(ranges []Range, v string) bool {
	semverRange := false
	for _, r := range ranges {
		if r.Type != RangeSemver {
			continue
		}
		semverRange = true
		if rangeAffects(r.Events, v) {
			return true
		}
	}
	return !semverRange
}

// rangeAffects reports whether the events of one range contain v (canonical).
func rangeAffects(events []Event, v string) bool {
	if len(events) == 0 {
		return true
	}
	best, affected, found := "", false, false
	for _, ev := range events {
		var at string
		intro := ev.Introduced != ""
		switch {
		case ev.Introduced == "0":
			at = "" // below everything
		case intro:
			at = canonical(ev.Introduced)
		case ev.Fixed != "":
			at = canonical(ev.Fixed)
		default:
			continue
		}
		if at != "" && semver.Compare(at, v) > 0 {
			continue // above v
		}
		c := 1
		if found {
			c = cmpEvent(at, best)
		}
		if c > 0 || (c == 0 && !intro) {
			best, affected, found = at, intro, true
		}
	}
	return affected
}

// cmpEvent compares two event versions, "" (introduced "0") lowest.
func cmpEvent(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	return semver.Compare(a, b)
}

// fixAbove returns the lowest fixed version of events above v, with "v".
func fixAbove(events []Event, v string) string {
	fix := ""
	for _, ev := range events {
		if ev.Fixed == "" {
			continue
		}
		f := canonical(ev.Fixed)
		if semver.Compare(f, v) > 0 && (fix == "" || semver.Compare(f, fix) < 0) {
			fix = f
		}
	}
	return fix
}

// LatestFix returns the fixed version (bare, as OSV writes it) that the
// database's modules index gives for ranges: the highest fixed event of
// the SEMVER ranges, or "" when some version above it may be affected (a
// range that ends open, introduced again after its last fix or with no
// fix at all; no SEMVER range). govulncheck reads an index entry's fix as
// "versions at or above it are not affected" and skips the entry for
// them, so this must never be at or below an affected version: "" only
// costs it a fetch of the entry.
func LatestFix(ranges []Range) string {
	latest, semverRange := "", false
	for _, r := range ranges {
		if r.Type != RangeSemver {
			continue
		}
		semverRange = true
		top, open := "", true // the highest event and whether it introduces
		for _, ev := range r.Events {
			var at string
			intro := ev.Introduced != ""
			switch {
			case ev.Introduced == "0":
			case intro:
				at = canonical(ev.Introduced)
			case ev.Fixed != "":
				at = canonical(ev.Fixed)
			default:
				continue
			}
			if c := cmpEvent(at, top); c > 0 || (c == 0 && !intro) {
				top, open = at, intro
			}
		}
		if open {
			return ""
		}
		if latest == "" || semver.Compare(top, latest) > 0 {
			latest = top
		}
	}
	if !semverRange {
		return ""
	}
	return strings.TrimPrefix(latest, "v")
}
