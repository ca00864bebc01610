// Package snapshot keeps named, immutable sets of module versions
// (snapshots) and environments that point at one of them, both in the
// mirror's storage so that every replica sees them.
//
// A snapshot's Manifest lists module versions with the h1: hashes of their
// zip and go.mod; it is written once under layout.SnapshotKey and never
// changed (Create refuses an existing name). Its JSON form (Encode, Decode)
// is also the export and import file. An environment (env.go) is a history
// of records under layout.EnvPrefix, each written once; the last in lexical
// order is in force, so a promotion is one atomic storage write and no
// history is overwritten. View (view.go) serves a snapshot or an
// environment as a GOPROXY of its own. Pinned lists what every snapshot
// needs, for the garbage collector.
package snapshot

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/layout"
)

// Format is the manifest format this package writes and reads.
const Format = 1

// Limits of what Decode accepts, so that a hostile file or store holds
// memory to a bound.
const (
	// MaxManifestBytes bounds a manifest's JSON.
	MaxManifestBytes = 32 << 20
	// MaxModules bounds a manifest's entries.
	MaxModules = 200_000
	// MaxSources bounds a manifest's sources, MaxTextLen each source
	// and the creator.
	MaxSources = 1000
	MaxTextLen = 4096
	// MaxNameLen bounds a snapshot's or an environment's name.
	MaxNameLen = layout.MaxViewName
)

// Manifest is a snapshot: a named, immutable set of module versions.
type Manifest struct {
	Format  int       `json:"format"` // Format
	Name    string    `json:"name"`   // ValidName
	Created time.Time `json:"created"`
	Creator string    `json:"creator"` // who created it (user@host), informative
	// Sources are what it was built from: go.mod or go.sum files,
	// directories, module@version arguments, an imported file.
	Sources []string `json:"sources"`
	// Modules are sorted by path, then version (module.Sort), each
	// version once.
	Modules []Entry `json:"modules"`
}

// Entry is one module version of a snapshot.
type Entry struct {
	Path    string `json:"path"`
	Version string `json:"version"` // canonical (semver.Canonical form)
	// Hash is the h1: hash of the zip, "" for a version of which only the
	// go.mod is needed (a requirement outside the build list): its zip is
	// not part of the snapshot.
	Hash string `json:"hash,omitempty"`
	// GoModHash is the h1: hash of the go.mod.
	GoModHash string `json:"gomod_hash"`
}

// Module returns e's module version.
func (e Entry) Module() module.Version { return module.Version{Path: e.Path, Version: e.Version} }

// ValidName reports whether name may name a snapshot or an environment
// (layout.ValidViewName: it is part of URL paths and storage keys).
func ValidName(name string) error { return layout.ValidViewName(name) }

// Validate checks m whole: its format, name, texts, and every entry (a
// valid module path, a canonical version, well-formed h1: hashes, sorted,
// no version twice).
func (m *Manifest) Validate() error {
	if m.Format != Format {
		return fmt.Errorf("manifest format %d: want %d", m.Format, Format)
	}
	if err := ValidName(m.Name); err != nil {
		return err
	}
	if m.Created.IsZero() {
		return errors.New("manifest has no creation time")
	}
	if len(m.Creator) > MaxTextLen || !printable(m.Creator) {
		return errors.New("manifest creator too long or not printable")
	}
	if len(m.Sources) > MaxSources {
		return fmt.Errorf("manifest has %d sources: at most %d", len(m.Sources), MaxSources)
	}
	for _, s := range m.Sources {
		if len(s) > MaxTextLen || !printable(s) {
			return errors.New("manifest source too long or not printable")
		}
	}
	if len(m.Modules) > MaxModules {
		return fmt.Errorf("manifest has %d modules: at most %d", len(m.Modules), MaxModules)
	}
	for i, e := range m.Modules {
		if err := e.validate(); err != nil {
			return err
		}
		if i > 0 && !less(m.Modules[i-1], e) {
			return fmt.Errorf("manifest modules not sorted or repeated at %s@%s", e.Path, e.Version)
		}
	}
	return nil
}

