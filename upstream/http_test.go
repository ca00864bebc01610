package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// recordingServer answers every request with 200 and body, and records the
// request URIs exactly as they came over the wire.
type recordingServer struct {
	*httptest.Server
	mu   sync.Mutex
	uris []string
}

func newRecordingServer(t *testing.T, body string) *recordingServer {
	t.Helper()
	s := &recordingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.uris = append(s.uris, r.RequestURI)
		s.mu.Unlock()
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *recordingServer) URIs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.uris...)
}

func newTestProxy(t *testing.T, rawURL string) *Proxy {
	t.Helper()
	tr := NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	p, err := NewProxy(rawURL, &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProxyEscapesPathsOnTheWire(t *testing.T) {
	const mixed = "example.com/MixedCase"
	tests := []struct {
		name    string
		prefix  string // path of the proxy's base URL
		call    func(ctx context.Context, p *Proxy) error
		wantURI string
	}{
		{"list", "", func(ctx context.Context, p *Proxy) error { _, _, err := p.List(ctx, mixed); return err },
			"/example.com/!mixed!case/@v/list"},
		{"latest", "", func(ctx context.Context, p *Proxy) error { _, _, err := p.Latest(ctx, mixed); return err },
			"/example.com/!mixed!case/@latest"},
		{"info for a version", "", func(ctx context.Context, p *Proxy) error { _, _, err := p.Info(ctx, mixed, "v1.0.0"); return err },
			"/example.com/!mixed!case/@v/v1.0.0.info"},
		{"info for a mixed-case branch", "", func(ctx context.Context, p *Proxy) error { _, _, err := p.Info(ctx, mixed, "Dev-Branch"); return err },
			"/example.com/!mixed!case/@v/!dev-!branch.info"},
		{"mod for a mixed-case prerelease", "", func(ctx context.Context, p *Proxy) error { _, _, err := p.GoMod(ctx, mixed, "v1.0.0-RC.1"); return err },
			"/example.com/!mixed!case/@v/v1.0.0-!r!c.1.mod"},
		{"zip", "", func(ctx context.Context, p *Proxy) error {
			body, _, _, err := p.Zip(ctx, mixed, "v1.0.0")
			if err == nil {
				body.Close()
			}
			return err
		}, "/example.com/!mixed!case/@v/v1.0.0.zip"},
		{"info under a base path", "/mirror/go/", func(ctx context.Context, p *Proxy) error { _, _, err := p.Info(ctx, mixed, "v1.0.0"); return err },
			"/mirror/go/example.com/!mixed!case/@v/v1.0.0.info"},
		{"a path of many elements", "", func(ctx context.Context, p *Proxy) error {
			_, _, err := p.List(ctx, "example.com/Org/Repo/v2")
			return err
		}, "/example.com/!org/!repo/v2/@v/list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRecordingServer(t, "{}")
			p := newTestProxy(t, s.URL+tt.prefix)
			if err := tt.call(context.Background(), p); err != nil {
				t.Fatal(err)
			}
			if got := s.URIs(); len(got) != 1 || got[0] != tt.wantURI {
				t.Errorf("server saw %q; want [%q]", got, tt.wantURI)
			}
		})
	}

	t.Run("invalid paths and versions are refused without a request", func(t *testing.T) {
		s := newRecordingServer(t, "{}")
		p := newTestProxy(t, s.URL)
		ctx := context.Background()
		for _, call := range []func() error{
			func() error { _, _, err := p.List(ctx, "example.com/a b"); return err },
			func() error { _, _, err := p.Info(ctx, "example.com/x", "v1.0.0/../../y"); return err },
			func() error { _, _, _, err := p.Zip(ctx, "../x", "v1.0.0"); return err },
		} {
			if err := call(); err == nil {
				t.Error("an invalid path or version was accepted")
			}
		}
		if got := s.URIs(); len(got) != 0 {
			t.Errorf("server saw %q; want no requests", got)
		}
	})
}

func TestGetBytesRefusesBadBodies(t *testing.T) {
	big := strings.Repeat("x", maxSmall+1)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string // substring of the error; "" for success
		wantLen int
	}{
		{
			"content-length larger than the body",
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "100")
				io.WriteString(w, "only ten!!")
			},
			"unexpected EOF", 0,
		},
		{
			"hijacked connection closed mid-body",
			func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					panic(err)
				}
				defer conn.Close()
				buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/json\r\n\r\n{\"Version\":")
				buf.Flush()
			},
			"unexpected EOF", 0,
		},
		{
			"chunked body over the limit",
			func(w http.ResponseWriter, r *http.Request) {
				w.(http.Flusher).Flush() // no Content-Length: chunked
				io.WriteString(w, big)
			},
			fmt.Sprintf("larger than the %d bytes allowed", maxSmall), 0,
		},
		{
			"announced body over the limit",
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(len(big)))
				io.WriteString(w, big)
			},
			fmt.Sprintf("more than the %d allowed", maxSmall), 0,
		},
		{
			"body exactly at the limit is accepted",
			func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, big[:maxSmall])
			},
			"", maxSmall,
		},
		{
			"complete small body is accepted",
			func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "2")
				io.WriteString(w, "{}")
			},
			"", 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := httptest.NewServer(tt.handler)
			t.Cleanup(s.Close)
			p := newTestProxy(t, s.URL)
			b, err := p.GetBytes(context.Background(), "example.com/x/@v/v1.0.0.info")
			if tt.wantErr == "" {
				if err != nil || len(b) != tt.wantLen {
					t.Fatalf("GetBytes = %d bytes, %v; want %d bytes", len(b), err, tt.wantLen)
				}
				return
			}
			if err == nil {
				t.Fatalf("GetBytes = %d bytes; want an error", len(b))
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("GetBytes error %q; want it to mention %q", err, tt.wantErr)
			}
			if IsNotExist(err) {
				t.Errorf("GetBytes error %q is not-exist; a broken body is not a missing module", err)
			}
			// The same failure through a Fetcher method.
			if _, _, err := p.Info(context.Background(), "example.com/x", "v1.0.0"); err == nil {
				t.Error("Info accepted the bad body")
			}
		})
	}
}

