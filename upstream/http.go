package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/layout"
)

// Limits on the answers read into memory. An answer over its limit is
// refused as soon as its Content-Length announces it, or once the limit is
// read past: no more than limit+1 bytes of it are ever buffered.
const (
	// MaxInfo bounds .info and @latest answers: the go command's, Origin
	// included, are a few hundred bytes.
	MaxInfo = 64 << 10
	// maxList bounds @v/list answers: about 100,000 versions.
	maxList = 4 << 20
	// maxGoMod bounds .mod answers: the go command refuses larger go.mod
	// files.
	maxGoMod = 16 << 20
	// maxSmall bounds what GetBytes reads, the checksum database's answers:
	// a lookup record with its signed tree head, or a tile of at most 256
	// hashes or records, a few KiB to a few hundred.
	maxSmall = 1 << 20
)

// NewTransport returns the HTTP transport gomirror uses for upstreams: it
// keeps connections alive and reuses them across requests and goroutines.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = 60 * time.Second
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}

// Proxy is a Fetcher for a module proxy speaking the GOPROXY protocol.
type Proxy struct {
	base   *url.URL
	name   string // base without its userinfo (redact.URL)
	client *http.Client
	// bulk carries zips on connections of their own, so that a large
	// download does not queue the small, latency-bound requests (.info,
	// .mod, checksum lookups) behind it on one HTTP/2 connection.
	bulk *http.Client
}

var _ Fetcher = (*Proxy)(nil)

// NewProxy returns a Fetcher for the proxy at rawURL (http, https or file).
// client may be nil for a client over NewTransport.
func NewProxy(rawURL string, client *http.Client) (*Proxy, error) {
	shown := redact.URL(rawURL)
	u, err := url.Parse(strings.TrimSuffix(rawURL, "/"))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold credentials
		}
		return nil, fmt.Errorf("upstream %q: %w", shown, err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("upstream %q: missing host", shown)
		}
	case "file":
	default:
		return nil, fmt.Errorf("upstream %q: scheme must be http, https or file", shown)
	}
	if client == nil {
		client = &http.Client{Transport: NewTransport()}
	}
	if u.Scheme == "file" {
		t := &http.Transport{}
		t.RegisterProtocol("file", http.NewFileTransport(http.Dir("/")))
		client = &http.Client{Transport: t}
	}
	bulk := client
	if t, ok := client.Transport.(*http.Transport); ok && u.Scheme != "file" {
		c := *client
		c.Transport = t.Clone()
		bulk = &c
	}
	return &Proxy{base: u, name: redact.URL(u.String()), client: client, bulk: bulk}, nil
}

func (p *Proxy) String() string { return p.name }

// URL returns the proxy's base URL, including any credentials it was given.
func (p *Proxy) URL() *url.URL { u := *p.base; return &u }

func (p *Proxy) List(ctx context.Context, path string) ([]byte, Answer, error) {
	b, err := p.getModule(ctx, path, layout.List, maxList)
	return p.answer(b, "list", path, "", err)
}

func (p *Proxy) Latest(ctx context.Context, path string) ([]byte, Answer, error) {
	b, err := p.getModule(ctx, path, layout.Latest, MaxInfo)
	return p.answer(b, "latest", path, "", err)
}

func (p *Proxy) Info(ctx context.Context, path, query string) ([]byte, Answer, error) {
	b, err := p.getVersion(ctx, path, query, layout.Info, MaxInfo)
	return p.answer(b, "info", path, query, err)
}

func (p *Proxy) GoMod(ctx context.Context, path, version string) ([]byte, Answer, error) {
	b, err := p.getVersion(ctx, path, version, layout.Mod, maxGoMod)
	return p.answer(b, "mod", path, version, err)
}

// answer returns b with p's Answer, or err wrapped (p.wrap).
func (p *Proxy) answer(b []byte, op, path, version string, err error) ([]byte, Answer, error) {
	if err != nil {
		return b, Answer{}, p.wrap(op, path, version, err)
	}
	return b, AnswerOf(p), nil
}

func (p *Proxy) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, Answer, error) {
	rel, err := layout.URLPath(module.Version{Path: path, Version: version}, layout.Zip)
	if err != nil {
		return nil, 0, Answer{}, p.wrap("zip", path, version, err)
	}
	resp, err := p.get(ctx, p.bulk, rel)
	if err != nil {
		return nil, 0, Answer{}, p.wrap("zip", path, version, err)
	}
	return resp.Body, resp.ContentLength, AnswerOf(p), nil
}

// Get requests base/rel and returns the response if its status is 200;
// otherwise it returns a *StatusError. The caller closes the body.
func (p *Proxy) Get(ctx context.Context, rel string) (*http.Response, error) {
	return p.get(ctx, p.client, rel)
}

func (p *Proxy) get(ctx context.Context, client *http.Client, rel string) (*http.Response, error) {
	u := p.base.JoinPath(rel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, redact.Err(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, &StatusError{Code: resp.StatusCode, Text: strings.TrimSpace(string(text)),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	return resp, nil
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// GetBytes is Get for small bodies, such as the checksum database's
// answers: a body over 1 MiB is refused, read no further than that.
func (p *Proxy) GetBytes(ctx context.Context, rel string) ([]byte, error) {
	return p.getBytes(ctx, rel, maxSmall)
}

// getBytes is Get for a body of at most limit bytes.
func (p *Proxy) getBytes(ctx context.Context, rel string, limit int64) ([]byte, error) {
	resp, err := p.Get(ctx, rel)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("response of %d bytes, more than the %d allowed", resp.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("response larger than the %d bytes allowed", limit)
	}
	if resp.ContentLength >= 0 && int64(len(b)) != resp.ContentLength {
		return nil, fmt.Errorf("truncated response: %d of %d bytes", len(b), resp.ContentLength)
	}
	return b, nil
}

func (p *Proxy) getModule(ctx context.Context, path string, k layout.Kind, limit int64) ([]byte, error) {
	return p.getVersion(ctx, path, "", k, limit)
}

func (p *Proxy) getVersion(ctx context.Context, path, version string, k layout.Kind, limit int64) ([]byte, error) {
	rel, err := layout.URLPath(module.Version{Path: path, Version: version}, k)
	if err != nil {
		return nil, err
	}
	return p.getBytes(ctx, rel, limit)
}

func (p *Proxy) wrap(op, path, version string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Upstream: p.name, Op: op, Module: path, Version: version, Err: err}
}

func statusText(code int) string { return http.StatusText(code) }
