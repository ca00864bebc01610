package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// pathOfLen returns a syntactically valid list request path of exactly n
// bytes.
func pathOfLen(n int) string {
	const head, tail = "/example.com", "/@v/list"
	var b strings.Builder
	b.WriteString(head)
	for left := n - len(head) - len(tail); left > 0; {
		seg := min(left-1, 60)
		if left-1-seg == 1 { // never leave room for only "/"
			seg--
		}
		b.WriteString("/" + strings.Repeat("a", seg))
		left -= 1 + seg
	}
	b.WriteString(tail)
	return b.String()
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		name string
		path string
		want *Request // nil: a 400-class rejection
	}{
		{"version list", "/example.com/x/@v/list", &Request{Kind: layout.List, Module: "example.com/x"}},
		{"latest", "/example.com/x/@latest", &Request{Kind: layout.Latest, Module: "example.com/x"}},
		{"info for a version", "/example.com/x/@v/v1.0.0.info", &Request{Kind: layout.Info, Module: "example.com/x", Version: "v1.0.0"}},
		{"info for a branch query", "/example.com/x/@v/main.info", &Request{Kind: layout.Info, Module: "example.com/x", Version: "main"}},
		{"info for a mixed-case branch", "/example.com/x/@v/!dev-!branch.info", &Request{Kind: layout.Info, Module: "example.com/x", Version: "Dev-Branch"}},
		{"info for a commit prefix", "/example.com/x/@v/0123abcd.info", &Request{Kind: layout.Info, Module: "example.com/x", Version: "0123abcd"}},
		{"go.mod", "/example.com/x/@v/v1.2.3.mod", &Request{Kind: layout.Mod, Module: "example.com/x", Version: "v1.2.3"}},
		{"zip", "/example.com/x/@v/v1.2.3.zip", &Request{Kind: layout.Zip, Module: "example.com/x", Version: "v1.2.3"}},
		{"mixed-case module", "/example.com/!mixed!case/@v/list", &Request{Kind: layout.List, Module: "example.com/MixedCase"}},
		{"mixed-case module and version", "/example.com/!mixed!case/@v/v1.0.0-!r!c.1.zip",
			&Request{Kind: layout.Zip, Module: "example.com/MixedCase", Version: "v1.0.0-RC.1"}},
		{"major version suffix and +incompatible", "/example.com/x/v2/@v/v2.0.0+incompatible.info",
			&Request{Kind: layout.Info, Module: "example.com/x/v2", Version: "v2.0.0+incompatible"}},
		{"pseudo-version", "/example.com/x/@v/v0.0.0-20240101000000-0123456789ab.mod",
			&Request{Kind: layout.Mod, Module: "example.com/x", Version: "v0.0.0-20240101000000-0123456789ab"}},
		{"sumdb latest", "/sumdb/sum.example.test/latest", &Request{Kind: layout.SumDB, DB: "sum.example.test", DBPath: "latest"}},
		{"snapshot view", "/snapshots/v1.8.0/example.com/x/@v/v1.2.3.zip",
			&Request{Kind: layout.Zip, Module: "example.com/x", Version: "v1.2.3", View: layout.View{Kind: layout.SnapshotView, Name: "v1.8.0"}}},
		{"environment view", "/env/prod/example.com/x/@latest",
			&Request{Kind: layout.Latest, Module: "example.com/x", View: layout.View{Kind: layout.EnvView, Name: "prod"}}},
		{"environment view's sumdb", "/env/prod/sumdb/sum.example.test/latest",
			&Request{Kind: layout.SumDB, DB: "sum.example.test", DBPath: "latest", View: layout.View{Kind: layout.EnvView, Name: "prod"}}},
		{"view with a hidden name", "/snapshots/.x/example.com/x/@v/list", nil},
		{"view with a dot-dot name", "/env/../example.com/x/@v/list", nil},
		{"view with nothing after it", "/snapshots/v1", nil},
		{"view in a view", "/env/prod/snapshots/v1/example.com/x/@v/list", nil},
		{"sumdb supported", "/sumdb/sum.example.test/supported", &Request{Kind: layout.SumDB, DB: "sum.example.test", DBPath: "supported"}},
		{"sumdb lookup", "/sumdb/sum.example.test/lookup/example.com/x@v1.0.0",
			&Request{Kind: layout.SumDB, DB: "sum.example.test", DBPath: "lookup/example.com/x@v1.0.0"}},
		{"sumdb tile", "/sumdb/sum.example.test/tile/8/0/x001/234.p/5",
			&Request{Kind: layout.SumDB, DB: "sum.example.test", DBPath: "tile/8/0/x001/234.p/5"}},
		{"path of exactly MaxPathLen", pathOfLen(MaxPathLen),
			&Request{Kind: layout.List, Module: strings.TrimSuffix(strings.TrimPrefix(pathOfLen(MaxPathLen), "/"), "/@v/list")}},

		{"parent directory at the top", "/../etc/passwd", nil},
		{"parent directory in the module path", "/example.com/../x/@v/list", nil},
		{"dot element in the module path", "/example.com/./x/@v/list", nil},
		{"empty element in the module path", "/example.com//x/@v/list", nil},
		{"leading dot element: gomirror's own state", "/.gomirror/x/@v/list", nil},
		{"upper case not escaped", "/example.com/Foo/@v/list", nil},
		{"bad escape", "/example.com/!/@v/list", nil},
		{"escape of a non-letter", "/example.com/!1x/@v/list", nil},
		{"upper case version not escaped", "/example.com/x/@v/V1.0.0.info", nil},
		{"bad escape in the version", "/example.com/x/@v/v1.0.0-!.info", nil},
		{"nothing after @v", "/example.com/x/@v/", nil},
		{"unknown file after @v", "/example.com/x/@v/v1.0.0.exe", nil},
		{"something after list", "/example.com/x/@v/list/more", nil},
		{"empty version", "/example.com/x/@v/.info", nil},
		{"dot-dot version", "/example.com/x/@v/...info", nil},
		{"version with a slash", "/example.com/x/@v/v1.0.0/../../y.info", nil},
		{"neither @v nor @latest", "/example.com/x", nil},
		{"@latest inside the module path", "/example.com/x/@latest/@v/list", nil},
		{"first element without a dot", "/localhost/x/@v/list", nil},
		{"path over MaxPathLen", pathOfLen(MaxPathLen + 1), nil},
		{"missing leading slash", "example.com/x/@v/list", nil},
		{"empty", "", nil},
		{"root", "/", nil},
		{"NUL byte in the module path", "/example.com/x\x00y/@v/list", nil},
		{"NUL byte in the version", "/example.com/x/@v/v1.0.0\x00.info", nil},
		{"backslash in the module path", "/example.com\\x/@v/list", nil},
		{"sumdb without a path", "/sumdb/sum.example.test", nil},
		{"sumdb with an empty path", "/sumdb/sum.example.test/", nil},
		{"sumdb with an empty name", "/sumdb//latest", nil},
		{"sumdb parent directory in the path", "/sumdb/sum.example.test/../x", nil},
		{"sumdb parent directory as the name", "/sumdb/../latest", nil},
		{"sumdb double slash", "/sumdb/sum.example.test/tile//1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePath(tt.path)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("ParsePath(%q) = %+v; want a rejection", tt.path, got)
				}
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Path != tt.path {
					t.Errorf("ParsePath(%q) error %#v; want a *ParseError for the path", tt.path, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePath(%q): %v", tt.path, err)
			}
			if *got != *tt.want {
				t.Errorf("ParsePath(%q) = %+v; want %+v", tt.path, *got, *tt.want)
			}
		})
	}
	if len(pathOfLen(MaxPathLen)) != MaxPathLen || len(pathOfLen(MaxPathLen+1)) != MaxPathLen+1 {
		t.Fatal("pathOfLen is wrong")
	}
}