func (e Entry) validate() error {
	if err := module.Check(e.Path, e.Version); err != nil {
		return err
	}
	if semver.Canonical(e.Version) != e.Version {
		// +incompatible is canonical for module.Check but not for semver.
		if !strings.HasSuffix(e.Version, "+incompatible") || semver.Canonical(e.Version) != strings.TrimSuffix(e.Version, "+incompatible") {
			return fmt.Errorf("%s@%s: not a canonical version", e.Path, e.Version)
		}
	}
	if e.Hash != "" && !validHash(e.Hash) {
		return fmt.Errorf("%s@%s: malformed hash %q", e.Path, e.Version, e.Hash)
	}
	if !validHash(e.GoModHash) {
		return fmt.Errorf("%s@%s: malformed go.mod hash %q", e.Path, e.Version, e.GoModHash)
	}
	return nil
}

// validHash reports whether h is "h1:" and the base64 of a SHA-256 sum.
func validHash(h string) bool {
	b64, ok := strings.CutPrefix(h, "h1:")
	if !ok || len(b64) != 44 {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	return err == nil && len(b) == 32
}

// printable reports whether s is valid UTF-8 with nothing a terminal
// acts on: no control character (C0, DEL, C1), no bidi control (marks,
// embeddings, overrides, isolates), no line or paragraph separator.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return false
		}
	}
	return true
}

// less orders entries as module.Sort does.
func less(a, b Entry) bool {
	if a.Path != b.Path {
		return a.Path < b.Path
	}
	return lessVersion(a.Version, b.Version)
}

func lessVersion(a, b string) bool {
	if c := semver.Compare(a, b); c != 0 {
		return c < 0
	}
	return a < b
}

