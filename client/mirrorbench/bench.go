package mirrorbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/layout"
)

// DefaultModules are the module versions benchmarked when none are given:
// small, widely used modules that any public mirror holds.
var DefaultModules = []module.Version{
	{Path: "golang.org/x/mod", Version: "v0.20.0"},
	{Path: "golang.org/x/text", Version: "v0.16.0"},
	{Path: "github.com/google/uuid", Version: "v1.6.0"},
}

// DefaultSamples is how many times each request is made by default.
const DefaultSamples = 5

// DefaultTimeout is the default time limit for one request.
const DefaultTimeout = 30 * time.Second

// LatencyTolerance is how close (as a fraction of the larger) two mirrors'
// info+mod medians must be to count as equal for the recommendation.
const LatencyTolerance = 0.05

// The largest bodies a benchmark reads, by kind. A body over its limit is
// a failed request ("too large"), never a success. List, .info and .mod are
// read into memory up to their limit; a zip is read as a stream and
// discarded while it is counted, keeping only its first entry's header and
// its last bytes (for the plausibility check), so that memory stays bounded
// whatever a mirror sends.
const (
	MaxList int64 = 1 << 20
	MaxInfo int64 = 64 << 10
	MaxMod  int64 = 1 << 20
	MaxZip  int64 = modzip.MaxZipFile
)

// Limits are the body limits of a run; a zero field is the constant's
// default (MaxList, MaxInfo, MaxMod, MaxZip).
type Limits struct {
	List, Info, Mod, Zip int64
}

// of is the limit for kind.
func (l Limits) of(kind layout.Kind) int64 {
	pick := func(v, def int64) int64 {
		if v > 0 {
			return v
		}
		return def
	}
	switch kind {
	case layout.List:
		return pick(l.List, MaxList)
	case layout.Info:
		return pick(l.Info, MaxInfo)
	case layout.Mod:
		return pick(l.Mod, MaxMod)
	}
	return pick(l.Zip, MaxZip)
}

// Kinds are the requests made for each module version, in order.
var Kinds = []layout.Kind{layout.List, layout.Info, layout.Mod, layout.Zip}

// ParseModules parses "path@version" arguments (canonical semantic versions).
func ParseModules(args []string) ([]module.Version, error) {
	var out []module.Version
	for _, a := range args {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		p, v, ok := strings.Cut(a, "@")
		if !ok || p == "" || v == "" {
			return nil, fmt.Errorf("module %q: want path@version", a)
		}
		if err := module.Check(p, v); err != nil {
			return nil, fmt.Errorf("module %q: %v", a, err)
		}
		if module.CanonicalVersion(v) != v {
			return nil, fmt.Errorf("module %q: version %s is not canonical (want %s)", a, v, module.CanonicalVersion(v))
		}
		out = append(out, module.Version{Path: p, Version: v})
	}
	if len(out) == 0 {
		return nil, errors.New("no modules given")
	}
	return out, nil
}

// CatalogueMaxFailures is the MaxFailures of a run over the catalogue
// (bench with no URL, setup --fastest): a mirror that fails this many
// requests in a row is given up on, so that a dead mirror costs at most
// that many timeouts.
const CatalogueMaxFailures = 2

// NormalizeURL checks that s is a mirror URL bench can measure: one that
// setup.NormalizeURL accepts (the client tools' one URL check), with the
// scheme http or https. It returns it without a trailing slash.
func NormalizeURL(s string) (string, error) {
	u, err := setup.NormalizeURL(s)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return "", i18n.Errorf("mirror URL %q: want http://host or https://host", redact.URL(s))
	}
	return u, nil
}

// Config is what Run benchmarks.
type Config struct {
	Mirrors []string // mirror base URLs
	// IDs, Names and Titles, if set, are the mirrors' catalogue ids,
	// English names and names in the user's language (same order as
	// Mirrors): the first two for the report (JSON, the same in every
	// locale), Titles for its table (Names when unset).
	IDs     []string
	Names   []string
	Titles  []string
	Modules []module.Version // DefaultModules if empty
	Samples int              // DefaultSamples if zero
	Timeout time.Duration    // per request; DefaultTimeout if zero
	// Progress, if set, is called after each sample (1-based) is done.
	Progress func(sample, samples int)
	// MaxFailures, if positive, gives up on a mirror once that many of its
	// requests in a row have failed: its remaining requests are not made
	// and count as failed ("skipped"), so that a dead mirror whose
	// requests time out costs at most MaxFailures timeouts.
	MaxFailures int
	// Limits bound the bodies read; zero is the defaults.
	Limits Limits
}

