package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/upstream"
)

// The module every chain test asks for; only the "good" upstream has it.
const (
	chainMod = "example.test/chain"
	chainVer = "v1.0.0"
)

// chainOps are the five questions a Fetcher answers, with the request path
// each one makes on a proxy.
var chainOps = []struct {
	name string
	path string
	call func(ctx context.Context, f upstream.Fetcher) ([]byte, upstream.Answer, error)
}{
	{"list", "/" + chainMod + "/@v/list", func(ctx context.Context, f upstream.Fetcher) ([]byte, upstream.Answer, error) {
		return f.List(ctx, chainMod)
	}},
	{"latest", "/" + chainMod + "/@latest", func(ctx context.Context, f upstream.Fetcher) ([]byte, upstream.Answer, error) {
		return f.Latest(ctx, chainMod)
	}},
	{"info", "/" + chainMod + "/@v/" + chainVer + ".info", func(ctx context.Context, f upstream.Fetcher) ([]byte, upstream.Answer, error) {
		return f.Info(ctx, chainMod, chainVer)
	}},
	{"mod", "/" + chainMod + "/@v/" + chainVer + ".mod", func(ctx context.Context, f upstream.Fetcher) ([]byte, upstream.Answer, error) {
		return f.GoMod(ctx, chainMod, chainVer)
	}},
	{"zip", "/" + chainMod + "/@v/" + chainVer + ".zip", func(ctx context.Context, f upstream.Fetcher) ([]byte, upstream.Answer, error) {
		body, _, a, err := f.Zip(ctx, chainMod, chainVer)
		if err != nil {
			return nil, a, err
		}
		defer body.Close()
		b, err := io.ReadAll(body)
		return b, a, err
	}},
}

// goodProxy starts a proxy that has chainMod@chainVer.
func goodProxy(t *testing.T) *fakeproxy.Server {
	t.Helper()
	s := fakeproxy.New(t)
	if _, err := s.Add(chainMod, chainVer, map[string][]byte{
		"go.mod":   []byte("module " + chainMod + "\n"),
		"chain.go": []byte("package chain\n"),
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// A fault is how an upstream fails.
type fault struct {
	name   string
	status int  // an HTTP status the upstream answers every request with
	closed bool // the upstream's server is closed: connection refused
	hang   bool // the upstream never answers: requests block until abandoned
}

var (
	fault404     = fault{name: "404", status: http.StatusNotFound}
	fault410     = fault{name: "410", status: http.StatusGone}
	fault500     = fault{name: "500", status: http.StatusInternalServerError}
	fault403     = fault{name: "403", status: http.StatusForbidden}
	faultRefused = fault{name: "connection refused", closed: true}
	faultTimeout = fault{name: "timeout", hang: true}
)

// faultyProxy starts a proxy that fails every request as f says. Its status
// answers carry the message "<name>: <marker>" so that tests can tell which
// upstream an error came from.
func faultyProxy(t *testing.T, f fault, marker string) *fakeproxy.Server {
	t.Helper()
	s := goodProxy(t) // it has the module: only the fault can hide it
	switch {
	case f.closed:
		s.Close()
	case f.hang:
		release := make(chan struct{})
		t.Cleanup(func() { close(release) }) // runs before the server closes
		s.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return true
		})
	default:
		s.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, fmt.Sprintf("%s: %s", f.name, marker), f.status)
			return true
		})
	}
	return s
}

