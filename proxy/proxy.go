// Package proxy is gomirror's HTTP edge: it serves the module proxy protocol
// (go.dev/ref/mod#goproxy-protocol) and the checksum database proxy
// protocol, and it is the one place where errors become HTTP statuses.
package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/gomirror/gomirror/policy"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/upstream"
)

// Cache-Control values.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheMutable   = "public, max-age=60"
	cacheNegative  = "public, max-age=60"
	cacheNone      = "no-store"
	// With a policy (Judging): an artifact that a reload may refuse is
	// not kept for a year; answers that differ by client are private.
	cacheRevocable = "public, max-age=60"
	cachePrivate   = "private, max-age=60"
	// An environment's view (/env/<name>/) moves with each promotion:
	// caches keep its answers but ask again every time (ETag).
	cacheEnv        = "public, no-cache"
	cacheEnvPrivate = "private, no-cache"
	// A snapshot's list and @latest: its versions never change while it
	// exists, but a deleted snapshot's name can be created again with
	// other versions, so they are not immutable; a short max-age bounds
	// how long a cache serves the old name's answers.
	cacheSnapshotMutable = "public, max-age=300"
)

// Mirror is what the handler needs from the cache layer. *cache.Mirror
// implements it.
//
// Each method gets the module (and version or query) as the request's path
// had it, parsed once by ParsePath (layout.ParseURLPath) with its escaped
// forms, so that the mirror derives its storage keys without escaping
// again: for List and Latest the module with no version, for Info a
// version or a query, for GoMod and Zip a version.
type Mirror interface {
	List(ctx context.Context, m layout.Module) ([]byte, cache.Source, error)
	Latest(ctx context.Context, m layout.Module) ([]byte, cache.Source, error)
	// Info, GoMod and Zip return an object whose Body the handler streams
	// and closes (an io.ReadSeeker serves ranges and conditional requests;
	// an *os.File goes out with sendfile), so that concurrent readers of
	// one artifact do not each hold a copy of it.
	Info(ctx context.Context, m layout.Module) (*storage.Object, cache.Source, error)
	GoMod(ctx context.Context, m layout.Module) (*storage.Object, cache.Source, error)
	Zip(ctx context.Context, m layout.Module) (*storage.Object, cache.Source, error)
}

// FetchTimeouter is an optional capability of a Mirror: FetchTimeout
// bounds one upstream fetch (0: no bound), and the handler bounds its
// checksum database fetches by it too.
type FetchTimeouter interface {
	FetchTimeout() time.Duration
}

var (
	_ Mirror         = (*cache.Mirror)(nil)
	_ FetchTimeouter = (*cache.Mirror)(nil)
)

// Judging is an optional capability of a Mirror whose answers a policy
// decides (package gate). perClient: answers may differ between clients
// (a token selects a rule set), so every answer of the module protocol is
// "private" (a shared cache must not hand one client's answer to
// another; the same holds for a request without a token). revocable: what
// is served now may be refused after a policy reload, so artifacts are
// not "immutable" for a year but kept 60 seconds, as lists are.
type Judging interface {
	Judging() (perClient, revocable bool)
}

// Tracker is told of every canonical version's artifact (.info, .mod,
// .zip) the handler serves: Begin before the mirror is asked for it (so
// that a fill in progress, and a copy served from memory, count as being
// served), End once the response has been written (or the mirror failed),
// and Touch once the mirror has answered with the artifact (a download:
// a request that fails is not one). *gc.Tracker is one (access times and
// what is being served, for the garbage collector). They are called on
// the hot path and must not allocate.
type Tracker interface {
	Begin(m module.Version)
	Touch(m module.Version)
	End(m module.Version)
}

// Views gives the Mirror that serves a view (layout.View: a snapshot or an
// environment, package snapshot), a complete module proxy of the view's
// module versions only, in front of the handler's own Mirror (so what it
// serves is gated, cached and verified as usual). An unknown view is a
// "not found". The view's Mirror gets the same requests as the handler's
// (canonical versions and queries alike) and answers the ones outside the
// view with a "not found" that names the view.
type Views interface {
	View(ctx context.Context, v layout.View) (Mirror, error)
}

