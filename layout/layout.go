// Package layout is the on-disk contract of gomirror's storage: it names
// every storage key gomirror reads or writes, and nothing else builds one.
//
// Module files are stored under their GOPROXY URL paths (the paths of the
// module proxy protocol, without the leading slash), with module paths and
// versions escaped by golang.org/x/mod/module (upper case as "!" and lower
// case, so that case-insensitive file systems keep case variants apart):
//
//	<escaped path>/@v/list                      List: merged version list
//	<escaped path>/@latest                      Latest: last @latest answer
//	<escaped path>/@v/<escaped version>.info    Info
//	<escaped path>/@v/<escaped version>.mod     Mod
//	<escaped path>/@v/<escaped version>.zip     Zip
//	<escaped path>/@v/<escaped version>.ziphash ZipHash: the zip's recorded h1: hash
//	<escaped path>/@v/<escaped version>.modhash ModHash: the go.mod's recorded h1: hash
//	sumdb/<name>/...                            checksum database data, also served
//	.gomirror/...                               gomirror's own state (snapshots and
//	                                            environments: .gomirror/snapshots, .gomirror/env)
//
// This is what makes a store, read as a directory, a valid GOPROXY=file://
// tree: the go command finds every stored file at the path it asks for, and
// ignores the hash side-files (the go command's own module cache keeps a
// .ziphash next to each zip too). No module path can start with a dot, so the
// keys under .gomirror/ never collide with a module's.
//
// The same paths are the GOPROXY URL space: URLPath builds them for
// upstream requests and client tools, and ParseURLPath parses a request's
// path (a module's file, or a checksum database file, Kind SumDB). A
// Module carries a module version with its escaped forms, so that one
// escaping serves every key and URL path of a request.
//
// A key is storable when every element is at most 255 bytes (no file system
// holds a longer name) and it is a valid storage key (storage.ValidKey). Key
// refuses, with a *NotStorableError (a "not found"), a module version any of
// whose files would not be storable, so that a version is stored whole or
// not at all.
package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/storage"
)

// Kind is a file of a module the GOPROXY protocol (or gomirror, for the hash
// side-files) stores.
type Kind uint8

const (
	List    Kind = iota + 1 // <path>/@v/list
	Latest                  // <path>/@latest
	Info                    // <path>/@v/<version>.info
	Mod                     // <path>/@v/<version>.mod
	Zip                     // <path>/@v/<version>.zip
	ZipHash                 // <path>/@v/<version>.ziphash
	ModHash                 // <path>/@v/<version>.modhash

	// SumDB is no module's file: a checksum database file, which the
	// GOPROXY protocol serves under sumdb/<name>/ (SumDBKey). Only
	// ParseURLPath returns it; Key and URLPath refuse it.
	SumDB
)

// kinds holds, per Kind, its name and what follows the escaped module path
// (List, Latest) or the escaped version (the others) in its key.
var kinds = [...]struct{ name, suffix string }{
	List:    {"list", "/@v/list"},
	Latest:  {"latest", "/@latest"},
	Info:    {"info", ".info"},
	Mod:     {"mod", ".mod"},
	Zip:     {"zip", ".zip"},
	ZipHash: {"ziphash", ".ziphash"},
	ModHash: {"modhash", ".modhash"},
	SumDB:   {"sumdb", ""},
}

// versionDir separates the escaped module path from a version's file name.
const versionDir = "/@v/"

// valid reports whether k is a kind of a module's file (not SumDB).
func (k Kind) valid() bool { return k >= List && k <= ModHash }

// String returns the kind's name: "list", "latest", "info", "mod", "zip",
// "ziphash", "modhash" or "sumdb".
func (k Kind) String() string {
	if k < List || k > SumDB {
		return fmt.Sprintf("Kind(%d)", uint8(k))
	}
	return kinds[k].name
}

// PerVersion reports whether a file of kind k belongs to one version (all
// kinds of module files but List and Latest).
func (k Kind) PerVersion() bool { return k.valid() && k != List && k != Latest }

// Artifact reports whether k is a file the GOPROXY protocol serves for a
// version: Info, Mod or Zip.
func (k Kind) Artifact() bool { return k == Info || k == Mod || k == Zip }

