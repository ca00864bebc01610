// Package obs holds gomirror's Prometheus metrics and the per-request record
// that the access log is written from.
package obs

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus collectors, on a registry of their own.
type Metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	cache           *prometheus.CounterVec
	fetches         *prometheus.CounterVec
	fetchDuration   *prometheus.HistogramVec
	bytesServed     *prometheus.CounterVec
	verifications   *prometheus.CounterVec
	policy          *prometheus.CounterVec // nil without a policy (WatchPolicy)

	// series holds the request metrics' children by their labels
	// (seriesKey -> *requestSeries), found once rather than per request;
	// at most maxSeries of them.
	series  sync.Map
	nSeries atomic.Int64
}

// maxSeries bounds Metrics.series. The labels come from gomirror's code (a
// handful of kinds, statuses and cache outcomes), not from clients; past
// the bound, children are looked up per request, as without it.
const maxSeries = 1024

// seriesKey is the labels of one request's metrics.
type seriesKey struct {
	kind, cache string
	status      int
}

// requestSeries is what ObserveRequest updates for one seriesKey.
type requestSeries struct {
	requests, bytes prometheus.Counter
	duration        prometheus.Observer
	cache           prometheus.Counter // nil without a cache outcome
}

// NewMetrics creates and registers the collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomirror_http_requests_total",
			Help: "HTTP requests by kind of artifact and status code.",
		}, []string{"kind", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gomirror_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by kind of artifact.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"kind"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomirror_cache_requests_total",
			Help: "Answers by where they came from: hit (storage), miss (fetched), prefetched (a zip a prefetch fetched, stored on this request), fresh (mutable, upstream), stale (mutable, storage after an upstream failure).",
		}, []string{"kind", "result"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomirror_upstream_fetches_total",
			Help: "Upstream fetches by operation, upstream and result (ok, not_found, error).",
		}, []string{"op", "upstream", "result"}),
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gomirror_upstream_fetch_duration_seconds",
			Help:    "Time taken by upstream fetches.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 10),
		}, []string{"op", "upstream"}),
		bytesServed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomirror_bytes_served_total",
			Help: "Response body bytes sent, by kind of artifact.",
		}, []string{"kind"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gomirror_verifications_total",
			Help: "Checks of go.mod files and zips against the checksum database, by result: ok, mismatch (refused), unavailable (database unreachable), error.",
		}, []string{"file", "result"}),
	}
	m.reg.MustRegister(m.requests, m.requestDuration, m.cache, m.fetches, m.fetchDuration, m.bytesServed, m.verifications,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ObserveRequest records one finished HTTP request.
func (m *Metrics) ObserveRequest(r *Request) {
	kind := r.Kind
	if kind == "" {
		kind = "other"
	}
	s := m.requestSeries(seriesKey{kind: kind, cache: r.Cache(), status: r.Status})
	s.requests.Inc()
	s.duration.Observe(r.Duration.Seconds())
	s.bytes.Add(float64(r.Bytes))
	if s.cache != nil {
		s.cache.Inc()
	}
}

// requestSeries returns the children of the request metrics for k, kept
// or found.
func (m *Metrics) requestSeries(k seriesKey) *requestSeries {
	if s, ok := m.series.Load(k); ok {
		return s.(*requestSeries)
	}
	s := &requestSeries{
		requests: m.requests.WithLabelValues(k.kind, statusLabel(k.status)),
		duration: m.requestDuration.WithLabelValues(k.kind),
		bytes:    m.bytesServed.WithLabelValues(k.kind),
	}
	if k.cache != "" {
		s.cache = m.cache.WithLabelValues(k.kind, k.cache)
	}
	if m.nSeries.Load() < maxSeries {
		if _, loaded := m.series.LoadOrStore(k, s); !loaded {
			m.nSeries.Add(1)
		}
	}
	return s
}

// ObserveFetch records one upstream fetch.
func (m *Metrics) ObserveFetch(op, upstream string, d time.Duration, err error) {
	result := "ok"
	switch {
	case errors.Is(err, fs.ErrNotExist):
		result = "not_found"
	case err != nil:
		result = "error"
	}
	m.fetches.WithLabelValues(op, upstream, result).Inc()
	m.fetchDuration.WithLabelValues(op, upstream).Observe(d.Seconds())
}

// ObserveVerify records one check against the checksum database. classify
// names the kind of failure ("mismatch", "unavailable", "error").
func (m *Metrics) ObserveVerify(file string, err error, classify func(error) string) {
	result := "ok"
	if err != nil {
		result = classify(err)
	}
	m.verifications.WithLabelValues(file, result).Inc()
}

func statusLabel(code int) string {
	if code == 0 {
		code = http.StatusOK
	}
	return strconv.Itoa(code)
}

// Request is what the access log says about one request. The handler that
// answers it fills in Kind and Cache; the middleware fills in the rest.
type Request struct {
	Method, Path string
	Kind         string // list, latest, info, mod, zip, sumdb, vuln, health, metrics
	Client       string // the authenticated client's token name, or ""
	Status       int
	Bytes        int64
	Duration     time.Duration
	// cache is where the answer came from (SetCache): a code of
	// cacheName, or cacheOther for the name in cacheOther.
	cache      atomic.Int32
	cacheOther atomic.Value // string
	// Upstream names the upstream that answered the fetch this request
	// made, or "": the handler sets it from the cache's answer.
	Upstream string
	// Aborted, if not "", says why the response was cut off after it had
	// begun (a zip that failed its checks while clients followed it).
	Aborted string
	// Policy, if not "", is the policy's decision about the request's
	// version when it refused it, enforced or warned
	// (policy.Decision.Summary): the audit log keeps it.
	Policy string

	// Remote is the client's address as clientaddr decides it: the socket
	// peer's, or from X-Forwarded-For when the peer is a trusted proxy.
	// Everything per client (logs, limits, audit) uses it.
	Remote string
}

// SetCache records where the answer came from: hit, miss, prefetched, fresh, stale
// (which it records without allocating), or any other name.
func (r *Request) SetCache(source string) {
	for c := int32(0); c <= cacheLast; c++ {
		if cacheName(c) == source {
			r.cache.Store(c)
			return
		}
	}
	r.cacheOther.Store(source)
	r.cache.Store(cacheOther)
}

// Cache returns where the answer came from, or "".
func (r *Request) Cache() string {
	if c := r.cache.Load(); c != cacheOther {
		return cacheName(c)
	}
	s, _ := r.cacheOther.Load().(string)
	return s
}

// Values of Request.cache: cacheName's codes, up to cacheLast, or
// cacheOther.
const (
	cacheLast  = 5
	cacheOther = -1
)

// cacheName returns the name of a Request.cache code, "" for 0.
func cacheName(c int32) string {
	switch c {
	case 1:
		return "hit"
	case 2:
		return "miss"
	case 3:
		return "fresh"
	case 4:
		return "stale"
	case 5:
		return "prefetched"
	}
	return ""
}

type requestKey struct{}

// WithRequest returns a context carrying r.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestValue returns the key and value that WithRequest adds to a
// context, for a context that carries several values in one (the server's
// per-request context): its Value(k) must return v.
func RequestValue(r *Request) (k, v any) { return requestKey{}, r }

// RequestFrom returns the Request in ctx, or a throwaway one.
func RequestFrom(ctx context.Context) *Request {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		return r
	}
	return &Request{}
}