// SumDB is what the handler needs from the checksum database proxy.
// *sumdb.Endpoint implements it.
type SumDB interface {
	Name() string
	Get(ctx context.Context, path string) ([]byte, sumdb.Kind, error)
}

var _ SumDB = (*sumdb.Endpoint)(nil)

// Handler serves the module proxy protocol.
type Handler struct {
	mirror Mirror
	// judging is mirror's Judging, nil if it has none.
	judging Judging
	sumdb   SumDB // nil if the checksum database is off
	log     *slog.Logger
	// tracker, if set, is told of the artifacts served (Track).
	tracker Tracker
	// zipURL, if set, names where a stored zip can be downloaded directly
	// (a presigned object-store URL); zips are then redirected there.
	zipURL func(ctx context.Context, m layout.Module) (string, error)
	// views serves /snapshots/<name>/ and /env/<name>/; nil: not found.
	views Views
	// values holds the header values every immutable .info or .mod
	// answer has, shared by all of them (sharedValues).
	values struct{ jsonType, textType, immutable, revocable, private []string }
}

// Header values that the handler shares between responses (Handler.values,
// validators) are assigned to the header map whole, never modified: net/http
// and every wrapper only read a header's values or replace them (Set, Del).

// RedirectZips makes the handler answer GET requests for zips with a
// temporary redirect to the URL f returns for the stored zip of m (after
// filling it as usual), instead of streaming it. m is the module version
// as the request's path has it escaped (its zip's key is m.Key(layout.Zip)).
// If f fails, the zip is streamed.
func (h *Handler) RedirectZips(f func(ctx context.Context, m layout.Module) (string, error)) {
	h.zipURL = f
}

// Track makes the handler tell t of every canonical version's artifact it
// serves.
func (h *Handler) Track(t Tracker) { h.tracker = t }

// ServeViews makes the handler serve the views (/snapshots/<name>/...,
// /env/<name>/...) with v. Without it they are "not found".
func (h *Handler) ServeViews(v Views) { h.views = v }

// answerCC are the Cache-Control values of one request's answers: its
// list, @latest or query (mutable), its canonical artifact, its "not found".
type answerCC struct {
	mutable  string
	artifact []string
	negative string
}

// ccOf returns the Cache-Control values of a request under view v: the
// mirror's own (mutableCC, artifactCC); a snapshot's artifacts as the
// mirror's, its list and @latest for cacheSnapshotMutable (not immutable:
// the name can be deleted and created again); an environment's
// answers can change with any promotion, so caches must ask again
// (no-cache, with the ETag a 304 costs little).
func (h *Handler) ccOf(v layout.View) answerCC {
	switch v.Kind {
	case layout.SnapshotView:
		mutable := cacheSnapshotMutable
		if h.mutableCC() == cachePrivate {
			mutable = cachePrivate // answers that differ by client
		}
		return answerCC{mutable: mutable, artifact: h.artifactCC(), negative: cacheNegative}
	case layout.EnvView:
		cc := cacheEnv
		if h.judging != nil {
			if perClient, _ := h.judging.Judging(); perClient {
				cc = cacheEnvPrivate
			}
		}
		return answerCC{mutable: cc, artifact: []string{cc}, negative: cc}
	}
	return answerCC{mutable: h.mutableCC(), artifact: h.artifactCC(), negative: cacheNegative}
}