// URLPath returns the GOPROXY URL path of m's file of kind k, without the
// leading slash, escaping m with x/mod's module.EscapePath and
// module.EscapeVersion. m.Version must be empty for List and Latest and must
// not be for the other kinds; it need not be canonical (an .info query). An
// error is x/mod's for a path or version that does not escape, or a
// malformed request. URLPath does not check that the file is storable: it
// is for asking an upstream; use Key for storage.
func URLPath(m module.Version, k Kind) (string, error) {
	em, err := escapeFor(m, k)
	if err != nil {
		return "", err
	}
	return em.URLPath(k)
}

// Key returns the storage key of m's file of kind k: its URLPath, once it
// is known to be storable. For a per-version kind, every file of the
// version must be storable (the longest keys are the hash side-files'), so
// that no version is ever stored in part; for List and Latest, the key
// itself. It fails like URLPath, or with a *NotStorableError.
func Key(m module.Version, k Kind) (string, error) {
	em, err := escapeFor(m, k)
	if err != nil {
		return "", err
	}
	return em.Key(k)
}

// escapeFor escapes m for its file of kind k, which must be a module file's
// and agree with whether m has a version.
func escapeFor(m module.Version, k Kind) (Module, error) {
	if !k.valid() {
		return Module{}, fmt.Errorf("layout: invalid kind %v", k)
	}
	if k.PerVersion() == (m.Version == "") {
		if m.Version == "" {
			return Module{}, fmt.Errorf("layout: %s file of %s without a version", k, m.Path)
		}
		return Module{}, fmt.Errorf("layout: %s file of %s has no version, got %q", k, m.Path, m.Version)
	}
	return Escape(m)
}

// Module is a module version together with its path and version escaped
// as they are in its files' keys and URL paths (x/mod's module.EscapePath
// and module.EscapeVersion). Escape escapes once, and ParseURLPath keeps
// the escaped forms of the path it parsed, so that the keys and URL paths
// of all of the version's files derive from one Module without escaping
// again. The zero Module names no module.
type Module struct {
	mv              module.Version
	escPath, escVer string
	// canon is what ParseURLPath found out about mv with the checks it
	// already made (canonUnknown for every other Module): Canonical
	// answers from it instead of checking the path again.
	canon canonState
	// storable is whether ParseURLPath found the keys of mv's files (per
	// version) storable; Key then does not check them again, and returns
	// key, the parsed path itself, for its kind.
	storable bool
	kind     Kind
	key      string
}

// canonState records whether a Module's version is known to be canonical
// (IsCanonical) for its path.
type canonState uint8

const (
	canonUnknown canonState = iota
	canonYes
	canonNo
)

// Escape returns m with its escaped forms (m.Version may be empty: a
// module's List and Latest). It fails with x/mod's error for a path or
// version that does not escape.
func Escape(m module.Version) (Module, error) {
	em := Module{mv: m}
	var err error
	if em.escPath, err = module.EscapePath(m.Path); err != nil {
		return Module{}, err
	}
	if m.Version != "" {
		if em.escVer, err = module.EscapeVersion(m.Version); err != nil {
			return Module{}, err
		}
	}
	return em, nil
}

// Version returns the module version, unescaped.
func (m Module) Version() module.Version { return m.mv }

// Canonical reports IsCanonical(m.Version()). For a Module of
// ParseURLPath, whose module path that parse checked with
// module.CheckPath, it answers from what the parse found out, without
// checking the path again; for any other Module it calls IsCanonical.
func (m Module) Canonical() bool {
	switch m.canon {
	case canonYes:
		return true
	case canonNo:
		return false
	}
	return IsCanonical(m.mv)
}

// URLPath returns the GOPROXY URL path of m's file of kind k, like the
// function URLPath, without escaping again. For List and Latest, m's
// version is ignored (they are files of the module); for the other kinds m
// must have one.
func (m Module) URLPath(k Kind) (string, error) {
	switch {
	case !k.valid():
		return "", fmt.Errorf("layout: invalid kind %v", k)
	case m.escPath == "":
		return "", fmt.Errorf("layout: %s file of no module", k)
	case !k.PerVersion():
		return m.escPath + kinds[k].suffix, nil
	case m.escVer == "":
		return "", fmt.Errorf("layout: %s file of %s without a version", k, m.mv.Path)
	}
	return m.escPath + versionDir + m.escVer + kinds[k].suffix, nil
}

