package vulndb

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The database's HTTP API (the Go vulnerability database's documented
// one): index/db.json, index/modules.json, index/vulns.json and
// ID/<id>.json, each also as .json.gz. govulncheck (x/vuln's client, an
// http(s) -db) sends HEAD index/modules.json.gz to recognise the
// database, then GETs index/db.json.gz, index/modules.json.gz and
// ID/<id>.json.gz, and gunzips each body itself: a .json.gz is therefore
// the gzip file as such (Content-Type application/gzip, never
// Content-Encoding, which would make Go's transport gunzip it first).

// Cache lifetimes: an answer may change at the next refresh.
const (
	cacheFile     = "max-age=300"
	cacheNotFound = "max-age=60"
)

// HandlerOptions configure the HTTP API.
type HandlerOptions struct {
	// Prefix is the path the API is mounted at, with its final slash
	// ("/vuln/"); requests arrive with it.
	Prefix string
	// Status turns an error into an HTTP status (the server passes
	// proxy.Status, the only place that does).
	Status func(error) int
	// Logger receives a line per answer over 499.
	Logger *slog.Logger
}

// Handler returns the HTTP API of db. It answers GET and HEAD, with
// ETag and Last-Modified (when the served copy replaced the previous
// one: later for each new copy, so never a 304 for a changed file), ranges
// and conditional requests (http.ServeContent); any path other than the
// API's files is 404, as is an unknown ID. Before a copy is loaded it
// answers 503 (ErrNotLoaded).
func (db *DB) Handler(opts HandlerOptions) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &handler{db: db, opts: opts}
}

type handler struct {
	db   *DB
	opts HandlerOptions
}

// notFound is a path the API does not have.
type notFoundError struct{ name string }

func notFound(name string) error { return &notFoundError{name} }

func (e *notFoundError) Error() string { return "not found: " + e.name }
func (e *notFoundError) Unwrap() error { return fs.ErrNotExist }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, h.opts.Prefix)
	if !ok || len(name) > 100 {
		h.fail(w, r, notFound(r.URL.Path))
		return
	}
	base, gz := strings.CutSuffix(name, ".json.gz")
	if !gz {
		var isJSON bool
		if base, isJSON = strings.CutSuffix(name, ".json"); !isJSON {
			h.fail(w, r, notFound(name))
			return
		}
	}
	s := h.db.acquire()
	if s == nil {
		h.fail(w, r, ErrNotLoaded)
		return
	}
	defer s.release()
	var (
		body io.ReadSeeker
		etag string
	)
	switch {
	case strings.HasPrefix(base, "index/"):
		f := s.index[base]
		if f == nil {
			h.fail(w, r, notFound(name))
			return
		}
		body, etag = bytes.NewReader(f.json), f.etag
		if gz {
			body, etag = bytes.NewReader(f.gz), f.gzETag
		}
	case strings.HasPrefix(base, "ID/"):
		id := base[len("ID/"):]
		loc, ok := s.entries[id]
		if !ValidID(id) || !ok {
			h.fail(w, r, notFound(name))
			return
		}
		etag = fmt.Sprintf(`"%08x-%d`, loc.crc, loc.size)
		var err error
		if gz {
			// Weak: the content's CRC and size, not the bytes', which
			// another copy's deflate data may make otherwise.
			body, err = s.entryGzip(r.Context(), id)
			etag = "W/" + etag + `-gz"`
		} else {
			var b []byte
			b, err = s.entryJSON(r.Context(), id)
			body = bytes.NewReader(b)
			etag += `"`
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
	default:
		h.fail(w, r, notFound(name))
		return
	}
	hdr := w.Header()
	if gz {
		hdr.Set("Content-Type", "application/gzip")
	} else {
		hdr.Set("Content-Type", "application/json")
	}
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", cacheFile)
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", s.lastMod, body)
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := h.opts.Status(err)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	switch code {
	case http.StatusNotFound:
		hdr.Set("Cache-Control", cacheNotFound)
	case http.StatusServiceUnavailable:
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("Retry-After", strconv.Itoa(int((30 * time.Second).Seconds())))
	default:
		hdr.Set("Cache-Control", "no-store")
	}
	if code >= 500 {
		h.opts.Logger.Warn("vulnerability database request failed", "path", r.URL.Path, "status", code, "err", err)
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		fmt.Fprintln(w, err.Error())
	}
}

func sortAdvisories(a []Advisory) {
	slices.SortFunc(a, func(x, y Advisory) int { return strings.Compare(x.ID, y.ID) })
}