// Sort sorts entries as a manifest has them, merging repeated versions
// (a version whose zip one source needs and another not keeps its Hash).
func Sort(entries []Entry) []Entry {
	out := append([]Entry(nil), entries...)
	slices.SortFunc(out, func(a, b Entry) int {
		switch {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, e := range out {
		if n := len(merged); n > 0 && merged[n-1].Path == e.Path && merged[n-1].Version == e.Version {
			if merged[n-1].Hash == "" {
				merged[n-1].Hash = e.Hash
			}
			if merged[n-1].GoModHash == "" {
				merged[n-1].GoModHash = e.GoModHash
			}
			continue
		}
		merged = append(merged, e)
	}
	return merged
}

// Find returns the entry of path@version, if m has it (binary search:
// m.Modules is sorted).
func (m *Manifest) Find(path, version string) (Entry, bool) {
	i, j := 0, len(m.Modules)
	key := Entry{Path: path, Version: version}
	for i < j {
		h := int(uint(i+j) >> 1)
		if less(m.Modules[h], key) {
			i = h + 1
		} else {
			j = h
		}
	}
	if i < len(m.Modules) && m.Modules[i].Path == path && m.Modules[i].Version == version {
		return m.Modules[i], true
	}
	return Entry{}, false
}

// Versions returns the versions of path in m, in ascending order.
func (m *Manifest) Versions(path string) []string {
	var out []string
	for _, e := range m.ofPath(path) {
		out = append(out, e.Version)
	}
	return out
}

// ofPath returns the entries of path (a subslice of m.Modules).
func (m *Manifest) ofPath(path string) []Entry {
	i, j := 0, len(m.Modules)
	for i < j {
		h := int(uint(i+j) >> 1)
		if m.Modules[h].Path < path {
			i = h + 1
		} else {
			j = h
		}
	}
	k := i
	for k < len(m.Modules) && m.Modules[k].Path == path {
		k++
	}
	return m.Modules[i:k]
}

// Latest returns the version of path that the snapshot's @latest answers:
// the highest whose zip is in the snapshot (the build list's); ok is false
// if m has no version of path with its zip (none, or go.mod-only ones).
func (m *Manifest) Latest(path string) (version string, ok bool) {
	es := m.ofPath(path)
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Hash != "" {
			return es[i].Version, true
		}
	}
	return "", false
}

// Encode writes m as indented JSON (the manifest file, also the export).
func (m *Manifest) Encode(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m)
}

// Decode reads one manifest from r strictly: at most MaxManifestBytes, no
// unknown or repeated field, nothing after it, and Validate. It decodes
// as it reads (DecodeEntries), never holding the JSON whole.
func Decode(r io.Reader) (*Manifest, error) {
	var entries []Entry
	m, err := DecodeEntries(r, func(e Entry) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.Modules = entries
	return m, nil
}

// DecodeEntries reads one manifest from r as Decode does, but hands each
// entry, checked (valid, in order, at most MaxModules), to each as it is
// decoded instead of keeping it: the Manifest it returns has no Modules.
// Memory is what each keeps, the header (bounded) and one entry.
func DecodeEntries(r io.Reader, each func(Entry) error) (*Manifest, error) {
	return decodeAs(r, "", each)
}

// DecodeAs is Decode for a manifest recorded under name instead of the
// one it names (import --name): the file's own name is not checked, name
// must be valid.
func DecodeAs(r io.Reader, name string) (*Manifest, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	var entries []Entry
	m, err := decodeAs(r, name, func(e Entry) error {
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.Modules = entries
	return m, nil
}

// decodeAs is DecodeEntries, with the manifest's name replaced by rename
// (before it is validated) if that is not "".
func decodeAs(r io.Reader, rename string, each func(Entry) error) (*Manifest, error) {
	lr := &io.LimitedReader{R: r, N: MaxManifestBytes + 1}
	m, err := decodeEntries(lr, rename, each)
	if lr.N <= 0 {
		return nil, fmt.Errorf("manifest larger than %d bytes", MaxManifestBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return m, nil
}

func decodeEntries(r io.Reader, rename string, each func(Entry) error) (*Manifest, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if t, err := dec.Token(); err != nil {
		return nil, err
	} else if t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var (
		m    Manifest
		seen = map[string]bool{}
		n    int
		prev Entry
	)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		if seen[key] {
			return nil, fmt.Errorf("field %q repeated", key)
		}
		seen[key] = true
		switch key {
		case "format":
			err = dec.Decode(&m.Format)
		case "name":
			err = dec.Decode(&m.Name)
		case "created":
			err = dec.Decode(&m.Created)
		case "creator":
			err = dec.Decode(&m.Creator)
		case "sources":
			err = dec.Decode(&m.Sources)
			if err == nil && len(m.Sources) > MaxSources {
				err = fmt.Errorf("%d sources: at most %d", len(m.Sources), MaxSources)
			}
		case "modules":
			if t, err := dec.Token(); err != nil {
				return nil, err
			} else if t == nil {
				continue // null: none
			} else if t != json.Delim('[') {
				return nil, errors.New("modules: not a JSON array")
			}
			for dec.More() {
				var e Entry
				if err := dec.Decode(&e); err != nil {
					return nil, err
				}
				if n++; n > MaxModules {
					return nil, fmt.Errorf("more than %d modules", MaxModules)
				}
				if err := e.validate(); err != nil {
					return nil, err
				}
				if n > 1 && !less(prev, e) {
					return nil, fmt.Errorf("modules not sorted or repeated at %s@%s", e.Path, e.Version)
				}
				if err := each(e); err != nil {
					return nil, err
				}
				prev = e
			}
			_, err = dec.Token() // ']'
		default:
			return nil, fmt.Errorf("json: unknown field %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	if rename != "" {
		m.Name = rename
	}
	if err := m.Validate(); err != nil { // the header: no Modules yet
		return nil, err
	}
	return &m, nil
}

// New returns the manifest of a snapshot created now.
func New(name, creator string, sources []string, entries []Entry) *Manifest {
	return &Manifest{Format: Format, Name: name, Created: time.Now().UTC().Truncate(time.Millisecond),
		Creator: creator, Sources: sources, Modules: Sort(entries)}
}

// Change is one difference between two snapshots (Diff).
type Change struct {
	// Op is '+' for a version only the second has, '-' for one only the
	// first has, '~' for one both have with other hashes (or with the zip
	// in one only).
	Op    byte
	Entry Entry // the second's, for '-' the first's
}

func (c Change) String() string {
	s := fmt.Sprintf("%c %s %s", c.Op, c.Entry.Path, c.Entry.Version)
	if c.Entry.Hash == "" {
		s += " (go.mod only)"
	}
	return s
}

// Diff returns what changed from a to b, in module order.
func Diff(a, b *Manifest) []Change {
	var out []Change
	i, j := 0, 0
	for i < len(a.Modules) || j < len(b.Modules) {
		switch {
		case j == len(b.Modules) || i < len(a.Modules) && less(a.Modules[i], b.Modules[j]):
			out = append(out, Change{'-', a.Modules[i]})
			i++
		case i == len(a.Modules) || less(b.Modules[j], a.Modules[i]):
			out = append(out, Change{'+', b.Modules[j]})
			j++
		default:
			if a.Modules[i] != b.Modules[j] {
				out = append(out, Change{'~', b.Modules[j]})
			}
			i++
			j++
		}
	}
	return out
}