// NewHandler returns a Handler. db may be nil.
func NewHandler(m Mirror, db SumDB, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{mirror: m, sumdb: db, log: log}
	h.judging, _ = m.(Judging)
	h.values.jsonType = []string{contentType(layout.Info)}
	h.values.textType = []string{contentType(layout.Mod)}
	h.values.immutable = []string{cacheImmutable}
	h.values.revocable = []string{cacheRevocable}
	h.values.private = []string{cachePrivate}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := obs.RequestFrom(r.Context())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.writeError(w, r, &statusError{http.StatusMethodNotAllowed, "method not allowed"})
		return
	}
	req, file, err := requestOf(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rec.Kind = req.Kind.String()
	ctx := r.Context()
	mirror := h.mirror
	if req.View.Kind != layout.NoView {
		cc := h.ccOf(req.View)
		if h.views == nil {
			h.writeErrorCC(w, r, upstream.NotExist("not found: this server serves no snapshots or environments"), cc.negative)
			return
		}
		if mirror, err = h.views.View(ctx, req.View); err != nil {
			h.writeErrorCC(w, r, err, cc.negative)
			return
		}
		if req.Kind != layout.SumDB {
			h.serveModule(w, r, req, file.Module, mirror, cc)
			return
		}
	}
	if req.Kind == layout.SumDB {
		h.serveSumDB(w, r, req)
		return
	}
	h.serveModule(w, r, req, file.Module, mirror, h.ccOf(layout.View{}))
}

// serveModule serves a module request (any Kind but SumDB) from mirror
// (the handler's, or a view's) with the Cache-Control values cc.
func (h *Handler) serveModule(w http.ResponseWriter, r *http.Request, req *Request, m layout.Module, mirror Mirror, cc answerCC) {
	var (
		b   []byte
		src cache.Source
		err error
	)
	switch req.Kind {
	case layout.List:
		b, src, err = mirror.List(r.Context(), m)
	case layout.Latest:
		b, src, err = mirror.Latest(r.Context(), m)
	case layout.Info, layout.Mod:
		h.serveSmall(w, r, req, m, mirror, cc)
		return
	case layout.Zip:
		h.serveZip(w, r, req, m, mirror, cc)
		return
	}
	setSource(obs.RequestFrom(r.Context()), src)
	if err != nil {
		h.writeErrorCC(w, r, err, cc.negative)
		return
	}
	h.serveBytes(w, r, b, contentType(req.Kind), cc.mutable)
}

// mutableCC is the Cache-Control of a list, @latest or query answer.
func (h *Handler) mutableCC() string {
	if h.judging != nil {
		if perClient, _ := h.judging.Judging(); perClient {
			return cachePrivate
		}
	}
	return cacheMutable
}

// artifactCC is the Cache-Control of a canonical version's .info, .mod or
// .zip (a shared value: see Handler.values).
func (h *Handler) artifactCC() []string {
	if h.judging != nil {
		switch perClient, revocable := h.judging.Judging(); {
		case perClient:
			return h.values.private
		case revocable:
			return h.values.revocable
		}
	}
	return h.values.immutable
}

// setSource records in the access log's record where the answer came from
// and which upstream answered this request's fetch.
func setSource(rec *obs.Request, src cache.Source) {
	rec.SetCache(string(src.Outcome))
	rec.Upstream = src.Upstream
}

// serveSmall serves a .info or .mod; m is req's module version with the
// escaped forms its path had. A canonical version's is immutable and
// streamed from the object the mirror returns; a query's .info is the
// upstream's answer of the moment, in memory.
func (h *Handler) serveSmall(w http.ResponseWriter, r *http.Request, req *Request, m layout.Module, mirror Mirror, cc answerCC) {
	var (
		obj *storage.Object
		src cache.Source
		err error
	)
	track := h.tracker != nil && m.Canonical()
	if track {
		// Registered before the mirror call: a fill is being served too.
		mv := m.Version()
		h.tracker.Begin(mv)
		defer h.tracker.End(mv)
	}
	if req.Kind == layout.Info {
		obj, src, err = mirror.Info(r.Context(), m)
	} else {
		obj, src, err = mirror.GoMod(r.Context(), m)
	}
	setSource(obs.RequestFrom(r.Context()), src)
	if err != nil {
		h.writeErrorCC(w, r, err, cc.negative)
		return
	}
	defer obj.Body.Close()
	if track {
		h.tracker.Touch(m.Version())
	}
	if !m.Canonical() {
		b, err := io.ReadAll(obj.Body)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		h.serveBytes(w, r, b, contentType(req.Kind), cc.mutable)
		return
	}
	hdr := w.Header()
	if req.Kind == layout.Info {
		hdr["Content-Type"] = h.values.jsonType
	} else {
		hdr["Content-Type"] = h.values.textType
	}
	hdr["Cache-Control"] = cc.artifact
	h.serveObject(w, r, obj)
}

