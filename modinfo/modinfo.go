// Package modinfo describes a stored module version for the console and
// the JSON API: its go.mod, whether it is retracted or its module
// deprecated, its README and the licenses detected at its root, all read
// from storage (never fetched) and bounded whatever the stored files hold.
//
// Retractions and deprecation are read as the go command reads them: from
// the go.mod of the module's latest version (the highest stored release,
// else the highest stored pre-release, else the highest stored version),
// retractions included. Only stored versions are considered, so a newer
// version the mirror has not stored is not seen.
package modinfo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/licensecheck"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/internal/zipdir"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// Reader is what modinfo reads: a storage.Storage's Get, Stat and List.
type Reader interface {
	Get(ctx context.Context, key string) (*storage.Object, error)
	Stat(ctx context.Context, key string) (storage.Info, error)
	List(ctx context.Context, prefix string) ([]string, error)
}

var _ Reader = storage.Storage(nil)

// Limits bound what one call reads. A zero field takes its default.
type Limits struct {
	// ModBytes is the most of a go.mod read (default 1 MiB); a longer one
	// is shown cut (GoModTruncated) and not parsed.
	ModBytes int64
	// ReadmeBytes is the most of a README returned (default 256 KiB).
	ReadmeBytes int64
	// LicenseBytes is the most of a license file scanned (default 64 KiB),
	// and LicenseTotalBytes the most of all license files together
	// (default 128 KiB): licensecheck's time grows with the text and does
	// not stop when the context ends. A file cut or left unscanned is
	// marked Truncated, and Details.LicensesTruncated is set.
	LicenseBytes      int64
	LicenseTotalBytes int64
	// LicenseFiles is the most license files scanned (default 8); more are
	// not listed, and Details.LicensesTruncated is set.
	LicenseFiles int
	// ZipEntries is the most entries of a zip read (default 100,000), and
	// ZipDirBytes the largest central directory (default 16 MiB): a zip
	// over either has no README or licenses shown.
	ZipEntries  int
	ZipDirBytes int64
	// Versions is the most stored versions considered to find the latest
	// (default 10,000).
	Versions int
	// TempDir is where a zip whose storage cannot read at random offsets
	// (S3 objects over 64 KiB) is copied while it is read; "" is
	// os.TempDir().
	TempDir string
}

func (l *Limits) setDefaults() {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.ModBytes, 1<<20)
	def(&l.ReadmeBytes, 256<<10)
	def(&l.LicenseBytes, 64<<10)
	def(&l.LicenseTotalBytes, 128<<10)
	def(&l.ZipDirBytes, 16<<20)
	if l.LicenseFiles <= 0 {
		l.LicenseFiles = 8
	}
	if l.ZipEntries <= 0 {
		l.ZipEntries = 100_000
	}
	if l.Versions <= 0 {
		l.Versions = 10_000
	}
}

// File is one stored file of a version.
type File struct {
	Kind   string    `json:"kind"` // info, mod, zip
	Size   int64     `json:"size"`
	Stored time.Time `json:"stored"`
}

// Retraction is a retract directive.
type Retraction struct {
	Low       string `json:"low"`
	High      string `json:"high"`
	Rationale string `json:"rationale,omitempty"`
}

// Marks are what the go.mod of a module's latest stored version says of
// the module: its retractions and deprecation.
type Marks struct {
	Path string `json:"path"`
	// Latest is the version whose go.mod was read ("" if none is stored).
	Latest string `json:"latest"`
	// Deprecated is the module's deprecation message, "" if it is not.
	Deprecated  string       `json:"deprecated,omitempty"`
	Retractions []Retraction `json:"retractions"`
	// Error says why the latest go.mod could not be read, if it could not.
	Error string `json:"error,omitempty"`
}

// Retracted returns the retraction that covers version, if one does.
func (m *Marks) Retracted(version string) (Retraction, bool) {
	for _, r := range m.Retractions {
		if semver.Compare(r.Low, version) <= 0 && semver.Compare(version, r.High) <= 0 {
			return r, true
		}
	}
	return Retraction{}, false
}

// Readme is a README at the module root.
type Readme struct {
	Name string `json:"name"`
	// Text is the file's bytes as text: it may be any bytes, and is to be
	// escaped by whoever shows it.
	Text      string `json:"text"`
	Truncated bool   `json:"truncated,omitempty"`
}

// License is a license file at the module root and what licensecheck
// found in it.
type License struct {
	File string `json:"file"`
	// Percent is how much of the file's text the licenses found cover.
	Percent float64 `json:"percent"`
	// IDs are the SPDX identifiers found, in order, without repeats.
	IDs []string `json:"ids"`
	// Truncated says that only the file's first bytes were scanned, or
	// none at all when the limit of all license files was reached before
	// it (see Limits).
	Truncated bool `json:"truncated,omitempty"`
}

