package cache

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
	"github.com/gomirror/gomirror/upstream"
)

// This file tests the Mirror's decisions with a fake upstream and the
// in-memory store; no checksum database is configured (Verifier nil), as
// verification is not the point here (see cache_test.go for that).

const fakePath = "example.com/a"

// fakeAnswer is one answer of a fakeUpstream: bytes, or an error.
type fakeAnswer struct {
	b   []byte
	err error
}

// fakeUpstream is an upstream.Fetcher that answers from a table keyed by
// "op path" or "op path@version" (op: list, latest, info, mod, zip),
// says "not found" for anything else, and counts the calls by key. If
// gate is set, every call waits for it to be closed first, after a send
// on arrived (if set and not full).
type fakeUpstream struct {
	answers map[string]fakeAnswer
	gate    chan struct{}
	arrived chan struct{}

	mu    sync.Mutex
	calls map[string]int
}

var _ upstream.Fetcher = (*fakeUpstream)(nil)

func newFakeUpstream(answers map[string]fakeAnswer) *fakeUpstream {
	return &fakeUpstream{answers: answers, calls: map[string]int{}}
}

func (f *fakeUpstream) answer(ctx context.Context, key string) ([]byte, upstream.Answer, error) {
	f.mu.Lock()
	f.calls[key]++
	f.mu.Unlock()
	if f.arrived != nil {
		select {
		case f.arrived <- struct{}{}:
		default:
		}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, upstream.Answer{}, ctx.Err()
		}
	}
	a, ok := f.answers[key]
	if !ok {
		return nil, upstream.Answer{Upstream: "fake"}, upstream.NotExist(key + ": not found")
	}
	return a.b, upstream.Answer{Upstream: "fake"}, a.err
}

// Calls returns how many times key was asked for.
func (f *fakeUpstream) Calls(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *fakeUpstream) List(ctx context.Context, path string) ([]byte, upstream.Answer, error) {
	return f.answer(ctx, "list "+path)
}
func (f *fakeUpstream) Latest(ctx context.Context, path string) ([]byte, upstream.Answer, error) {
	return f.answer(ctx, "latest "+path)
}
func (f *fakeUpstream) Info(ctx context.Context, path, query string) ([]byte, upstream.Answer, error) {
	return f.answer(ctx, "info "+path+"@"+query)
}
func (f *fakeUpstream) GoMod(ctx context.Context, path, version string) ([]byte, upstream.Answer, error) {
	return f.answer(ctx, "mod "+path+"@"+version)
}
func (f *fakeUpstream) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, upstream.Answer, error) {
	b, a, err := f.answer(ctx, "zip "+path+"@"+version)
	if err != nil {
		return nil, 0, a, err
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), a, nil
}
func (f *fakeUpstream) String() string { return "fake" }

// fakeVersion returns the answers of a valid version of fakePath.
func fakeVersion(t *testing.T, version string) map[string]fakeAnswer {
	t.Helper()
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, err := zw.Create(fakePath + "@" + version + "/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "module "+fakePath+"\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	at := fakePath + "@" + version
	return map[string]fakeAnswer{
		"info " + at: {b: []byte(`{"Version":"` + version + `","Time":"2024-01-01T00:00:00Z"}`)},
		"mod " + at:  {b: []byte("module " + fakePath + "\n")},
		"zip " + at:  {b: zb.Bytes()},
	}
}

// newFakeMirror returns a Mirror over f and a fresh in-memory store; its
// fills are waited for when the test ends. Its logs are discarded unless
// opts has a Logger.
func newFakeMirror(t *testing.T, f upstream.Fetcher, opts Options) (*Mirror, *mem.Store) {
	t.Helper()
	store := mem.New()
	opts.Storage, opts.Upstream = store, f
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TempDir == "" {
		opts.TempDir = t.TempDir()
	}
	m := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Wait(ctx); err != nil {
			t.Error(err)
		}
		m.Close()
	})
	return m, store
}

// escaped returns path@version with its escaped forms (layout.Escape), as
// a caller that has only the strings builds it for the Mirror's methods
// (version "" for a module's list and @latest). It panics if they do not
// escape, which the tests' constants do.
func escaped(path, version string) layout.Module {
	em, err := layout.Escape(module.Version{Path: path, Version: version})
	if err != nil {
		panic(err)
	}
	return em
}

// get calls the Mirror's method for op on fakePath@version and returns the
// answer's bytes.
func get(ctx context.Context, m *Mirror, op, version string) ([]byte, Source, error) {
	switch op {
	case "info":
		return readObject(m.Info(ctx, escaped(fakePath, version)))
	case "mod":
		return readObject(m.GoMod(ctx, escaped(fakePath, version)))
	case "zip":
		return readObject(m.Zip(ctx, escaped(fakePath, version)))
	}
	panic("unknown op " + op)
}

var immutableOps = []struct{ op, key string }{
	{"info", fakePath + "/@v/v1.0.0.info"},
	{"mod", fakePath + "/@v/v1.0.0.mod"},
	{"zip", fakePath + "/@v/v1.0.0.zip"},
}