// Report is the outcome of Run.
type Report struct {
	Samples int `json:"samples"`
	// MaxFailures is Config.MaxFailures: after that many failures in a
	// row a mirror's remaining requests were skipped (0: never).
	MaxFailures int      `json:"max_failures,omitempty"`
	Modules     []string `json:"modules"` // path@version
	Mirrors     []Mirror `json:"mirrors"` // in the order given
	Best        string   `json:"best"`    // URL of the recommended mirror; "" if none
	Reason      string   `json:"reason"`  // why Best, or why none (English)
	// ReasonText is Reason, to print in the user's language.
	ReasonText i18n.Text `json:"-"`
}

// Mirror is one mirror's results.
type Mirror struct {
	URL  string `json:"url"`
	ID   string `json:"id,omitempty"`   // catalogue id
	Name string `json:"name,omitempty"` // English name
	// Title is the name in the user's language, for the table.
	Title      string  `json:"-"`
	Requests   int     `json:"requests"`
	OK         int     `json:"ok"`
	SuccessPct float64 `json:"success_pct"`
	List       Stats   `json:"list"`
	Info       Stats   `json:"info"`
	Mod        Stats   `json:"mod"`
	Zip        Stats   `json:"zip"`
	ZipBytes   int64   `json:"zip_bytes"`
	// ZipMBps is the throughput of the successful zip downloads in MB/s
	// (10^6 bytes); 0 if none succeeded.
	ZipMBps float64 `json:"zip_mb_per_s"`
	// Skipped are the requests not made (counted as failed) because the
	// mirror had failed MaxFailures in a row.
	Skipped int `json:"skipped,omitempty"`
	// Errors are the distinct failures of the requests made, most
	// frequent first.
	Errors []Failure `json:"errors,omitempty"`

	zipTime time.Duration
	times   map[layout.Kind][]time.Duration
}

// Stats are the results of one kind of request. The latencies, in
// milliseconds, are over the successful requests; 0 if none succeeded.
type Stats struct {
	Requests int     `json:"requests"`
	OK       int     `json:"ok"`
	P50Ms    float64 `json:"p50_ms,omitempty"`
	P95Ms    float64 `json:"p95_ms,omitempty"`
}

// Failure is one kind of failure and how often it happened.
type Failure struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}

// errSkipped is the failure of a request not made (Mirror.Skipped).
var errSkipped = errors.New("skipped")

