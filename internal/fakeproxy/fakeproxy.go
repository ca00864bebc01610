// Package fakeproxy is a module proxy for tests: it speaks the real GOPROXY
// protocol, serves module zips built with golang.org/x/mod/zip from the
// txtar fixtures under testdata/mod (or added by the test), runs a real
// checksum database (golang.org/x/mod/sumdb) behind /sumdb/<name>/, counts
// every request, and lets a test inject faults.
//
// New starts an independent server: its own modules and its own checksum
// database key. NewMirror starts an equivalent mirror of a server, as a
// group of mirrors (config upstream-groups) expects: same modules, same
// checksum database, its own URL, faults and counters.
package fakeproxy

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/tools/txtar"

	"github.com/gomirror/gomirror/internal/testutil"
)

//go:embed testdata/mod
var fixtures embed.FS

// DBName is the name of the fake checksum database.
const DBName = "sum.example.test"

// Server is a fake upstream module proxy.
type Server struct {
	URL string // base URL, without trailing slash
	// DBKey is the checksum database's verifier key: a GOSUMDB value.
	// Mirrors (NewMirror) have their origin's.
	DBKey string

	ts     *httptest.Server
	data   *content // shared by an origin and its mirrors
	origin *Server  // the server this one mirrors; nil for New

	mu    sync.Mutex     // guards what follows: this server's own state
	hits  map[string]int // by request path
	log   []string
	conns int // connections accepted
	hook  func(w http.ResponseWriter, r *http.Request) bool

	faults faultState // see faults.go
}

// content is what equivalent mirrors share: the module versions (with their
// Tamper state) and the checksum database that records them.
type content struct {
	db     http.Handler
	mu     sync.Mutex
	mods   map[string]*Module   // by path@version
	byPath map[string][]*Module // by path, in semver order
}

// Module is one module version the server knows.
type Module struct {
	Path, Version string
	Time          time.Time
	Mod, Zip      []byte // what the checksum database records
	// ServedMod and ServedZip, when set, are served instead of Mod and Zip:
	// a tampered upstream.
	ServedMod, ServedZip []byte
}

// New starts a server with the fixture modules and stops it at the end of
// the test.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{data: &content{mods: map[string]*Module{}, byPath: map[string][]*Module{}}}
	if err := s.loadFixtures(); err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(nil, DBName)
	if err != nil {
		t.Fatal(err)
	}
	s.DBKey = vkey
	s.data.db = sumdb.NewServer(sumdb.NewTestServer(skey, s.gosum))
	s.start(t)
	return s
}

// NewMirror starts a server that is an equivalent mirror of origin, and
// stops it at the end of the test. It serves exactly origin's modules:
// those origin has now, those added later to origin or to any of its
// mirrors (Add on any of them adds to all), and their Tamper state (Tamper
// and Untamper on any of them apply to all: the bytes are the same
// everywhere, as on real mirrors of one tampered source; to damage what
// one mirror sends, inject a fault such as Flip into it instead). It
// serves origin's checksum database itself, the same in-memory database
// (same DBKey, same tree, same signed heads): a lookup through any of
// them verifies against the others' tree heads, and it keeps answering
// when origin is closed.
//
// The mirror has its own URL, hook and faults (SetHook, Inject, Heal),
// hit counters and request log (Hits, Requests, Injected): faults injected
// into one mirror do not affect the others. A mirror of a mirror is a
// mirror of the same origin.
func NewMirror(t testing.TB, origin *Server) *Server {
	t.Helper()
	for origin.origin != nil {
		origin = origin.origin
	}
	s := &Server{DBKey: origin.DBKey, data: origin.data, origin: origin}
	s.start(t)
	return s
}

// Origin returns the server s mirrors (see NewMirror), or s itself.
func (s *Server) Origin() *Server {
	if s.origin != nil {
		return s.origin
	}
	return s
}

// start listens on a loopback port and stops the server at the end of t.
func (s *Server) start(t testing.TB) {
	s.hits = map[string]int{}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.ts.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	s.ts.Start()
	s.URL = s.ts.URL
	t.Cleanup(s.ts.Close)
	// Runs before Close: requests held by a fault end first.
	t.Cleanup(s.Heal)
}