// checkParsed checks the properties every ParsePath answer has: no panic
// (the fuzzer reports one), and on success a valid module path, a request
// that re-escapes to exactly the path it came from, and no ".." element
// anywhere.
func checkParsed(t *testing.T, p string) {
	t.Helper()
	req, err := ParsePath(p)
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Path != p {
			t.Fatalf("ParsePath(%q) error %#v; want a *ParseError for the path", p, err)
		}
		if req != nil {
			t.Fatalf("ParsePath(%q) = %+v and an error", p, req)
		}
		return
	}
	if len(p) > MaxPathLen {
		t.Errorf("ParsePath accepted %d bytes; the limit is %d", len(p), MaxPathLen)
	}
	noDotDot := func(what, s string) {
		for elem := range strings.SplitSeq(s, "/") {
			if elem == ".." {
				t.Errorf("ParsePath(%q): %s %q has a \"..\" element", p, what, s)
			}
		}
	}

	if req.Kind == layout.SumDB {
		if req.Module != "" || req.Version != "" || req.DB == "" || req.DBPath == "" {
			t.Errorf("ParsePath(%q) = %+v: want only DB and DBPath", p, req)
		}
		if back := "/sumdb/" + req.DB + "/" + req.DBPath; back != p {
			t.Errorf("ParsePath(%q) = %+v, which rebuilds %q", p, req, back)
		}
		noDotDot("DB", req.DB)
		noDotDot("DBPath", req.DBPath)
		return
	}

	if err := module.CheckPath(req.Module); err != nil {
		t.Errorf("ParsePath(%q) accepted module %q: %v", p, req.Module, err)
	}
	// The parse knows whether the version is canonical, as IsCanonical
	// (which checks the path again) would say.
	_, f, _ := parsePath(p)
	mv := module.Version{Path: req.Module, Version: req.Version}
	if got, want := f.Module.Canonical(), layout.IsCanonical(mv); got != want {
		t.Errorf("ParsePath(%q): Module.Canonical() = %v, IsCanonical = %v", p, got, want)
	}
	escPath, err := module.EscapePath(req.Module)
	if err != nil {
		t.Fatalf("EscapePath(%q): %v", req.Module, err)
	}
	var back string
	switch req.Kind {
	case layout.List:
		back = "/" + escPath + "/@v/list"
	case layout.Latest:
		back = "/" + escPath + "/@latest"
	case layout.Info, layout.Mod, layout.Zip:
		escVer, err := module.EscapeVersion(req.Version)
		if err != nil {
			t.Fatalf("ParsePath(%q) accepted version %q that does not escape: %v", p, req.Version, err)
		}
		back = "/" + escPath + "/@v/" + escVer + "." + req.Kind.String()
		if strings.Contains(req.Version, "/") {
			t.Errorf("ParsePath(%q): version %q contains a slash", p, req.Version)
		}
	default:
		t.Fatalf("ParsePath(%q): unknown kind %q", p, req.Kind)
	}
	if (req.Kind == layout.List || req.Kind == layout.Latest) && req.Version != "" {
		t.Errorf("ParsePath(%q) = %+v: a %s request has no version", p, req, req.Kind)
	}
	if back != p {
		t.Errorf("ParsePath(%q) = %+v, which escapes back to %q", p, req, back)
	}
	noDotDot("module", req.Module)
	noDotDot("version", req.Version)

	// A canonical version is either storable, every file of it under a
	// valid storage key, or refused with a 4xx before storage is touched:
	// never a storage error, which would be a 5xx.
	mv = module.Version{Path: req.Module, Version: req.Version}
	if req.Version != "" && layout.IsCanonical(mv) {
		var keys []string
		var err error
		for k := layout.Info; k <= layout.ModHash && err == nil; k++ {
			var key string
			key, err = layout.Key(mv, k)
			keys = append(keys, key)
		}
		if err != nil {
			if code := Status(err); code >= 500 {
				t.Errorf("ParsePath(%q): key of %s@%s: %v, status %d; want a 4xx", p, req.Module, req.Version, err, code)
			}
			return
		}
		for _, k := range keys {
			if err := storage.ValidKey(k); err != nil {
				t.Errorf("ParsePath(%q): %s@%s has an invalid storage key: %v", p, req.Module, req.Version, err)
			}
		}
	}
}

