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
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/testcert"
)

const dbName = "sum.example.test"

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

// proxyHandler speaks the module proxy protocol for the probe module and
// proxies the checksum database dbName.
func proxyHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/" + setup.DefaultProbeModule + "/@v/list":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("v0.1.0\nv0.2.0\n"))
	case "/sumdb/" + dbName + "/supported":
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func goodProxy(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(proxyHandler))
	t.Cleanup(srv.Close)
	return srv
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
	o := Options{Go: fakeGo{"go version go1.26.8 linux/amd64", e}, Getenv: noEnv, Timeout: 5 * time.Second, RootCAs: x509.NewCertPool()}
	if tweak != nil {
		tweak(&o)
	}
	rep := Run(context.Background(), o)
	var text bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
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
	if !strings.Contains(r.Message, phrase) || !strings.Contains(text, phrase) {
		t.Errorf("%q not in the message or text:\n%s", phrase, text)
	}
	if !strings.Contains(js, `"problem":"`+problem+`"`) {
		t.Errorf("JSON lacks problem %q:\n%s", problem, js)
	}
	if status != OK && r.Fix == "" {
		t.Errorf("%s %s: no fix", r.Check, r.Target)
	}
}

func TestGoodProxy(t *testing.T) {
	srv := goodProxy(t)
	rep, text, _ := run(t, env(t, srv.URL+",direct"), nil)
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
	if s := find(t, rep, "sumdb", srv.URL); s.Status != OK || !strings.Contains(s.Message, "proxies the checksum database "+dbName) {
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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // answer late, or when the client gives up
		case <-time.After(500 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		proxyHandler(w, r)
	}))
	defer srv.Close()
	rep, text, js := run(t, env(t, srv.URL+",direct"), func(o *Options) { o.Slow = 200 * time.Millisecond })
	p := find(t, rep, "proxy", srv.URL)
	named(t, p, text, js, Warn, "slow", "slow")
	if !strings.Contains(p.Message, "protocol took") {
		t.Errorf("message does not name the slow step: %s", p.Message)
	}
	if !strings.Contains(p.Fix, "gomirror setup --fastest") {
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
	srv := httptest.NewUnstartedServer(http.HandlerFunc(proxyHandler))
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
	e := env(t, srv.URL+",direct", "GOPRIVATE", "git.corp.internal/*,*.secret.internal", "GONOSUMDB", "git.corp.internal/*", "GONOPROXY", "git.corp.internal/*,*.secret.internal")
	rep, text, js := run(t, e, nil)
	r := find(t, rep, "private", "")
	named(t, r, text, js, Fail, "private-sent-to-sumdb", "private module paths are sent to the checksum database")
	if !strings.Contains(r.Message, "*.secret.internal") || strings.Contains(r.Message, "pattern(s) git.corp") {
		t.Errorf("message does not name exactly the uncovered pattern: %s", r.Message)
	}
	if !strings.Contains(r.Fix, "GONOSUMDB=git.corp.internal/*,*.secret.internal") {
		t.Errorf("fix: %s", r.Fix)
	}

	// Covered by a wider pattern: fine.
	e = env(t, srv.URL+",direct", "GOPRIVATE", "git.corp.internal/team", "GONOSUMDB", "git.corp.internal", "GONOPROXY", "git.corp.internal/team")
	rep, _, _ = run(t, e, nil)
	if r := find(t, rep, "private", ""); r.Status != OK {
		t.Errorf("covered: %s %s", r.Status, r.Message)
	}

	// GONOPROXY not covering GOPRIVATE is a warning.
	e = env(t, srv.URL+",direct", "GOPRIVATE", "git.corp.internal", "GONOSUMDB", "git.corp.internal", "GONOPROXY", "none.internal")
	rep, text, js = run(t, e, nil)
	named(t, find(t, rep, "private", ""), text, js, Warn, "private-via-proxy", "requested from GOPROXY")
}

// TestPrivateCoverageIsTheGoCommands: the go command matches GOPRIVATE,
// GONOSUMDB and GONOPROXY case-sensitively, so a GONOSUMDB that names a
// private path only in another case does not keep it from the checksum
// database; and a pattern that is not a valid glob never matches at all.
func TestPrivateCoverageIsTheGoCommands(t *testing.T) {
	srv := goodProxy(t)
	e := env(t, srv.URL+",direct", "GOPRIVATE", "github.com/MyCorp", "GONOSUMDB", "github.com/mycorp", "GONOPROXY", "github.com/MyCorp")
	rep, text, js := run(t, e, nil)
	named(t, find(t, rep, "private", ""), text, js, Fail, "private-sent-to-sumdb", "github.com/MyCorp")

	// Both spellings listed: covered.
	e = env(t, srv.URL+",direct", "GOPRIVATE", "github.com/MyCorp", "GONOSUMDB", "github.com/mycorp,github.com/MyCorp", "GONOPROXY", "github.com/MyCorp")
	rep, _, _ = run(t, e, nil)
	if r := find(t, rep, "private", ""); r.Status != OK {
		t.Errorf("covered in the same case: %s %s", r.Status, r.Message)
	}

	bad := "corp.example/[x,other.example"
	e = env(t, srv.URL+",direct", "GOPRIVATE", bad, "GONOSUMDB", bad, "GONOPROXY", bad)
	rep, text, js = run(t, e, nil)
	r := find(t, rep, "private", "")
	named(t, r, text, js, Fail, "bad-pattern", "corp.example/[x")
	n := 0
	for _, r := range rep.Results {
		if r.Problem == "bad-pattern" {
			n++
		}
	}
	if strings.Contains(r.Message, "other.example") || n != 1 {
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
	rep, text, js := run(t, env(t, srv.URL), nil)
	r := find(t, rep, "goproxy", "")
	named(t, r, text, js, Warn, "no-direct", "no \"direct\" fallback")
	if !strings.Contains(r.Fix, "GOPROXY="+srv.URL+",direct") {
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
	if r.Status != Warn || r.Problem != "proxy-not-in-no-proxy" || !strings.Contains(r.Fix, "NO_PROXY=other.internal,mirror.corp.internal,10.1.2.3") {
		t.Errorf("%+v", r)
	}
	if strings.Contains(r.Message, "127.0.0.1:3000") {
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
	if r := checkModCache(filepath.Join(dir, "a", "b")); r.Status == Fail || !strings.Contains(r.Message, "does not exist yet") {
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
	WriteText(&text, rep)
	t.Logf("report:\n%s", text.String())
	if got := rep.GoEnv["GOPROXY"]; got != srv.URL+",direct" {
		t.Errorf("GOPROXY %q", got)
	}
	if r := find(t, rep, "go-version", ""); !strings.HasPrefix(r.Message, "go version go") {
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