// Run benchmarks the mirrors. It returns an error only for a bad Config or
// when ctx is done; failing requests are part of the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if len(cfg.Mirrors) == 0 {
		return nil, errors.New("no mirrors given")
	}
	mods := cfg.Modules
	if len(mods) == 0 {
		mods = DefaultModules
	}
	samples := cfg.Samples
	if samples == 0 {
		samples = DefaultSamples
	}
	if samples < 0 {
		return nil, fmt.Errorf("samples %d: want at least 1", samples)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rep := &Report{Samples: samples, MaxFailures: cfg.MaxFailures}
	for _, m := range mods {
		rep.Modules = append(rep.Modules, m.String())
	}
	type target struct {
		base   string
		client *http.Client
		res    *Mirror
		errs   map[string]int
		failed int // requests failed in a row
	}
	targets := make([]*target, len(cfg.Mirrors))
	rep.Mirrors = make([]Mirror, len(cfg.Mirrors))
	for i, u := range cfg.Mirrors {
		base, err := NormalizeURL(u)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(rep.Mirrors[:i], func(m Mirror) bool { return strings.EqualFold(m.URL, base) }) {
			return nil, i18n.Errorf("mirror %s given twice", redact.URL(base))
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		rep.Mirrors[i] = Mirror{URL: base, times: map[layout.Kind][]time.Duration{}}
		if i < len(cfg.IDs) {
			rep.Mirrors[i].ID = cfg.IDs[i]
		}
		if i < len(cfg.Names) {
			rep.Mirrors[i].Name = cfg.Names[i]
		}
		rep.Mirrors[i].Title = rep.Mirrors[i].Name
		if i < len(cfg.Titles) {
			rep.Mirrors[i].Title = cfg.Titles[i]
		}
		targets[i] = &target{base: base, client: &http.Client{Transport: tr}, res: &rep.Mirrors[i], errs: map[string]int{}}
	}

	turn := 0
	for s := 0; s < samples; s++ {
		for _, m := range mods {
			for _, kind := range Kinds {
				// One request to every mirror, the first one rotating.
				for j := range targets {
					t := targets[(turn+j)%len(targets)]
					if cfg.MaxFailures > 0 && t.failed >= cfg.MaxFailures {
						t.res.record(kind, 0, 0, errSkipped)
						t.res.Skipped++
						continue
					}
					n, d, err := fetch(ctx, t.client, t.base, m, kind, timeout, cfg.Limits)
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					t.res.record(kind, n, d, err)
					if err != nil {
						t.errs[err.Error()]++
						t.failed++
					} else {
						t.failed = 0
					}
				}
				turn++
			}
		}
		if cfg.Progress != nil {
			cfg.Progress(s+1, samples)
		}
	}
	for _, t := range targets {
		t.res.finish(t.errs)
	}
	rep.Best, rep.ReasonText = recommend(rep.Mirrors)
	rep.Reason = rep.ReasonText.String()
	return rep, nil
}

func (m *Mirror) stats(kind layout.Kind) *Stats {
	switch kind {
	case layout.List:
		return &m.List
	case layout.Info:
		return &m.Info
	case layout.Mod:
		return &m.Mod
	}
	return &m.Zip
}

func (m *Mirror) record(kind layout.Kind, n int64, d time.Duration, err error) {
	st := m.stats(kind)
	st.Requests++
	m.Requests++
	if err != nil {
		return
	}
	st.OK++
	m.OK++
	m.times[kind] = append(m.times[kind], d)
	if kind == layout.Zip {
		m.ZipBytes += n
		m.zipTime += d
	}
}

func (m *Mirror) finish(errs map[string]int) {
	if m.Requests > 0 {
		m.SuccessPct = 100 * float64(m.OK) / float64(m.Requests)
	}
	for _, kind := range Kinds {
		ds := m.times[kind]
		slices.Sort(ds)
		st := m.stats(kind)
		st.P50Ms = ms(percentile(ds, 50))
		st.P95Ms = ms(percentile(ds, 95))
	}
	if m.zipTime > 0 {
		m.ZipMBps = float64(m.ZipBytes) / 1e6 / m.zipTime.Seconds()
	}
	for e, n := range errs {
		m.Errors = append(m.Errors, Failure{e, n})
	}
	sort.Slice(m.Errors, func(i, j int) bool {
		a, b := m.Errors[i], m.Errors[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Error < b.Error
	})
}

// percentile is the nearest-rank p-th percentile of sorted ds; 0 if empty.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(math.Ceil(float64(p)/100*float64(len(ds)))) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fetch makes one request and checks its answer; it returns the body size
// and the time to the body's last byte. The body is bounded by lim.
func fetch(ctx context.Context, c *http.Client, base string, m module.Version, kind layout.Kind, timeout time.Duration, lim Limits) (int64, time.Duration, error) {
	if !kind.PerVersion() {
		m.Version = "" // the module's own file, List
	}
	rel, err := layout.URLPath(m, kind)
	if err != nil {
		return 0, 0, err
	}
	u := base + "/" + rel
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, shortErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return 0, 0, fmt.Errorf("%s: %s", kind, resp.Status)
	}
	limit := lim.of(kind)
	if kind == layout.Zip {
		n, err := checkZip(resp.Body, m, limit)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %v", kind, shortErr(err))
		}
		return n, time.Since(start), nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	d := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: reading body: %v", kind, shortErr(err))
	}
	if int64(len(body)) > limit {
		return 0, 0, fmt.Errorf("%s: body too large (over %d bytes)", kind, limit)
	}
	if err := plausible(m, kind, body); err != nil {
		return 0, 0, fmt.Errorf("%s: %v", kind, err)
	}
	return int64(len(body)), d, nil
}

// zipTail is how much of a zip's end checkZip keeps: the end of central
// directory record (22 bytes) and the longest comment it may have.
const zipTail = 22 + 65535

// checkZip reads a zip from r as a stream, up to limit bytes, and checks
// that it is plausibly m's module zip: its first entry is a file under
// m's path@version/ and it ends with an end of central directory record.
// It holds at most zipTail bytes and returns the zip's size.
func checkZip(r io.Reader, m module.Version, limit int64) (int64, error) {
	lr := &io.LimitedReader{R: r, N: limit + 1}
	var head [30]byte
	if _, err := io.ReadFull(lr, head[:]); err != nil {
		return 0, fmt.Errorf("not a zip file: %v", err)
	}
	if string(head[:4]) != "PK\x03\x04" {
		return 0, errors.New("not a zip file: no local file header")
	}
	name := make([]byte, binary.LittleEndian.Uint16(head[26:]))
	if _, err := io.ReadFull(lr, name); err != nil {
		return 0, fmt.Errorf("not a zip file: %v", err)
	}
	if prefix := m.String() + "/"; !strings.HasPrefix(string(name), prefix) {
		return 0, fmt.Errorf("zip file %q is not under %s", name, prefix)
	}
	tail := &tailBuffer{max: zipTail}
	n, err := io.Copy(tail, lr)
	if err != nil {
		return 0, fmt.Errorf("reading body: %w", err)
	}
	size := int64(len(head)+len(name)) + n
	if size > limit {
		return 0, fmt.Errorf("body too large (over %d bytes)", limit)
	}
	if !bytes.Contains(tail.buf, []byte("PK\x05\x06")) {
		return 0, errors.New("not a zip file: no end of central directory (truncated?)")
	}
	return size, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// shortErr drops the URL from a client error: it is the same for every
// failure of a kind, so failures group by their cause.
func shortErr(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		if errors.Is(ue.Err, context.DeadlineExceeded) {
			return errors.New("timeout")
		}
		return ue.Err
	}
	return err
}

