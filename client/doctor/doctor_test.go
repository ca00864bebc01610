package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"

	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/testcert"
	gsumdb "github.com/gomirror/gomirror/sumdb"
)

const dbName = fakeproxy.DBName

// fakeGo is a gocmd.Runner that answers go version and go env -json with
// fixed values.
type fakeGo struct {
	version string
	env     map[string]string
}

func (f fakeGo) Run(ctx context.Context, args ...string) ([]byte, error) {
	switch {
	case len(args) == 1 && args[0] == "version":
		return []byte(f.version + "\n"), nil
	case len(args) >= 2 && args[0] == "env" && args[1] == "-json":
		out := map[string]string{}
		for _, k := range args[2:] {
			out[k] = f.env[k]
		}
		return json.Marshal(out)
	}
	return nil, fmt.Errorf("fakeGo: unexpected go %v", args)
}

// env returns a sane go env with GOPROXY set to goproxy; over overrides.
func env(t *testing.T, goproxy string, over ...string) map[string]string {
	t.Helper()
	m := map[string]string{
		"GOPROXY":    goproxy,
		"GOSUMDB":    dbName,
		"GOMODCACHE": filepath.Join(t.TempDir(), "mod"),
		"GOENV":      filepath.Join(t.TempDir(), "env"),
		"GOVERSION":  "go1.26.8",
	}
	for i := 0; i+1 < len(over); i += 2 {
		m[over[i]] = over[i+1]
	}
	return m
}

func noEnv(string) string { return "" }

// probe is the fixture module the tests' doctor probes.
const probe = "example.com/hello"

// fakeHandler is a handler in front of a new fakeproxy (real protocol,
// real checksum database behind /sumdb/), and that database's key.
func fakeHandler(t *testing.T) (http.Handler, *fakeproxy.Server) {
	t.Helper()
	fp := fakeproxy.New(t)
	u, err := url.Parse(fp.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	return rp, fp
}

// fake is a loopback module proxy with its checksum database.
type fake struct {
	URL string
	Key string // the GOSUMDB value of its database
	fp  *fakeproxy.Server
}

// env is env(t, goproxy, over...) with GOSUMDB set to f's database.
func (f *fake) env(t *testing.T, goproxy string, over ...string) map[string]string {
	return env(t, goproxy, append([]string{"GOSUMDB", f.Key}, over...)...)
}

func goodProxy(t *testing.T) *fake {
	fp := fakeproxy.New(t)
	return &fake{URL: fp.URL, Key: fp.DBKey, fp: fp}
}

// deadURL is an http URL on a port where nothing listens.
func deadURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func run(t *testing.T, e map[string]string, tweak func(*Options)) (*Report, string, string) {
	t.Helper()
	o := Options{Go: fakeGo{"go version go1.26.8 linux/amd64", e}, Getenv: noEnv, Timeout: 5 * time.Second, RootCAs: x509.NewCertPool(),
		ProbeModule: probe, LagModules: []string{}}
	if tweak != nil {
		tweak(&o)
	}
	rep := Run(context.Background(), o)
	var text bytes.Buffer
	if err := WriteText(&text, nil, rep); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	return rep, text.String(), string(js)
}

func find(t *testing.T, rep *Report, check, target string) Result {
	t.Helper()
	for _, r := range rep.Results {
		if r.Check == check && (target == "" || r.Target == target) {
			return r
		}
	}
	t.Fatalf("no %s result for %q", check, target)
	return Result{}
}

// named checks that a problem is named in the result, the text and the JSON.
func named(t *testing.T, r Result, text, js string, status Status, problem, phrase string) {
	t.Helper()
	if r.Status != status || r.Problem != problem {
		t.Errorf("%s %s: status %s problem %q, want %s %q (%s)", r.Check, r.Target, r.Status, r.Problem, status, problem, r.Message)
	}
	if !strings.Contains(r.Message.String(), phrase) || !strings.Contains(text, phrase) {
		t.Errorf("%q not in the message or text:\n%s", phrase, text)
	}
	if !strings.Contains(js, `"problem":"`+problem+`"`) {
		t.Errorf("JSON lacks problem %q:\n%s", problem, js)
	}
	if status != OK && r.Fix.IsZero() {
		t.Errorf("%s %s: no fix", r.Check, r.Target)
	}
}

func TestGoodProxy(t *testing.T) {
	srv := goodProxy(t)
	rep, text, _ := run(t, srv.env(t, srv.URL+",direct"), nil)
	p := find(t, rep, "proxy", srv.URL)
	if p.Status != OK {
		t.Fatalf("proxy: %s %s", p.Status, p.Message)
	}
	var names []string
	for _, s := range p.Steps {
		names = append(names, s.Name)
		if s.Name == "dns" && !s.Skipped {
			t.Errorf("dns step not skipped for an IP address")
		}
	}
	if !slices.Equal(names, []string{"dns", "tcp", "protocol"}) {
		t.Errorf("steps %v", names)
	}
	if s := find(t, rep, "sumdb", srv.URL); s.Status != OK || !strings.Contains(s.Message.String(), "proxies the checksum database "+dbName) {
		t.Errorf("sumdb: %s %s", s.Status, s.Message)
	}
	if rep.Failed != 0 {
		t.Errorf("%d failed", rep.Failed)
	}
	for _, c := range []string{"go-version", "goproxy", "private", "goinsecure", "gosumdb", "goflags", "http-proxy"} {
		if r := find(t, rep, c, ""); r.Status != OK {
			t.Errorf("%s: %s %s", c, r.Status, r.Message)
		}
	}
	if !strings.Contains(text, "go1.26.8") || !strings.Contains(text, "verdict: ") {
		t.Errorf("text:\n%s", text)
	}
}

func TestDeadProxy(t *testing.T) {
	dead := deadURL(t)
	rep, text, js := run(t, env(t, dead+",direct"), nil)
	named(t, find(t, rep, "proxy", dead), text, js, Fail, "connection-refused", "connection refused")
	if rep.Verdict != Fail || !strings.Contains(js, `"verdict":"fail"`) {
		t.Errorf("verdict %s", rep.Verdict)
	}
}

func TestSlowProxy(t *testing.T) {
	h, fp := fakeHandler(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answer late, or when the client gives up
		case <-time.After(500 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	rep, text, js := run(t, env(t, srv.URL+",direct", "GOSUMDB", fp.DBKey), func(o *Options) { o.Slow = 200 * time.Millisecond })
	p := find(t, rep, "proxy", srv.URL)
	named(t, p, text, js, Warn, "slow", "slow")
	if !strings.Contains(p.Message.String(), "protocol ") {
		t.Errorf("message does not name the slow step: %s", p.Message)
	}
	if !strings.Contains(p.Fix.String(), "gomirror setup --fastest") {
		t.Errorf("fix does not suggest gomirror setup --fastest: %s", p.Fix)
	}
	if rep.Verdict != Warn {
		t.Errorf("verdict %s, want warn", rep.Verdict)
	}
}

func TestHangingProxyTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	rep, text, js := run(t, env(t, srv.URL), func(o *Options) { o.Timeout = 300 * time.Millisecond })
	named(t, find(t, rep, "proxy", srv.URL), text, js, Fail, "timeout", "no answer within 300ms")
}

func tlsProxy(t *testing.T) (*httptest.Server, *testcert.Cert) {
	c := testcert.New(t)
	pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := fakeHandler(t)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, c
}

func TestSelfSignedProxy(t *testing.T) {
	srv, cert := tlsProxy(t)
	rep, text, js := run(t, env(t, srv.URL+",direct"), nil) // RootCAs: empty pool
	p := find(t, rep, "proxy", srv.URL)
	named(t, p, text, js, Fail, "self-signed", "self-signed certificate")
	if s := p.Steps[len(p.Steps)-1]; s.Name != "protocol" || !s.Skipped {
		t.Errorf("protocol step after a TLS failure: %+v", s)
	}

	// Trusted, the same server is fine.
	rep, _, _ = run(t, env(t, srv.URL+",direct"), func(o *Options) { o.RootCAs = cert.Pool })
	if p := find(t, rep, "proxy", srv.URL); p.Status != OK {
		t.Errorf("trusted: %s %s", p.Status, p.Message)
	}
}

func TestTLSFailureNames(t *testing.T) {
	srv, cert := tlsProxy(t)
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		name, serverName, problem string
		roots                     *x509.CertPool
		now                       time.Time
	}{
		{"mismatch", "mirror.example.test", "hostname-mismatch", cert.Pool, time.Time{}},
		{"expired", "127.0.0.1", "expired", cert.Pool, time.Now().Add(48 * time.Hour)},
		{"self-signed", "127.0.0.1", "self-signed", x509.NewCertPool(), time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := &tls.Config{ServerName: tc.serverName, RootCAs: tc.roots}
			if !tc.now.IsZero() {
				conf.Time = func() time.Time { return tc.now }
			}
			conn, err := tls.Dial("tcp", addr, conf)
			if err == nil {
				conn.Close()
				t.Fatal("handshake succeeded")
			}
			if f := tlsFailure(tc.serverName, err); f.problem != tc.problem {
				t.Errorf("problem %q (%s), want %q", f.problem, f.message, tc.problem)
			}
		})
	}
}