var parsePathSeeds = []string{
	"/example.com/x/@v/list",
	"/example.com/x/@latest",
	"/example.com/x/@v/v1.0.0.info",
	"/example.com/x/@v/main.info",
	"/example.com/!mixed!case/@v/v1.0.0-!r!c.1.zip",
	"/example.com/x/v2/@v/v2.0.0+incompatible.mod",
	"/example.com/x/@v/v0.0.0-20240101000000-0123456789ab.zip",
	"/sumdb/sum.example.test/latest",
	"/sumdb/sum.example.test/lookup/example.com/x@v1.0.0",
	"/sumdb/sum.example.test/tile/8/0/x001/234.p/5",
	"/sumdb/../latest",
	"/sumdb/x/../y",
	"/../etc/passwd",
	"/example.com/../x/@v/list",
	"/example.com/Foo/@v/list",
	"/example.com/!/@v/list",
	"/example.com/x/@v/",
	"/example.com/x/@v/v1.0.0.exe",
	"/example.com/x/@v/...info",
	"/example.com/x/@v/v1.0.0/../../y.info",
	"/example.com/x\x00/@v/list",
	"example.com/x/@v/list",
	"",
	// Elements longer than 255 bytes, which storage cannot hold.
	"/example.com/x/@v/v1.0.0-" + strings.Repeat("a", 300) + ".info",
	"/example.com/x/@v/v1.2.3-" + strings.Repeat("a", 300) + ".0.20240102030405-abcdefabcdef.mod",
	"/example.com/x/@v/v2.0.0-" + strings.Repeat("a", 300) + "+incompatible.zip",
	"/example.com/x/@v/v1.0.0-" + strings.Repeat("c", 245) + ".zip",
	"/example.com/" + strings.Repeat("a", 300) + "/@v/v1.0.0.info",
	"/example.com/" + strings.Repeat("!a", 130) + "/@v/list",
}

func TestParsePathProperties(t *testing.T) {
	for _, p := range parsePathSeeds {
		checkParsed(t, p)
	}
}

func FuzzParsePath(f *testing.F) {
	for _, p := range parsePathSeeds {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		checkParsed(t, p)
	})
}