// Key returns the storage key of m's file of kind k, like the function
// Key (the same storability rule, the same *NotStorableError), without
// escaping again. Like URLPath, it ignores m's version for List and Latest.
func (m Module) Key(k Kind) (string, error) {
	if m.storable && k == m.kind {
		return m.key, nil // parsed and checked by ParseURLPath
	}
	key, err := m.URLPath(k)
	if err != nil {
		return "", err
	}
	if m.storable && k.PerVersion() {
		return key, nil // checked by ParseURLPath
	}
	longest, version := key, ""
	if k.PerVersion() {
		longest = strings.TrimSuffix(key, kinds[k].suffix) + kinds[ZipHash].suffix
		version = m.mv.Version
	}
	if err := storable(longest); err != nil {
		return "", &NotStorableError{Module: m.mv.Path, Version: version, Err: err}
	}
	return key, nil
}

// MaxElem is the longest element (between slashes) of a storable key: the
// longest file name file systems allow.
const MaxElem = 255

// storable checks a key against MaxElem and storage.ValidKey.
func storable(key string) error {
	for elem := range strings.SplitSeq(key, "/") {
		if len(elem) > MaxElem {
			return fmt.Errorf("%w: element longer than %d bytes", storage.ErrInvalidKey, MaxElem)
		}
	}
	return storage.ValidKey(key)
}

// Parse returns the module version and kind that key names: the inverse of
// Key and URLPath (Version is "" for List and Latest). The version need not
// be canonical (see IsCanonical). It fails for a key that is not a module
// file's, including keys under SumDBDir and StateDir.
func Parse(key string) (module.Version, Kind, error) {
	m, k, err := parseModuleFile(key, false)
	if err != nil {
		if errors.Is(err, errNoFile) {
			err = fmt.Errorf("neither %s nor %s", versionDir, kinds[Latest].suffix)
		}
		return module.Version{}, 0, fmt.Errorf("layout: %q is not a module file's key: %v", key, err)
	}
	return m.mv, k, nil
}

// errNoFile is parseModuleFile's error for a key with neither /@v/ nor
// /@latest, which its callers word each in their own terms.
var errNoFile = errors.New("no module file")

// parseModuleFile parses the key of a module's file, or with served, the
// GOPROXY URL path (without its leading slash) of a file the protocol
// serves: List, Latest, Info, Mod or Zip, whose module path must pass
// x/mod's module.CheckPath. It checks the file name, then the module path,
// then the version, and keeps the escaped forms it unescapes.
func parseModuleFile(key string, served bool) (Module, Kind, error) {
	var (
		m    Module
		kind Kind
	)
	if before, ok := strings.CutSuffix(key, kinds[Latest].suffix); ok {
		m.escPath, kind = before, Latest
	} else if before, file, ok := strings.Cut(key, versionDir); ok {
		m.escPath = before
		if file == "list" {
			kind = List
		} else {
			var err error
			m.escVer, kind, err = cutVersionFile(file)
			if err == nil && served && !kind.Artifact() {
				err = unknownFile(file)
			}
			if err != nil {
				return Module{}, 0, err
			}
		}
	} else {
		return Module{}, 0, errNoFile
	}
	var err error
	if m.mv.Path, err = module.UnescapePath(m.escPath); err != nil {
		return Module{}, 0, err
	}
	if served {
		if err := module.CheckPath(m.mv.Path); err != nil {
			return Module{}, 0, err
		}
	}
	if kind.PerVersion() {
		if m.escVer == "" {
			return Module{}, 0, errors.New("empty version")
		}
		if m.mv.Version, err = module.UnescapeVersion(m.escVer); err != nil {
			return Module{}, 0, err
		}
	}
	if served {
		// IsCanonical's module.Check is module.CheckPath, made above,
		// then the version's checks, made here once.
		m.canon = canonNo
		if v := m.mv.Version; v != "" && module.CanonicalVersion(v) == v {
			_, pathMajor, _ := module.SplitPathVersion(m.mv.Path)
			if module.CheckPathMajor(v, pathMajor) == nil {
				m.canon = canonYes
			}
		}
		// Key's check of every per-version file's key, made once: the
		// .ziphash key is the longest of them (see Key).
		if kind.PerVersion() {
			zh, err := m.URLPath(ZipHash)
			m.storable = err == nil && storable(zh) == nil
			// key is the URL path of a file of kind: m.URLPath(kind).
			m.kind, m.key = kind, key
		}
	}
	return m, kind, nil
}