func TestPrivateConflict(t *testing.T) {
	srv := goodProxy(t)
	e := srv.env(t, srv.URL+",direct", "GOPRIVATE", "git.corp.internal/*,*.secret.internal", "GONOSUMDB", "git.corp.internal/*", "GONOPROXY", "git.corp.internal/*,*.secret.internal")
	rep, text, js := run(t, e, nil)
	r := find(t, rep, "private", "")
	named(t, r, text, js, Fail, "private-sent-to-sumdb", "private module paths are sent to the checksum database")
	if !strings.Contains(r.Message.String(), "*.secret.internal") || strings.Contains(r.Message.String(), "pattern(s) git.corp") {
		t.Errorf("message does not name exactly the uncovered pattern: %s", r.Message)
	}
	if !strings.Contains(r.Fix.String(), "GONOSUMDB=git.corp.internal/*,*.secret.internal") {
		t.Errorf("fix: %s", r.Fix)
	}

	// Covered by a wider pattern: fine.
	e = srv.env(t, srv.URL+",direct", "GOPRIVATE", "git.corp.internal/team", "GONOSUMDB", "git.corp.internal", "GONOPROXY", "git.corp.internal/team")
	rep, _, _ = run(t, e, nil)
	if r := find(t, rep, "private", ""); r.Status != OK {
		t.Errorf("covered: %s %s", r.Status, r.Message)
	}

	// GONOPROXY not covering GOPRIVATE is a warning.
	e = srv.env(t, srv.URL+",direct", "GOPRIVATE", "git.corp.internal", "GONOSUMDB", "git.corp.internal", "GONOPROXY", "none.internal")
	rep, text, js = run(t, e, nil)
	named(t, find(t, rep, "private", ""), text, js, Warn, "private-via-proxy", "requested from GOPROXY")
}

