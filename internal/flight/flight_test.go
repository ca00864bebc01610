package flight

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
)

// TestShared: concurrent callers of one key share one computation; a
// caller leaving does not cancel it while another waits; the last leaving
// does; an ended computation is not remembered.
func TestShared(t *testing.T) {
	var g Group[string, int]
	var runs atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	cancelled := make(chan error, 1)
	f := func(ctx context.Context) (int, error) {
		runs.Add(1)
		close(started)
		select {
		case <-release:
			return 42, nil
		case <-ctx.Done():
			cancelled <- ctx.Err()
			return 0, ctx.Err()
		}
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	res1 := make(chan error, 1)
	go func() { _, err := g.Do(ctx1, "k", f); res1 <- err }()
	<-started
	res2 := make(chan int, 1)
	go func() {
		v, _ := g.Do(context.Background(), "k", func(context.Context) (int, error) { t.Error("a second computation"); return 0, nil })
		res2 <- v
	}()
	for g.Waiting(func(k string) bool { return k == "k" }) != 2 { // the second caller joins
		runtime.Gosched()
		select {
		case <-res1:
			t.Fatal("first caller left early")
		default:
		}
	}
	cancel1()
	if err := <-res1; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that left: %v, want its context's error", err)
	}
	select {
	case err := <-cancelled:
		t.Fatalf("the computation was cancelled (%v) while a caller waits", err)
	default:
	}
	close(release)
	if v := <-res2; v != 42 || runs.Load() != 1 {
		t.Fatalf("the caller that stayed: %d after %d runs, want 42 after 1", v, runs.Load())
	}

	// The last caller leaving cancels it.
	ctx3, cancel3 := context.WithCancel(context.Background())
	started3 := make(chan struct{})
	res3 := make(chan error, 1)
	go func() {
		_, err := g.Do(ctx3, "k", func(ctx context.Context) (int, error) {
			close(started3)
			<-ctx.Done()
			cancelled <- ctx.Err()
			return 0, ctx.Err()
		})
		res3 <- err
	}()
	<-started3
	cancel3()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("the computation after its last caller left: %v, want cancelled", err)
	}
	<-res3
	if v, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Fatalf("a new computation after the others ended: %d, %v", v, err)
	}
}