// File is a parsed GOPROXY URL path (ParseURLPath): a module's file, or
// with Kind SumDB a checksum database file.
type File struct {
	Kind Kind
	// Module is, for a module's file, the module version it belongs to
	// (Version "" for List and Latest), with the escaped forms the URL
	// path had; the zero Module for SumDB.
	Module Module
	// DB and DBFile are, for SumDB, the database's name and the path
	// after sumdb/<name>/ ("latest", "lookup/<escaped path>@<escaped
	// version>", "tile/...").
	DB, DBFile string
}

// ParseURLPath parses p, the path of a request of the module proxy
// protocol without its leading slash (as URLPath returns it): a module's
// List, Latest, Info, Mod or Zip (never a hash side-file, which is
// gomirror's own), or a checksum database file under sumdb/<name>/.
// Module paths and versions are unescaped with x/mod's
// module.UnescapePath and module.UnescapeVersion, and the module path is
// checked with module.CheckPath, so that no File names anything outside
// its module's own key space; a checksum database file's path has no ".."
// and no empty element. The error says what is wrong with p, without
// quoting it whole.
func ParseURLPath(p string) (File, error) {
	if rest, ok := strings.CutPrefix(p, SumDBDir+"/"); ok {
		if db, dbFile, ok := strings.Cut(rest, "/"); ok {
			if db == "" || dbFile == "" || strings.Contains(db, "..") || strings.Contains(dbFile, "..") || strings.Contains(dbFile, "//") {
				return File{}, errors.New("malformed checksum database path")
			}
			return File{Kind: SumDB, DB: db, DBFile: dbFile}, nil
		}
	}
	m, kind, err := parseModuleFile(p, true)
	if errors.Is(err, errNoFile) {
		return File{}, errors.New("not a module proxy request")
	}
	if err != nil {
		return File{}, err
	}
	return File{Kind: kind, Module: m}, nil
}

// ParseVersionFile returns the version and kind of a version's file named
// file within its module's VersionsPrefix ("v1.0.0.zip",
// "v1.0.0-!r!c1.info"): Parse without the module path, which the caller
// already knows. It fails for other names, "list" included.
func ParseVersionFile(file string) (version string, k Kind, err error) {
	escVer, k, err := cutVersionFile(file)
	if err == nil && escVer == "" {
		err = errors.New("empty version")
	}
	if err == nil {
		version, err = module.UnescapeVersion(escVer)
	}
	if err != nil {
		return "", 0, fmt.Errorf("layout: %q is not a version's file: %v", file, err)
	}
	return version, k, nil
}

// cutVersionFile splits a version's file name into its escaped version
// (possibly empty) and its kind.
func cutVersionFile(file string) (escVer string, k Kind, err error) {
	for kind := Info; kind <= ModHash; kind++ {
		if v, ok := strings.CutSuffix(file, kinds[kind].suffix); ok {
			return v, kind, nil
		}
	}
	return "", 0, unknownFile(file)
}

func unknownFile(file string) error {
	return fmt.Errorf("unknown file %q after %s", file, versionDir)
}

// IsArtifactName reports whether key has the shape of a module artifact's
// key: an .info, .mod or .zip file in a directory named @v, outside
// SumDBDir and StateDir. It does not unescape; Parse says whether the name
// is valid.
func IsArtifactName(key string) bool {
	if first, _, _ := strings.Cut(key, "/"); first == SumDBDir || first == StateDir {
		return false
	}
	dir, file := path.Split(key)
	switch path.Ext(file) {
	case kinds[Info].suffix, kinds[Mod].suffix, kinds[Zip].suffix:
		return path.Base(dir) == "@v"
	}
	return false
}

// IsCanonical reports whether m.Version is a canonical version of m.Path,
// the only kind whose artifacts are immutable and stored.
func IsCanonical(m module.Version) bool {
	return m.Version != "" && module.CanonicalVersion(m.Version) == m.Version && module.Check(m.Path, m.Version) == nil
}