// TestPrivateCoverageIsTheGoCommands: the go command matches GOPRIVATE,
// GONOSUMDB and GONOPROXY case-sensitively, so a GONOSUMDB that names a
// private path only in another case does not keep it from the checksum
// database; and a pattern that is not a valid glob never matches at all.
func TestPrivateCoverageIsTheGoCommands(t *testing.T) {
	srv := goodProxy(t)
	e := srv.env(t, srv.URL+",direct", "GOPRIVATE", "github.com/MyCorp", "GONOSUMDB", "github.com/mycorp", "GONOPROXY", "github.com/MyCorp")
	rep, text, js := run(t, e, nil)
	named(t, find(t, rep, "private", ""), text, js, Fail, "private-sent-to-sumdb", "github.com/MyCorp")

	// Both spellings listed: covered.
	e = srv.env(t, srv.URL+",direct", "GOPRIVATE", "github.com/MyCorp", "GONOSUMDB", "github.com/mycorp,github.com/MyCorp", "GONOPROXY", "github.com/MyCorp")
	rep, _, _ = run(t, e, nil)
	if r := find(t, rep, "private", ""); r.Status != OK {
		t.Errorf("covered in the same case: %s %s", r.Status, r.Message)
	}

	bad := "corp.example/[x,other.example"
	e = srv.env(t, srv.URL+",direct", "GOPRIVATE", bad, "GONOSUMDB", bad, "GONOPROXY", bad)
	rep, text, js = run(t, e, nil)
	r := find(t, rep, "private", "")
	named(t, r, text, js, Fail, "bad-pattern", "corp.example/[x")
	n := 0
	for _, r := range rep.Results {
		if r.Problem == "bad-pattern" {
			n++
		}
	}
	if strings.Contains(r.Message.String(), "other.example") || n != 1 {
		t.Errorf("want one bad-pattern result naming only the bad pattern, got %d: %s", n, r.Message)
	}
}

func TestGOPROXYOff(t *testing.T) {
	rep, text, js := run(t, env(t, "off"), nil)
	named(t, find(t, rep, "goproxy", ""), text, js, Fail, "goproxy-off", "nothing can be downloaded")
	for _, r := range rep.Results {
		if r.Check == "proxy" {
			t.Errorf("proxy checked with GOPROXY=off: %+v", r)
		}
	}
	if rep.Verdict != Fail {
		t.Errorf("verdict %s", rep.Verdict)
	}
}

func TestNoDirectFallback(t *testing.T) {
	srv := goodProxy(t)
	rep, text, js := run(t, srv.env(t, srv.URL), nil)
	r := find(t, rep, "goproxy", "")
	named(t, r, text, js, Warn, "no-direct", "no \"direct\" fallback")
	if !strings.Contains(r.Fix.String(), "GOPROXY="+srv.URL+",direct") {
		t.Errorf("fix: %s", r.Fix)
	}
}

func TestParseGOPROXY(t *testing.T) {
	for _, tc := range []struct {
		in, want, ignored, err string
	}{
		{in: "https://a.example,direct", want: "https://a.example direct"},
		{in: "a.example|b.example/path/,direct", want: "https://a.example https://b.example/path direct"},
		{in: " direct , off", want: "direct", ignored: "off"},
		{in: "off", want: "off"},
		{in: "file:///srv/mods,http://127.0.0.1:3000", want: "file:///srv/mods http://127.0.0.1:3000"},
		{in: "direct,https://late.example", want: "direct", ignored: "https://late.example"},
		{in: "mirror", err: "scheme must be"},
		{in: "ftp://x.example", err: "scheme must be"},
		{in: ",,", err: "no entries"},
	} {
		list, ignored, err := parseGOPROXY(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		var got []string
		for _, p := range list {
			got = append(got, p.URL)
		}
		if err != nil || strings.Join(got, " ") != tc.want || strings.Join(ignored, " ") != tc.ignored {
			t.Errorf("%q: %v %v %v, want %q ignored %q", tc.in, got, ignored, err, tc.want, tc.ignored)
		}
	}
	if list, _, _ := parseGOPROXY("a.example|b.example,direct"); !list[0].FallBackOnError || list[1].FallBackOnError {
		t.Errorf("'|' not recorded: %+v", list)
	}
}

func TestEnvChecks(t *testing.T) {
	e := env(t, "off", "GOINSECURE", "*", "GOFLAGS", "-mod=mod -insecure -tgas=x -trimpath", "GOSUMDB", "off")
	rep, text, js := run(t, e, nil)
	named(t, find(t, rep, "goinsecure", ""), text, js, Warn, "insecure-public", "cover public hosts")
	named(t, find(t, rep, "gosumdb", ""), text, js, Warn, "sumdb-off", "no checksum verification")
	var probs []string
	for _, r := range rep.Results {
		if r.Check == "goflags" {
			probs = append(probs, r.Problem)
		}
	}
	if !slices.Equal(probs, []string{"goflags-mod-mod", "goflags-insecure", "goflags-unknown"}) {
		t.Errorf("goflags problems %v", probs)
	}
	if r := checkInsecure(map[string]string{"GOINSECURE": "git.corp.internal"}, setup.DefaultProbeModule); r.Status != OK {
		t.Errorf("narrow GOINSECURE: %s", r.Message)
	}
	if r := checkVersion("go version go1.20.3 linux/amd64"); r.Status != Warn || r.Problem != "old-go" {
		t.Errorf("go1.20: %+v", r)
	}
}

func TestHTTPProxyEnv(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"HTTPS_PROXY": "http://127.0.0.1:1", "NO_PROXY": "other.internal"}[k]
	}
	r := checkHTTPProxy(getenv, []string{"https://mirror.corp.internal", "https://10.1.2.3:3000", "http://127.0.0.1:3000"})
	if r.Status != Warn || r.Problem != "proxy-not-in-no-proxy" || !strings.Contains(r.Fix.String(), "NO_PROXY=other.internal,mirror.corp.internal,10.1.2.3") {
		t.Errorf("%+v", r)
	}
	if strings.Contains(r.Message.String(), "127.0.0.1:3000") {
		t.Errorf("loopback is never proxied, but reported: %s", r.Message)
	}
	r = checkHTTPProxy(func(k string) string {
		return map[string]string{"HTTPS_PROXY": "http://127.0.0.1:1", "NO_PROXY": ".corp.internal"}[k]
	}, []string{"https://mirror.corp.internal"})
	if r.Status != OK {
		t.Errorf("in NO_PROXY: %+v", r)
	}
}