// Behind Parse, the path is parsed once: ModuleOf and RequestOf read the
// same parse, for the request and those derived from it, and a request
// whose path is not the one parsed (or that never passed Parse) is parsed
// on its own.
func TestParseOnce(t *testing.T) {
	tests := []struct {
		path       string
		wantModule string
		wantOK     bool
		wantErr    bool
	}{
		{"/example.com/!a/@v/v1.0.0.zip", "example.com/A", true, false},
		{"/example.com/a/@latest", "example.com/a", true, false},
		{"/sumdb/sum.example/lookup/example.com/!a@v1.0.0", "example.com/A", true, false},
		{"/sumdb/sum.example/tile/8/0/000", "", false, false},
		{"/sumdb/sum.example/latest", "", false, false},
		{"/example.com/a/@v/nope", "", false, true},
		{"/", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			served := false
			h := Parse(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served = true
				req1, err1 := RequestOf(r)
				req2, err2 := RequestOf(r.WithContext(context.WithValue(r.Context(), struct{}{}, 1)))
				if req1 != req2 || err1 != err2 {
					t.Errorf("RequestOf parsed %q twice: %p, %v then %p, %v", tt.path, req1, err1, req2, err2)
				}
				if (err1 != nil) != tt.wantErr {
					t.Errorf("RequestOf(%q) error %v; want an error: %v", tt.path, err1, tt.wantErr)
				}
				if mod, ok := ModuleOf(r); mod != tt.wantModule || ok != tt.wantOK {
					t.Errorf("ModuleOf(%q) = %q, %v; want %q, %v", tt.path, mod, ok, tt.wantModule, tt.wantOK)
				}
				// Without Parse, or with another path, ModuleOf parses itself.
				bare := httptest.NewRequest("GET", tt.path, nil)
				if mod, ok := ModuleOf(bare); mod != tt.wantModule || ok != tt.wantOK {
					t.Errorf("ModuleOf(%q) without Parse = %q, %v; want %q, %v", tt.path, mod, ok, tt.wantModule, tt.wantOK)
				}
				other := r.Clone(r.Context())
				other.URL.Path = "/example.com/other/@v/list"
				if mod, _ := ModuleOf(other); mod != "example.com/other" {
					t.Errorf("ModuleOf of a changed path = %q, the parse of %q", mod, tt.path)
				}
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tt.path, nil))
			if !served {
				t.Error("Parse did not call its handler")
			}
		})
	}
}

// A malformed path passes Parse and is answered 400 by the Handler.
func TestParseMalformedIs400(t *testing.T) {
	w := httptest.NewRecorder()
	Parse(NewHandler(nil, nil, nil)).ServeHTTP(w, httptest.NewRequest("GET", "/example.com/a/@v/nope", nil))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "bad request path") {
		t.Errorf("got %d %q; want 400 bad request path", w.Code, w.Body)
	}
}

// TestParseCache checks that the kept parse of a path is the one
// parsePath gives, that errors are not kept, and that however many paths
// come, what is kept stays within parseCacheBytes.
func TestParseCache(t *testing.T) {
	c := &parseCache{}
	for _, p := range []string{"/example.com/m/@v/v1.0.0.info", "/github.com/!burnt!sushi/toml/@v/list", "/example.com/m/@latest", "/sumdb/sum.example/lookup/example.com/m@v1.0.0"} {
		first := c.parse(p)
		again := c.parse(p)
		if first != again {
			t.Errorf("%s: parsed again, not kept", p)
		}
		req, file, err := parsePath(p)
		if err != nil || *again.req != *req || again.file != file || again.path != p {
			t.Errorf("%s: kept %+v, %+v; parsePath %+v, %+v, %v", p, again.req, again.file, req, file, err)
		}
	}
	bad := "/example.com/../m/@v/list"
	if pp := c.parse(bad); pp.err == nil {
		t.Fatalf("%s parsed", bad)
	}
	if _, ok := c.m.Load(bad); ok {
		t.Errorf("an error was kept")
	}
	c, n := &parseCache{}, 0
	for i := range 3 * parseCacheBytes / parseCost(len(pathOfLen(200))) {
		p := pathOfLen(200)
		p = p[:20] + fmt.Sprintf("%08d", i) + p[28:]
		if c.parse(p).err != nil {
			t.Fatalf("%s: %v", p, c.parse(p).err)
		}
		n = 0
		c.m.Range(func(k, _ any) bool { n++; return true })
		if c.size > parseCacheBytes || int64(n)*parseCost(200) > parseCacheBytes {
			t.Fatalf("after %d paths: %d kept, size %d, over %d", i+1, n, c.size, parseCacheBytes)
		}
	}
	if n == 0 {
		t.Error("nothing kept")
	}
}
