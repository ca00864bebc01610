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
//	.gomirror/...                               gomirror's own state
//
// This is what makes a store, read as a directory, a valid GOPROXY=file://
// tree: the go command finds every stored file at the path it asks for, and
// ignores the hash side-files (the go command's own module cache keeps a
// .ziphash next to each zip too). No module path can start with a dot, so the
// keys under .gomirror/ never collide with a module's.
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
}

// versionDir separates the escaped module path from a version's file name.
const versionDir = "/@v/"

func (k Kind) valid() bool { return k >= List && k <= ModHash }

// String returns the kind's name: "list", "latest", "info", "mod", "zip",
// "ziphash" or "modhash".
func (k Kind) String() string {
	if !k.valid() {
		return fmt.Sprintf("Kind(%d)", uint8(k))
	}
	return kinds[k].name
}

// PerVersion reports whether a file of kind k belongs to one version (all
// kinds but List and Latest).
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
	if !k.valid() {
		return "", fmt.Errorf("layout: invalid kind %v", k)
	}
	if k.PerVersion() == (m.Version == "") {
		if m.Version == "" {
			return "", fmt.Errorf("layout: %s file of %s without a version", k, m.Path)
		}
		return "", fmt.Errorf("layout: %s file of %s has no version, got %q", k, m.Path, m.Version)
	}
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return "", err
	}
	if !k.PerVersion() {
		return esc + kinds[k].suffix, nil
	}
	escVer, err := module.EscapeVersion(m.Version)
	if err != nil {
		return "", err
	}
	return esc + versionDir + escVer + kinds[k].suffix, nil
}

// Key returns the storage key of m's file of kind k: its URLPath, once it
// is known to be storable. For a per-version kind, every file of the
// version must be storable (the longest keys are the hash side-files'), so
// that no version is ever stored in part; for List and Latest, the key
// itself. It fails like URLPath, or with a *NotStorableError.
func Key(m module.Version, k Kind) (string, error) {
	key, err := URLPath(m, k)
	if err != nil {
		return "", err
	}
	longest := key
	if k.PerVersion() {
		longest = strings.TrimSuffix(key, kinds[k].suffix) + kinds[ZipHash].suffix
	}
	if err := storable(longest); err != nil {
		return "", &NotStorableError{Module: m.Path, Version: m.Version, Err: err}
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
	bad := func(format string, args ...any) (module.Version, Kind, error) {
		return module.Version{}, 0, fmt.Errorf("layout: %q is not a module file's key: %s", key, fmt.Sprintf(format, args...))
	}
	var (
		escPath, escVer string
		kind            Kind
	)
	if before, ok := strings.CutSuffix(key, kinds[Latest].suffix); ok {
		escPath, kind = before, Latest
	} else if before, file, ok := strings.Cut(key, versionDir); ok {
		escPath = before
		if file == "list" {
			kind = List
		} else {
			var err error
			if escVer, kind, err = cutVersionFile(file); err != nil {
				return bad("%v", err)
			}
		}
	} else {
		return bad("neither %s nor %s", versionDir, kinds[Latest].suffix)
	}
	p, err := module.UnescapePath(escPath)
	if err != nil {
		return bad("%v", err)
	}
	m := module.Version{Path: p}
	if escVer != "" {
		if m.Version, err = module.UnescapeVersion(escVer); err != nil {
			return bad("%v", err)
		}
	}
	return m, kind, nil
}

// ParseVersionFile returns the version and kind of a version's file named
// file within its module's VersionsPrefix ("v1.0.0.zip",
// "v1.0.0-!r!c1.info"): Parse without the module path, which the caller
// already knows. It fails for other names, "list" included.
func ParseVersionFile(file string) (version string, k Kind, err error) {
	escVer, k, err := cutVersionFile(file)
	if err != nil {
		return "", 0, fmt.Errorf("layout: %q is not a version's file: %v", file, err)
	}
	if version, err = module.UnescapeVersion(escVer); err != nil {
		return "", 0, fmt.Errorf("layout: %q is not a version's file: %v", file, err)
	}
	return version, k, nil
}

// cutVersionFile splits a version's file name into its escaped version and
// its kind.
func cutVersionFile(file string) (escVer string, k Kind, err error) {
	for kind := Info; kind <= ModHash; kind++ {
		if v, ok := strings.CutSuffix(file, kinds[kind].suffix); ok {
			if v == "" {
				return "", 0, errors.New("empty version")
			}
			return v, kind, nil
		}
	}
	return "", 0, fmt.Errorf("unknown file %q after %s", file, versionDir)
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

// SumDBLookupKey returns the key of database db's lookup record of m, or a
// *NotStorableError naming the lookup.
func SumDBLookupKey(db string, m module.Version) (string, error) {
	esc, err := module.EscapePath(m.Path)
	if err != nil {
		return "", err
	}
	escVer, err := module.EscapeVersion(m.Version)
	if err != nil {
		return "", err
	}
	key := SumDBKey(db + "/lookup/" + esc + "@" + escVer)
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
)

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