func TestModCache(t *testing.T) {
	dir := t.TempDir()
	if r := checkModCache(filepath.Join(dir, "a", "b")); r.Status == Fail || !strings.Contains(r.Message.String(), "does not exist yet") {
		t.Errorf("missing dir: %+v", r)
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o666)
	if r := checkModCache(file); r.Problem != "modcache-not-dir" {
		t.Errorf("file: %+v", r)
	}
	if os.Getuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if r := checkModCache(ro); r.Problem != "modcache-not-writable" {
			t.Errorf("read-only: %+v", r)
		}
	}
	if r := checkModCache(""); r.Status != Fail {
		t.Errorf("empty: %+v", r)
	}
}

// TestRealGoCommand reads the settings with the real go command from a
// temporary GOENV file.
func TestRealGoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	srv := goodProxy(t)
	dir := t.TempDir()
	goenv := filepath.Join(dir, "env")
	if err := os.WriteFile(goenv, []byte("GOPROXY="+srv.URL+",direct\nGOPRIVATE=git.corp.internal\nGONOSUMDB=other.internal\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOENV", goenv)
	t.Setenv("GOPATH", filepath.Join(dir, "gopath"))
	t.Setenv("GOTOOLCHAIN", "local")
	for _, k := range []string{"GOFLAGS", "GOPROXY", "GOPRIVATE", "GONOSUMDB", "GONOPROXY", "GOSUMDB", "GOINSECURE", "GOMODCACHE"} {
		t.Setenv(k, "")
	}
	rep := Run(context.Background(), Options{Go: gocmd.Cmd{}, Getenv: noEnv})
	var text bytes.Buffer
	WriteText(&text, nil, rep)
	t.Logf("report:\n%s", text.String())
	if got := rep.GoEnv["GOPROXY"]; got != srv.URL+",direct" {
		t.Errorf("GOPROXY %q", got)
	}
	if r := find(t, rep, "go-version", ""); !strings.HasPrefix(r.Message.String(), "go version go") {
		t.Errorf("go-version: %s", r.Message)
	}
	if p := find(t, rep, "proxy", srv.URL); p.Status != OK {
		t.Errorf("proxy: %s %s", p.Status, p.Message)
	}
	if r := find(t, rep, "private", ""); r.Problem != "private-sent-to-sumdb" {
		t.Errorf("private: %+v", r)
	}
	if r := find(t, rep, "modcache", ""); r.Target != filepath.Join(dir, "gopath", "pkg", "mod") || r.Status == Fail {
		t.Errorf("modcache: %+v", r)
	}
}

// TestSumDBThroughProxy: the checksum database is checked for real through
// each proxy, as the go command uses it: a proxy that says it supports the
// database but fails the lookup or its tiles (a mirror whose upstream is
// off answers them 502), serves another database's signatures, a record
// of another module or outside its tree, or altered tiles, fails with the
// step named.
func TestSumDBThroughProxy(t *testing.T) {
	lookupPath := "/sumdb/" + dbName + "/lookup/example.com/hello@v1.2.0"
	for _, tc := range []struct {
		name    string
		fault   func(fp *fakeproxy.Server)
		key     func(t *testing.T, fp *fakeproxy.Server) string
		problem string
		phrase  string
		step    string
	}{
		{name: "lookup 502", problem: "sumdb-lookup", phrase: "502 Bad Gateway", step: "lookup",
			fault: func(fp *fakeproxy.Server) {
				fp.Inject(fakeproxy.Prefix("/sumdb/"+dbName+"/lookup/"), fakeproxy.Status(http.StatusBadGateway, "upstream off"))
			}},
		{name: "tile 502", problem: "sumdb-tile", phrase: "502 Bad Gateway", step: "tiles",
			fault: func(fp *fakeproxy.Server) {
				fp.Inject(fakeproxy.Prefix("/sumdb/"+dbName+"/tile/"), fakeproxy.Status(http.StatusBadGateway, "upstream off"))
			}},
		{name: "tile altered", problem: "sumdb-proof", phrase: "do not prove", step: "tiles",
			fault: func(fp *fakeproxy.Server) {
				fp.Inject(fakeproxy.Prefix("/sumdb/"+dbName+"/tile/"), func(c *fakeproxy.Call) {
					g := c.Genuine()
					b := bytes.Clone(g.Body)
					b[0] ^= 1
					c.W.Write(b)
				})
			}},
		{name: "tile short", problem: "sumdb-proof", phrase: "do not prove", step: "tiles",
			fault: func(fp *fakeproxy.Server) {
				fp.Inject(fakeproxy.Prefix("/sumdb/"+dbName+"/tile/"), func(c *fakeproxy.Call) {
					c.W.Write(c.Genuine().Body[1:])
				})
			}},
		{name: "another database's key", problem: "sumdb-signature", phrase: "not signed with the GOSUMDB key", step: "lookup",
			key: func(t *testing.T, _ *fakeproxy.Server) string { return fakeproxy.New(t).DBKey }},
		{name: "record of another module", problem: "sumdb-record", phrase: "the record does not hold example.com/hello@v1.2.0", step: "lookup",
			fault: func(fp *fakeproxy.Server) {
				fp.Inject(fakeproxy.Paths(lookupPath), func(c *fakeproxy.Call) {
					c.W.Write(genuine(fp, "/sumdb/"+dbName+"/lookup/example.com/dep@v1.0.0"))
				})
			}},
		{name: "record outside its tree", problem: "sumdb-record", phrase: "record 1000", step: "lookup",
			fault: func(fp *fakeproxy.Server) {
				fp.Inject(fakeproxy.Paths(lookupPath), func(c *fakeproxy.Call) {
					_, rest, _ := strings.Cut(string(c.Genuine().Body), "\n")
					c.W.Write([]byte("1000\n" + rest))
				})
			}},
		{name: "lookup too large", problem: "sumdb-lookup", phrase: "answer larger than", step: "lookup",
			fault: func(fp *fakeproxy.Server) {
				fp.Inject(fakeproxy.Paths(lookupPath), func(c *fakeproxy.Call) { c.W.Write(make([]byte, 2<<20)) })
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := goodProxy(t)
			grow(t, srv.fp)
			if tc.fault != nil {
				tc.fault(srv.fp)
			}
			key := srv.Key
			if tc.key != nil {
				key = tc.key(t, srv.fp)
			}
			rep, text, js := run(t, env(t, srv.URL+",direct", "GOSUMDB", key), nil)
			if p := find(t, rep, "proxy", srv.URL); p.Status != OK {
				t.Errorf("proxy: %s %s", p.Status, p.Message)
			}
			r := find(t, rep, "sumdb", srv.URL)
			named(t, r, text, js, Fail, tc.problem, tc.phrase)
			if failed := failedStep(r); failed != tc.step {
				t.Errorf("failed step %q, want %q", failed, tc.step)
			}
			if rep.Verdict != Fail || len(rep.Suggestions) == 0 || !strings.Contains(text, "gomirror setup --fastest") {
				t.Errorf("verdict %s, suggestions %v", rep.Verdict, rep.Suggestions)
			}
			if r.Problem == "sumdb-record" && strings.Contains(r.Fix.String(), "upstream") {
				t.Errorf("bad data with the upstream's fix: %s", r.Fix)
			}
		})
	}
}