// HashKey returns the key of the recorded h1: hash of the artifact stored at
// key: the .ziphash of a .zip (the go command's module cache keeps the same
// file next to each zip), the .modhash of a .mod (the go.sum hash of the
// go.mod file). ok is false for keys of other files, which have none. A
// recorded hash is the hash followed by a newline.
func HashKey(key string) (hashKey string, ok bool) {
	for _, k := range [...]struct{ of, hash Kind }{{Zip, ZipHash}, {Mod, ModHash}} {
		if base, found := strings.CutSuffix(key, kinds[k.of].suffix); found {
			return base + kinds[k.hash].suffix, true
		}
	}
	return "", false
}

// VersionsPrefix returns the prefix of the keys of all version files of the
// module whose List key is listKey: "<escaped path>/@v/".
func VersionsPrefix(listKey string) string {
	return strings.TrimSuffix(listKey, "list")
}

// Checksum database keys. The database's files are stored under the paths
// they are served at (a checksum database proxy's URL space), so that the
// same bytes answer clients' /sumdb/ requests.
const SumDBDir = "sumdb"

// SumDBKey returns the key of a checksum database file named as x/mod's
// sumdb client names its cache files: "<name>/latest",
// "<name>/lookup/<escaped path>@<escaped version>", "<name>/tile/...". The
// key is also the file's URL path.
func SumDBKey(file string) string { return SumDBDir + "/" + file }

// SumDBSupportedKey returns the key of database db's "supported" file: an
// empty file whose presence tells a client reading the store as a
// GOPROXY=file:// tree that it proxies db (the go command asks
// <proxy>/sumdb/<name>/supported before any other checksum database file,
// and otherwise asks the database itself).
func SumDBSupportedKey(db string) string { return SumDBKey(db + "/supported") }

// SumDBLookupFile returns the name of the lookup record of m within its
// checksum database, as the checksum database protocol (and x/mod's sumdb
// client) names it: "lookup/<escaped path>@<escaped version>". It fails
// with x/mod's error for a path or version that does not escape.
func SumDBLookupFile(m module.Version) (string, error) {
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return "", err
	}
	escVer, err := module.EscapeVersion(m.Version)
	if err != nil {
		return "", err
	}
	return "lookup/" + esc + "@" + escVer, nil
}

// SumDBLookupKey returns the key of database db's lookup record of m
// (SumDBLookupFile under SumDBKey), or a *NotStorableError naming the
// lookup.
func SumDBLookupKey(db string, m module.Version) (string, error) {
	file, err := SumDBLookupFile(m)
	if err != nil {
		return "", err
	}
	key := SumDBKey(db + "/" + file)
	if err := storable(key); err != nil {
		return "", &NotStorableError{Module: m.Path, Version: m.Version, DB: db, Err: err}
	}
	return key, nil
}

// gomirror's own state: keys under StateDir.
const (
	// StateDir is the first element of every key of gomirror's own state.
	StateDir = ".gomirror"
	// TempDir holds in-progress writes of the local-disk driver.
	TempDir = StateDir + "/tmp"
	// ReadyProbe is the object /readyz writes and deletes.
	ReadyProbe = StateDir + "/readyz"
	// DirectDir is the default work directory of direct (VCS) fetches
	// under a local storage directory.
	DirectDir = StateDir + "/direct"
	// DatabaseFile is the default SQLite database (audit log, statistics,
	// catalog) under a local storage directory.
	DatabaseFile = StateDir + "/gomirror.db"
	// AuditSpillDir holds audit records that could not be written to the
	// database yet, under the local storage directory.
	AuditSpillDir = StateDir + "/audit-spill"
	// CatalogBehindMarker, under the local storage directory, says that
	// the database's catalog lacks updates a stopped process could not
	// write: the next one rebuilds it from storage.
	CatalogBehindMarker = StateDir + "/catalog-behind"
	// GCLock names the cross-replica lock (coord) that one garbage
	// collection at a time holds; no object is stored under it.
	GCLock = StateDir + "/gc"
	// SnapshotDir holds the snapshots' manifests (SnapshotKey), JSON
	// files that package snapshot writes once and never changes.
	SnapshotDir = StateDir + "/snapshots"
	// EnvDir holds the environments: under EnvDir/<name>/ one record per
	// promotion or rollback (EnvRecordKey), the last in lexical order in
	// force, and a head (EnvHeadKey).
	EnvDir = StateDir + "/env"
)

// SnapshotKey returns the key of the manifest of the snapshot name, which
// the caller has validated (snapshot.ValidName: no "/", no leading dot).
func SnapshotKey(name string) string { return SnapshotDir + "/" + name + ".json" }

