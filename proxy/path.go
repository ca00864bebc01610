package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
)

// MaxPathLen bounds the length of a request path; longer ones are refused.
const MaxPathLen = 1024

// Request is a parsed module proxy request.
type Request struct {
	// Kind is what the request asks for, in layout's terms: a module's
	// layout.List, layout.Latest, layout.Info, layout.Mod or layout.Zip, or
	// layout.SumDB.
	Kind    layout.Kind
	Module  string // unescaped module path (not for layout.SumDB)
	Version string // unescaped version or query (info, mod, zip)
	// For layout.SumDB: the database name and the path after /sumdb/<name>/.
	DB, DBPath string
	// View is the snapshot or environment whose GOPROXY the path is under
	// (/snapshots/<name>/..., /env/<name>/...; layout.CutView), or
	// layout.NoView.
	View layout.View
}

// ParseError is a malformed request path.
type ParseError struct {
	Path string
	Msg  string
}

func (e *ParseError) Error() string { return fmt.Sprintf("bad request path %q: %s", e.Path, e.Msg) }

// BadRequest reports true: a malformed path is a bad request (BadRequester).
func (e *ParseError) BadRequest() bool { return true }

// ParsePath parses the path of a module proxy request ("/golang.org/x/mod/@v/list",
// "/sumdb/<name>/latest", ...): an absolute path of at most MaxPathLen
// bytes, after an optional view prefix ("/snapshots/<name>",
// "/env/<name>": layout.CutView), the rest of which layout.ParseURLPath
// parses. Module paths and
// versions are unescaped with golang.org/x/mod/module and the module path is
// checked with module.CheckPath, so no result of ParsePath can name a file
// outside the module's own space.
func ParsePath(p string) (*Request, error) {
	req, _, err := parsePath(p)
	return req, err
}

// parsePath is ParsePath, also returning layout's parse, which keeps the
// escaped forms of the module path and version.
func parsePath(p string) (*Request, layout.File, error) {
	bad := func(format string, args ...any) (*Request, layout.File, error) {
		return nil, layout.File{}, &ParseError{Path: p, Msg: fmt.Sprintf(format, args...)}
	}
	if len(p) > MaxPathLen {
		return bad("longer than %d bytes", MaxPathLen)
	}
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return bad("not absolute")
	}
	view, rest, err := layout.CutView(rest)
	if err != nil {
		return bad("%v", err)
	}
	f, err := layout.ParseURLPath(rest)
	if err != nil {
		return bad("%v", err)
	}
	if f.Kind == layout.SumDB {
		return &Request{Kind: layout.SumDB, DB: f.DB, DBPath: f.DBFile, View: view}, f, nil
	}
	m := f.Module.Version()
	return &Request{Kind: f.Kind, Module: m.Path, Version: m.Version, View: view}, f, nil
}

// ModuleOf returns the module path a request names (Request.NamedModule of
// its parse, RequestOf): the module of a proxy request, or the module of a
// checksum database lookup. Requests that name no module (tiles, latest,
// malformed paths) return ok false. It is what auth guards a request by.
func ModuleOf(r *http.Request) (path string, ok bool) {
	req, err := RequestOf(r)
	if err != nil {
		return "", false
	}
	return req.NamedModule()
}

// NamedModule returns the module path req names: its Module, or for a
// checksum database lookup the module looked up. Other checksum database
// requests (tiles, latest) name none and return ok false.
func (req *Request) NamedModule() (path string, ok bool) {
	if req.Kind != layout.SumDB {
		return req.Module, true
	}
	lookup, ok := strings.CutPrefix(req.DBPath, "lookup/")
	if !ok {
		return "", false
	}
	escPath, _, _ := strings.Cut(lookup, "@")
	path, err := module.UnescapePath(escPath)
	return path, err == nil
}

// parsedKey is the context key of a request's parsed path (Parse).
type parsedKey struct{}

// parsed is ParsePath's answer for one request path, with layout's parse
// (which keeps the escaped module path and version).
type parsed struct {
	path string
	req  *Request
	file layout.File
	err  error
	// validators are the answer's validators for path, once computed
	// (validatorsOf).
	validators atomic.Pointer[validators]
}

