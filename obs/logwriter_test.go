package obs

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// slowWriter records what it gets, in separate calls, and notes the
// largest call; it blocks every call until released.
type slowWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	calls   int
	largest int
	gate    chan struct{} // nil: no blocking
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if w.gate != nil {
		<-w.gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	w.largest = max(w.largest, len(p))
	return w.buf.Write(p)
}

// TestLogWriterLosesNoLine: lines from many goroutines, some written while
// the underlying writer is stalled, all come out whole and each
// goroutine's in order, after Close; the pending bytes stay bounded.
func TestLogWriterLosesNoLine(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stall bool
	}{{"fast writer", false}, {"stalled writer", true}} {
		t.Run(tt.name, func(t *testing.T) {
			sw := &slowWriter{}
			if tt.stall {
				sw.gate = make(chan struct{})
			}
			lw := NewLogWriter(sw)
			const writers, lines = 8, 2000
			var wg sync.WaitGroup
			for g := range writers {
				wg.Go(func() {
					for i := range lines {
						fmt.Fprintf(lw, "writer=%d line=%d %s\n", g, i, strings.Repeat("x", 100))
					}
				})
			}
			if tt.stall {
				// The underlying writer takes nothing until the writers
				// have filled the buffer: they must then wait, not grow it.
				for {
					lw.mu.Lock()
					pending := len(lw.pending)
					lw.mu.Unlock()
					if pending > maxPendingLog {
						t.Fatalf("%d bytes pending, bound %d", pending, maxPendingLog)
					}
					if pending > maxPendingLog-200 {
						break
					}
					runtime.Gosched()
				}
				close(sw.gate)
			}
			wg.Wait()
			if err := lw.Close(); err != nil {
				t.Fatal(err)
			}
			next := make([]int, writers)
			n := 0
			for _, line := range strings.Split(strings.TrimSuffix(sw.buf.String(), "\n"), "\n") {
				var g, i int
				if _, err := fmt.Sscanf(line, "writer=%d line=%d ", &g, &i); err != nil || len(line) != len(fmt.Sprintf("writer=%d line=%d ", g, i))+100 {
					t.Fatalf("broken line %q", line)
				}
				if i != next[g] {
					t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
				}
				next[g]++
				n++
			}
			if n != writers*lines {
				t.Errorf("%d lines written out, want %d", n, writers*lines)
			}
			if sw.largest > maxPendingLog {
				t.Errorf("one write of %d bytes, bound %d", sw.largest, maxPendingLog)
			}
			t.Logf("%d lines in %d writes", n, sw.calls)
		})
	}
}

func TestLogWriterWritesThroughAfterClose(t *testing.T) {
	sw := &slowWriter{}
	lw := NewLogWriter(sw)
	fmt.Fprintln(lw, "before")
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(lw, "after")
	if got := sw.buf.String(); got != "before\nafter\n" {
		t.Errorf("got %q", got)
	}
	if err := lw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