// failedStep is the name of r's failed step.
func failedStep(r Result) string {
	for _, s := range r.Steps {
		if s.Status == Fail {
			return s.Name
		}
	}
	return ""
}

// genuine is fp's answer to path.
func genuine(fp *fakeproxy.Server, path string) []byte {
	resp, err := http.Get(fp.URL + path)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// TestSumDBLatestIsInformational: the go command never reads latest
// through a proxy, so a latest that fails, is too large or hangs is a
// warning (lookup and tiles still checked and ok), with a fix that says
// so, not the failing upstream's.
func TestSumDBLatestIsInformational(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  fakeproxy.Fault
		phrase string
	}{
		{"502", fakeproxy.Status(http.StatusBadGateway, "upstream off"), "502 Bad Gateway"},
		{"too large", func(c *fakeproxy.Call) { c.W.Write(make([]byte, 2<<20)) }, "answer larger than"},
		{"hangs", fakeproxy.Hang(), "no answer within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := goodProxy(t)
			grow(t, srv.fp)
			srv.fp.Inject(fakeproxy.Suffix("/latest"), tc.fault)
			rep, text, js := run(t, srv.env(t, srv.URL+",direct"), func(o *Options) { o.Timeout = 300 * time.Millisecond; o.Slow = time.Minute })
			r := find(t, rep, "sumdb", srv.URL)
			named(t, r, text, js, Warn, "sumdb-latest", tc.phrase)
			for _, s := range r.Steps {
				if s.Name != "latest" && (s.Status != OK || s.Skipped) {
					t.Errorf("step %s: %s skipped=%v: latest failing must not stop the lookup and tiles", s.Name, s.Status, s.Skipped)
				}
			}
			if !strings.Contains(r.Fix.String(), "never reads latest") {
				t.Errorf("fix %q", r.Fix)
			}
		})
	}
}

// TestSumDBLatestTilesMissing: a mirror whose upstream is off serves the
// lookup and the tiles of its tree (what go needs) but not the tiles
// proving a newer latest consistent with it: ok, with the consistency
// said not checked, not a failure.
func TestSumDBLatestTilesMissing(t *testing.T) {
	srv := goodProxy(t)
	grow(t, srv.fp)
	lookupPath := "/sumdb/" + dbName + "/lookup/example.com/hello@v1.2.0"
	lookup := genuine(srv.fp, lookupPath)
	c := gsumdb.NewProxyClient(context.Background(), nil, srv.URL+"/sumdb/"+dbName, srv.Key, 5*time.Second)
	if _, err := c.Lookup("example.com/hello", "v1.2.0"); err != nil {
		t.Fatal(err)
	}
	stored := map[string][]byte{}
	for _, q := range c.Requests() {
		if strings.HasPrefix(q.Path, "/tile/") {
			stored["/sumdb/"+dbName+q.Path] = genuine(srv.fp, "/sumdb/"+dbName+q.Path)
		}
	}
	if _, err := srv.fp.Add("example.com/more", "v1.0.0", map[string][]byte{"go.mod": []byte("module example.com/more\n")}); err != nil {
		t.Fatal(err)
	}
	genuine(srv.fp, "/sumdb/"+dbName+"/lookup/example.com/more@v1.0.0") // latest grows
	// One Inject (a second replaces the first): the lookup as it was,
	// the tiles of its tree only.
	srv.fp.Inject(func(r *http.Request) bool {
		return r.URL.Path == lookupPath || strings.HasPrefix(r.URL.Path, "/sumdb/"+dbName+"/tile/")
	}, func(c *fakeproxy.Call) {
		if c.R.URL.Path == lookupPath {
			c.W.Write(lookup)
			return
		}
		if b, ok := stored[c.R.URL.Path]; ok {
			c.W.Write(b)
			return
		}
		http.Error(c.W, "not stored here", http.StatusNotFound)
	})
	rep, text, _ := run(t, srv.env(t, srv.URL+",direct"), nil)
	r := find(t, rep, "sumdb", srv.URL)
	if r.Status != OK || !strings.Contains(text, "consistency with the lookup's tree not checked") {
		t.Errorf("status %s: %s", r.Status, r.Message)
	}
}