// plausible checks that body is what a module proxy answers for kind.
func plausible(m module.Version, kind layout.Kind, body []byte) error {
	switch kind {
	case layout.List:
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 0 && !semver.IsValid(f[0]) {
				return fmt.Errorf("list line %q is not a version", sc.Text())
			}
		}
		if sc.Err() != nil {
			return fmt.Errorf("list: %v", sc.Err())
		}
	case layout.Info:
		var info struct{ Version string }
		if err := json.Unmarshal(body, &info); err != nil {
			return fmt.Errorf("info is not JSON: %v", err)
		}
		if info.Version != m.Version {
			return fmt.Errorf("info names version %q", info.Version)
		}
	case layout.Mod:
		if p := modfile.ModulePath(body); p != m.Path {
			return fmt.Errorf("go.mod names module %q", p)
		}
	}
	return nil
}

// rank orders the mirrors that succeeded at anything, best first: the best
// of them by compare, then the best of the rest, and so on. It is the one
// ordering: the recommendation (Best) is its first, Ranking and Fallback
// are it.
func rank(ms []Mirror) []*Mirror {
	var rest []*Mirror
	for i := range ms {
		if ms[i].OK > 0 {
			rest = append(rest, &ms[i])
		}
	}
	var out []*Mirror
	for len(rest) > 0 {
		b := rest[0]
		for _, m := range rest[1:] {
			if _, better := compare(m, b); better {
				b = m
			}
		}
		out = append(out, b)
		rest = slices.DeleteFunc(rest, func(m *Mirror) bool { return m == b })
	}
	return out
}

// recommend picks the best mirror (rank's first) and says why.
func recommend(ms []Mirror) (best string, reason i18n.Text) {
	r := rank(ms)
	switch {
	case len(r) == 0:
		return "", i18n.T("no mirror answered any request successfully")
	case len(ms) == 1:
		return r[0].URL, i18n.T("the only mirror")
	case len(r) == 1:
		return r[0].URL, i18n.T("the only mirror that answered successfully (%s of requests)", pct(r[0].SuccessPct))
	}
	why, _ := compare(r[0], r[1])
	return r[0].URL, why
}

// Ranking returns the URLs of the mirrors that succeeded at anything, best
// first by the recommendation's order (its first is Best).
func (r *Report) Ranking() []string {
	var out []string
	for _, m := range rank(r.Mirrors) {
		out = append(out, m.URL)
	}
	return out
}

// Fallback returns the URLs of the mirrors that succeeded at every request
// of the run, in the ranking's order: the mirrors fit to stand in a
// GOPROXY list. A mirror that failed anything is left out, however it
// ranks: the go command falls through a comma list only on 404 and 410, so
// a mirror answering 500 in second place stops the build. The success
// threshold is therefore 100% of the (small) sample.
func (r *Report) Fallback() []string {
	var out []string
	for _, m := range rank(r.Mirrors) {
		if m.OK == m.Requests {
			out = append(out, m.URL)
		}
	}
	return out
}

// compare says whether a is better than b, and which criterion decides.
func compare(a, b *Mirror) (why i18n.Text, better bool) {
	ra, rb := float64(a.OK)/float64(a.Requests), float64(b.OK)/float64(b.Requests)
	if ra != rb {
		return i18n.T("highest success rate: %s of requests, against %s for %s", pct(a.SuccessPct), pct(b.SuccessPct), b.URL), ra > rb
	}
	la, lb := infoMod(a), infoMod(b)
	if math.Abs(la-lb) > LatencyTolerance*max(la, lb) {
		return i18n.T("same success rate (%s) and lowest info+mod median latency: %s, against %s for %s", pct(a.SuccessPct), fmt.Sprintf("%.1fms", la), fmt.Sprintf("%.1fms", lb), b.URL), la < lb
	}
	return i18n.T("same success rate (%s), info+mod median latency within %s (%s, %s for %s), and highest zip throughput: %s MB/s, against %s MB/s",
		pct(a.SuccessPct), fmt.Sprintf("%.0f%%", 100*LatencyTolerance), fmt.Sprintf("%.1fms", la), fmt.Sprintf("%.1fms", lb), b.URL, fmt.Sprintf("%.2f", a.ZipMBps), fmt.Sprintf("%.2f", b.ZipMBps)), a.ZipMBps > b.ZipMBps
}

