package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	fsstore "github.com/gomirror/gomirror/storage/fs"
)

// TestWaitCountsFillsWhoseCallersLeft: a fill whose callers have all gone
// (their contexts done before the fill's goroutine even ran) is still
// waited for. With one P, the fill's goroutine runs only after Wait's
// first look at the counter, so a fill counted from inside that goroutine
// would be missed every time.
func TestWaitCountsFillsWhoseCallersLeft(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	fsys, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 20 {
		// A Mirror per round: the Wait that timed out is still waiting
		// on the last round's WaitGroup.
		m := New(Options{Storage: fsys, Logger: slog.New(slog.DiscardHandler)})
		release := make(chan struct{})
		_, _, err := m.fill(gone, fmt.Sprint("key", i), func(ctx context.Context) (filled, error) {
			<-release
			return filled{}, nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("fill with a cancelled context: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err = m.Wait(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("round %d: Wait returned %v while a fill was running", i, err)
		}
		close(release)
		if err := m.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWaitCountsSharedFills: callers that start or join a fill and return
// with it, and one that leaves early, leave the count at zero once the
// fill is done.
func TestWaitCountsSharedFills(t *testing.T) {
	fsys, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{Storage: fsys, Logger: slog.New(slog.DiscardHandler)})
	release, started := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f := func(ctx context.Context) (filled, error) {
		once.Do(func() { close(started) })
		<-release
		return filled{b: []byte("v")}, nil
	}
	results := make(chan error, 3)
	for range 3 {
		go func() {
			r, _, err := m.fill(context.Background(), "k", f)
			if err == nil && string(r.b) != "v" {
				err = fmt.Errorf("value %q", r.b)
			}
			results <- err
		}()
	}
	<-started
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := m.fill(gone, "k", f); !errors.Is(err, context.Canceled) {
		t.Errorf("leaving caller: %v", err)
	}
	close(release)
	for range 3 {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Wait(ctx); err != nil {
		t.Fatalf("Wait after the fill: %v", err)
	}
}