// TestImmutableMissThenHit: the first request for an immutable artifact
// is a miss that fetches and stores it; the next is a hit; the upstream
// is asked once.
func TestImmutableMissThenHit(t *testing.T) {
	for _, tt := range immutableOps {
		t.Run(tt.op, func(t *testing.T) {
			f := newFakeUpstream(fakeVersion(t, "v1.0.0"))
			m, store := newFakeMirror(t, f, Options{})
			ctx := t.Context()
			want := f.answers[tt.op+" "+fakePath+"@v1.0.0"].b
			if tt.op == "info" {
				want, _ = checkInfo(want, fakePath, "v1.0.0")
			}
			for i, wantSrc := range []Source{{Outcome: Miss, Upstream: "fake"}, {Outcome: Hit}} {
				b, src, err := get(ctx, m, tt.op, "v1.0.0")
				if err != nil || !bytes.Equal(b, want) || src != wantSrc {
					t.Fatalf("request %d: %q, %+v, %v; want %q, %+v", i, b, src, err, want, wantSrc)
				}
				if err := m.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				if got, err := storage.ReadAll(ctx, store, tt.key); err != nil || !bytes.Equal(got, want) {
					t.Errorf("request %d: stored %q, %v", i, got, err)
				}
			}
			if n := f.Calls(tt.op + " " + fakePath + "@v1.0.0"); n != 1 {
				t.Errorf("upstream asked %d times, want 1", n)
			}
		})
	}
}

// TestConcurrentMissesCoalesce: misses for one artifact at the same time
// share one upstream fetch, and every caller gets its answer.
func TestConcurrentMissesCoalesce(t *testing.T) {
	const callers = 8
	for _, tt := range immutableOps {
		t.Run(tt.op, func(t *testing.T) {
			f := newFakeUpstream(fakeVersion(t, "v1.0.0"))
			f.gate, f.arrived = make(chan struct{}), make(chan struct{}, 1)
			m, _ := newFakeMirror(t, f, Options{})
			ctx := t.Context()
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			for range callers {
				wg.Go(func() {
					b, _, err := get(ctx, m, tt.op, "v1.0.0")
					if err == nil && len(b) == 0 {
						err = errors.New("empty answer")
					}
					errs <- err
				})
			}
			// The fill is held at the upstream; callers that join it
			// meanwhile share it, and one that comes after it is a hit:
			// either way the upstream is asked once.
			<-f.arrived
			close(f.gate)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if n := f.Calls(tt.op + " " + fakePath + "@v1.0.0"); n != 1 {
				t.Errorf("upstream asked %d times for %d concurrent misses, want 1", n, callers)
			}
		})
	}
}

// TestNotFoundIsRemembered: the upstream's "not found" is answered again
// without asking it for NegativeTTL; with the negative cache disabled it
// is asked every time.
func TestNotFoundIsRemembered(t *testing.T) {
	tests := []struct {
		ttl       time.Duration
		wantCalls int // for three requests
	}{
		{0, 1}, // the default, 1 minute
		{time.Hour, 1},
		{-1, 3},
	}
	for _, tt := range tests {
		for _, op := range []string{"info", "mod", "zip"} {
			t.Run(op+"/ttl="+tt.ttl.String(), func(t *testing.T) {
				f := newFakeUpstream(nil)
				m, _ := newFakeMirror(t, f, Options{NegativeTTL: tt.ttl})
				for range 3 {
					if _, _, err := get(t.Context(), m, op, "v1.0.0"); !upstream.IsNotExist(err) {
						t.Fatalf("err = %v, want not found", err)
					}
				}
				if n := f.Calls(op + " " + fakePath + "@v1.0.0"); n != tt.wantCalls {
					t.Errorf("upstream asked %d times, want %d", n, tt.wantCalls)
				}
			})
		}
	}
}

