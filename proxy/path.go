package proxy

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/mod/module"
)

// Kind is what a request asks for.
type Kind string

const (
	KindList   Kind = "list"
	KindLatest Kind = "latest"
	KindInfo   Kind = "info"
	KindMod    Kind = "mod"
	KindZip    Kind = "zip"
	KindSumDB  Kind = "sumdb"
)

// MaxPathLen bounds the length of a request path; longer ones are refused.
const MaxPathLen = 1024

// Request is a parsed module proxy request.
type Request struct {
	Kind    Kind
	Module  string // unescaped module path (not for KindSumDB)
	Version string // unescaped version or query (info, mod, zip)
	// For KindSumDB: the database name and the path after /sumdb/<name>/.
	DB, DBPath string
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
// "/sumdb/<name>/latest", ...). Module paths and versions are unescaped with
// golang.org/x/mod/module and the module path is checked with module.CheckPath,
// so no result of ParsePath can name a file outside the module's own space.
func ParsePath(p string) (*Request, error) {
	bad := func(format string, args ...any) (*Request, error) {
		return nil, &ParseError{Path: p, Msg: fmt.Sprintf(format, args...)}
	}
	if len(p) > MaxPathLen {
		return bad("longer than %d bytes", MaxPathLen)
	}
	rest, ok := strings.CutPrefix(p, "/")
	if !ok {
		return bad("not absolute")
	}
	if db, dbPath, ok := strings.Cut(strings.TrimPrefix(rest, "sumdb/"), "/"); ok && strings.HasPrefix(rest, "sumdb/") {
		if db == "" || dbPath == "" || strings.Contains(db, "..") || strings.Contains(dbPath, "..") || strings.Contains(dbPath, "//") {
			return bad("malformed checksum database path")
		}
		return &Request{Kind: KindSumDB, DB: db, DBPath: dbPath}, nil
	}

	var escPath, escVer string
	var kind Kind
	if before, ok := strings.CutSuffix(rest, "/@latest"); ok {
		escPath, kind = before, KindLatest
	} else if before, file, ok := strings.Cut(rest, "/@v/"); ok {
		escPath = before
		switch {
		case file == "list":
			kind = KindList
		case strings.HasSuffix(file, ".info"):
			kind, escVer = KindInfo, strings.TrimSuffix(file, ".info")
		case strings.HasSuffix(file, ".mod"):
			kind, escVer = KindMod, strings.TrimSuffix(file, ".mod")
		case strings.HasSuffix(file, ".zip"):
			kind, escVer = KindZip, strings.TrimSuffix(file, ".zip")
		default:
			return bad("unknown file %q after /@v/", file)
		}
	} else {
		return bad("not a module proxy request")
	}

	path, err := module.UnescapePath(escPath)
	if err != nil {
		return bad("%v", err)
	}
	if err := module.CheckPath(path); err != nil {
		return bad("%v", err)
	}
	req := &Request{Kind: kind, Module: path}
	if kind == KindInfo || kind == KindMod || kind == KindZip {
		if escVer == "" {
			return bad("empty version")
		}
		v, err := module.UnescapeVersion(escVer)
		if err != nil {
			return bad("%v", err)
		}
		req.Version = v
	}
	return req, nil
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
	if req.Kind != KindSumDB {
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

// parsed is ParsePath's answer for one request path.
type parsed struct {
	path string
	req  *Request
	err  error
}

// Parse returns next with each request's path parsed once, at the edge:
// ModuleOf (auth's guard) and the Handler both read that one parse through
// RequestOf, for the request and for those derived from it. A malformed
// path is not answered here; the Handler answers it (400, Status).
func Parse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := ParsePath(r.URL.Path)
		ctx := context.WithValue(r.Context(), parsedKey{}, &parsed{path: r.URL.Path, req: req, err: err})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RequestOf returns the parse of r's path (ParsePath): the one Parse made,
// or, for a request that did not pass through Parse (or whose path changed
// since), a new one. The caller must not modify the returned Request.
func RequestOf(r *http.Request) (*Request, error) {
	if p, ok := r.Context().Value(parsedKey{}).(*parsed); ok && p.path == r.URL.Path {
		return p.req, p.err
	}
	return ParsePath(r.URL.Path)
}