// EnvPrefix returns the prefix of every record of the environment name
// (validated by the caller, as for SnapshotKey).
func EnvPrefix(name string) string { return EnvDir + "/" + name + "/" }

// EnvRecordKey returns the key of the record id (validated by the caller)
// of the environment name.
func EnvRecordKey(name, id string) string { return EnvPrefix(name) + id + ".json" }

// EnvHeadKey returns the key of the environment name's head: a copy of
// the record last found in force by a writer, where readers start their
// listing (its name sorts after every record's).
func EnvHeadKey(name string) string { return EnvPrefix(name) + "head.json" }

// SumDBStateKey returns the key of a checksum database config file named as
// x/mod's sumdb client names them ("<name>/latest": the verified tree
// head), which is gomirror's state, never served.
func SumDBStateKey(file string) string { return StateDir + "/" + SumDBDir + "/" + file }

// NotStorableError is a module version (or, with DB, a checksum database
// lookup of it) whose files cannot be stored because a key would not be
// storable: one with an element longer than 255 bytes, which no file
// system holds (nor, so, the go command's module cache). It is a "not
// found": this mirror never has it.
type NotStorableError struct {
	Module, Version string // Version is "" for a module's list or @latest
	DB              string // the checksum database, for a lookup
	Err             error  // wraps storage.ErrInvalidKey
}

func (e *NotStorableError) Error() string {
	target := e.Module
	if e.Version != "" {
		target += "@" + e.Version
	}
	if e.DB != "" {
		target = "checksum database lookup " + target
	}
	return fmt.Sprintf("not found: %s cannot be stored: %v", target, e.Err)
}

// Unwrap makes a NotStorableError a "not found".
func (e *NotStorableError) Unwrap() error { return fs.ErrNotExist }

// View is a part of the GOPROXY URL space that serves a snapshot or an
// environment as a module proxy of its own: /snapshots/<name>/... and
// /env/<name>/... (package snapshot). No module path can start with
// "snapshots/" or "env/" (the first element of a module path has a dot),
// so views never collide with modules.
type View struct {
	Kind ViewKind
	Name string // ValidViewName
}

// ViewKind is the kind of a View.
type ViewKind uint8

const (
	NoView       ViewKind = iota // the mirror itself
	SnapshotView                 // /snapshots/<name>/
	EnvView                      // /env/<name>/
)

// Prefixes of the views' URL paths (without the leading slash).
const (
	SnapshotViewPrefix = "snapshots/"
	EnvViewPrefix      = "env/"
)

// String returns "snapshot NAME", "environment NAME", or "" for NoView.
func (v View) String() string {
	switch v.Kind {
	case SnapshotView:
		return "snapshot " + v.Name
	case EnvView:
		return "environment " + v.Name
	}
	return ""
}

// MaxViewName bounds a snapshot's or an environment's name.
const MaxViewName = 128

// ValidViewName reports whether name may name a snapshot or an
// environment: 1 to MaxViewName bytes of ASCII letters, digits, '.', '_'
// and '-', starting with a letter or digit (so no path element, no hidden
// file, nothing that needs escaping in a URL or a storage key).
func ValidViewName(name string) error {
	if name == "" || len(name) > MaxViewName {
		return fmt.Errorf("invalid name %q: want 1 to %d characters", name, MaxViewName)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("invalid name %q: want letters, digits, '.', '_' and '-', starting with a letter or digit", name)
		}
	}
	return nil
}

// CutView cuts a view's prefix off p, a URL path without its leading
// slash: for "snapshots/<name>/<rest>" or "env/<name>/<rest>" it returns
// the view and rest; for any other p, NoView and p. A view prefix with an
// invalid name or nothing after it is an error.
func CutView(p string) (View, string, error) {
	var v View
	rest, ok := strings.CutPrefix(p, SnapshotViewPrefix)
	if ok {
		v.Kind = SnapshotView
	} else if rest, ok = strings.CutPrefix(p, EnvViewPrefix); ok {
		v.Kind = EnvView
	} else {
		return View{}, p, nil
	}
	name, rest, ok := strings.Cut(rest, "/")
	if err := ValidViewName(name); err != nil {
		return View{}, "", err
	}
	if !ok || rest == "" {
		return View{}, "", fmt.Errorf("no module path after the view's name %q", name)
	}
	v.Name = name
	return v, rest, nil
}
