package policycheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/internal/httpstatus"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modinfo"
	"github.com/gomirror/gomirror/policy"
	fsstore "github.com/gomirror/gomirror/storage/fs"
)

// Local decides with a policy file, here (`policy check --policy FILE`).
type Local struct {
	Policy  *policy.Policy
	Token   string       // the token name whose rule set applies; "" for the top-level rules
	Facts   policy.Facts // ProxyFacts, usually
	Jobs    int          // decisions at a time; 4 if 0
	Explain bool         // record the checks (api.PolicyDecision.Checks)
}

var _ Decider = (*Local)(nil)

// Decide implements Decider. A decision that fails (a fact that could not
// be fetched) has Error set.
func (l *Local) Decide(ctx context.Context, qs []Query) ([]Decision, error) {
	jobs := l.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	if p, ok := l.Facts.(*ProxyFacts); ok {
		for _, q := range qs {
			if q.ZipSum != "" {
				p.expectZipSum(q.Module, q.ZipSum)
			}
		}
	}
	if p, ok := l.Facts.(*ProxyFacts); ok && l.Policy.Needs().Vulns {
		if bv, ok := p.VulnDB.(*BatchVulns); ok {
			mods := make([]module.Version, len(qs))
			for i, q := range qs {
				mods[i] = q.Module
			}
			// A failure is each decision's: BatchVulns.Vulns tries again.
			bv.Prefetch(ctx, mods)
		}
	}
	out := make([]Decision, len(qs))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, q := range qs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			k := policy.KindCheck
			if q.Kind == GoModOnly {
				k = policy.KindMod
			}
			out[i] = api.Decide(ctx, l.Policy, policy.Subject{Token: l.Token}, q.Module, k, l.Facts, l.Explain)
		})
	}
	wg.Wait()
	return out, ctx.Err()
}

// VulnLookup finds the advisories affecting a module version.
type VulnLookup interface {
	Vulns(ctx context.Context, m module.Version) ([]policy.Advisory, error)
}

// Bounds of what ProxyFacts reads from the proxy.
const (
	maxSmall = 4 << 20 // a .info, .mod or list
)

// ProxyFacts are the policy's facts fetched over the GOPROXY protocol from
// Proxy: a version's time from its .info; retractions from the go.mod of
// the module's latest version (the highest release in its list, else the
// highest pre-release, else @latest's), as the go command reads them;
// licenses from the zip, downloaded to a temporary directory (at most
// golang.org/x/mod/zip.MaxZipFile bytes), checked against the project's
// go.sum hash when it has one (Local passes them on), read by package
// modinfo as the server reads them, and removed; vulnerabilities from
// VulnDB. Close
// removes the temporary directory. Its methods are safe for concurrent use.
type ProxyFacts struct {
	Proxy  string       // base URL
	Client *http.Client // nil: http.DefaultClient
	Header http.Header  // added to every request (Authorization for a mirror that wants a token)
	VulnDB VulnLookup   // nil: every lookup fails with policy.ErrNoVulnDB

	mu      sync.Mutex
	dir     string
	store   *fsstore.Store
	latest  map[string]*latestMarks
	zipSums map[module.Version]string // from the project's go.sum
}

// expectZipSum makes Licenses refuse a zip of m whose h1: hash is not sum
// (the project's go.sum line).
func (p *ProxyFacts) expectZipSum(m module.Version, sum string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.zipSums == nil {
		p.zipSums = map[module.Version]string{}
	}
	p.zipSums[m] = sum
}

var _ policy.Facts = (*ProxyFacts)(nil)

// latestMarks are the retractions of a module, read once.
type latestMarks struct {
	once     sync.Once
	retracts []*modfile.Retract
	err      error
}

// Close removes the temporary directory.
func (p *ProxyFacts) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir == "" {
		return nil
	}
	err := os.RemoveAll(p.dir)
	p.dir, p.store = "", nil
	return err
}

// get fetches the file at the proxy path rel (escaped), at most max bytes.
// 404 and 410 are fs.ErrNotExist.
func (p *ProxyFacts) get(ctx context.Context, rel string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(p.Proxy, "/")+"/"+rel, nil)
	if err != nil {
		return nil, redact.Err(err)
	}
	for k, vs := range p.Header {
		req.Header[k] = vs
	}
	c := p.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, redact.Err(err) // the proxy URL's userinfo is often a token
	}
	if err := httpstatus.Check(resp); err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %w", rel, err) // 404 and 410 are fs.ErrNotExist
	}
	return resp, nil
}

func (p *ProxyFacts) getSmall(ctx context.Context, rel string) ([]byte, error) {
	resp, err := p.get(ctx, rel)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSmall+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", rel, err)
	}
	if len(b) > maxSmall {
		return nil, fmt.Errorf("%s: larger than %d bytes", rel, maxSmall)
	}
	return b, nil
}

func urlPath(m module.Version, k layout.Kind) (string, error) { return layout.URLPath(m, k) }

// Time implements policy.Facts: the time in m's .info.
func (p *ProxyFacts) Time(ctx context.Context, m module.Version) (time.Time, error) {
	rel, err := urlPath(m, layout.Info)
	if err != nil {
		return time.Time{}, err
	}
	b, err := p.getSmall(ctx, rel)
	if err != nil {
		return time.Time{}, err
	}
	var info struct {
		Version string
		Time    time.Time
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return time.Time{}, fmt.Errorf("%s: %v", rel, err)
	}
	if info.Version != m.Version || info.Time.IsZero() {
		return time.Time{}, fmt.Errorf("%s: answer for version %q, time %v", rel, info.Version, info.Time)
	}
	return info.Time, nil
}