func testClient(t *testing.T) *http.Client {
	t.Helper()
	tr := upstream.NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func parseChain(t *testing.T, list string, opts upstream.Options) *upstream.Chain {
	t.Helper()
	if opts.Client == nil {
		opts.Client = testClient(t)
	}
	c, err := upstream.ParseChain(list, opts)
	if err != nil {
		t.Fatalf("ParseChain(%q): %v", list, err)
	}
	return c
}

// TestChainFallThrough checks, for every separator and way the first
// upstream can fail, whether the second is asked and whether the chain
// answers, for each of the five questions.
func TestChainFallThrough(t *testing.T) {
	tests := []struct {
		fault       fault
		sep         string
		wantSecond  bool // the second upstream is asked and answers
		wantTimeout bool // the error is the caller's deadline
	}{
		{fault404, ",", true, false},
		{fault404, "|", true, false},
		{fault410, ",", true, false},
		{fault410, "|", true, false},
		{fault500, ",", false, false},
		{fault500, "|", true, false},
		{fault403, ",", false, false},
		{fault403, "|", true, false},
		{faultRefused, ",", false, false},
		{faultRefused, "|", true, false},
		// Once the caller's deadline has passed nothing can answer, so
		// even '|' stops.
		{faultTimeout, ",", false, true},
		{faultTimeout, "|", false, true},
	}
	for _, tt := range tests {
		for _, op := range chainOps {
			name := fmt.Sprintf("first upstream %s then %q/%s", tt.fault.name, tt.sep, op.name)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				first := faultyProxy(t, tt.fault, "first")
				second := goodProxy(t)
				c := parseChain(t, first.URL+tt.sep+second.URL, upstream.Options{})

				ctx := context.Background()
				if tt.fault.hang {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
					defer cancel()
				}
				b, answered, err := op.call(ctx, c)

				if !tt.fault.closed && first.Hits(op.path) != 1 {
					t.Errorf("first upstream saw %s %d times; want 1", op.path, first.Hits(op.path))
				}
				gotSecond := second.Hits(op.path)
				if tt.wantSecond {
					if gotSecond != 1 {
						t.Errorf("second upstream saw %s %d times; want 1", op.path, gotSecond)
					}
					if err != nil {
						t.Fatalf("chain failed: %v; want the second upstream's answer", err)
					}
					if len(b) == 0 {
						t.Error("chain answered an empty body")
					}
					if answered.Upstream != second.URL {
						t.Errorf("Answer.Upstream = %q; want the second upstream %q", answered.Upstream, second.URL)
					}
					return
				}
				if gotSecond != 0 {
					t.Errorf("second upstream saw %s %d times; want it never asked", op.path, gotSecond)
				}
				if err == nil {
					t.Fatalf("chain answered %q; want the first upstream's failure", b)
				}
				if upstream.IsNotExist(err) {
					t.Errorf("error %q is not-exist; only 404 and 410 are", err)
				}
				if tt.wantTimeout && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %q does not wrap context.DeadlineExceeded", err)
				}
				if tt.fault.status != 0 && !strings.Contains(err.Error(), tt.fault.name+": first") {
					t.Errorf("error %q lacks the first upstream's message", err)
				}
				if answered != (upstream.Answer{}) {
					t.Errorf("Answer = %+v after a failure; want the zero Answer", answered)
				}
			})
		}
	}
}