// Parse returns next with each request's path parsed once, at the edge:
// ModuleOf (auth's guard) and the Handler both read that one parse through
// RequestOf, for the request and for those derived from it. A malformed
// path is not answered here; the Handler answers it (400, Status).
//
// The parses of paths that parse are kept (parseCache, bounded), so that a
// path asked for again, a cached artifact's, costs a lookup, not x/mod's
// unescaping and checks again.
func Parse(next http.Handler) http.Handler {
	p := NewParser()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(p.WithParse(r.Context(), r.URL.Path)))
	})
}

// Parser is Parse for an edge that gives each request its context itself
// (and clones the request once for all it adds): WithParse adds the parse
// of the request's path, which RequestOf and ModuleOf read, as behind
// Parse. Its parses are kept as Parse's are.
type Parser struct{ parses parseCache }

// NewParser returns a Parser.
func NewParser() *Parser { return &Parser{} }

// WithParse returns ctx, a request's whose URL path is path, carrying the
// parse of path.
func (p *Parser) WithParse(ctx context.Context, path string) context.Context {
	k, v := p.ParseValue(path)
	return context.WithValue(ctx, k, v)
}

// ParsedIn returns the parse of path that ctx carries (WithParse,
// ParseValue: the edge's), or a new one if it carries none for path. The
// caller must not modify the returned Request.
func ParsedIn(ctx context.Context, path string) (*Request, error) {
	if p, ok := ctx.Value(parsedKey{}).(*parsed); ok && p.path == path {
		return p.req, p.err
	}
	req, _, err := parsePath(path)
	return req, err
}

// ParseValue returns the key and value that WithParse adds to a context,
// for a context that carries several values in one (a server's
// per-request context): its Value(k) must return v.
func (p *Parser) ParseValue(path string) (k, v any) {
	return parsedKey{}, p.parses.parse(path)
}

// parseCacheBytes bounds what a parseCache holds, approximately: each
// entry counts parseCost. About 10,000 typical paths fit.
const parseCacheBytes = 4 << 20

// parseCost is what a parseCache counts for the parse of a path of n bytes:
// the path, the unescaped module path and version (no longer than it), and
// an allowance for the structures and the map's entry.
func parseCost(n int) int64 { return int64(3*n + 384) }

// parseCache keeps the parses of paths that parsed (parsePath has no other
// input, so a parse never goes stale), up to parseCacheBytes; when full, it
// starts over empty. Errors are not kept: a stream of made-up paths churns
// nothing but the cache's own space.
type parseCache struct {
	m sync.Map // path -> *parsed

	mu   sync.Mutex // held to add
	size int64      // parseCost of the entries added since it was emptied
}

// parse returns the parse of p, kept or new.
func (c *parseCache) parse(p string) *parsed {
	if v, ok := c.m.Load(p); ok {
		return v.(*parsed)
	}
	req, file, err := parsePath(p)
	pp := &parsed{path: p, req: req, file: file, err: err}
	if err != nil {
		return pp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.size+parseCost(len(p)) > parseCacheBytes {
		c.m.Clear()
		c.size = 0
	}
	if _, loaded := c.m.LoadOrStore(p, pp); !loaded {
		c.size += parseCost(len(p))
	}
	return pp
}

// RequestOf returns the parse of r's path (ParsePath): the one Parse made,
// or, for a request that did not pass through Parse (or whose path changed
// since), a new one. The caller must not modify the returned Request.
func RequestOf(r *http.Request) (*Request, error) {
	req, _, err := requestOf(r)
	return req, err
}

// requestOf is RequestOf, also returning layout's parse.
func requestOf(r *http.Request) (*Request, layout.File, error) {
	if p := parsedOf(r); p != nil {
		return p.req, p.file, p.err
	}
	return parsePath(r.URL.Path)
}

// parsedOf returns the parse Parse made of r's path, or nil if r did not
// pass through Parse or its path changed since.
func parsedOf(r *http.Request) *parsed {
	if p, ok := r.Context().Value(parsedKey{}).(*parsed); ok && p.path == r.URL.Path {
		return p
	}
	return nil
}