// Details describe a stored module version.
type Details struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Files   []File `json:"files"`
	// Time is the version's time from its .info, if stored.
	Time           time.Time `json:"time,omitzero"`
	GoMod          string    `json:"go_mod"`
	GoModTruncated bool      `json:"go_mod_truncated,omitempty"`
	// Retracted is the retraction covering this version, if any.
	Retracted  *Retraction `json:"retracted,omitempty"`
	Deprecated string      `json:"deprecated,omitempty"`
	Latest     string      `json:"latest"`
	Readme     *Readme     `json:"readme,omitempty"`
	Licenses   []License   `json:"licenses"`
	// LicensesTruncated says that the licenses were not all read whole:
	// a file was cut or not scanned, or more files than the limit exist.
	LicensesTruncated bool `json:"licenses_truncated,omitempty"`
	// ZipError says why the zip's README and licenses are not shown, when
	// a zip is stored but could not be read within the limits.
	ZipError string `json:"zip_error,omitempty"`
}

// Get describes the stored version m. Its error wraps fs.ErrNotExist when
// nothing of m is stored. Each call reads the zip again: a server uses a
// Describer, which caches that part and bounds concurrent reads.
func Get(ctx context.Context, st Reader, m module.Version, lim Limits) (*Details, error) {
	lim.setDefaults()
	return get(ctx, st, m, lim, func(info storage.Info) (*zipDetails, error) {
		return readZip(ctx, st, m, lim, licensecheck.Scan)
	}, func() (*Marks, error) {
		return ModuleMarks(ctx, st, m.Path, lim)
	})
}

// get is Get with the zip's part (README, licenses) from zip, given the
// zip's Stat, and the module's marks from marks.
func get(ctx context.Context, st Reader, m module.Version, lim Limits, zip func(storage.Info) (*zipDetails, error), marks func() (*Marks, error)) (*Details, error) {
	if err := module.Check(m.Path, m.Version); err != nil {
		return nil, err
	}
	if !layout.IsCanonical(m) {
		return nil, fmt.Errorf("%s@%s: not a canonical version", m.Path, m.Version)
	}
	d := &Details{Path: m.Path, Version: m.Version, Files: []File{}, Licenses: []License{}}
	var zipInfo storage.Info
	for _, k := range []layout.Kind{layout.Info, layout.Mod, layout.Zip} {
		key, err := layout.Key(m, k)
		if err != nil {
			return nil, err
		}
		info, err := st.Stat(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		d.Files = append(d.Files, File{k.String(), info.Size, info.ModTime})
		if k == layout.Zip {
			zipInfo = info
		}
	}
	if len(d.Files) == 0 {
		return nil, fmt.Errorf("%s@%s is not stored: %w", m.Path, m.Version, fs.ErrNotExist)
	}
	if has(d.Files, "info") {
		if b, _, err := readKey(ctx, st, m, layout.Info, 64<<10); err == nil {
			var info struct{ Time time.Time }
			if json.Unmarshal(b, &info) == nil {
				d.Time = info.Time
			}
		}
	}
	if has(d.Files, "mod") {
		b, cut, err := readKey(ctx, st, m, layout.Mod, lim.ModBytes)
		if err != nil {
			return nil, err
		}
		d.GoMod, d.GoModTruncated = string(b), cut
	}
	mk, err := marks()
	if err != nil {
		return nil, err
	}
	d.Latest, d.Deprecated = mk.Latest, mk.Deprecated
	if r, ok := mk.Retracted(m.Version); ok {
		d.Retracted = &r
	}
	if has(d.Files, "zip") {
		zd, err := zip(zipInfo)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			zd = &zipDetails{err: err.Error()}
		}
		d.ZipError = zd.err
		d.Readme = zd.readme
		d.Licenses = append(d.Licenses, zd.licenses...)
		d.LicensesTruncated = zd.licensesCut
	}
	return d, nil
}

func has(files []File, kind string) bool {
	return slices.ContainsFunc(files, func(f File) bool { return f.Kind == kind })
}

