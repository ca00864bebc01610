package snapshot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/client/warm"
	"github.com/gomirror/gomirror/internal/httpstatus"
	"github.com/gomirror/gomirror/layout"
)

// Source is one thing a snapshot is built from.
type Source struct {
	// GoMod is a go.mod file: its module graph (every go.mod the graph
	// reads) and the zips of the modules the go command downloads to build
	// and test its packages (golist.Ask.Downloads), with the go.sum next
	// to it if any:
	// the hashes fetched of the graph's versions must be the ones it
	// lists (its lines for other versions are ignored).
	GoMod string
	// GoSum is a go.sum file: the versions it lists, a zip for each
	// "<path> <version> h1:" line, a go.mod for each; the hashes fetched
	// must be the ones it lists.
	GoSum string
	// Modules are module@version arguments: the graph of a main module
	// requiring them (golist.MainModule), the zips of the arguments (what
	// `go mod download` fetches there), and, as far as upstream has them,
	// the zips of the rest of its build list: a zip of those that upstream
	// refuses (403, 404, 410) leaves the version go.mod-only, with a
	// warning.
	Modules []string
	// Entries are a manifest's (an imported one): each version's files
	// (its zip if it has a Hash), which must hash as it says.
	Entries []Entry
	// Name names Entries in String.
	Name string
}

// String is how a manifest's Sources name s.
func (s Source) String() string {
	switch {
	case s.GoMod != "":
		return s.GoMod
	case s.GoSum != "":
		return s.GoSum
	case s.Entries != nil:
		return s.Name
	}
	return strings.Join(s.Modules, " ")
}

// SourceOf returns the Source for a --from argument: a directory (its
// go.mod), a file named *.sum (a go.sum), or a go.mod file; its path is
// absolute (as a manifest's Sources record it), whatever arg is.
func SourceOf(arg string) (Source, error) {
	arg, err := filepath.Abs(arg)
	if err != nil {
		return Source{}, err
	}
	st, err := os.Stat(arg)
	if err != nil {
		return Source{}, err
	}
	if st.IsDir() {
		gomod := filepath.Join(arg, "go.mod")
		if _, err := os.Stat(gomod); err != nil {
			return Source{}, err
		}
		return Source{GoMod: gomod}, nil
	}
	if strings.HasSuffix(arg, ".sum") {
		return Source{GoSum: arg}, nil
	}
	return Source{GoMod: arg}, nil
}

// ParseSources returns the sources of a command line: each of from a
// --from argument (SourceOf), and the module@version arguments mods, if
// any, as one more; and how a manifest's Sources name them.
func ParseSources(from, mods []string) ([]Source, []string, error) {
	var (
		srcs  []Source
		names []string
	)
	for _, f := range from {
		s, err := SourceOf(f)
		if err != nil {
			return nil, nil, fmt.Errorf("--from %s: %w", f, err)
		}
		srcs, names = append(srcs, s), append(names, s.String())
	}
	for _, m := range mods {
		path, v, ok := strings.Cut(m, "@")
		if !ok || path == "" || v == "" {
			return nil, nil, fmt.Errorf("%q: want module@version", m)
		}
	}
	if len(mods) > 0 {
		srcs, names = append(srcs, Source{Modules: mods}), append(names, mods...)
	}
	if len(srcs) == 0 {
		return nil, nil, errors.New("no sources: give --from DIR|go.mod|go.sum or module@version arguments")
	}
	return srcs, names, nil
}

// Resolver resolves sources into manifest entries through a mirror.
type Resolver struct {
	// Mirror is the GOPROXY URL everything is fetched through (an
	// in-process mirror: server.StartLoopback).
	Mirror string
	Go     golist.GoCommand
	Client *http.Client // http.DefaultClient if nil
	Jobs   int          // fetches at a time; 8 if 0
	// TempDir holds zips while they are hashed (os.TempDir if "").
	TempDir string
	// Warn gets a line for each zip left out because upstream does not
	// have it (discarded if nil).
	Warn io.Writer
}

// need is how much a version's zip is needed.
type need int

const (
	modOnly  need = iota // its go.mod only
	ifThere              // its zip if upstream has it (not 403, 404, 410)
	required             // its zip: failing to get it fails the whole
)

// Limits of what Resolve reads from the mirror.
const (
	maxInfo  = 1 << 20
	maxGoMod = 16 << 20
)

