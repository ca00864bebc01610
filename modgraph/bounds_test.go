package modgraph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/storage"
)

// countingReader counts the Gets, Stats and bytes read of a Reader, and
// runs onGet (with the Get's number, from 1) and onStat before each.
type countingReader struct {
	Reader
	mu           sync.Mutex
	gets, stats  int
	read         int64
	onGet        func(n int)
	onStat       func(ctx context.Context) error
	statsRunning bool
}

func (c *countingReader) Get(ctx context.Context, key string) (*storage.Object, error) {
	c.mu.Lock()
	c.gets++
	n := c.gets
	c.mu.Unlock()
	if c.onGet != nil {
		c.onGet(n)
	}
	obj, err := c.Reader.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	obj.Body = countingBody{obj.Body, c}
	return obj, nil
}

func (c *countingReader) Stat(ctx context.Context, key string) (storage.Info, error) {
	c.mu.Lock()
	c.stats++
	c.mu.Unlock()
	if c.onStat != nil {
		if err := c.onStat(ctx); err != nil {
			return storage.Info{}, err
		}
	}
	return c.Reader.Stat(ctx, key)
}

type countingBody struct {
	io.ReadCloser
	c *countingReader
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.c.mu.Lock()
	b.c.read += int64(n)
	b.c.mu.Unlock()
	return n, err
}

// chain returns go.mod files of example.com/main v1.0.0 requiring
// example.com/a v1.0.0, and of n versions of example.com/a (go 1.16:
// unpruned), each requiring the next and padded with comments to pad
// bytes: the reviewer's attack (parsing is what costs).
func chain(n, pad int) map[string]string {
	files := map[string]string{"example.com/main@v1.0.0": "module example.com/main\ngo 1.16\nrequire example.com/a v1.0.0\n"}
	line := "// padding padding padding padding padding padding padding padding\n"
	padding := strings.Repeat(line, pad/len(line))
	for i := range n {
		files[fmt.Sprintf("example.com/a@v1.0.%d", i)] = fmt.Sprintf("module example.com/a\ngo 1.16\nrequire example.com/a v1.0.%d\n%s", i+1, padding)
	}
	return files
}

// TestTotalBytesBounded: a chain of go.mod files of nearly 1 MiB each is
// read until the bytes limit, not to its end: the bytes read stay under
// the limit and the graph says it is truncated.
func TestTotalBytesBounded(t *testing.T) {
	main := module.Version{Path: "example.com/main", Version: "v1.0.0"}
	for _, tc := range []struct {
		name      string
		n, pad    int
		lim       Limits
		wantBytes int64
	}{
		{"default limit, 40 files of 1 MiB", 40, 1<<20 - 200, Limits{}, 32 << 20},
		{"1 MiB limit, 200 files of 16 KiB", 200, 16 << 10, Limits{TotalBytes: 1 << 20}, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// store adds the fixture's small graph, unreachable from main.
			cr := &countingReader{Reader: store(t, chain(tc.n, tc.pad))}
			g, err := Compute(context.Background(), cr, main, tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			if cr.read > tc.wantBytes {
				t.Errorf("read %d bytes of go.mod, want at most %d", cr.read, tc.wantBytes)
			}
			if g.Complete || !strings.Contains(g.Truncated, "bytes of go.mod") {
				t.Errorf("complete %v, truncated %q: want the bytes limit reached", g.Complete, g.Truncated)
			}
			if len(g.Missing) != 0 {
				t.Errorf("missing %+v: a go.mod left unread by the limit is not missing", g.Missing)
			}
		})
	}
	// Under the limit, the whole chain is read (to v1.0.10, not stored).
	cr := &countingReader{Reader: store(t, chain(10, 16<<10))}
	g, err := Compute(context.Background(), cr, main, Limits{TotalBytes: 1 << 20})
	if err != nil || g.Truncated != "" || len(g.Missing) != 1 || g.Missing[0].Version != "v1.0.10" {
		t.Errorf("a chain of 10 under the limit: %v, %+v", err, g)
	}
}

// TestCancelledDuringPrefetch: once ctx ends while go.mod files are read
// ahead, no further file is asked for and Compute fails with ctx's error.
func TestCancelledDuringPrefetch(t *testing.T) {
	files := map[string]string{}
	var req strings.Builder
	for i := range 60 {
		fmt.Fprintf(&req, "require example.com/d%d v1.0.0\n", i)
		files[fmt.Sprintf("example.com/d%d@v1.0.0", i)] = fmt.Sprintf("module example.com/d%d\n", i)
	}
	files["example.com/main@v1.0.0"] = "module example.com/main\ngo 1.16\n" + req.String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const cancelAt = 5
	cr := &countingReader{Reader: store(t, files), onGet: func(n int) {
		if n == cancelAt {
			cancel()
		}
	}}
	_, err := Compute(ctx, cr, module.Version{Path: "example.com/main", Version: "v1.0.0"}, Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	// Each worker may have started one more Get as ctx ended.
	if cr.gets > cancelAt+prefetchWorkers {
		t.Errorf("%d go.mod files asked for, want at most %d after ctx ended at the %dth", cr.gets, cancelAt+prefetchWorkers, cancelAt)
	}
}

// TestStatFailure: when looking up the .mod of an unread node fails (ctx
// ends then, or the storage errs), Compute fails, rather than answering a
// complete graph with mod_stored false.
func TestStatFailure(t *testing.T) {
	// main (go 1.17) requires a, which requires b: a's go.mod is read, b
	// is pruned out (not read) and looked up with Stat.
	files := map[string]string{
		"example.com/main@v1.0.0": "module example.com/main\ngo 1.17\nrequire example.com/a v1.0.0\n",
		"example.com/a@v1.0.0":    "module example.com/a\ngo 1.17\nrequire example.com/b v1.0.0\n",
		"example.com/b@v1.0.0":    "module example.com/b\ngo 1.17\n",
	}
	main := module.Version{Path: "example.com/main", Version: "v1.0.0"}
	g, err := Compute(context.Background(), store(t, files), main, Limits{})
	if err != nil || !g.Complete || len(g.Nodes) != 3 || !g.Nodes[2].ModStored || g.Nodes[2].Loaded {
		t.Fatalf("without failures: %v, %+v", err, g)
	}
	errStorage := errors.New("storage unavailable")
	for _, tc := range []struct {
		name string
		fail func(cancel context.CancelFunc) func(context.Context) error
		want error
	}{
		{"ctx ends", func(cancel context.CancelFunc) func(context.Context) error {
			return func(ctx context.Context) error { cancel(); return ctx.Err() }
		}, context.Canceled},
		{"storage error", func(context.CancelFunc) func(context.Context) error {
			return func(context.Context) error { return errStorage }
		}, errStorage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cr := &countingReader{Reader: store(t, files), onStat: tc.fail(cancel)}
			g, err := Compute(ctx, cr, main, Limits{})
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, graph %+v: want %v", err, g, tc.want)
			}
			if cr.stats == 0 {
				t.Error("no Stat made: the test does not test")
			}
		})
	}
}
