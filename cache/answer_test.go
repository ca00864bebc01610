package cache

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/upstream"
)

// answerFetcher answers list and @latest with a fixed Answer and counts
// the calls.
type answerFetcher struct {
	a     upstream.Answer
	calls atomic.Int32
}

var _ upstream.Fetcher = (*answerFetcher)(nil)

func (f *answerFetcher) List(context.Context, string) ([]byte, upstream.Answer, error) {
	f.calls.Add(1)
	return []byte("v1.0.0\n"), f.a, nil
}
func (f *answerFetcher) Latest(context.Context, string) ([]byte, upstream.Answer, error) {
	f.calls.Add(1)
	return []byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`), f.a, nil
}
func (f *answerFetcher) Info(context.Context, string, string) ([]byte, upstream.Answer, error) {
	return nil, upstream.Answer{}, upstream.NotExist("no")
}
func (f *answerFetcher) GoMod(context.Context, string, string) ([]byte, upstream.Answer, error) {
	return nil, upstream.Answer{}, upstream.NotExist("no")
}
func (f *answerFetcher) Zip(context.Context, string, string) (io.ReadCloser, int64, upstream.Answer, error) {
	return nil, 0, upstream.Answer{}, upstream.NotExist("no")
}
func (f *answerFetcher) String() string { return "chain" }

// TestListTTLFollowsAnswer shows that list-ttl applies to answers the
// fetcher marks Direct, whatever their name, and that the answerer comes
// back in Source for the call that fetched, not for a hit.
func TestListTTLFollowsAnswer(t *testing.T) {
	tests := []struct {
		name        string
		a           upstream.Answer
		wantCalls   int32 // after two lists and two @latest
		wantOnFetch string
	}{
		{"direct is reused", upstream.Answer{Upstream: "direct", Direct: true}, 2, "direct"},
		{"a proxy is asked every time", upstream.Answer{Upstream: "http://127.0.0.1:1"}, 4, "http://127.0.0.1:1"},
		{"the name alone is not direct", upstream.Answer{Upstream: "direct"}, 4, "direct"},
		{"no name: the upstream's in metrics", upstream.Answer{}, 4, "chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &answerFetcher{a: tt.a}
			store, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			var onFetch atomic.Pointer[string]
			m := New(Options{Storage: store, Upstream: f, ListTTL: time.Minute,
				Logger:  slog.New(slog.DiscardHandler),
				OnFetch: func(op, name string, _ time.Duration, _ error) { onFetch.Store(&name) }})
			t.Cleanup(func() { m.Wait(context.Background()) })
			ctx := t.Context()
			for i := range 2 {
				b, src, err := m.List(ctx, escaped("example.com/a", ""))
				if err != nil || !strings.Contains(string(b), "v1.0.0") {
					t.Fatalf("List: %q, %v", b, err)
				}
				if _, src2, err := m.Latest(ctx, escaped("example.com/a", "")); err != nil || src2 != src {
					t.Fatalf("Latest: %+v, %v; want %+v as List", src2, err, src)
				}
				want := Source{Outcome: Fresh, Upstream: tt.a.Upstream}
				if i == 1 && tt.a.Direct {
					want = Source{Outcome: Hit}
				}
				if src != want {
					t.Errorf("List %d: Source %+v, want %+v", i, src, want)
				}
			}
			if got := f.calls.Load(); got != tt.wantCalls {
				t.Errorf("fetcher asked %d times, want %d", got, tt.wantCalls)
			}
			if got := onFetch.Load(); got == nil || *got != tt.wantOnFetch {
				t.Errorf("OnFetch upstream %v, want %q", got, tt.wantOnFetch)
			}
		})
	}
}