// Close stops the server: later requests fail to connect.
func (s *Server) Close() { s.ts.Close() }

// SetHook installs f to see every request first; if f returns true it has
// answered the request. A nil f removes the hook.
func (s *Server) SetHook(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = f
}

// Hits returns how many requests the server received for the URL path p.
func (s *Server) Hits(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[p]
}

// Conns returns how many connections the server has accepted, to its
// module proxy and its checksum database alike, whether or not a request
// followed.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Requests returns every request path received, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Module returns the module version path@version, or nil.
func (s *Server) Module(path, version string) *Module {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	return s.data.mods[path+"@"+version]
}

// Tamper makes the server serve different bytes than the checksum database
// records for path@version: a zip with an extra file, and/or a go.mod with an
// extra line. It applies to the server's origin and all its mirrors.
func (s *Server) Tamper(t testing.TB, path, version string, zip, mod bool) {
	t.Helper()
	m := s.Module(path, version)
	if m == nil {
		t.Fatalf("Tamper: no module %s@%s", path, version)
	}
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	if mod {
		m.ServedMod = append(slices.Clone(m.Mod), []byte("// tampered\n")...)
	}
	if zip {
		files, err := zipFiles(m.Zip, path, version)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, memFile{name: "evil.go", data: []byte("package evil\n")})
		z, err := buildZip(path, version, files)
		if err != nil {
			t.Fatal(err)
		}
		m.ServedZip = z
	}
}

// Add adds a module version built from files (name to content). A go.mod in
// files is also its .mod; without one the .mod is "module <path>". The
// server's origin and all its mirrors serve it. Adding a version again
// replaces it; the checksum database keeps what it recorded first.
func (s *Server) Add(path, version string, files map[string][]byte) (*Module, error) {
	var list []modzip.File
	for name, data := range files {
		list = append(list, memFile{name: name, data: data})
	}
	return s.add(path, version, list)
}

func (s *Server) add(path, version string, files []modzip.File) (*Module, error) {
	z, err := buildZip(path, version, files)
	if err != nil {
		return nil, err
	}
	mod := []byte(fmt.Sprintf("module %s\n", path))
	for _, f := range files {
		if f.Path() == "go.mod" {
			rc, _ := f.Open()
			mod, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	m := &Module{Path: path, Version: version, Mod: mod, Zip: z,
		Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	d := s.data
	d.mu.Lock()
	defer d.mu.Unlock()
	if old := d.mods[path+"@"+version]; old != nil {
		vs := d.byPath[path]
		vs[slices.Index(vs, old)] = m
	} else {
		vs := append(d.byPath[path], m)
		slices.SortFunc(vs, func(a, b *Module) int {
			return cmp.Or(semver.Compare(a.Version, b.Version), strings.Compare(a.Version, b.Version)) // as semver.Sort
		})
		d.byPath[path] = vs
	}
	d.mods[path+"@"+version] = m
	return m, nil
}

// SetTime sets the time that the .info (and @latest) of path@version
// names; it reports whether the server has that version.
func (s *Server) SetTime(path, version string, t time.Time) bool {
	d := s.data
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.mods[path+"@"+version]
	if m == nil {
		return false
	}
	m.Time = t
	return true
}

// loadFixtures adds the modules in testdata/mod. Each file is a txtar
// archive whose comment is "path@version" and whose files are the module's.
func (s *Server) loadFixtures() error {
	entries, err := fixtures.ReadDir("testdata/mod")
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := fixtures.ReadFile("testdata/mod/" + e.Name())
		if err != nil {
			return err
		}
		ar := txtar.Parse(data)
		modPath, version, ok := strings.Cut(strings.TrimSpace(string(ar.Comment)), "@")
		if !ok {
			return fmt.Errorf("%s: comment must be path@version", e.Name())
		}
		var files []modzip.File
		for _, f := range ar.Files {
			files = append(files, memFile{name: f.Name, data: f.Data})
		}
		if _, err := s.add(modPath, version, files); err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
	}
	return nil
}

// gosum computes the go.sum lines the checksum database records.
func (s *Server) gosum(path, vers string) ([]byte, error) {
	m := s.Module(path, vers)
	if m == nil {
		// sumdb.Server tests with os.IsNotExist, which does not unwrap %w.
		return nil, &fs.PathError{Op: "lookup", Path: path + "@" + vers, Err: fs.ErrNotExist}
	}
	zh, err := testutil.HashZip(m.Zip)
	if err != nil {
		return nil, err
	}
	mh, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(m.Mod)), nil
	})
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "%s %s %s\n%s %s/go.mod %s\n", path, vers, zh, path, vers, mh), nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	s.log = append(s.log, r.URL.Path)
	hook := s.hook
	s.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	s.answer(w, r)
}