func TestStatusErrorCarriesServerMessage(t *testing.T) {
	long := strings.Repeat("y", 2000)
	tests := []struct {
		name     string
		code     int
		body     string
		wantText string
		wantErr  string // the StatusError's Error()
	}{
		{"404 with the go command's wording", 404, "not found: example.com/x@v1.0.0: invalid version: unknown revision v1.0.0\n",
			"not found: example.com/x@v1.0.0: invalid version: unknown revision v1.0.0",
			"404 Not Found: not found: example.com/x@v1.0.0: invalid version: unknown revision v1.0.0"},
		{"410 gone", 410, "gone: retracted by policy", "gone: retracted by policy", "410 Gone: gone: retracted by policy"},
		{"403 refusal", 403, "  forbidden: module blocked by policy  ", "forbidden: module blocked by policy",
			"403 Forbidden: forbidden: module blocked by policy"},
		{"500 without a body", 500, "", "", "500 Internal Server Error"},
		{"a long body is cut at 512 bytes", 502, long, long[:512], "502 Bad Gateway: " + long[:512]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.code)
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(s.Close)
			p := newTestProxy(t, s.URL)
			_, _, err := p.Info(context.Background(), "example.com/x", "v1.0.0")
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("Info error %#v; want a *StatusError", err)
			}
			if se.Code != tt.code || se.Text != tt.wantText || se.Error() != tt.wantErr {
				t.Errorf("StatusError{%d, %q} %q; want {%d, %q} %q", se.Code, se.Text, se.Error(), tt.code, tt.wantText, tt.wantErr)
			}
			if tt.wantText != "" && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Info error %q lacks the server's message", err)
			}
			if !strings.Contains(err.Error(), "info example.com/x@v1.0.0 from "+s.URL) {
				t.Errorf("Info error %q does not say what was asked of whom", err)
			}
		})
	}
}