// serveZip serves a .zip; m is req's module version with the escaped forms
// its path had.
func (h *Handler) serveZip(w http.ResponseWriter, r *http.Request, req *Request, m layout.Module, mirror Mirror, cc answerCC) {
	if h.tracker != nil {
		// Registered before the mirror call: the fill this request may
		// start is being served, and the collector must not evict it.
		mv := m.Version()
		h.tracker.Begin(mv)
		defer h.tracker.End(mv)
	}
	obj, src, err := mirror.Zip(r.Context(), m)
	setSource(obs.RequestFrom(r.Context()), src)
	if err != nil {
		h.writeErrorCC(w, r, err, cc.negative)
		return
	}
	defer obj.Body.Close()
	if h.tracker != nil {
		h.tracker.Touch(m.Version())
	}
	hdr := w.Header()
	if f, ok := obj.Body.(Following); ok && (h.zipURL != nil || r.Method != http.MethodGet || !unconditional(r) ||
		obj.Size < 0 && !r.ProtoAtLeast(1, 1)) {
		// A redirect needs the stored zip; a HEAD, range or conditional
		// request, the whole zip's size and content: wait for them. So
		// does an HTTP/1.0 client when the size is unknown: its response
		// would end by closing the connection, which an abort also does,
		// so it could not tell a zip cut off from a whole one. (The
		// deferred Close still lets go of the stream.)
		obj, err = f.Complete(r.Context())
		if err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if h.zipURL != nil && r.Method == http.MethodGet {
		u, err := h.zipURL(r.Context(), m)
		if err == nil {
			// The URL expires: clients and caches may not keep the redirect.
			hdr.Set("Cache-Control", "no-store")
			http.Redirect(w, r, u, http.StatusTemporaryRedirect)
			return
		}
		h.log.Warn("no direct URL for a zip; streaming it", "module", req.Module, "version", req.Version, "err", err)
	}
	hdr.Set("Content-Type", "application/zip")
	hdr["Cache-Control"] = cc.artifact
	h.serveObject(w, r, obj)
}

// serveObject streams the immutable artifact obj (a canonical version's
// .info, .mod or .zip), with ranges and conditional requests where its body
// can seek. The caller sets Content-Type and Cache-Control.
func (h *Handler) serveObject(w http.ResponseWriter, r *http.Request, obj *storage.Object) {
	hdr := w.Header()
	// The content at a canonical version's key never changes, so the key
	// and size identify it on every replica, whether it is read from
	// storage or from the fill that is storing it.
	var v *validators
	if obj.Size >= 0 { // unknown for a zip followed while it arrives without a Content-Length
		v = validatorsOf(r, obj)
		hdr["Etag"] = v.etag
	}
	if mem, ok := obj.Body.(storage.InMemory); ok && v != nil && serveWhole(w, r, v, mem.Bytes()) {
		return // a plain GET or HEAD of an object in memory (a memory-cache hit)
	}
	if rs, ok := obj.Body.(io.ReadSeeker); ok {
		// Ranges, conditional requests, and sendfile for *os.File.
		http.ServeContent(w, r, "", obj.ModTime, rs)
		return
	}
	if etagListed(r.Header.Get("If-None-Match"), hdr.Get("ETag")) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if obj.Size >= 0 {
		hdr.Set("Content-Length", strconv.FormatInt(obj.Size, 10))
	}
	if !obj.ModTime.IsZero() {
		hdr.Set("Last-Modified", obj.ModTime.UTC().Format(http.TimeFormat))
	}
	if r.Method == http.MethodHead {
		return
	}
	body := &readErr{r: obj.Body}
	io.Copy(w, body)
	if body.err != nil {
		// The body broke off after the answer began (a zip followed while
		// it arrives failed its checks, or its fill failed, or the client
		// went away, which on HTTP/1 may only be half-closed: it can still
		// read): the client must see a broken transfer, never an end that
		// looks complete.
		if r.Context().Err() == nil {
			h.log.Warn("response cut off", "path", r.URL.Path, "err", body.err)
		}
		obs.RequestFrom(r.Context()).Aborted = body.err.Error()
		panic(http.ErrAbortHandler)
	}
}

// Following is an optional capability of the Body of an object the
// mirror's Zip returns (*cache.StreamingZip's): a zip still arriving from
// the upstream, which the Body reads as the mirror releases it and whose
// Read fails if the zip then fails its checks. Complete waits until the
// zip has been verified and stored, and returns all of it as an object
// whose Body can seek (and whose Close does nothing); it fails with the
// fill's error.
type Following interface {
	Complete(ctx context.Context) (*storage.Object, error)
}

var _ Following = (*cache.StreamingZip)(nil)

// unconditional reports whether r asks for the whole body whatever it is:
// it has none of the headers http.ServeContent evaluates (If-Match,
// If-Unmodified-Since, If-None-Match, If-Modified-Since, Range; If-Range
// only matters with Range).
func unconditional(r *http.Request) bool {
	for _, k := range [...]string{"If-Match", "If-Unmodified-Since", "If-None-Match", "If-Modified-Since", "Range"} {
		// r.Header.Get(k) != "", without canonicalizing k, which is.
		if v := r.Header[k]; len(v) > 0 && v[0] != "" {
			return false
		}
	}
	return true
}

// readErr remembers the error (other than io.EOF) its reader returned.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// validators are the header values that an immutable artifact's answer
// derives from its path (r.URL.Path), size and modification time: its
// ETag (a hash of the path, with the size), and for serveWhole its
// Last-Modified and Content-Length. They are computed once per path and
// kept with its parse (parsed.validators) while size and modTime stay the
// same, as they do for a stored artifact.
type validators struct {
	size    int64
	modTime time.Time
	// etag, lastModified (nil for no Last-Modified: see serveWhole),
	// contentLength and acceptRanges are shared header values.
	etag, lastModified, contentLength, acceptRanges []string
}

// validatorsOf returns obj's validators for r, kept or new.
func validatorsOf(r *http.Request, obj *storage.Object) *validators {
	p := parsedOf(r)
	if p != nil {
		if v := p.validators.Load(); v != nil && v.size == obj.Size && v.modTime.Equal(obj.ModTime) {
			return v
		}
	}
	// The content at a canonical version's key never changes, so the key
	// and size identify it on every replica, whether it is read from
	// storage or from the fill that is storing it.
	sum := sha256.Sum256([]byte(r.URL.Path))
	v := &validators{size: obj.Size, modTime: obj.ModTime,
		etag:          []string{`"` + hex.EncodeToString(sum[:12]) + "-" + strconv.FormatInt(obj.Size, 16) + `"`},
		contentLength: []string{strconv.FormatInt(obj.Size, 10)}, acceptRanges: []string{"bytes"}}
	if !obj.ModTime.IsZero() && !obj.ModTime.Equal(time.Unix(0, 0)) {
		v.lastModified = []string{obj.ModTime.UTC().Format(http.TimeFormat)}
	}
	if p != nil {
		p.validators.Store(v)
	}
	return v
}

// serveWhole answers r with all of b (v's size), last modified at
// v.modTime, exactly as
// http.ServeContent(w, r, "", v.modTime, bytes.NewReader(b)) would, when
// ServeContent has nothing to decide: the response's Content-Type is set
// and its Content-Encoding is not, and r has none of the headers
// ServeContent evaluates (If-Match, If-Unmodified-Since, If-None-Match,
// If-Modified-Since, Range; If-Range only matters with Range). Then it is
// 200 with Last-Modified (unless modTime is zero or the Unix epoch, as
// ServeContent leaves it out), Accept-Ranges and Content-Length, and b as
// the body unless r is a HEAD, written in one Write rather than through
// ServeContent's seeks and io.CopyN. For any other request it writes
// nothing and reports false: the caller uses ServeContent.
func serveWhole(w http.ResponseWriter, r *http.Request, v *validators, b []byte) bool {
	hdr := w.Header()
	if _, typed := hdr["Content-Type"]; !typed || len(hdr["Content-Encoding"]) > 0 && hdr["Content-Encoding"][0] != "" {
		return false
	}
	if !unconditional(r) {
		return false
	}
	if int64(len(b)) != v.size {
		return false // not the object v describes
	}
	if v.lastModified != nil {
		hdr["Last-Modified"] = v.lastModified
	}
	hdr["Accept-Ranges"] = v.acceptRanges
	hdr["Content-Length"] = v.contentLength
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
	return true
}

// etagListed reports whether an If-None-Match header lists etag (or is
// "*"), comparing weakly as RFC 9110 asks for If-None-Match.
func etagListed(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t != "" && t == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}

func (h *Handler) serveSumDB(w http.ResponseWriter, r *http.Request, req *Request) {
	if h.sumdb == nil || req.DB != h.sumdb.Name() {
		// Not ours: the go command then connects to that database itself.
		h.writeError(w, r, upstream.NotExist("not found: this server does not proxy checksum database "+req.DB))
		return
	}
	// A database that stalls must not hold the go command (and, for
	// "latest", everyone waiting on the same fetch) forever: the fetch
	// timeout bounds these fetches like every other upstream fetch.
	ctx := r.Context()
	if ft, ok := h.mirror.(FetchTimeouter); ok && ft.FetchTimeout() > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ft.FetchTimeout())
		defer cancel()
	}
	b, kind, err := h.sumdb.Get(ctx, req.DBPath)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil && !sumdb.IsUnavailable(err) {
			err = fmt.Errorf("checksum database %s did not answer within the fetch timeout: %w", req.DB, err)
		}
		h.writeError(w, r, err)
		return
	}
	cc := cacheImmutable
	switch kind {
	case sumdb.KindSupported:
		cc = cacheMutable
	case sumdb.KindLatest:
		cc = "public, max-age=10"
	}
	h.serveBytes(w, r, b, "text/plain; charset=utf-8", cc)
}