// Resolve returns the entries of everything srcs need, sorted and merged
// (Sort): it asks the go command through r.Mirror for the module graph of
// each go.mod or module@version source (client/warm's plan: every module
// of `go list -m all` and `go mod graph`) and for the modules it downloads
// to build it (`go mod download`, golist.Ask.Downloads), reads go.sum
// sources and manifest entries (whose hashes the fetched files must have
// too), then fetches through r.Mirror the .info and .mod of every version
// and the .zip of those whose zip is needed, hashing the .mod and .zip
// (h1:, as the go command does). A go.mod source's zips are those the go
// command downloads; the rest of its graph is go.mod-only (Entry.Hash "").
// Any failure of a needed file fails the whole: a snapshot is complete or
// not made. Only a zip of a module@version source's build list beyond the
// arguments may be missing upstream (Source.Modules).
func (r *Resolver) Resolve(ctx context.Context, srcs []Source) ([]Entry, error) {
	type want struct {
		zip            need
		hash, gomodSum string // from a go.sum, to compare
		from           string // the source that gave them
	}
	wants := map[module.Version]*want{}
	add := func(m module.Version, zip need) *want {
		w := wants[m]
		if w == nil {
			w = &want{}
			wants[m] = w
		}
		w.zip = max(w.zip, zip)
		return w
	}
	needIf := func(zip bool) need {
		if zip {
			return required
		}
		return modOnly
	}
	type sibling struct {
		file  string
		lines []sumLine
	}
	var siblings []sibling // the go.sum files next to go.mod sources
	for _, src := range srcs {
		switch {
		case src.Entries != nil:
			for _, e := range src.Entries {
				w := add(e.Module(), needIf(e.Hash != ""))
				if w.hash != "" && e.Hash != "" && w.hash != e.Hash || w.gomodSum != "" && w.gomodSum != e.GoModHash {
					return nil, fmt.Errorf("%s: two hashes for %s@%s", src, e.Path, e.Version)
				}
				if e.Hash != "" {
					w.hash = e.Hash
				}
				w.gomodSum = e.GoModHash
				w.from = src.String()
			}
		case src.GoSum != "":
			lines, err := readGoSum(src.GoSum)
			if err != nil {
				return nil, err
			}
			for _, l := range lines {
				w := add(l.mod, needIf(!l.gomod))
				h := &w.hash
				if l.gomod {
					h = &w.gomodSum
				}
				if *h != "" && *h != l.hash {
					return nil, fmt.Errorf("%s: two hashes for %s@%s", src.GoSum, l.mod.Path, l.mod.Version)
				}
				*h = l.hash
				w.from = src.GoSum
			}
		default:
			out, err := golist.LoadWith(ctx, r.Go, r.Mirror, src.GoMod, src.Modules, golist.Ask{Graph: true, Downloads: true})
			if err != nil {
				return nil, fmt.Errorf("resolving %s: %w", src, err)
			}
			// What the build needs (warm's plan): the graph go.mod-only,
			// the zips the go command downloads required, and for a
			// module@version source the rest of the build list's zips
			// if upstream has them (Extra).
			plan, err := warm.NewPlan(out, src.GoMod == "")
			if err != nil {
				return nil, fmt.Errorf("resolving %s: %w", src, err)
			}
			for _, f := range plan.Fetches {
				switch {
				case f.Kind == layout.Zip && f.Extra:
					add(f.Mod, ifThere)
				case f.Kind == layout.Zip:
					add(f.Mod, required)
				default:
					add(f.Mod, modOnly)
				}
			}
			if src.GoMod != "" {
				file := filepath.Join(filepath.Dir(src.GoMod), "go.sum")
				lines, err := readGoSum(file)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, err
				}
				if len(lines) > 0 {
					siblings = append(siblings, sibling{file, lines})
				}
			}
		}
	}
	// A go.mod's go.sum checks the versions of the graphs (all of them
	// known now), not adding any.
	for _, sib := range siblings {
		for _, l := range sib.lines {
			w := wants[l.mod]
			if w == nil || !l.gomod && w.zip == modOnly {
				continue
			}
			h := &w.hash
			if l.gomod {
				h = &w.gomodSum
			}
			if *h != "" && *h != l.hash {
				return nil, fmt.Errorf("%s: %s@%s has hash %s there, %s in %s", sib.file, l.mod.Path, l.mod.Version, l.hash, *h, w.from)
			}
			*h = l.hash
			w.from = sib.file
		}
	}
	jobs := r.Jobs
	if jobs <= 0 {
		jobs = 8
	}
	type result struct {
		e   Entry
		err error
	}
	mods := make([]module.Version, 0, len(wants))
	for m := range wants {
		mods = append(mods, m)
	}
	module.Sort(mods)
	results := make([]result, len(mods))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(jobs, len(mods)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				m, w := mods[i], wants[mods[i]]
				e, err := r.fetch(ctx, m, w.zip)
				switch {
				case err != nil:
				case w.hash != "" && e.Hash != "" && e.Hash != w.hash:
					err = fmt.Errorf("%s@%s: zip hash %s, the source (go.sum or manifest) says %s (%s)", m.Path, m.Version, e.Hash, w.hash, w.from)
				case w.gomodSum != "" && e.GoModHash != w.gomodSum:
					err = fmt.Errorf("%s@%s: go.mod hash %s, the source (go.sum or manifest) says %s (%s)", m.Path, m.Version, e.GoModHash, w.gomodSum, w.from)
				}
				if err != nil {
					cancel()
				}
				results[i] = result{e, err}
			}
		}()
	}