func TestProxyCredentialsNeverShow(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	type server struct {
		url  string
		hits func() int
	}
	// authServer requires the credentials and then answers with handler.
	authServer := func(t *testing.T, user, pass string, handler http.HandlerFunc) server {
		var mu sync.Mutex
		authed := 0
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, _ := r.BasicAuth()
			if u != user || p != pass {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			mu.Lock()
			authed++
			mu.Unlock()
			handler(w, r)
		}))
		t.Cleanup(s.Close)
		return server{s.URL, func() int { mu.Lock(); defer mu.Unlock(); return authed }}
	}
	withCreds := func(base, userinfo string) string {
		return strings.Replace(base, "://", "://"+userinfo+"@", 1)
	}

	tests := []struct {
		name     string
		userinfo string // user:password or a bare token
		user     string
		pass     string
		setup    func(t *testing.T, user, pass string) server
		timeout  time.Duration
		wantErr  bool
	}{
		{"success uses the credentials", "me:" + secret, "me", secret, func(t *testing.T, u, p string) server {
			return authServer(t, u, p, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
		}, 0, false},
		{"a status error", "me:" + secret, "me", secret, func(t *testing.T, u, p string) server {
			return authServer(t, u, p, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "not found: nope", 404) })
		}, 0, true},
		{"a bare token as user name", secret, secret, "", func(t *testing.T, u, p string) server {
			return authServer(t, u, p, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
		}, 0, true},
		{"connection refused", "me:" + secret, "me", secret, func(t *testing.T, u, p string) server {
			s := httptest.NewServer(http.NotFoundHandler())
			s.Close()
			return server{s.URL, func() int { return 0 }}
		}, 0, true},
		{"connection refused with a bare token", secret, secret, "", func(t *testing.T, u, p string) server {
			s := httptest.NewServer(http.NotFoundHandler())
			s.Close()
			return server{s.URL, func() int { return 0 }}
		}, 0, true},
		{"timeout", "me:" + secret, "me", secret, func(t *testing.T, u, p string) server {
			release := make(chan struct{})
			s := authServer(t, u, p, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			t.Cleanup(func() { close(release) })
			return s
		}, 200 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.setup(t, tt.user, tt.pass)
			p := newTestProxy(t, withCreds(srv.url, tt.userinfo))
			if p.String() != srv.url {
				t.Errorf("String() = %q; want %q", p.String(), srv.url)
			}
			if u := p.URL(); u.User == nil || u.User.Username() != tt.user {
				t.Errorf("URL() = %v; want it to keep the credentials for requests", u)
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			var errs []error
			_, _, err := p.Info(ctx, "example.com/x", "v1.0.0")
			errs = append(errs, err)
			_, _, _, err = p.Zip(ctx, "example.com/x", "v1.0.0")
			errs = append(errs, err)
			_, err = p.GetBytes(ctx, "example.com/x/@v/list")
			errs = append(errs, err)
			for _, err := range errs {
				if (err != nil) != tt.wantErr {
					t.Errorf("error = %v; want error %v", err, tt.wantErr)
				}
				if err == nil {
					continue
				}
				for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err)} {
					if strings.Contains(text, secret) {
						t.Errorf("error text %q contains the secret", text)
					}
				}
			}
			if !tt.wantErr && srv.hits() == 0 {
				t.Error("the server never saw the credentials")
			}
		})
	}
}