// TestProxyErrorNotExist checks that exactly 404 and 410 mean "does not
// exist", and that the error carries the status, the upstream's message and
// the module.
func TestProxyErrorNotExist(t *testing.T) {
	tests := []struct {
		fault        fault
		wantNotExist bool
	}{
		{fault404, true},
		{fault410, true},
		{fault{name: "400", status: http.StatusBadRequest}, false},
		{fault403, false},
		{fault{name: "429", status: http.StatusTooManyRequests}, false},
		{fault500, false},
		{fault{name: "502", status: http.StatusBadGateway}, false},
		{fault{name: "503", status: http.StatusServiceUnavailable}, false},
		{faultRefused, false},
	}
	for _, tt := range tests {
		t.Run(tt.fault.name, func(t *testing.T) {
			t.Parallel()
			s := faultyProxy(t, tt.fault, "the upstream's own words")
			c := parseChain(t, s.URL, upstream.Options{})
			_, _, err := c.Info(context.Background(), chainMod, chainVer)
			if err == nil {
				t.Fatal("Info succeeded against a failing upstream")
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.wantNotExist {
				t.Errorf("errors.Is(%q, fs.ErrNotExist) = %v; want %v", err, got, tt.wantNotExist)
			}
			var ue *upstream.Error
			if !errors.As(err, &ue) || ue.Module != chainMod || ue.Version != chainVer || ue.Op != "info" {
				t.Errorf("error %#v is not an *upstream.Error for info %s@%s", err, chainMod, chainVer)
			}
			if tt.fault.status != 0 {
				var se *upstream.StatusError
				if !errors.As(err, &se) || se.Code != tt.fault.status {
					t.Errorf("error %q: want a *StatusError with code %d", err, tt.fault.status)
				}
				if !strings.Contains(err.Error(), "the upstream's own words") {
					t.Errorf("error %q lacks the upstream's message", err)
				}
			}
		})
	}
}

// fakeDirect stands in for the "direct" element.
type fakeDirect struct {
	err   error
	mu    sync.Mutex
	calls int
}

func (d *fakeDirect) answer() ([]byte, upstream.Answer, error) {
	b, err := d.do()
	if err != nil {
		return nil, upstream.Answer{}, err
	}
	return b, upstream.AnswerOf(d), nil
}

func (d *fakeDirect) do() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.err != nil {
		return nil, d.err
	}
	return json.Marshal(map[string]string{"Version": chainVer})
}

func (d *fakeDirect) Calls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}
func (d *fakeDirect) List(context.Context, string) ([]byte, upstream.Answer, error) {
	return d.answer()
}
func (d *fakeDirect) Latest(context.Context, string) ([]byte, upstream.Answer, error) {
	return d.answer()
}
func (d *fakeDirect) Info(context.Context, string, string) ([]byte, upstream.Answer, error) {
	return d.answer()
}
func (d *fakeDirect) GoMod(context.Context, string, string) ([]byte, upstream.Answer, error) {
	return d.answer()
}
func (d *fakeDirect) String() string { return "direct" }
func (d *fakeDirect) IsDirect() bool { return true }
func (d *fakeDirect) Zip(context.Context, string, string) (io.ReadCloser, int64, upstream.Answer, error) {
	b, a, err := d.answer()
	if err != nil {
		return nil, 0, a, err
	}
	return io.NopCloser(strings.NewReader(string(b))), int64(len(b)), a, nil
}

// TestChainReportsMostInformativeError follows the go command's rule: an
// error from direct beats one from a proxy, which beats a not-found; among
// equals the later one wins.
func TestChainReportsMostInformativeError(t *testing.T) {
	directNotFound := upstream.NotExist("direct: no such repository (direct's words)")
	directBroken := errors.New("direct: git exploded (direct's words)")
	directUnreachable := &upstream.UnreachableError{Text: "direct: Could not resolve host (direct's words)"}
	tests := []struct {
		name         string
		first        fault
		sep          string
		second       *fault // nil: the second element is direct
		directErr    error
		wantMarker   string // the reported error comes from this element
		wantNotExist bool
	}{
		{"a proxy error beats a later not-found", fault500, "|", &fault404, nil, "500: first", false},
		{"a proxy error beats an earlier not-found", fault404, ",", &fault500, nil, "500: second", false},
		{"a later proxy error beats an earlier one", fault500, "|", &fault403, nil, "403: second", false},
		{"of two not-founds the later is reported", fault404, ",", &fault410, nil, "410: second", true},
		{"direct's not-found beats a proxy error", fault500, "|", nil, directNotFound, "direct's words", true},
		{"direct's failure beats a proxy not-found", fault404, ",", nil, directBroken, "direct's words", false},
		{"a proxy not-found beats direct reaching no server", fault404, ",", nil, directUnreachable, "404: first", true},
		{"direct reaching no server beats a proxy error", fault500, "|", nil, directUnreachable, "direct's words", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			first := faultyProxy(t, tt.first, "first")
			d := &fakeDirect{err: tt.directErr}
			second := "direct"
			if tt.second != nil {
				second = faultyProxy(t, *tt.second, "second").URL
			}
			c := parseChain(t, first.URL+tt.sep+second, upstream.Options{Direct: d})
			_, _, err := c.Info(context.Background(), chainMod, chainVer)
			if err == nil {
				t.Fatal("Info succeeded; every element fails")
			}
			if tt.second == nil && d.Calls() != 1 {
				t.Fatalf("direct was called %d times; want 1", d.Calls())
			}
			if !strings.Contains(err.Error(), tt.wantMarker) {
				t.Errorf("reported error %q; want the one containing %q", err, tt.wantMarker)
			}
			if got := upstream.IsNotExist(err); got != tt.wantNotExist {
				t.Errorf("IsNotExist(%q) = %v; want %v", err, got, tt.wantNotExist)
			}
		})
	}
}

