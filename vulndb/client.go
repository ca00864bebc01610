package vulndb

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/sync/errgroup"

	"github.com/gomirror/gomirror/internal/redact"
)

// Limits of what a Client reads from a database: it may be hostile.
const (
	maxIndexBytes = 16 << 20 // an index file, uncompressed (1 MiB in 2026)
	maxIndexItems = 1 << 20  // modules or vulns of an index
)

// Client reads a vulnerability database over its HTTP API (a gomirror's
// /vuln/, or any database serving the documented API), as govulncheck
// does: the .json.gz files. Every answer is read under a size limit.
type Client struct {
	// URL is the database's base URL, e.g. "https://mirror.example/vuln".
	URL string
	// HTTP makes the requests (default: a client with a 1-minute timeout
	// per request).
	HTTP *http.Client
	// Header, if set, is added to every request (e.g. Authorization for a
	// mirror with auth all).
	Header http.Header
}

var defaultHTTP = &http.Client{Timeout: time.Minute}

// get returns the uncompressed content of endpoint (e.g. "index/db") at
// most max bytes; an error satisfying errors.Is(err, fs.ErrNotExist) for
// a 404.
func (c *Client) get(ctx context.Context, endpoint string, max int64) ([]byte, error) {
	body, err := c.open(ctx, endpoint, max)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// open returns the uncompressed content of endpoint as a reader that fails
// past max bytes; an error satisfying errors.Is(err, fs.ErrNotExist) for a
// 404.
func (c *Client) open(ctx context.Context, endpoint string, max int64) (io.ReadCloser, error) {
	u := strings.TrimRight(c.URL, "/") + "/" + endpoint + ".json.gz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, redact.Err(err)
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, redact.Err(err) // the URL's userinfo is often a token
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", endpoint, fs.ErrNotExist)
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", endpoint, resp.Status)
	}
	zr, err := gzip.NewReader(io.LimitReader(resp.Body, max+1))
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", endpoint, err)
	}
	return &limitedBody{r: zr, left: max, name: endpoint, close: resp.Body.Close}, nil
}

// limitedBody reads r, failing once more than left bytes came.
type limitedBody struct {
	r     io.Reader
	left  int64
	name  string
	close func() error
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%s: over the size limit", l.name)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, fmt.Errorf("%s: over the size limit", l.name)
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", l.name, err)
	}
	return n, err
}

func (l *limitedBody) Close() error { return l.close() }

// Modified returns the database's index/db.json time.
func (c *Client) Modified(ctx context.Context) (time.Time, error) {
	b, err := c.get(ctx, "index/db", 64<<10)
	if err != nil {
		return time.Time{}, err
	}
	var m dbMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return time.Time{}, fmt.Errorf("index/db: %w", err)
	}
	return m.Modified, nil
}

// IDs returns the IDs of index/vulns.json, each checked with ValidID.
func (c *Client) IDs(ctx context.Context) ([]string, error) {
	body, err := c.open(ctx, "index/vulns", maxIndexBytes)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return parseIDs(body)
}

// parseIDs returns the IDs of index/vulns.json, read from r an element
// at a time, keeping only the IDs (not the aliases).
func parseIDs(r io.Reader) ([]string, error) {
	var ids []string
	err := eachElement(r, "index/vulns", func(dec *json.Decoder) error {
		var v struct {
			ID string `json:"id"`
		}
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if !ValidID(v.ID) {
			return fmt.Errorf("invalid id %q", v.ID)
		}
		ids = append(ids, v.ID)
		return nil
	})
	return ids, err
}

// eachElement calls f for each element of the JSON array r (named name in
// errors), at most maxIndexItems of them; f decodes it from dec.
func eachElement(r io.Reader, name string, f func(dec *json.Decoder) error) error {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return fmt.Errorf("%s: not a JSON array (%v)", name, err)
	}
	for n := 0; dec.More(); n++ {
		if n >= maxIndexItems {
			return fmt.Errorf("%s: over %d items", name, maxIndexItems)
		}
		if err := f(dec); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// EntryBytes returns the OSV file of id as the database serves it
// (uncompressed), checked to parse as an entry of that ID.
func (c *Client) EntryBytes(ctx context.Context, id string) ([]byte, *Entry, error) {
	if !ValidID(id) {
		return nil, nil, fmt.Errorf("invalid id %q", id)
	}
	b, err := c.get(ctx, "ID/"+id, maxEntryBytes)
	if err != nil {
		return nil, nil, err
	}
	e, err := Parse(b)
	if err != nil {
		return nil, nil, err
	}
	if e.ID != id {
		return nil, nil, fmt.Errorf("ID/%s holds entry %s", id, e.ID)
	}
	return b, e, nil
}

// Vulns returns the advisories of the database affecting each of mods
// (module versions; see DB.Vulns), in the order of mods: the modules
// index, then the entries it names for a module whose version is below
// the entry's fix, judged by Entry.Affects, as govulncheck does. A
// withdrawn entry is left out.
func (c *Client) Vulns(ctx context.Context, mods []module.Version) ([][]Advisory, error) {
	body, err := c.open(ctx, "index/modules", maxIndexBytes)
	if err != nil {
		return nil, err
	}
	// Streamed: only the modules asked for are kept.
	byPath := make(map[string][]moduleVuln, len(mods))
	for _, m := range mods {
		byPath[m.Path] = nil
	}
	err = eachElement(body, "index/modules", func(dec *json.Decoder) error {
		var m struct {
			Path  string          `json:"path"`
			Vulns json.RawMessage `json:"vulns"`
		}
		if err := dec.Decode(&m); err != nil {
			return err
		}
		if _, ok := byPath[m.Path]; !ok || len(m.Vulns) == 0 {
			return nil
		}
		var vs []moduleVuln
		if err := json.Unmarshal(m.Vulns, &vs); err != nil {
			return err
		}
		byPath[m.Path] = append(byPath[m.Path], vs...)
		return nil
	})
	body.Close()
	if err != nil {
		return nil, err
	}
	want := map[string]*Entry{}
	for _, m := range mods {
		v := canonicalVersion(m.Version)
		for _, mv := range byPath[m.Path] {
			if v != "" && (mv.Fixed == "" || semver.Compare(v, canonical(mv.Fixed)) < 0) && ValidID(mv.ID) {
				want[mv.ID] = nil
			}
		}
	}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	entries := make([]*Entry, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, id := range ids {
		g.Go(func() error {
			_, e, err := c.EntryBytes(gctx, id)
			entries[i] = e
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, id := range ids {
		want[id] = entries[i]
	}
	out := make([][]Advisory, len(mods))
	for i, m := range mods {
		for _, mv := range byPath[m.Path] {
			e := want[mv.ID]
			if e == nil || !e.Affects(m.Path, m.Version) {
				continue
			}
			if len(out[i]) > 0 && out[i][len(out[i])-1].ID == e.ID {
				continue
			}
			out[i] = append(out[i], Advisory{ID: e.ID, Aliases: e.Aliases, Summary: e.Summary, Fixed: e.Fix(m.Path, m.Version)})
		}
		sortAdvisories(out[i])
	}
	return out, nil
}