// TestSumDBFork: a latest signed with the key, of the same size as the
// lookup's tree but another hash (a forked database), fails the check.
func TestSumDBFork(t *testing.T) {
	skey, vkey, err := note.GenerateKey(nil, dbName)
	if err != nil {
		t.Fatal(err)
	}
	db := func(hash string) http.Handler {
		return sumdb.NewServer(sumdb.NewTestServer(skey, func(path, vers string) ([]byte, error) {
			return fmt.Appendf(nil, "%s %s h1:%s=\n%s %s/go.mod h1:%s=\n", path, vers, hash, path, vers, hash), nil
		}))
	}
	a, b := db(strings.Repeat("A", 43)), db(strings.Repeat("B", 43))
	for _, h := range []http.Handler{a, b} {
		for _, mv := range []string{"example.com/dep@v1.0.0", "example.com/hello@v1.2.0"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/lookup/"+mv, nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("lookup %s: %d %s", mv, rec.Code, rec.Body)
			}
		}
	}
	srv := goodProxy(t)
	srv.fp.Inject(fakeproxy.Prefix("/sumdb/"+dbName+"/"), func(c *fakeproxy.Call) {
		h := a
		if strings.HasSuffix(c.R.URL.Path, "/supported") {
			return // 200
		}
		if strings.HasSuffix(c.R.URL.Path, "/latest") {
			h = b
		}
		http.StripPrefix("/sumdb/"+dbName, h).ServeHTTP(c.W, c.R)
	})
	rep, text, js := run(t, env(t, srv.URL+",direct", "GOSUMDB", vkey), nil)
	r := find(t, rep, "sumdb", srv.URL)
	named(t, r, text, js, Fail, "sumdb-fork", "different hashes")
	if failedStep(r) != "latest" {
		t.Errorf("failed step %q, want latest", failedStep(r))
	}
}

// TestSumDBVerified: through a healthy proxy every step passes, the
// lookup is of the newest release (not a pseudo-version), and latest is
// asked only after the lookup and its tiles.
func TestSumDBVerified(t *testing.T) {
	srv := goodProxy(t)
	grow(t, srv.fp)
	if _, err := srv.fp.Add("example.com/hello", "v1.2.1-0.20240102030405-abcdefabcdef", map[string][]byte{"go.mod": []byte("module example.com/hello\n")}); err != nil {
		t.Fatal(err)
	}
	rep, _, _ := run(t, srv.env(t, srv.URL+",direct"), nil)
	r := find(t, rep, "sumdb", srv.URL)
	var names []string
	for _, s := range r.Steps {
		names = append(names, s.Name)
		if s.Status != OK || s.Skipped {
			t.Errorf("step %s: %s skipped=%v %s", s.Name, s.Status, s.Skipped, s.Detail)
		}
	}
	if !slices.Equal(names, []string{"sumdb", "lookup", "tiles", "latest"}) {
		t.Errorf("steps %v", names)
	}
	if srv.fp.Hits("/sumdb/"+dbName+"/lookup/example.com/hello@v1.2.0") != 1 {
		t.Errorf("the newest release was not looked up: %v", srv.fp.Requests())
	}
	if len(rep.Suggestions) != 0 {
		t.Errorf("suggestions for a healthy proxy: %v", rep.Suggestions)
	}
}

// TestPrivateProbeNotLookedUp: a probe module that GOPRIVATE (or
// GONOSUMDB) covers is not sent to the checksum database, and lag
// modules it (or GONOPROXY) covers are not compared; both say so.
func TestPrivateProbeNotLookedUp(t *testing.T) {
	full := goodProxy(t)
	behind := fakeproxy.NewMirror(t, full.fp)
	lagging(behind, "example.com/hello", 2)
	for _, v := range []string{"GOPRIVATE", "GONOSUMDB"} {
		t.Run(v, func(t *testing.T) {
			rep, text, _ := run(t, full.env(t, behind.URL+","+full.URL+",direct", v, "example.com"), nil)
			for _, fp := range []*fakeproxy.Server{full.fp, behind} {
				for _, q := range fp.Requests() {
					if strings.Contains(q, "/lookup/example.com/") {
						t.Errorf("a private module was looked up: %s", q)
					}
				}
			}
			if !strings.Contains(text, "the go command does not look it up") {
				t.Errorf("no word of the skipped lookup")
			}
			lag := find(t, rep, "lag", behind.URL)
			if v == "GOPRIVATE" && (lag.Status != OK || !strings.Contains(text, "does not ask a proxy for it")) {
				t.Errorf("a private module compared for lag: %s %s", lag.Status, lag.Message)
			}
		})
	}
}