// answer serves r as a healthy upstream does: no hook, no counting.
func (s *Server) answer(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/sumdb/"+DBName+"/"); ok {
		if rest == "supported" {
			return
		}
		http.StripPrefix("/sumdb/"+DBName, s.data.db).ServeHTTP(w, r)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if escPath, ok := strings.CutSuffix(p, "/@latest"); ok {
		s.serveLatest(w, escPath)
		return
	}
	escPath, file, ok := strings.Cut(p, "/@v/")
	modPath, err := module.UnescapePath(escPath)
	if !ok || err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if file == "list" {
		var b strings.Builder
		for _, v := range s.versions(modPath) {
			b.WriteString(v + "\n")
		}
		if b.Len() == 0 {
			http.Error(w, "not found: unknown module "+modPath, http.StatusNotFound)
			return
		}
		io.WriteString(w, b.String())
		return
	}
	ext := path.Ext(file)
	version, err := module.UnescapeVersion(strings.TrimSuffix(file, ext))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if ext == ".info" && !semver.IsValid(version) {
		// A branch name: the newest version stands in for its head.
		if vs := s.versions(modPath); len(vs) > 0 {
			version = vs[len(vs)-1]
		}
	}
	m := s.Module(modPath, version)
	if m == nil {
		http.Error(w, "not found: "+modPath+"@"+version+": invalid version: unknown revision", http.StatusGone)
		return
	}
	s.data.mu.Lock()
	mod, zip := m.Mod, m.Zip
	if m.ServedMod != nil {
		mod = m.ServedMod
	}
	if m.ServedZip != nil {
		zip = m.ServedZip
	}
	s.data.mu.Unlock()
	switch ext {
	case ".info":
		w.Write(m.info())
	case ".mod":
		w.Write(mod)
	case ".zip":
		w.Header().Set("Content-Length", fmt.Sprint(len(zip)))
		w.Write(zip)
	default:
		http.Error(w, "bad request", http.StatusBadRequest)
	}
}

func (s *Server) serveLatest(w http.ResponseWriter, escPath string) {
	modPath, err := module.UnescapePath(escPath)
	vs := s.versions(modPath)
	if err != nil || len(vs) == 0 {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	m := s.Module(modPath, vs[len(vs)-1])
	w.Write(m.info())
}

// info is m's .info (and @latest) answer, encoded as the go command
// encodes it: fields in the order of its RevInfo, no newline.
func (m *Module) info() []byte {
	b, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{m.Version, m.Time})
	return b
}

// versions returns the known versions of modPath in semver order.
func (s *Server) versions(modPath string) []string {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	var vs []string
	for _, m := range s.data.byPath[modPath] {
		vs = append(vs, m.Version)
	}
	return vs
}

// memFile is a modzip.File held in memory.
type memFile struct {
	name string
	data []byte
}

func (f memFile) Path() string                 { return f.name }
func (f memFile) Lstat() (fs.FileInfo, error)  { return memInfo{f}, nil }
func (f memFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type memInfo struct{ f memFile }

func (i memInfo) Name() string       { return path.Base(i.f.name) }
func (i memInfo) Size() int64        { return int64(len(i.f.data)) }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

func buildZip(path, version string, files []modzip.File) ([]byte, error) {
	var buf bytes.Buffer
	err := modzip.Create(&buf, module.Version{Path: path, Version: version}, files)
	return buf.Bytes(), err
}
