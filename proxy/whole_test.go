package proxy

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/gomirror/gomirror/storage"
)

// TestServeWholeAsServeContent compares serveObject's answers for an
// object in memory (a memory-cache hit, which serveWhole answers when it
// can) with http.ServeContent's for the same object, header for header and
// byte for byte, across the headers ServeContent evaluates.
func TestServeWholeAsServeContent(t *testing.T) {
	body := []byte(`{"Version":"v1.0.0","Time":"2026-11-28T12:00:00Z"}`)
	mod := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	before, after := mod.Add(-time.Hour).Format(http.TimeFormat), mod.Add(time.Hour).Format(http.TimeFormat)
	const path = "/example.com/m/@v/v1.0.0.info"
	// The ETag serveObject sets for path and body.
	etag := func() string {
		w := httptest.NewRecorder()
		new(Handler).serveObject(w, httptest.NewRequest("GET", path, nil), storage.BytesObject(body))
		return w.Header().Get("ETag")
	}()
	tests := []struct {
		name, method string
		modTime      time.Time
		header       map[string]string
		fast         bool // serveWhole answers, not ServeContent
	}{
		{"get", "GET", mod, nil, true},
		{"head", "HEAD", mod, nil, true},
		{"no modification time", "GET", time.Time{}, nil, true},
		{"epoch", "GET", time.Unix(0, 0), nil, true},
		{"empty conditional headers", "GET", mod, map[string]string{"If-None-Match": "", "Range": ""}, true},
		{"if-range alone", "GET", mod, map[string]string{"If-Range": etag}, true},
		{"if-none-match hit", "GET", mod, map[string]string{"If-None-Match": etag}, false},
		{"if-none-match weak", "HEAD", mod, map[string]string{"If-None-Match": "W/" + etag}, false},
		{"if-none-match other", "GET", mod, map[string]string{"If-None-Match": `"x"`}, false},
		{"if-none-match star", "GET", mod, map[string]string{"If-None-Match": "*"}, false},
		{"if-modified-since later", "GET", mod, map[string]string{"If-Modified-Since": after}, false},
		{"if-modified-since earlier", "GET", mod, map[string]string{"If-Modified-Since": before}, false},
		{"if-modified-since no time", "GET", time.Time{}, map[string]string{"If-Modified-Since": after}, false},
		{"if-unmodified-since earlier", "GET", mod, map[string]string{"If-Unmodified-Since": before}, false},
		{"if-match other", "GET", mod, map[string]string{"If-Match": `"x"`}, false},
		{"if-match", "GET", mod, map[string]string{"If-Match": etag}, false},
		{"range", "GET", mod, map[string]string{"Range": "bytes=2-9"}, false},
		{"range head", "HEAD", mod, map[string]string{"Range": "bytes=-5"}, false},
		{"range unsatisfiable", "GET", mod, map[string]string{"Range": "bytes=500-"}, false},
		{"range with if-range other", "GET", mod, map[string]string{"Range": "bytes=2-9", "If-Range": `"x"`}, false},
		{"range with if-range", "GET", mod, map[string]string{"Range": "bytes=2-9", "If-Range": etag}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newReq := func() *http.Request {
				r := httptest.NewRequest(tc.method, path, nil)
				for k, v := range tc.header {
					r.Header.Set(k, v)
				}
				return r
			}
			newW := func() *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", cacheImmutable)
				return w
			}
			// Before: ServeContent over a body that is only a ReadSeeker.
			want := newW()
			want.Header().Set("ETag", etag)
			http.ServeContent(want, newReq(), "", tc.modTime, bytes.NewReader(body))
			// Now: serveObject with the memory cache's object.
			got := newW()
			obj := storage.BytesObject(body)
			obj.ModTime = tc.modTime
			new(Handler).serveObject(got, newReq(), obj)
			if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Errorf("got %d %v %q\nwant %d %v %q", got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
			}
			// And serveWhole answers exactly the requests it should.
			wholeObj := storage.BytesObject(body)
			wholeObj.ModTime = tc.modTime
			if answered := serveWhole(newW(), newReq(), validatorsOf(newReq(), wholeObj), body); answered != tc.fast {
				t.Errorf("serveWhole answered: %v, want %v", answered, tc.fast)
			}
		})
	}
	// Content-Encoding or no Content-Type: ServeContent decides.
	for _, h := range []map[string]string{{"Content-Type": "application/json", "Content-Encoding": "gzip"}, {}} {
		w := httptest.NewRecorder()
		for k, v := range h {
			w.Header().Set(k, v)
		}
		obj := storage.BytesObject(body)
		obj.ModTime = mod
		if serveWhole(w, httptest.NewRequest("GET", path, nil), validatorsOf(httptest.NewRequest("GET", path, nil), obj), body) {
			t.Errorf("serveWhole answered with response headers %v", h)
		}
	}
	// A body partly read: all of it, as ServeContent (which seeks to
	// the start) answers.
	want := httptest.NewRecorder()
	want.Header().Set("Content-Type", "application/json")
	rs := bytes.NewReader(body)
	rs.Read(make([]byte, 3))
	http.ServeContent(want, httptest.NewRequest("GET", path, nil), "", mod, rs)
	obj := storage.BytesObject(body)
	obj.ModTime = mod
	obj.Body.Read(make([]byte, 3))
	got := httptest.NewRecorder()
	got.Header().Set("Content-Type", "application/json")
	new(Handler).serveObject(got, httptest.NewRequest("GET", path, nil), obj)
	got.Header().Del("ETag")
	if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) || !reflect.DeepEqual(got.Header(), want.Header()) {
		t.Errorf("after 3 bytes read: got %v %q, want %v %q", got.Header(), got.Body, want.Header(), want.Body)
	}
}

// TestValidatorsKept checks that the validators of a path are computed
// once per size and modification time and kept with its parse (Parse):
// the same values for the same object, new ones, equal to those of a path
// not parsed at the edge, when the object differs.
func TestValidatorsKept(t *testing.T) {
	const path = "/example.com/m/@v/v1.0.0.info"
	mod := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var got []*validators
	var obj *storage.Object
	h := Parse(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, validatorsOf(r, obj))
	}))
	serve := func(body string, modTime time.Time) *validators {
		obj = storage.BytesObject([]byte(body))
		obj.ModTime = modTime
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
		v := got[len(got)-1]
		fresh := validatorsOf(httptest.NewRequest("GET", path, nil), obj) // not kept: no parse
		if !reflect.DeepEqual(v, fresh) {
			t.Errorf("kept %+v, computed %+v", v, fresh)
		}
		return v
	}
	a := serve("abc", mod)
	if b := serve("abc", mod); b != a {
		t.Error("the same object's validators computed again")
	}
	if c := serve("abcd", mod); c == a || c.contentLength[0] != "4" || c.etag[0] == a.etag[0] {
		t.Errorf("another size: %+v after %+v", c, a)
	}
	if d := serve("abcd", mod.Add(time.Hour)); d.lastModified[0] != mod.Add(time.Hour).Format(http.TimeFormat) {
		t.Errorf("another modification time: %+v", d)
	}
	if e := serve("abcd", time.Time{}); e.lastModified != nil {
		t.Errorf("no modification time: Last-Modified %v", e.lastModified)
	}
}