// grow makes fp's checksum database a tree of several records, so that a
// proof needs tiles: it looks up every fixture module version but the
// probe's newest.
func grow(t *testing.T, fp *fakeproxy.Server) {
	t.Helper()
	for _, mv := range []string{"example.com/dep@v1.0.0", "example.com/hello@v1.0.0", "example.com/hello@v1.1.0", "example.com/hello/v2@v2.0.0", "example.com/legacy@v2.1.0+incompatible"} {
		resp, err := http.Get(fp.URL + "/sumdb/" + dbName + "/lookup/" + mv)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("lookup %s: %s", mv, resp.Status)
		}
	}
}

// lagging makes mirror answer the list of mod without its newest drop
// versions, as a mirror that has not caught up does.
func lagging(mirror *fakeproxy.Server, mod string, drop int) {
	mirror.Inject(fakeproxy.Paths("/"+mod+"/@v/list"), func(c *fakeproxy.Call) {
		g := c.Genuine()
		if g.Code != http.StatusOK {
			c.W.WriteHeader(g.Code)
			c.W.Write(g.Body)
			return
		}
		vs := strings.Fields(string(g.Body))
		vs = vs[:max(0, len(vs)-drop)]
		c.W.Write([]byte(strings.Join(vs, "\n") + "\n"))
	})
}

// TestLaggingProxy: with two proxies in GOPROXY, the one whose lists lack
// versions the other lists is a warning that names the versions; the
// up-to-date one is ok; a --compare reference is compared with but not
// reported on.
func TestLaggingProxy(t *testing.T) {
	full := goodProxy(t)
	behind := fakeproxy.NewMirror(t, full.fp)
	lagging(behind, "example.com/hello", 2)
	mods := func(o *Options) { o.LagModules = []string{"example.com/dep", "example.com/nosuch"} }

	rep, text, js := run(t, full.env(t, behind.URL+","+full.URL+",direct"), mods)
	r := find(t, rep, "lag", behind.URL)
	named(t, r, text, js, Warn, "lagging", "example.com/hello v1.1.0 v1.2.0")
	if strings.Contains(r.Message.String(), "example.com/dep") {
		t.Errorf("a module whose lists agree is named: %s", r.Message)
	}
	if ok := find(t, rep, "lag", full.URL); ok.Status != OK {
		t.Errorf("the full mirror: %s %s", ok.Status, ok.Message)
	}
	if len(rep.Suggestions) == 0 {
		t.Errorf("no suggestion for a lagging first proxy")
	}

	// One proxy: nothing to compare, said so; with --compare the
	// reference shows the lag.
	rep, _, _ = run(t, full.env(t, behind.URL+",direct"), mods)
	if r := find(t, rep, "lag", behind.URL); r.Status != OK || !strings.Contains(r.Message.String(), "not checked") {
		t.Errorf("one proxy: %s %s", r.Status, r.Message)
	}
	rep, text, js = run(t, full.env(t, behind.URL+",direct"), func(o *Options) { mods(o); o.Compare = []string{full.URL + "/"} })
	named(t, find(t, rep, "lag", behind.URL), text, js, Warn, "lagging", "v1.2.0")
	for _, r := range rep.Results {
		if r.Check == "lag" && r.Target != behind.URL {
			t.Errorf("the reference is reported on: %+v", r)
		}
	}
}

// TestLagCapsVersions: a long list of missing versions is capped, newest
// shown.
func TestLagCapsVersions(t *testing.T) {
	full := goodProxy(t)
	for i := range 8 {
		if _, err := full.fp.Add("example.com/many", fmt.Sprintf("v1.%d.0", i), map[string][]byte{"go.mod": []byte("module example.com/many\n")}); err != nil {
			t.Fatal(err)
		}
	}
	behind := fakeproxy.NewMirror(t, full.fp)
	lagging(behind, "example.com/many", 7)
	rep, text, js := run(t, full.env(t, behind.URL+","+full.URL+",direct"), func(o *Options) { o.LagModules = []string{"example.com/many"} })
	r := find(t, rep, "lag", behind.URL)
	named(t, r, text, js, Warn, "lagging", "example.com/many v1.3.0 v1.4.0 v1.5.0 v1.6.0 v1.7.0 (+2)")
}

// TestDefaultSumDBKey: for GOSUMDB naming the go command's default
// database without a key, doctor verifies with the key the installed go
// command knows (the name and the key come from the go command at run
// time, never from gomirror's source); an unknown bare name has no key.
func TestDefaultSumDBKey(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	t.Setenv("GOENV", "off")
	t.Setenv("GOSUMDB", "")
	env, err := gocmd.Env(context.Background(), gocmd.Cmd{}, "GOSUMDB", "GOROOT")
	if err != nil {
		t.Fatal(err)
	}
	db := resolveSumDB(env["GOSUMDB"], env["GOROOT"])
	if db == nil || db.verifier == nil || db.verifier.Name() != env["GOSUMDB"] {
		t.Fatalf("default database %q: %+v", env["GOSUMDB"], db)
	}
	if db := resolveSumDB("sum.unknown.example", env["GOROOT"]); db.verifier != nil || db.keyErr == nil {
		t.Errorf("an unknown bare name has a key: %+v", db)
	}
	if db := resolveSumDB("off", env["GOROOT"]); db != nil {
		t.Errorf("off: %+v", db)
	}
}

// TestSumDBKeyUnknown: a proxy that serves a database whose key doctor
// cannot find (a bare name the go command does not know) is a warning,
// with the signature steps skipped, not an ok.
func TestSumDBKeyUnknown(t *testing.T) {
	srv := goodProxy(t)
	rep, text, js := run(t, env(t, srv.URL+",direct", "GOSUMDB", dbName), nil)
	r := find(t, rep, "sumdb", srv.URL)
	named(t, r, text, js, Warn, "sumdb-key-unknown", "signatures cannot be checked")
	for _, s := range r.Steps[1:] {
		if !s.Skipped {
			t.Errorf("step %s not skipped", s.Name)
		}
	}
}

