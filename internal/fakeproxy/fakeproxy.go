// Package fakeproxy is a module proxy for tests: it speaks the real GOPROXY
// protocol, serves module zips built with golang.org/x/mod/zip from the
// txtar fixtures under testdata/mod (or added by the test), runs a real
// checksum database (golang.org/x/mod/sumdb) behind /sumdb/<name>/, counts
// every request, and lets a test inject faults.
package fakeproxy

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
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
)

//go:embed testdata/mod
var fixtures embed.FS

// DBName is the name of the fake checksum database.
const DBName = "sum.example.test"

// Server is a fake upstream module proxy.
type Server struct {
	URL string // base URL, without trailing slash
	// DBKey is the checksum database's verifier key: a GOSUMDB value.
	DBKey string

	ts   *httptest.Server
	db   http.Handler
	mu   sync.Mutex
	mods map[string]*Module // by path@version
	hits map[string]int     // by request path
	log  []string
	hook func(w http.ResponseWriter, r *http.Request) bool

	faults faultState // see faults.go
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
	s := &Server{mods: map[string]*Module{}, hits: map[string]int{}}
	if err := s.loadFixtures(); err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(nil, DBName)
	if err != nil {
		t.Fatal(err)
	}
	s.DBKey = vkey
	s.db = sumdb.NewServer(sumdb.NewTestServer(skey, s.gosum))
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.ts.URL
	t.Cleanup(s.ts.Close)
	// Runs before Close: requests held by a fault end first.
	t.Cleanup(s.Heal)
	return s
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

// Requests returns every request path received, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Module returns the module version path@version, or nil.
func (s *Server) Module(path, version string) *Module {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mods[path+"@"+version]
}

// Tamper makes the server serve different bytes than the checksum database
// records for path@version: a zip with an extra file, and/or a go.mod with an
// extra line.
func (s *Server) Tamper(t testing.TB, path, version string, zip, mod bool) {
	t.Helper()
	m := s.Module(path, version)
	if m == nil {
		t.Fatalf("Tamper: no module %s@%s", path, version)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
// files is also its .mod; without one the .mod is "module <path>".
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
	s.mu.Lock()
	s.mods[path+"@"+version] = m
	s.mu.Unlock()
	return m, nil
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
	zh, err := hashZipBytes(m.Zip)
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
		http.StripPrefix("/sumdb/"+DBName, s.db).ServeHTTP(w, r)
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
	s.mu.Lock()
	mod, zip := m.Mod, m.Zip
	if m.ServedMod != nil {
		mod = m.ServedMod
	}
	if m.ServedZip != nil {
		zip = m.ServedZip
	}
	s.mu.Unlock()
	switch ext {
	case ".info":
		json.NewEncoder(w).Encode(map[string]any{"Version": m.Version, "Time": m.Time})
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
	json.NewEncoder(w).Encode(map[string]any{"Version": m.Version, "Time": m.Time})
}

// versions returns the known versions of modPath in semver order.
func (s *Server) versions(modPath string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vs []string
	for _, m := range s.mods {
		if m.Path == modPath {
			vs = append(vs, m.Version)
		}
	}
	semver.Sort(vs)
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
