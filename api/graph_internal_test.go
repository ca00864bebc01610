package api

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// blockingStorage counts the Gets of keys holding "slow" and blocks them
// until release is closed.
type blockingStorage struct {
	storage.Storage
	slowGets atomic.Int32
	entered  chan struct{}
	release  chan struct{}
}

func (s *blockingStorage) Get(ctx context.Context, key string) (*storage.Object, error) {
	if strings.Contains(key, "slow") {
		s.slowGets.Add(1)
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Storage.Get(ctx, key)
}

// TestGraphShared: concurrent requests for one version's graph share one
// computation, which takes one of the two slots: another version's graph
// is computed meanwhile; a request leaving does not end the computation
// the others wait for; the incomplete graph is then answered again
// without computing it, for a while.
func TestGraphShared(t *testing.T) {
	st := mem.New()
	slow := module.Version{Path: "example.com/slow", Version: "v1.0.0"}
	other := module.Version{Path: "example.com/other", Version: "v1.0.0"}
	for _, m := range []module.Version{slow, other} { // both incomplete: example.com/gone's go.mod is not stored
		key, _ := layout.Key(m, layout.Mod)
		if err := storage.PutBytes(context.Background(), st, key, []byte("module "+m.Path+"\n\nrequire example.com/gone v1.0.0\n")); err != nil {
			t.Fatal(err)
		}
	}
	bs := &blockingStorage{Storage: st, entered: make(chan struct{}, 8), release: make(chan struct{})}
	svc := NewService(Options{Storage: bs, Timeout: time.Minute})
	const callers = 5
	type result struct {
		g   any
		err error
	}
	results := make(chan result, callers)
	leaving, leave := context.WithCancel(context.Background())
	for i := range callers {
		ctx := context.Background()
		if i == 0 {
			ctx = leaving
		}
		go func() { g, err := svc.Graph(ctx, slow); results <- result{g, err} }()
	}
	<-bs.entered
	for deadline := time.Now().Add(30 * time.Second); svc.vers.computing.Waiting(func(m module.Version) bool { return m == slow }) != callers; runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests share the computation, want %d", svc.vers.computing.Waiting(func(m module.Version) bool { return m == slow }), callers)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := svc.Graph(ctx, other); err != nil {
		t.Fatalf("another graph while %d requests wait for one: %v", callers, err)
	}
	leave()
	if r := <-results; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("the request that left: %v, want context.Canceled", r.err)
	}
	close(bs.release)
	var first any
	for range callers - 1 {
		r := <-results
		if r.err != nil {
			t.Fatalf("a request that stayed: %v", r.err)
		}
		if first == nil {
			first = r.g
		}
		if r.g != first {
			t.Errorf("requests got different graphs")
		}
	}
	if _, err := svc.Graph(context.Background(), slow); err != nil {
		t.Fatal(err)
	}
	if n := bs.slowGets.Load(); n != 1 {
		t.Errorf("slow's go.mod read %d times, want 1", n)
	}
}
