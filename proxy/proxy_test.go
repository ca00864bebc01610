package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/sumdb"
)

// objMirror answers GoMod with a fresh object from newBody.
type objMirror struct {
	Mirror
	newBody func() io.ReadCloser
	size    int64
}

func (m objMirror) GoMod(ctx context.Context, _ layout.Module) (*storage.Object, cache.Source, error) {
	return &storage.Object{Info: storage.Info{Size: m.size, ModTime: time.Unix(1e9, 0)}, Body: m.newBody()}, cache.Source{Outcome: cache.Hit}, nil
}

// A stored .mod is streamed from the object the mirror returns, with
// Content-Length, ETag, HEAD and conditional requests whether or not its
// body can seek, and ranges where it can.
func TestModServedFromObject(t *testing.T) {
	const mod = "module example.com/m\n\ngo 1.21\n"
	for _, tc := range []struct {
		name     string
		seekable bool
	}{{"seekable (local disk)", true}, {"stream (big object in S3)", false}} {
		t.Run(tc.name, func(t *testing.T) {
			newBody := func() io.ReadCloser {
				if tc.seekable {
					return storage.BytesObject([]byte(mod)).Body
				}
				return io.NopCloser(strings.NewReader(mod))
			}
			h := NewHandler(objMirror{newBody: newBody, size: int64(len(mod))}, nil, nil)
			do := func(method string, hdr map[string]string) *http.Response {
				r := httptest.NewRequest(method, "/example.com/m/@v/v1.0.0.mod", nil)
				for k, v := range hdr {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return w.Result()
			}
			resp := do(http.MethodGet, nil)
			body, _ := io.ReadAll(resp.Body)
			etag := resp.Header.Get("ETag")
			if resp.StatusCode != 200 || string(body) != mod || resp.Header.Get("Content-Length") != "30" || etag == "" {
				t.Fatalf("GET: %d %q, headers %v", resp.StatusCode, body, resp.Header)
			}
			if resp.Header.Get("Cache-Control") != cacheImmutable {
				t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
			if resp := do(http.MethodGet, map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
			}
			if resp := do(http.MethodGet, map[string]string{"If-None-Match": `"other"`}); resp.StatusCode != 200 {
				t.Errorf("If-None-Match of another ETag: %d, want 200", resp.StatusCode)
			}
			resp = do(http.MethodHead, nil)
			if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || len(b) != 0 || resp.Header.Get("Content-Length") != "30" {
				t.Errorf("HEAD: %d, %d body bytes, headers %v", resp.StatusCode, len(b), resp.Header)
			}
			if tc.seekable {
				resp := do(http.MethodGet, map[string]string{"Range": "bytes=7-19"})
				if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusPartialContent || string(b) != mod[7:20] {
					t.Errorf("range: %d %q", resp.StatusCode, b)
				}
			}
		})
	}
}

// Every package's bad-request error is a 400, wrapped or not, and keeps
// its message.
func TestStatusBadRequest(t *testing.T) {
	_, perr := ParsePath("/nope")
	tests := []struct {
		name string
		err  error
		msg  string
	}{
		{"proxy", perr, `bad request path "/nope": not a module proxy request`},
		{"cache", &cache.BadRequestError{Module: "m", Version: "v1", Err: errors.New("invalid version")}, "m@v1: invalid version"},
		{"sumdb", &sumdb.BadRequestError{Msg: `malformed lookup "x"`}, `malformed lookup "x"`},
		{"wrapped", fmt.Errorf("serving: %w", &sumdb.BadRequestError{Msg: "bad"}), "serving: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Status(tt.err); got != http.StatusBadRequest {
				t.Errorf("Status(%v) = %d; want 400", tt.err, got)
			}
			if got := clientMessage(http.StatusBadRequest, tt.err); got != tt.msg {
				t.Errorf("message %q; want %q", got, tt.msg)
			}
		})
	}
	if got := Status(errors.New("other")); got == http.StatusBadRequest {
		t.Errorf("a plain error is a 400")
	}
}

// zipMirror answers Zip with a small stored object.
type zipMirror struct{ Mirror }

func (zipMirror) Zip(ctx context.Context, _ layout.Module) (*storage.Object, cache.Source, error) {
	return storage.BytesObject([]byte("PK")), cache.Source{Outcome: cache.Hit}, nil
}

