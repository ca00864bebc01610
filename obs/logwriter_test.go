package obs

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
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

// TestLogWriterWritesWithoutClose: each line reaches the underlying writer
// on its own, without Close or another Write after it, also when it is
// written while an earlier batch is being written out (the goroutine takes
// every line pending before it waits again).
func TestLogWriterWritesWithoutClose(t *testing.T) {
	w := &chanWriter{got: make(chan string, 16), gate: make(chan struct{})}
	lw := NewLogWriter(w)
	defer lw.Close()
	lw.Write([]byte("a\n"))
	// The goroutine is now in the underlying Write of "a\n" (or about to
	// be): these two go out in the next batch, with no Write after them.
	lw.Write([]byte("b\n"))
	lw.Write([]byte("c\n"))
	close(w.gate)
	var got string
	for got != "a\nb\nc\n" {
		select {
		case s := <-w.got:
			got += s
		case <-time.After(10 * time.Second):
			t.Fatalf("after 10s the underlying writer has %q", got)
		}
	}
	lw.Write([]byte("d\n"))
	select {
	case s := <-w.got:
		if s != "d\n" {
			t.Errorf("then %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a line written while idle did not go out")
	}
}

// chanWriter sends what it gets on got, each call once gate is closed.
type chanWriter struct {
	got  chan string
	gate chan struct{}
}

func (w *chanWriter) Write(p []byte) (int, error) {
	<-w.gate
	w.got <- string(p)
	return len(p), nil
}