func (h *Handler) serveBytes(w http.ResponseWriter, r *http.Request, b []byte, ctype, cacheControl string) {
	hdr := w.Header()
	hdr.Set("Content-Type", ctype)
	hdr.Set("Cache-Control", cacheControl)
	sum := sha256.Sum256(b)
	hdr.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

func contentType(k layout.Kind) string {
	switch k {
	case layout.Info, layout.Latest:
		return "application/json"
	case layout.Zip:
		return "application/zip"
	}
	return "text/plain; charset=utf-8"
}

// BadRequester is the capability of an error that means a malformed
// request, whichever package found it: if BadRequest reports true, Status
// answers 400.
type BadRequester interface {
	BadRequest() bool
}

var (
	_ BadRequester = (*ParseError)(nil)
	_ BadRequester = (*cache.BadRequestError)(nil)
	_ BadRequester = (*sumdb.BadRequestError)(nil)
)

// Unavailabler is the capability of an error that means a service of the
// mirror is not ready yet (the vulnerability database before its first
// copy is loaded, or a policy refusal for want of it): if Unavailable
// reports true, Status answers 503 (with Retry-After: retryUnavailable).
type Unavailabler interface {
	Unavailable() bool
}

var _ Unavailabler = (*policy.RefusedError)(nil)

// retryUnavailable is the Retry-After of an Unavailabler's 503.
const retryUnavailable = 30 * time.Second

// statusError is an error with a status chosen at the edge.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// Status returns the HTTP status for err. It is the only place in gomirror
// where errors become statuses:
//   - malformed requests (a BadRequester): 400;
//   - a service not ready yet (an Unavailabler): 503; also a policy
//     refusal for want of the vulnerability database (not loaded yet);
//   - modules and versions that do not exist: 404, or the upstream's 404/410;
//     also those that cannot be stored (layout.NotStorableError: an element
//     longer than 255 bytes), and, with the upstream "off", whatever is not
//     stored (upstream.ErrOff, sumdb.OfflineError): an offline mirror does
//     not have it, no upstream failed, and retrying changes nothing;
//   - other refusals by the upstream (403 "not available", 429): its own code;
//   - checksum mismatch, unreachable upstream or checksum database, an
//     upstream answer that fails its checks (oversized, malformed .info): 502;
//   - a direct fetch refused by the egress policy: 403;
//   - storage full or read-only, or no direct fetch slot free in time: 503
//     (the latter with Retry-After);
//   - the upstream taking too long: 504.
//
// A module that merely does not exist never gets a 5xx, which would stop the
// go command from falling through to its next GOPROXY entry.
func Status(err error) int {
	var (
		se  *statusError
		use *upstream.StatusError
		br  BadRequester
		un  Unavailabler
		mm  *sumdb.MismatchError
		ua  *sumdb.UnavailableError
		be  *upstream.BusyError
		re  *upstream.RefusedError
		pe  *policy.RefusedError
	)
	switch {
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &pe):
		if pe.Unavailable() {
			return http.StatusServiceUnavailable // no vulnerability database yet; with Retry-After
		}
		return http.StatusForbidden // the policy refuses; the body says which rule
	case errors.As(err, &be):
		return http.StatusServiceUnavailable // with Retry-After
	case errors.As(err, &re):
		return http.StatusForbidden
	case errors.As(err, &br) && br.BadRequest():
		return http.StatusBadRequest
	case errors.As(err, &un) && un.Unavailable():
		return http.StatusServiceUnavailable
	case errors.As(err, &mm):
		return http.StatusBadGateway
	case errors.As(err, &use) && use.Code >= 400 && use.Code < 500:
		if use.Code == http.StatusNotFound || use.Code == http.StatusGone || use.Code == http.StatusForbidden || use.Code == http.StatusTooManyRequests {
			return use.Code
		}
		return http.StatusNotFound
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.As(err, &ua) && !errors.Is(err, context.DeadlineExceeded):
		return http.StatusBadGateway // a database that answered too late is a 504
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT), errors.Is(err, syscall.EROFS):
		return http.StatusServiceUnavailable // our storage, as /readyz says
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return 499 // the client went away; nobody reads this
	}
	return http.StatusBadGateway
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	h.writeErrorCC(w, r, err, cacheNegative)
}