send:
	for i := range mods {
		select {
		case next <- i:
		case <-ctx.Done():
			break send
		}
	}
	close(next)
	wg.Wait()
	entries := make([]Entry, 0, len(mods))
	var errs []error
	for _, res := range results {
		if res.err != nil && !errors.Is(res.err, context.Canceled) {
			errs = append(errs, res.err)
		}
		entries = append(entries, res.e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return Sort(entries), nil
}

// fetch gets m's .info, .mod and, unless zip is modOnly, .zip through the
// mirror and returns its entry; a zip ifThere that upstream refuses (403,
// 404, 410) leaves the entry go.mod-only, with a warning to r.Warn.
func (r *Resolver) fetch(ctx context.Context, m module.Version, zip need) (Entry, error) {
	e := Entry{Path: m.Path, Version: m.Version}
	if _, err := r.get(ctx, m, layout.Info, maxInfo, io.Discard); err != nil {
		return e, err
	}
	var mod bytes.Buffer
	if _, err := r.get(ctx, m, layout.Mod, maxGoMod, &mod); err != nil {
		return e, err
	}
	h, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(mod.Bytes())), nil
	})
	if err != nil {
		return e, err
	}
	e.GoModHash = h
	if zip == modOnly {
		return e, nil
	}
	f, err := os.CreateTemp(r.TempDir, "gomirror-snapshot-*.zip")
	if err != nil {
		return e, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := r.get(ctx, m, layout.Zip, modzip.MaxZipFile, f); err != nil {
		var st *httpstatus.Error
		if zip == ifThere && errors.As(err, &st) && warm.Refused(st.Code) {
			if r.Warn != nil {
				fmt.Fprintf(r.Warn, "warning: %v; %s@%s is go.mod-only in the snapshot (upstream has no zip, and no source's build downloads it)\n", err, m.Path, m.Version)
			}
			return e, nil
		}
		return e, err
	}
	if err := f.Close(); err != nil {
		return e, err
	}
	if e.Hash, err = dirhash.HashZip(f.Name(), dirhash.Hash1); err != nil {
		return e, fmt.Errorf("%s@%s: %w", m.Path, m.Version, err)
	}
	return e, nil
}

// get copies the mirror's m file of kind k, at most limit bytes, to w.
func (r *Resolver) get(ctx context.Context, m module.Version, k layout.Kind, limit int64, w io.Writer) (int64, error) {
	f := warm.Fetch{Mod: m, Kind: k}
	u, err := f.URL(r.Mirror)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", f, err)
	}
	defer resp.Body.Close()
	if err := httpstatus.Check(resp); err != nil {
		return 0, fmt.Errorf("%s: %w", f, err)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return n, fmt.Errorf("%s: %w", f, err)
	}
	if n > limit {
		return n, fmt.Errorf("%s: larger than %d bytes", f, limit)
	}
	return n, nil
}

type sumLine struct {
	mod   module.Version
	gomod bool
	hash  string
}

// maxGoSum bounds a go.sum file read.
const maxGoSum = 64 << 20

// readGoSum reads a go.sum file's lines ("<path> <version>[/go.mod] <hash>").
// Lines with another hash than h1: are skipped (as the go command does).
func readGoSum(file string) ([]sumLine, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxGoSum))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []sumLine
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s:%d: malformed go.sum line", file, n)
		}
		if !strings.HasPrefix(fields[2], "h1:") {
			continue
		}
		v, gomod := strings.CutSuffix(fields[1], "/go.mod")
		l := sumLine{mod: module.Version{Path: fields[0], Version: v}, gomod: gomod, hash: fields[2]}
		if err := (Entry{Path: l.mod.Path, Version: v, GoModHash: l.hash}).validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, n, err)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}