// readKey reads at most max bytes of m's file of kind k, and whether there
// was more.
func readKey(ctx context.Context, st Reader, m module.Version, k layout.Kind, max int64) ([]byte, bool, error) {
	key, err := layout.Key(m, k)
	if err != nil {
		return nil, false, err
	}
	obj, err := st.Get(ctx, key)
	if err != nil {
		return nil, false, err
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(io.LimitReader(obj.Body, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > max {
		return b[:max], true, nil
	}
	return b, false, nil
}

// StoredVersions returns the canonical versions of path that have a file
// stored, in semver order, at most lim.Versions of them (the highest).
func StoredVersions(ctx context.Context, st Reader, path string, lim Limits) ([]string, error) {
	return storedVersions(ctx, st, path, lim, func(layout.Kind) bool { return true })
}

// storedVersions returns the versions of path that have a file of a kind
// accepted by kind stored, as StoredVersions does.
func storedVersions(ctx context.Context, st Reader, path string, lim Limits, kind func(layout.Kind) bool) ([]string, error) {
	lim.setDefaults()
	listKey, err := layout.Key(module.Version{Path: path}, layout.List)
	if err != nil {
		return nil, err
	}
	prefix := layout.VersionsPrefix(listKey)
	keys, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		v, kd, err := layout.ParseVersionFile(strings.TrimPrefix(k, prefix))
		if err != nil || !kd.Artifact() || !kind(kd) || seen[v] || !layout.IsCanonical(module.Version{Path: path, Version: v}) {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	semver.Sort(out)
	if len(out) > lim.Versions {
		out = out[len(out)-lim.Versions:]
	}
	return out, nil
}

// latest returns the version the go command reads retractions and
// deprecation from, among versions (semver-sorted) whose .mod is stored:
// the highest release, else the highest pre-release (pseudo-versions
// included).
func latest(versions []string) string {
	for i := len(versions) - 1; i >= 0; i-- {
		if semver.Prerelease(versions[i]) == "" {
			return versions[i]
		}
	}
	if len(versions) > 0 {
		return versions[len(versions)-1]
	}
	return ""
}

// ModuleMarks returns the retractions and deprecation of path, from the
// go.mod of its latest stored version (see the package documentation).
// A module with no stored go.mod has none.
func ModuleMarks(ctx context.Context, st Reader, path string, lim Limits) (*Marks, error) {
	lim.setDefaults()
	return moduleMarks(ctx, st, path, lim, func(latest module.Version) (*Marks, error) {
		mk, _, err := readMarks(ctx, st, latest, lim)
		return mk, err
	})
}

// moduleMarks is ModuleMarks with the marks of the latest version read by
// read.
func moduleMarks(ctx context.Context, st Reader, path string, lim Limits, read func(latest module.Version) (*Marks, error)) (*Marks, error) {
	if err := module.CheckPath(path); err != nil {
		return nil, err
	}
	// Only versions with a stored .mod can say anything: one listing
	// tells which.
	withMod, err := storedVersions(ctx, st, path, lim, func(k layout.Kind) bool { return k == layout.Mod })
	if err != nil {
		return nil, err
	}
	v := latest(withMod)
	if v == "" {
		return &Marks{Path: path, Retractions: []Retraction{}}, nil
	}
	return read(module.Version{Path: path, Version: v})
}

// readMarks returns the marks in the stored go.mod of m, the latest
// version of its module, and whether they last as long as m is the latest
// (they do unless the go.mod could not be read from storage).
func readMarks(ctx context.Context, st Reader, m module.Version, lim Limits) (*Marks, bool, error) {
	mk := &Marks{Path: m.Path, Retractions: []Retraction{}, Latest: m.Version}
	b, cut, err := readKey(ctx, st, m, layout.Mod, lim.ModBytes)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			mk.Error = err.Error()
			return mk, false, nil
		}
		return nil, false, err
	}
	if cut {
		mk.Error = fmt.Sprintf("go.mod of %s is over %d bytes", mk.Latest, lim.ModBytes)
		return mk, true, nil
	}
	f, err := modfile.ParseLax(m.Path+"@"+mk.Latest+"/go.mod", b, nil)
	if err != nil {
		mk.Error = err.Error()
		return mk, true, nil
	}
	if f.Module != nil {
		mk.Deprecated = f.Module.Deprecated
	}
	for _, r := range f.Retract {
		mk.Retractions = append(mk.Retractions, Retraction{r.Low, r.High, r.Rationale})
	}
	return mk, true, nil
}

// readmeRE and licenseRE name the files looked for at the module root,
// case-insensitively: README, README.md, readme.txt...; LICENSE,
// LICENCE.md, COPYING, LICENSE-APACHE, MIT-LICENSE.txt, UNLICENSE...
var (
	readmeRE  = regexp.MustCompile(`(?i)^readme(\.[a-z0-9]+)?$`)
	licenseRE = regexp.MustCompile(`(?i)^(licen[cs]e|copying|unlicen[cs]e|mit[-_]licen[cs]e)([-._][a-z0-9.-]*)?$`)
)

// readmeRank orders README candidates: README.md first, then README, then
// the others by name.
func readmeRank(name string) int {
	switch strings.ToLower(name) {
	case "readme.md":
		return 0
	case "readme":
		return 1
	}
	return 2
}

// zipDetails is what a stored zip tells of its version: the part of
// Details a Describer caches.
type zipDetails struct {
	readme      *Readme
	licenses    []License
	licensesCut bool
	// err says why the zip could not be read within the limits (then
	// Details.ZipError); it is as lasting as the zip.
	err string
}

// scanFunc is licensecheck.Scan (tests count what it is given).
type scanFunc func(text []byte) licensecheck.Coverage

// readZip reads the README and licenses of m's stored zip. Its error is
// one that may pass (the storage's, ctx's); what the zip's own content
// causes is zipDetails.err.
func readZip(ctx context.Context, st Reader, m module.Version, lim Limits, scan scanFunc) (*zipDetails, error) {
	key, err := layout.Key(m, layout.Zip)
	if err != nil {
		return nil, err
	}
	obj, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	ra, size, cleanup, err := readerAt(ctx, obj, lim.TempDir)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	zd, err := readZipAt(ctx, ra, size, m, lim, scan)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return &zipDetails{err: err.Error()}, nil
	}
	return zd, nil
}

// readZipAt reads the README and licenses of the zip of m in ra.
func readZipAt(ctx context.Context, ra io.ReaderAt, size int64, m module.Version, lim Limits, scan scanFunc) (*zipDetails, error) {
	prefix := m.Path + "@" + m.Version + "/"
	entries, err := zipdir.Read(ctx, ra, size, zipdir.Limits{DirBytes: lim.ZipDirBytes, Entries: lim.ZipEntries}, func(name []byte) bool {
		f := rootFileBytes(name, prefix)
		return f != nil && (readmeRE.Match(f) || licenseRE.Match(f))
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(entries, func(a, b zipdir.Entry) int { return strings.Compare(a.Name, b.Name) })
	zd := &zipDetails{licenses: []License{}}
	var readme *zipdir.Entry
	budget := lim.LicenseTotalBytes
	for i, e := range entries {
		f := rootFile(e.Name, prefix)
		if readmeRE.MatchString(f) {
			if readme == nil || readmeRank(f) < readmeRank(rootFile(readme.Name, prefix)) {
				readme = &entries[i]
			}
			continue
		}
		if len(zd.licenses) >= lim.LicenseFiles {
			zd.licensesCut = true
			continue
		}
		// licensecheck.Scan does not stop when ctx ends: ctx is checked
		// between files, and each scan is bounded by the limits.
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l := License{File: f, IDs: []string{}}
		if budget <= 0 {
			l.Truncated, zd.licensesCut = true, true
			zd.licenses = append(zd.licenses, l)
			continue
		}
		b, cut, err := zipdir.ReadEntry(ctx, ra, size, e, min(lim.LicenseBytes, budget))
		if err != nil {
			return nil, err
		}
		budget -= int64(len(b))
		cov := scan(b)
		l.Percent, l.Truncated = cov.Percent, cut
		zd.licensesCut = zd.licensesCut || cut
		for _, mt := range cov.Match {
			if !slices.Contains(l.IDs, mt.ID) {
				l.IDs = append(l.IDs, mt.ID)
			}
		}
		zd.licenses = append(zd.licenses, l)
	}
	if readme != nil {
		b, cut, err := zipdir.ReadEntry(ctx, ra, size, *readme, lim.ReadmeBytes)
		if err != nil {
			return nil, err
		}
		zd.readme = &Readme{Name: rootFile(readme.Name, prefix), Text: string(b), Truncated: cut}
	}
	return zd, nil
}

// readerAt returns obj's body as an io.ReaderAt: itself if it is one (a
// file on local disk, an object in memory), else a copy in a temporary
// file in dir, removed by cleanup.
func readerAt(ctx context.Context, obj *storage.Object, dir string) (io.ReaderAt, int64, func(), error) {
	if ra, ok := obj.Body.(io.ReaderAt); ok {
		return ra, obj.Size, func() {}, nil
	}
	f, err := os.CreateTemp(dir, "gomirror-modinfo-*.zip")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, storage.ContextReader(ctx, io.LimitReader(obj.Body, obj.Size+1)))
	if err == nil && n != obj.Size {
		err = fmt.Errorf("zip of %d bytes read as %d", obj.Size, n)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	return f, n, cleanup, nil
}