// TestCredentialsRedacted: a GOPROXY URL with credentials (basic auth, or
// a token as the user name, as many private mirrors take it) never shows
// them: not in targets, step details, messages, fixes, suggestions or
// go_env, in text or JSON. The whole userinfo goes (internal/redact):
// people paste doctor's output into issues.
func TestCredentialsRedacted(t *testing.T) {
	full := goodProxy(t)
	behind := fakeproxy.NewMirror(t, full.fp)
	lagging(behind, "example.com/hello", 1)
	for name, userinfo := range map[string]string{"password": "alice:s3cretpw", "token": "ghp_t0kenAsUserName"} {
		t.Run(name, func(t *testing.T) {
			secret := userinfo[strings.LastIndexByte(userinfo, ':')+1:]
			with := func(u string) string { return strings.Replace(u, "http://", "http://"+userinfo+"@", 1) }
			rep, text, js := run(t, full.env(t, with(behind.URL)+","+with(full.URL)+"|direct"), nil)
			if strings.Contains(text, secret) || strings.Contains(js, secret) {
				t.Errorf("the credential %q is shown:\n%s\n%s", secret, text, js)
			}
			if strings.Contains(text, "@"+strings.TrimPrefix(behind.URL, "http://")) || len(rep.Suggestions) == 0 {
				t.Errorf("a userinfo is left in a URL, or the suggestion is missing:\n%s", text)
			}
			if r := find(t, rep, "lag", behind.URL); r.Status != Warn {
				t.Errorf("lag %s %s", r.Status, r.Message)
			}
		})
	}
}

// TestLagCountsOnlyOldReleases: versions another proxy lists count as
// lag only when they are releases (no pseudo-version) published longer
// ago than the grace period.
func TestLagCountsOnlyOldReleases(t *testing.T) {
	full := goodProxy(t)
	add := func(v string) {
		if _, err := full.fp.Add("example.com/fresh", v, map[string][]byte{"go.mod": []byte("module example.com/fresh\n")}); err != nil {
			t.Fatal(err)
		}
	}
	add("v1.0.0")
	add("v1.1.0")
	add("v1.2.0")
	add("v1.2.1-0.20240102030405-abcdefabcdef")
	full.fp.SetTime("example.com/fresh", "v1.2.0", time.Now().Add(-10*time.Minute))
	behind := fakeproxy.NewMirror(t, full.fp)
	behind.Inject(fakeproxy.Paths("/example.com/fresh/@v/list"), func(c *fakeproxy.Call) { c.W.Write([]byte("v1.0.0\n")) })
	rep, text, js := run(t, full.env(t, behind.URL+","+full.URL+",direct"), func(o *Options) { o.LagModules = []string{"example.com/fresh"} })
	r := find(t, rep, "lag", behind.URL)
	named(t, r, text, js, Warn, "lagging", "example.com/fresh v1.1.0")
	if strings.Contains(r.Message.String(), "v1.2.0") || strings.Contains(text, "0.20240102030405") {
		t.Errorf("a recent release or a pseudo-version counted as lag:\n%s", text)
	}
	if !strings.Contains(text, "published within 1h0m0s (not counted): 1") {
		t.Errorf("the recent release is not mentioned:\n%s", text)
	}
}

// TestUnknownSumDBName: a bare GOSUMDB name the go command has no key for
// fails the gosumdb check (the go command refuses it) and suggests no
// other mirror: switching proxies does not fix it.
func TestUnknownSumDBName(t *testing.T) {
	goroot := t.TempDir()
	dir := filepath.Join(goroot, "src", "cmd", "go", "internal", "modfetch")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	other := goodProxy(t)
	if err := os.WriteFile(filepath.Join(dir, "key.go"), fmt.Appendf(nil, "var knownGOSUMDB = map[string]string{\n\t%q: %q,\n}\n", "sum.other.test", strings.Replace(other.Key, dbName, "sum.other.test", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := goodProxy(t)
	rep, text, js := run(t, env(t, srv.URL+",direct", "GOSUMDB", "sum.unknown.test", "GOROOT", goroot), nil)
	named(t, find(t, rep, "gosumdb", ""), text, js, Fail, "gosumdb-unknown", "does not know")
	if len(rep.Suggestions) != 0 || strings.Contains(text, "GOROOT") && strings.Contains(text, "readable") {
		t.Errorf("suggestions %v or a GOROOT fix:\n%s", rep.Suggestions, text)
	}
}

// TestWriteTextChinese: doctor's sumdb, lag and suggestion texts render in
// Chinese (no English of doctor's own beyond identifiers, URLs and
// library errors), each step on one line.
func TestWriteTextChinese(t *testing.T) {
	full := goodProxy(t)
	behind := fakeproxy.NewMirror(t, full.fp)
	lagging(behind, "example.com/hello", 1)
	rep, _, _ := run(t, full.env(t, behind.URL+","+full.URL+",direct"), nil)
	var b bytes.Buffer
	if err := WriteText(&b, i18n.NewPrinter(i18n.Supported[1]), rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("%s", out)
	for _, want := range []string{"已签名树", "缺少", "版本数：", "试试 `gomirror setup --fastest`", "不同步"} {
		if !strings.Contains(out, want) {
			t.Errorf("zh output lacks %q", want)
		}
	}
	for _, english := range []string{"lacks", "versions", "signed tree", "the first proxy", "verified with"} {
		if strings.Contains(out, english) {
			t.Errorf("English %q in the zh output", english)
		}
	}
}