// writeErrorCC is writeError with the Cache-Control of a "not found" (404,
// 410) given: negative.
func (h *Handler) writeErrorCC(w http.ResponseWriter, r *http.Request, err error, negative string) {
	code := Status(err)
	msg := clientMessage(code, err)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	switch {
	case code == http.StatusNotFound || code == http.StatusGone:
		hdr.Set("Cache-Control", negative)
	default:
		hdr.Set("Cache-Control", cacheNone)
	}
	if code >= 500 {
		h.log.Warn("request failed", "path", r.URL.Path, "status", code, "err", err)
	}
	if be := (*upstream.BusyError)(nil); errors.As(err, &be) && be.RetryAfter > 0 {
		hdr.Set("Retry-After", strconv.Itoa(int(be.RetryAfter.Round(time.Second)/time.Second)))
	} else if un := Unavailabler(nil); code == http.StatusServiceUnavailable && errors.As(err, &un) && un.Unavailable() {
		hdr.Set("Retry-After", strconv.Itoa(int(retryUnavailable/time.Second)))
	}
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		io.WriteString(w, msg+"\n")
	}
}

// clientMessage is the text the go command prints after "server response:".
func clientMessage(code int, err error) string {
	var mm *sumdb.MismatchError
	if errors.As(err, &mm) {
		return mm.Error()
	}
	var pe *policy.RefusedError
	if errors.As(err, &pe) {
		return pe.Error() // the rule and its reason, which the go command prints
	}
	msg := err.Error()
	if code == http.StatusNotFound || code == http.StatusGone {
		var use *upstream.StatusError
		if errors.As(err, &use) && use.Text != "" {
			msg = use.Text
		}
		if !strings.HasPrefix(msg, "not found") {
			msg = "not found: " + msg
		}
	}
	if len(msg) > 4096 {
		msg = msg[:4096] + "..."
	}
	return msg
}