// Retracted implements policy.Facts.
func (p *ProxyFacts) Retracted(ctx context.Context, m module.Version) (string, bool, error) {
	p.mu.Lock()
	if p.latest == nil {
		p.latest = map[string]*latestMarks{}
	}
	lm := p.latest[m.Path]
	if lm == nil {
		lm = &latestMarks{}
		p.latest[m.Path] = lm
	}
	p.mu.Unlock()
	lm.once.Do(func() { lm.retracts, lm.err = p.retractions(ctx, m.Path) })
	if lm.err != nil {
		return "", false, lm.err
	}
	for _, r := range lm.retracts {
		if semver.Compare(r.Low, m.Version) <= 0 && semver.Compare(m.Version, r.High) <= 0 {
			return r.Rationale, true, nil
		}
	}
	return "", false, nil
}

// retractions reads the retract directives of the latest go.mod of path.
func (p *ProxyFacts) retractions(ctx context.Context, path string) ([]*modfile.Retract, error) {
	esc, err := module.EscapePath(path)
	if err != nil {
		return nil, err
	}
	b, err := p.getSmall(ctx, esc+"/@v/list")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	latest := latestVersion(strings.Fields(string(b)))
	if latest == "" {
		b, err := p.getSmall(ctx, esc+"/@latest")
		if err != nil {
			return nil, err
		}
		var info struct{ Version string }
		if err := json.Unmarshal(b, &info); err != nil || !semver.IsValid(info.Version) {
			return nil, fmt.Errorf("%s/@latest: no valid version", esc)
		}
		latest = info.Version
	}
	lv := module.Version{Path: path, Version: latest}
	rel, err := urlPath(lv, layout.Mod)
	if err != nil {
		return nil, err
	}
	data, err := p.getSmall(ctx, rel)
	if err != nil {
		return nil, err
	}
	f, err := modfile.ParseLax(rel, data, nil)
	if err != nil {
		return nil, err
	}
	return f.Retract, nil
}

// latestVersion is the version whose go.mod says what is retracted, as the
// go command picks it from a list: the highest release, else the highest
// pre-release; "" for none.
func latestVersion(list []string) string {
	var rel, pre string
	for _, v := range list {
		if !semver.IsValid(v) || module.IsPseudoVersion(v) {
			continue
		}
		if semver.Prerelease(v) == "" {
			if rel == "" || semver.Compare(v, rel) > 0 {
				rel = v
			}
		} else if pre == "" || semver.Compare(v, pre) > 0 {
			pre = v
		}
	}
	if rel != "" {
		return rel
	}
	return pre
}

// tempStore returns the temporary store for zips, made at first use.
func (p *ProxyFacts) tempStore() (*fsstore.Store, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.store != nil {
		return p.store, nil
	}
	dir, err := os.MkdirTemp("", "gomirror-policy-*")
	if err != nil {
		return nil, err
	}
	st, err := fsstore.New(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.dir, p.store = dir, st
	return st, nil
}

// Licenses implements policy.Facts: the SPDX identifiers package modinfo
// finds in the license files at the root of m's zip.
func (p *ProxyFacts) Licenses(ctx context.Context, m module.Version) ([]string, error) {
	st, err := p.tempStore()
	if err != nil {
		return nil, err
	}
	rel, err := urlPath(m, layout.Zip)
	if err != nil {
		return nil, err
	}
	key, err := layout.Key(m, layout.Zip)
	if err != nil {
		return nil, err
	}
	tmp, err := p.download(ctx, rel)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	p.mu.Lock()
	want := p.zipSums[m]
	p.mu.Unlock()
	if want != "" {
		got, err := dirhash.HashZip(tmp, dirhash.Hash1)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", rel, err)
		}
		if got != want {
			return nil, fmt.Errorf("%s: checksum mismatch: the proxy's zip is %s, go.sum has %s", rel, got, want)
		}
	}
	f, err := os.Open(tmp)
	if err != nil {
		return nil, err
	}
	err = st.Put(ctx, key, f)
	f.Close()
	defer st.Delete(context.WithoutCancel(ctx), key)
	if err != nil {
		return nil, err
	}
	d, err := modinfo.Get(ctx, st, m, modinfo.Limits{})
	if err != nil {
		return nil, err
	}
	if d.ZipError != "" {
		return nil, fmt.Errorf("%s: %s", rel, d.ZipError)
	}
	var ids []string
	for _, l := range d.Licenses {
		ids = append(ids, l.IDs...)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// download fetches the proxy path rel to a temporary file in p's
// directory, at most golang.org/x/mod/zip.MaxZipFile bytes, and returns
// its name.
func (p *ProxyFacts) download(ctx context.Context, rel string) (string, error) {
	p.mu.Lock()
	dir := p.dir
	p.mu.Unlock()
	resp, err := p.get(ctx, rel)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.ContentLength > modzip.MaxZipFile {
		return "", fmt.Errorf("%s: %d bytes, more than %d", rel, resp.ContentLength, modzip.MaxZipFile)
	}
	f, err := os.CreateTemp(dir, "zip-*")
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, modzip.MaxZipFile+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > modzip.MaxZipFile {
		err = fmt.Errorf("more than %d bytes", modzip.MaxZipFile)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("%s: %v", rel, err)
	}
	return f.Name(), nil
}

// Vulns implements policy.Facts with p.Vulns.
func (p *ProxyFacts) Vulns(ctx context.Context, m module.Version) ([]policy.Advisory, error) {
	if p.VulnDB == nil {
		return nil, policy.ErrNoVulnDB
	}
	return p.VulnDB.Vulns(ctx, m)
}