func TestChainOff(t *testing.T) {
	tests := []struct {
		name string
		list func(other string) string
	}{
		{"off alone", func(string) string { return "off" }},
		{"off before a proxy, ','", func(p string) string { return "off," + p }},
		{"off before a proxy, '|'", func(p string) string { return "off|" + p }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			other := goodProxy(t)
			c := parseChain(t, tt.list(other.URL), upstream.Options{})
			if !c.Offline() {
				t.Errorf("Offline() = false for %q", c)
			}
			for _, op := range chainOps {
				b, answered, err := op.call(context.Background(), c)
				if err == nil {
					t.Errorf("%s answered %q; want a refusal", op.name, b)
					continue
				}
				if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, upstream.ErrOff) {
					t.Errorf("%s error %q: want upstream.ErrOff, an fs.ErrNotExist", op.name, err)
				}
				if answered != (upstream.Answer{}) {
					t.Errorf("%s: Answer = %+v; want the zero Answer", op.name, answered)
				}
			}
			// Like the go command, nothing after "off" is ever tried.
			if reqs := other.Requests(); len(reqs) != 0 {
				t.Errorf("the proxy after off was asked %q", reqs)
			}
		})
	}

	t.Run("off after a not-found proxy refuses with not-exist", func(t *testing.T) {
		t.Parallel()
		first := faultyProxy(t, fault404, "first")
		c := parseChain(t, first.URL+",off", upstream.Options{})
		if c.Offline() {
			t.Error("Offline() = true for a chain that starts with a proxy")
		}
		_, _, err := c.Info(context.Background(), chainMod, chainVer)
		if !errors.Is(err, upstream.ErrOff) || first.Hits(chainOps[2].path) != 1 {
			t.Errorf("Info = %v after %d requests to the proxy; want ErrOff after 1", err, first.Hits(chainOps[2].path))
		}
	})
}

