package sumdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	xsumdb "golang.org/x/mod/sumdb"

	"github.com/gomirror/gomirror/internal/httpstatus"
	"github.com/gomirror/gomirror/internal/redact"
)

// MaxProxyFile bounds a checksum database file read through a proxy by a
// ProxyClient (a lookup is under a kilobyte, a hash tile 8 KiB, a signed
// tree head a few hundred bytes).
const MaxProxyFile = 1 << 20

// ProxyRequest is one request a ProxyClient made.
type ProxyRequest struct {
	Path     string        // under the database's base, e.g. "/lookup/M@V", "/tile/8/0/000"
	Code     int           // the HTTP status; 0 when no answer
	Bytes    int           // body bytes read (of a 200)
	Duration time.Duration // from the request to the end of the body
	Err      error         // nil for a 200 within the bounds
}

// TooLargeError is an answer larger than the bound.
type TooLargeError struct {
	Path  string
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than %d bytes", e.Path, e.Limit)
}

// ProxyClient is the go command's own checksum database client
// (golang.org/x/mod/sumdb.Client) reading the database through a module
// proxy, `<proxy>/sumdb/<name>/...`, with its configuration and cache in
// memory: it asks exactly what a go command with an empty module cache
// asks (a lookup, then the tiles that prove its record in the lookup's
// signed tree; never `latest`) and verifies exactly what it verifies.
// Every remote read is bounded (MaxProxyFile bytes, the per-request
// timeout) and recorded (Requests). Safe for concurrent use.
type ProxyClient struct {
	*xsumdb.Client
	ops *proxyOps
}

// proxyShared is the state the clients of one base share (WithLatest):
// the cache of files read and the record of requests.
type proxyShared struct {
	ctx     context.Context
	client  *http.Client
	key     string
	base    string
	timeout time.Duration

	mu       sync.Mutex
	cache    map[string][]byte
	reqs     []ProxyRequest
	security []string
}

// NewProxyClient returns a client of the database whose verifier key is
// key, read through base (`<proxy>/sumdb/<name>`) with client (nil:
// http.DefaultClient); each request ends after timeout (none if zero) or
// with ctx.
func NewProxyClient(ctx context.Context, client *http.Client, base, key string, timeout time.Duration) *ProxyClient {
	if client == nil {
		client = http.DefaultClient
	}
	sh := &proxyShared{ctx: ctx, client: client, key: key, base: strings.TrimRight(base, "/"), timeout: timeout, cache: map[string][]byte{}}
	return newProxyClient(sh, nil)
}

func newProxyClient(sh *proxyShared, latest []byte) *ProxyClient {
	ops := &proxyOps{sh: sh, latest: bytes.Clone(latest)}
	return &ProxyClient{Client: xsumdb.NewClient(ops), ops: ops}
}

// WithLatest returns a client sharing c's cache and record of requests
// that already knows the signed tree head latest (as a go command whose
// cache holds it): its lookups verify latest's signature and prove the
// lookup's tree and latest consistent (a fork is an error wrapping
// xsumdb.ErrSecurity).
func (c *ProxyClient) WithLatest(latest []byte) *ProxyClient {
	return newProxyClient(c.ops.sh, latest)
}

// Latest is the signed tree head c knows: the newest tree of its lookups
// (or the one WithLatest gave), verified; empty before any.
func (c *ProxyClient) Latest() []byte {
	c.ops.mu.Lock()
	defer c.ops.mu.Unlock()
	return bytes.Clone(c.ops.latest)
}

// Get reads path under the base (e.g. "/supported", "/latest") as the
// client's remote reads are: bounded, recorded, not cached.
func (c *ProxyClient) Get(path string) ([]byte, error) { return c.ops.sh.get(path) }

// Requests returns the requests made so far through c and the clients
// sharing its state, in the order they ended.
func (c *ProxyClient) Requests() []ProxyRequest {
	sh := c.ops.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return append([]ProxyRequest(nil), sh.reqs...)
}

// Reason is the text of an error of c's Lookup: the security errors the
// client reported with it, if it was one (their first line each).
func (c *ProxyClient) Reason(err error) string {
	if errors.Is(err, xsumdb.ErrSecurity) {
		sh := c.ops.sh
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if len(sh.security) > 0 {
			return strings.Join(sh.security, "; ")
		}
	}
	return err.Error()
}

func (sh *proxyShared) get(path string) ([]byte, error) {
	start := time.Now()
	b, code, err := sh.fetch(path)
	sh.mu.Lock()
	sh.reqs = append(sh.reqs, ProxyRequest{Path: path, Code: code, Bytes: len(b), Duration: time.Since(start), Err: err})
	sh.mu.Unlock()
	return b, err
}

func (sh *proxyShared) fetch(path string) ([]byte, int, error) {
	ctx := sh.ctx
	if sh.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, sh.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sh.base+path, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := sh.client.Do(req)
	if err != nil {
		return nil, 0, redact.Err(err) // the proxy URL's userinfo is often a token
	}
	defer resp.Body.Close()
	if err := httpstatus.Check(resp); err != nil {
		return nil, resp.StatusCode, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxProxyFile+1))
	if err != nil {
		return nil, resp.StatusCode, err
	}
	if len(b) > MaxProxyFile {
		return nil, resp.StatusCode, &TooLargeError{Path: path, Limit: MaxProxyFile}
	}
	return b, resp.StatusCode, nil
}

// proxyOps is the xsumdb.ClientOps of a ProxyClient: remote reads
// through the proxy, configuration and cache in memory.
type proxyOps struct {
	sh *proxyShared

	mu     sync.Mutex
	latest []byte
}

var _ xsumdb.ClientOps = (*proxyOps)(nil)

func (o *proxyOps) ReadRemote(path string) ([]byte, error) { return o.sh.get(path) }

func (o *proxyOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.sh.key), nil
	}
	if strings.HasSuffix(file, "/latest") {
		o.mu.Lock()
		defer o.mu.Unlock()
		return bytes.Clone(o.latest), nil // empty: no tree known
	}
	return nil, fmt.Errorf("unknown config %s", file)
}

func (o *proxyOps) WriteConfig(file string, old, new []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !bytes.Equal(old, o.latest) {
		return xsumdb.ErrWriteConflict
	}
	o.latest = bytes.Clone(new)
	return nil
}

func (o *proxyOps) ReadCache(file string) ([]byte, error) {
	o.sh.mu.Lock()
	defer o.sh.mu.Unlock()
	if b, ok := o.sh.cache[file]; ok {
		return b, nil
	}
	return nil, fs.ErrNotExist
}

func (o *proxyOps) WriteCache(file string, data []byte) {
	o.sh.mu.Lock()
	defer o.sh.mu.Unlock()
	o.sh.cache[file] = bytes.Clone(data)
}

func (o *proxyOps) Log(string) {}

func (o *proxyOps) SecurityError(msg string) {
	// The go command's report begins "SECURITY ERROR": keep the line
	// that says what happened.
	first := ""
	for l := range strings.SplitSeq(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "SECURITY ERROR" {
			first = l
			break
		}
	}
	o.sh.mu.Lock()
	defer o.sh.mu.Unlock()
	o.sh.security = append(o.sh.security, first)
}