// RedirectZips hands its function the module version as the request's
// path had it escaped: the zip's key without escaping again.
func TestRedirectZipsGetsTheParsedModule(t *testing.T) {
	const path = "/example.com/!m/@v/v1.0.0-!r!c1.zip"
	for _, parse := range []bool{true, false} {
		var got layout.Module
		h := NewHandler(zipMirror{}, nil, nil)
		h.RedirectZips(func(ctx context.Context, m layout.Module) (string, error) {
			got = m
			return "http://127.0.0.1:1/bucket/zip", nil
		})
		var handler http.Handler = h
		if parse {
			handler = Parse(h)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != "http://127.0.0.1:1/bucket/zip" {
			t.Fatalf("Parse %v: got %d, Location %q; want a redirect", parse, w.Code, w.Header().Get("Location"))
		}
		if want := (module.Version{Path: "example.com/M", Version: "v1.0.0-RC1"}); got.Version() != want {
			t.Errorf("Parse %v: RedirectZips got %v; want %v", parse, got.Version(), want)
		}
		if key, err := got.Key(layout.Zip); err != nil || key != strings.TrimPrefix(path, "/") {
			t.Errorf("Parse %v: zip key %q, %v; want %q", parse, key, err, strings.TrimPrefix(path, "/"))
		}
	}
}

// moduleMirror records the module each method gets and answers "not
// found".
type moduleMirror struct {
	Mirror
	got *layout.Module
}

func (m moduleMirror) answer(em layout.Module) error {
	*m.got = em
	return fs.ErrNotExist
}

func (m moduleMirror) List(ctx context.Context, em layout.Module) ([]byte, cache.Source, error) {
	return nil, cache.Source{}, m.answer(em)
}

func (m moduleMirror) Latest(ctx context.Context, em layout.Module) ([]byte, cache.Source, error) {
	return nil, cache.Source{}, m.answer(em)
}

func (m moduleMirror) Info(ctx context.Context, em layout.Module) (*storage.Object, cache.Source, error) {
	return nil, cache.Source{}, m.answer(em)
}

func (m moduleMirror) GoMod(ctx context.Context, em layout.Module) (*storage.Object, cache.Source, error) {
	return nil, cache.Source{}, m.answer(em)
}

func (m moduleMirror) Zip(ctx context.Context, em layout.Module) (*storage.Object, cache.Source, error) {
	return nil, cache.Source{}, m.answer(em)
}

// The Mirror gets the module version as the request's path had it
// escaped (a query's too), from which the file's key follows without
// escaping again.
func TestMirrorGetsTheParsedModule(t *testing.T) {
	tests := []struct {
		path string
		kind layout.Kind
		want module.Version
	}{
		{"/example.com/!m/@v/list", layout.List, module.Version{Path: "example.com/M"}},
		{"/example.com/!m/@latest", layout.Latest, module.Version{Path: "example.com/M"}},
		{"/example.com/!m/@v/v1.0.0-!r!c1.info", layout.Info, module.Version{Path: "example.com/M", Version: "v1.0.0-RC1"}},
		{"/example.com/!m/@v/!main.info", layout.Info, module.Version{Path: "example.com/M", Version: "Main"}},
		{"/example.com/!m/@v/v1.0.0-!r!c1.mod", layout.Mod, module.Version{Path: "example.com/M", Version: "v1.0.0-RC1"}},
		{"/example.com/!m/@v/v1.0.0-!r!c1.zip", layout.Zip, module.Version{Path: "example.com/M", Version: "v1.0.0-RC1"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var got layout.Module
			w := httptest.NewRecorder()
			Parse(NewHandler(moduleMirror{got: &got}, nil, nil)).ServeHTTP(w, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if w.Code != http.StatusNotFound {
				t.Errorf("status %d, want the mirror's 404", w.Code)
			}
			if got.Version() != tt.want {
				t.Errorf("mirror got %v, want %v", got.Version(), tt.want)
			}
			if key, err := got.Key(tt.kind); err != nil || key != strings.TrimPrefix(tt.path, "/") {
				t.Errorf("key %q, %v; want %q", key, err, strings.TrimPrefix(tt.path, "/"))
			}
		})
	}
}

func TestStatusPolicyRefused(t *testing.T) {
	d := policy.Decision{Module: module.Version{Path: "a.example/m", Version: "v1.0.0"}, Rule: "no-a", File: "p.yaml", Line: 3, Reason: "denied"}
	err := fmt.Errorf("serving: %w", &policy.RefusedError{Decision: d})
	if got := Status(err); got != http.StatusForbidden {
		t.Errorf("Status = %d; want 403", got)
	}
	want := `gomirror policy: a.example/m@v1.0.0 refused by rule "no-a" (p.yaml:3): denied`
	if got := clientMessage(http.StatusForbidden, err); got != want {
		t.Errorf("message %q; want %q", got, want)
	}
}

// judgedMirror is objMirror with a policy (Judging).
type judgedMirror struct {
	objMirror
	perClient bool
}

func (m judgedMirror) Judging() (bool, bool) { return m.perClient, true }

func (m judgedMirror) List(context.Context, layout.Module) ([]byte, cache.Source, error) {
	return []byte("v1.0.0\n"), cache.Source{}, nil
}

// TestCacheControlWithPolicy: a mirror whose answers a policy decides has
// no artifact cached for a year (a reload may refuse it), and with
// per-client rules every answer is private.
func TestCacheControlWithPolicy(t *testing.T) {
	const mod = "module example.com/m\n"
	om := objMirror{newBody: func() io.ReadCloser { return storage.BytesObject([]byte(mod)).Body }, size: int64(len(mod))}
	for _, tc := range []struct {
		name      string
		m         Mirror
		mod, list string
	}{
		{"no policy", om, cacheImmutable, ""},
		{"policy", judgedMirror{objMirror: om}, "public, max-age=60", "public, max-age=60"},
		{"policy with sets", judgedMirror{objMirror: om, perClient: true}, "private, max-age=60", "private, max-age=60"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(tc.m, nil, nil)
			for path, want := range map[string]string{"/example.com/m/@v/v1.0.0.mod": tc.mod, "/example.com/m/@v/list": tc.list} {
				if want == "" {
					continue
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
				if got := w.Result().Header.Get("Cache-Control"); w.Code != 200 || got != want {
					t.Errorf("%s: %d, Cache-Control %q, want %q", path, w.Code, got, want)
				}
			}
		})
	}
}

// viewsOf serves every view with the mirror of its name, and any other
// name as "not found".
type viewsOf map[string]Mirror

func (v viewsOf) View(ctx context.Context, view layout.View) (Mirror, error) {
	if m, ok := v[view.Name]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("view %v: %w", view, fs.ErrNotExist)
}

// A view's request goes to the view's mirror, never the handler's, with
// the view's Cache-Control: a snapshot's artifacts immutable, but its list
// and @latest only for a short while (a deleted snapshot's name can be
// created again with other versions), an environment's answers and 404s
// revalidated every time.
func TestViews(t *testing.T) {
	const mod = "module example.com/m\n"
	newBody := func() io.ReadCloser { return storage.BytesObject([]byte(mod)).Body }
	own := objMirror{newBody: func() io.ReadCloser { panic("the handler's own mirror asked for a view's request") }, size: int64(len(mod))}
	viewMirror := objMirror{Mirror: listMirror{}, newBody: newBody, size: int64(len(mod))}
	h := NewHandler(own, nil, nil)
	do := func(path string) *http.Response {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Result()
	}
	if resp := do("/snapshots/s1/example.com/m/@v/v1.0.0.mod"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a view without ServeViews: %d, want 404", resp.StatusCode)
	}
	h.ServeViews(viewsOf{"s1": viewMirror, "prod": viewMirror})
	for _, tc := range []struct {
		path string
		code int
		cc   string
	}{
		{"/snapshots/s1/example.com/m/@v/v1.0.0.mod", 200, cacheImmutable},
		{"/snapshots/s1/example.com/m/@v/list", 200, cacheSnapshotMutable},
		{"/env/prod/example.com/m/@v/v1.0.0.mod", 200, cacheEnv},
		{"/env/prod/example.com/m/@v/list", 200, cacheEnv},
		{"/snapshots/nope/example.com/m/@v/list", 404, cacheNegative},
		{"/env/nope/example.com/m/@v/list", 404, cacheEnv},
		{"/env/prod/example.com/m/@latest", 404, cacheEnv},
	} {
		resp := do(tc.path)
		if resp.StatusCode != tc.code || resp.Header.Get("Cache-Control") != tc.cc {
			t.Errorf("GET %s: %d, Cache-Control %q; want %d, %q", tc.path, resp.StatusCode, resp.Header.Get("Cache-Control"), tc.code, tc.cc)
		}
	}
}

// listMirror answers List with one version and everything else "not found".
type listMirror struct{ Mirror }

func (listMirror) List(context.Context, layout.Module) ([]byte, cache.Source, error) {
	return []byte("v1.0.0\n"), cache.Source{}, nil
}

func (listMirror) Latest(context.Context, layout.Module) ([]byte, cache.Source, error) {
	return nil, cache.Source{}, fs.ErrNotExist
}