func TestParseChain(t *testing.T) {
	d := &fakeDirect{}
	tests := []struct {
		name    string
		list    string
		opts    upstream.Options
		wantErr string // a substring of the error; "" for success
		want    string // the chain's String() on success
		wantAny []bool // FallOnAnyErr of each link
	}{
		{"empty", "", upstream.Options{}, "no upstream", "", nil},
		{"only spaces", "   ", upstream.Options{}, "no upstream", "", nil},
		{"only separators", " , | ,", upstream.Options{}, "no upstream", "", nil},
		{"noproxy", "noproxy", upstream.Options{}, "noproxy", "", nil},
		{"noproxy after a proxy", "http://127.0.0.1:1,noproxy", upstream.Options{}, "noproxy", "", nil},
		{"ftp scheme", "ftp://127.0.0.1/", upstream.Options{}, "scheme", "", nil},
		{"javascript scheme", "javascript:alert(1)", upstream.Options{}, "scheme", "", nil},
		{"no scheme", "127.0.0.1:8080", upstream.Options{}, "127.0.0.1:8080", "", nil},
		{"host without scheme", "example.test", upstream.Options{}, "scheme", "", nil},
		{"http without host", "http:///path", upstream.Options{}, "missing host", "", nil},
		{"bad escape", "http://127.0.0.1:1/%zz", upstream.Options{}, "%zz", "", nil},
		{"direct when not available", "direct", upstream.Options{}, "direct", "", nil},

		{"one proxy, trailing slash dropped", "http://127.0.0.1:1/", upstream.Options{}, "", "http://127.0.0.1:1", []bool{false}},
		{"separators and spaces", " http://127.0.0.1:1 | https://127.0.0.1:2/p , off ", upstream.Options{}, "",
			"http://127.0.0.1:1|https://127.0.0.1:2/p,off", []bool{true, false, false}},
		{"direct when available", "http://127.0.0.1:1,direct", upstream.Options{Direct: d}, "", "http://127.0.0.1:1,direct", []bool{false, false}},
		{"file scheme", "file:///nonexistent/dir", upstream.Options{}, "", "file:///nonexistent/dir", []bool{false}},
		{"credentials stay out of String", "http://user:secret@127.0.0.1:1", upstream.Options{}, "", "http://127.0.0.1:1", []bool{false}},
		{"nothing after off is kept", "off,http://127.0.0.1:1|direct", upstream.Options{Direct: d}, "", "off", []bool{false}},
		{"empty elements are skipped", ",,http://127.0.0.1:1,,", upstream.Options{}, "", "http://127.0.0.1:1", []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := upstream.ParseChain(tt.list, tt.opts)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseChain(%q) = %q; want an error", tt.list, c)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseChain(%q) error %q; want it to mention %q", tt.list, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseChain(%q): %v", tt.list, err)
			}
			if c.String() != tt.want {
				t.Errorf("String() = %q; want %q", c, tt.want)
			}
			links := c.Links()
			if len(links) != len(tt.wantAny) {
				t.Fatalf("%d links; want %d", len(links), len(tt.wantAny))
			}
			for i, l := range links {
				if l.FallOnAnyErr != tt.wantAny[i] {
					t.Errorf("link %d (%s): FallOnAnyErr = %v; want %v", i, l.Fetcher, l.FallOnAnyErr, tt.wantAny[i])
				}
			}
			if strings.HasSuffix(tt.want, "direct") && links[len(links)-1].Fetcher != upstream.Fetcher(d) {
				t.Errorf("the direct element is %v; want Options.Direct", links[len(links)-1].Fetcher)
			}
		})
	}
}

func TestChainReportsAnsweringUpstream(t *testing.T) {
	first := goodProxy(t)
	notFound := faultyProxy(t, fault404, "nf")
	second := goodProxy(t)
	withCreds := strings.Replace(second.URL, "://", "://user:secret@", 1)
	d := &fakeDirect{}
	tests := []struct {
		name string
		list string
		want string
	}{
		{"the first upstream answers", first.URL + "," + second.URL, first.URL},
		{"the second answers after a not-found", notFound.URL + "," + second.URL, second.URL},
		{"direct answers after a not-found", notFound.URL + ",direct", "direct"},
		{"the name carries no credentials", notFound.URL + "|" + withCreds, second.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseChain(t, tt.list, upstream.Options{Direct: d})
			_, a, err := c.Info(context.Background(), chainMod, chainVer)
			if err != nil {
				t.Fatal(err)
			}
			if a.Upstream != tt.want {
				t.Errorf("Answer.Upstream = %q; want %q", a.Upstream, tt.want)
			}
			if a.Direct != (tt.want == "direct") {
				t.Errorf("Answer.Direct = %v; want %v", a.Direct, tt.want == "direct")
			}
		})
	}
}

func TestParseChainStopsAfterDirect(t *testing.T) {
	c, err := upstream.ParseChain("direct|http://127.0.0.1:1,http://127.0.0.1:2", upstream.Options{Direct: &fakeDirect{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.String(); got != "direct" {
		t.Errorf("chain = %q, want only \"direct\": the go command ignores what follows it", got)
	}
}