func TestFileProxy(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "example.com", "!mixed!case", "@v", "list")
	if err := os.MkdirAll(filepath.Dir(list), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(list, []byte("v1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := NewProxy("file://"+filepath.ToSlash(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, _, err := p.List(ctx, "example.com/MixedCase")
	if err != nil || string(b) != "v1.0.0\n" {
		t.Errorf("List = %q, %v; want the file's content", b, err)
	}
	if _, _, err := p.Info(ctx, "example.com/MixedCase", "v1.0.0"); !IsNotExist(err) {
		t.Errorf("Info of a missing file = %v; want not-exist", err)
	}
}

func TestZipsUseTheirOwnConnections(t *testing.T) {
	up := fakeproxy.New(t)
	var mu sync.Mutex
	conns := map[string]string{} // request path -> client address
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		conns[r.URL.Path] = r.RemoteAddr
		mu.Unlock()
		return false
	})
	p, err := NewProxy(up.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 { // the second round reuses whatever connections the first left idle
		if _, _, err := p.Info(ctx, "example.com/hello", "v1.0.0"); err != nil {
			t.Fatal(err)
		}
		body, _, _, err := p.Zip(ctx, "example.com/hello", "v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, body)
		body.Close()
		if _, _, err := p.GoMod(ctx, "example.com/hello", "v1.0.0"); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	info, zip, mod := conns["/example.com/hello/@v/v1.0.0.info"], conns["/example.com/hello/@v/v1.0.0.zip"], conns["/example.com/hello/@v/v1.0.0.mod"]
	if info != mod {
		t.Errorf(".info and .mod on different connections (%s, %s): metadata connections are not reused", info, mod)
	}
	if zip == info {
		t.Errorf("the zip shared the metadata connection %s", zip)
	}
}

// TestSmallAnswersAreReadWithinTheirLimits has an upstream stream junk
// without end (announced or chunked) to each of the Fetcher's small reads
// and to GetBytes: each is refused, saying what was too large, and stops
// reading near its limit rather than buffering the whole answer. Answers at
// their limit are accepted.
func TestSmallAnswersAreReadWithinTheirLimits(t *testing.T) {
	const stream = 256 << 20 // far more than any limit, and than socket buffers
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		limit int
		call  func(p *Proxy) ([]byte, error)
	}{
		{".info", MaxInfo, func(p *Proxy) ([]byte, error) { return bytesOnly(p.Info(ctx, "example.com/x", "v1.0.0")) }},
		{"@latest", MaxInfo, func(p *Proxy) ([]byte, error) { return bytesOnly(p.Latest(ctx, "example.com/x")) }},
		{"list", maxList, func(p *Proxy) ([]byte, error) { return bytesOnly(p.List(ctx, "example.com/x")) }},
		{".mod", maxGoMod, func(p *Proxy) ([]byte, error) { return bytesOnly(p.GoMod(ctx, "example.com/x", "v1.0.0")) }},
		{"checksum database (GetBytes)", maxSmall, func(p *Proxy) ([]byte, error) {
			return p.GetBytes(ctx, "sumdb/sum.example.test/lookup/example.com/x@v1.0.0")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, announced := range []bool{false, true} {
				var written atomic.Int64
				done := make(chan struct{})
				s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					defer close(done)
					if announced {
						w.Header().Set("Content-Length", fmt.Sprint(stream))
					}
					chunk := bytes.Repeat([]byte(`{"Junk":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`), 1024)
					for written.Load() < stream {
						n, err := w.Write(chunk)
						written.Add(int64(n))
						if err != nil {
							return // the client hung up
						}
					}
				}))
				p := newTestProxy(t, s.URL)
				b, err := tc.call(p)
				if err == nil {
					t.Fatalf("announced=%v: %d bytes accepted", announced, len(b))
				}
				want := fmt.Sprintf("more than the %d allowed", tc.limit)
				if !announced {
					want = fmt.Sprintf("larger than the %d bytes allowed", tc.limit)
				}
				if !strings.Contains(err.Error(), want) {
					t.Errorf("announced=%v: error %q does not say %q", announced, err, want)
				}
				<-done // the handler ends when the client hangs up
				s.Close()
				if n := written.Load(); n >= stream/2 {
					t.Errorf("announced=%v: the upstream wrote %d bytes before the client stopped reading; limit %d", announced, n, tc.limit)
				}
			}
			// An answer of exactly the limit is read whole.
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write(bytes.Repeat([]byte("x"), tc.limit))
			}))
			defer s.Close()
			if b, err := tc.call(newTestProxy(t, s.URL)); err != nil || len(b) != tc.limit {
				t.Errorf("answer at the limit: %d bytes, %v", len(b), err)
			}
		})
	}
}