// infoMod is the sum of the .info and .mod medians, in ms; +Inf if either
// was never measured.
func infoMod(m *Mirror) float64 {
	if m.Info.OK == 0 || m.Mod.OK == 0 {
		return math.Inf(1)
	}
	return m.Info.P50Ms + m.Mod.P50Ms
}

func pct(p float64) string {
	s := fmt.Sprintf("%.1f", p)
	return strings.TrimSuffix(s, ".0") + "%"
}

// WriteTable writes the report as a table in p's language (English if p is
// nil), with the recommendation and the failures under it. The table has a
// NAME column when a mirror has a name. Failures are the client's own
// English error texts.
func (r *Report) WriteTable(w io.Writer, p *i18n.Printer) error {
	if p == nil {
		p = i18n.English()
	}
	r = r.Redacted()
	named := slices.ContainsFunc(r.Mirrors, func(m Mirror) bool { return m.Name != "" || m.Title != "" })
	var head []string
	if named {
		head = append(head, p.Sprintf("NAME"))
	}
	head = append(head, p.Sprintf("MIRROR"), p.Sprintf("SUCCESS"), p.Sprintf("LIST p50/p95"), p.Sprintf("INFO p50/p95"), p.Sprintf("MOD p50/p95"), p.Sprintf("ZIP MB/s"))
	rows := [][]string{head}
	for _, m := range r.Mirrors {
		zip := "-"
		if m.Zip.OK > 0 {
			zip = fmt.Sprintf("%.2f", m.ZipMBps)
		}
		var row []string
		if named {
			title := m.Title
			if title == "" {
				title = m.Name // a report read from JSON
			}
			row = append(row, title)
		}
		rows = append(rows, append(row, m.URL, pct(m.SuccessPct), lat(m.List), lat(m.Info), lat(m.Mod), zip))
	}
	if err := i18n.WriteTable(w, rows); err != nil {
		return err
	}
	p.Fprintf(w, "\nsamples: %s, module versions: %s (%s)\n", fmt.Sprint(r.Samples), fmt.Sprint(len(r.Modules)), strings.Join(r.Modules, ", "))
	if r.Best != "" {
		p.Fprintf(w, "Recommended: %s (%s)\n", r.Best, r.reason())
	} else {
		p.Fprintf(w, "No recommendation: %s\n", r.reason())
	}
	for _, m := range r.Mirrors {
		if m.Skipped > 0 {
			p.Fprintf(w, "%s: %s requests skipped after %s failures in a row\n", m.URL, fmt.Sprint(m.Skipped), fmt.Sprint(r.MaxFailures))
		}
		for i, f := range m.Errors {
			if i == 3 {
				p.Fprintf(w, "%s: ... and %s more kinds of failure\n", m.URL, fmt.Sprint(len(m.Errors)-3))
				break
			}
			p.Fprintf(w, "%s: %s× %s\n", m.URL, fmt.Sprint(f.Count), f.Error)
		}
	}
	return nil
}

// Redacted returns a copy of r for people and logs (the table, --json):
// mirror URLs and failure texts without the userinfo of their URLs (a
// user name is often a token). r, whose URLs the caller may use (setup
// --fastest writes them to GOPROXY), is unchanged.
func (r *Report) Redacted() *Report {
	out := *r
	out.Best = redact.URL(r.Best)
	out.Mirrors = slices.Clone(r.Mirrors)
	for i := range out.Mirrors {
		m := &out.Mirrors[i]
		m.URL = redact.URL(m.URL)
		m.Errors = slices.Clone(m.Errors)
		for j := range m.Errors {
			m.Errors[j].Error = redact.Text(m.Errors[j].Error)
		}
	}
	return &out
}

// reason is ReasonText, or Reason for a report read from JSON.
func (r *Report) reason() any {
	if r.ReasonText.IsZero() {
		return r.Reason
	}
	return r.ReasonText
}

func lat(s Stats) string {
	if s.OK == 0 {
		return "-"
	}
	return fmt.Sprintf("%s/%s", fmtMs(s.P50Ms), fmtMs(s.P95Ms))
}

func fmtMs(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}