// TestList: a list is the union of the upstream's list and the versions
// storage holds (its stored list and its artifacts); if the upstream fails,
// what storage holds is served, stale.
func TestList(t *testing.T) {
	boom := errors.New("upstream down")
	tests := []struct {
		name     string
		stored   map[string]string // key (under fakePath) → content
		upstream fakeAnswer
		want     string
		wantSrc  Source
		wantErr  bool
	}{
		{
			name:     "fresh",
			upstream: fakeAnswer{b: []byte("v1.1.0\nv1.0.0\n")},
			want:     "v1.0.0\nv1.1.0\n",
			wantSrc:  Source{Outcome: Fresh, Upstream: "fake"},
		},
		{
			name: "union with stored list and artifacts",
			stored: map[string]string{
				"/@v/list":        "v0.9.0\nv1.0.0\n",
				"/@v/v1.2.0.info": "{}",
				"/@v/v1.3.0.zip":  "zip",
				// Pseudo-versions are not listed.
				"/@v/v0.0.0-20240101000000-abcdefabcdef.info": "{}",
			},
			upstream: fakeAnswer{b: []byte("v1.1.0\nv1.0.0\nv1.4\n")}, // v1.4: not canonical, not listed
			want:     "v0.9.0\nv1.0.0\nv1.1.0\nv1.2.0\nv1.3.0\n",
			wantSrc:  Source{Outcome: Fresh, Upstream: "fake"},
		},
		{
			name:     "stale if error",
			stored:   map[string]string{"/@v/list": "v1.0.0\n", "/@v/v1.2.0.mod": "module " + fakePath + "\n"},
			upstream: fakeAnswer{err: boom},
			want:     "v1.0.0\nv1.2.0\n",
			wantSrc:  Source{Outcome: Stale, Upstream: "fake"},
		},
		{
			name:     "stale if not found",
			stored:   map[string]string{"/@v/list": "v1.0.0\n"},
			upstream: fakeAnswer{err: upstream.NotExist("gone")},
			want:     "v1.0.0\n",
			wantSrc:  Source{Outcome: Stale, Upstream: "fake"},
		},
		{
			name:     "error with nothing stored",
			upstream: fakeAnswer{err: boom},
			wantSrc:  Source{Outcome: Miss, Upstream: "fake"},
			wantErr:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUpstream(map[string]fakeAnswer{"list " + fakePath: tt.upstream})
			m, store := newFakeMirror(t, f, Options{})
			ctx := t.Context()
			for k, v := range tt.stored {
				if err := storage.PutBytes(ctx, store, fakePath+k, []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
			b, src, err := m.List(ctx, escaped(fakePath, ""))
			if (err != nil) != tt.wantErr || string(b) != tt.want || src != tt.wantSrc {
				t.Fatalf("List = %q, %+v, %v; want %q, %+v, error %v", b, src, err, tt.want, tt.wantSrc, tt.wantErr)
			}
			stored, _ := storage.ReadAll(ctx, store, fakePath+"/@v/list")
			switch {
			case tt.wantSrc.Outcome == Fresh && string(stored) != tt.want:
				t.Errorf("stored list %q, want the answer %q", stored, tt.want)
			case tt.wantSrc.Outcome == Stale && string(stored) != tt.stored["/@v/list"]:
				t.Errorf("stale answer changed the stored list to %q", stored)
			}
		})
	}
}

// TestPrefetchAfterValidInfo: a miss on a canonical .info whose upstream
// answer is valid starts the fills of the version's .mod and .zip; an
// invalid or missing .info starts none. The .mod is stored; the zip, which
// no client has asked for, is held outside storage until a client does,
// and is then stored without another upstream request.
func TestPrefetchAfterValidInfo(t *testing.T) {
	tests := []struct {
		name      string
		info      *fakeAnswer // nil: not found
		wantFills int
	}{
		{"valid", nil, 1}, // info filled in from fakeVersion below
		{"invalid", &fakeAnswer{b: []byte(`{"Version":"v1.0.1","Time":"2024-01-01T00:00:00Z"}`)}, 0},
		{"not JSON", &fakeAnswer{b: []byte("v1.0.0")}, 0},
		{"failed", &fakeAnswer{err: errors.New("upstream down")}, 0},
		{"missing", &fakeAnswer{err: upstream.NotExist("no such version")}, 0},
	}
	at := fakePath + "@v1.0.0"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := fakeVersion(t, "v1.0.0")
			if tt.info != nil {
				answers["info "+at] = *tt.info
			}
			f := newFakeUpstream(answers)
			m, store := newFakeMirror(t, f, Options{Prefetch: 2})
			ctx := t.Context()
			_, _, err := get(ctx, m, "info", "v1.0.0")
			if (err == nil) != (tt.wantFills == 1) {
				t.Fatalf("Info: %v", err)
			}
			if err := m.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			for _, op := range []string{"mod", "zip"} {
				if n := f.Calls(op + " " + at); n != tt.wantFills {
					t.Errorf("%s: upstream asked %d times, want %d", op, n, tt.wantFills)
				}
				_, err := store.Stat(ctx, fakePath+"/@v/v1.0.0."+op)
				if stored, want := err == nil, tt.wantFills == 1 && op == "mod"; stored != want {
					t.Errorf("%s stored: %v, want %v", op, stored, want)
				}
			}
			if tt.wantFills == 1 {
				// The client's own requests need no upstream request:
				// the .mod is a hit, the held zip is stored now.
				if _, src, err := get(ctx, m, "mod", "v1.0.0"); err != nil || src.Outcome != Hit {
					t.Errorf("mod after prefetch: %+v, %v; want a hit", src, err)
				}
				b, _, err := get(ctx, m, "zip", "v1.0.0")
				if err != nil || !bytes.Equal(b, answers["zip "+at].b) {
					t.Errorf("zip after prefetch: %d bytes, %v; want the upstream's %d", len(b), err, len(answers["zip "+at].b))
				}
				if n := f.Calls("zip " + at); n != 1 {
					t.Errorf("zip: upstream asked %d times after the client's request, want 1", n)
				}
				if _, err := store.Stat(ctx, fakePath+"/@v/v1.0.0.zip"); err != nil {
					t.Errorf("zip not stored after the client's request: %v", err)
				}
				if n, _ := m.held.len(); n != 0 {
					t.Errorf("%d zips still held after the client's request, want 0", n)
				}
			}
		})
	}
}
