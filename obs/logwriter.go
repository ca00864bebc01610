package obs

import (
	"io"
	"sync"
	"time"
)

// maxPendingLog is how many bytes of log lines LogWriter holds before a
// Write waits for them to be written out.
const maxPendingLog = 256 << 10

// logGather is how long LogWriter's goroutine gathers lines after the first
// of a batch before it writes them out, unless a quarter of maxPendingLog
// is pending or the writer is closing first. Under a load of 30,000
// requests a second, a batch of a millisecond's lines is one system call
// for about 30 access-log lines (without it, two lines on average: half a
// write(2) per request, about 4% of the CPU time of a cached .info).
const logGather = time.Millisecond

// LogWriter takes log lines off the request path: Write copies p into a
// buffer and returns, and one goroutine writes what has accumulated to the
// underlying writer in one call, logGather after the first line of the
// batch. Under load many lines go out in one system call; idle, each line
// goes out within logGather.
//
// No line is lost: when maxPendingLog bytes are waiting, Write waits for
// room (so memory stays bounded however slow the underlying writer), and
// Close writes out everything before it returns. After Close, Write writes
// through. Each Write's bytes stay together and in order, so whole lines
// from a slog.Handler (one Write per record) are never interleaved.
type LogWriter struct {
	w io.Writer

	mu      sync.Mutex
	room    *sync.Cond // signalled when pending was taken
	pending []byte
	spare   []byte // the buffer last written out, reused
	closed  bool
	err     error // the first error of the underlying writer

	wake  chan struct{} // something pending, or closed; capacity 1
	hurry chan struct{} // much pending, or closed: write without gathering; capacity 1
	done  chan struct{} // the writing goroutine has ended
}

// NewLogWriter returns a LogWriter over w and starts its goroutine; Close
// stops it.
func NewLogWriter(w io.Writer) *LogWriter {
	lw := &LogWriter{w: w, wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1), done: make(chan struct{})}
	lw.room = sync.NewCond(&lw.mu)
	go lw.run()
	return lw
}

// Write queues a copy of p. It returns an error only after Close, if the
// underlying writer failed.
func (lw *LogWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	for !lw.closed && len(lw.pending) > 0 && len(lw.pending)+len(p) > maxPendingLog {
		lw.room.Wait()
	}
	if lw.closed {
		lw.mu.Unlock()
		<-lw.done // what was queued goes out first
		return lw.w.Write(p)
	}
	// The Write that makes pending non-empty wakes the goroutine, which
	// takes everything pending before it waits again: later Writes need
	// not.
	wake := len(lw.pending) == 0
	lw.pending = append(lw.pending, p...)
	hurry := len(lw.pending) >= maxPendingLog/4 && len(lw.pending)-len(p) < maxPendingLog/4
	lw.mu.Unlock()
	if wake {
		signal(lw.wake)
	}
	if hurry {
		signal(lw.hurry)
	}
	return len(p), nil
}

// signal sends on c, of capacity 1, unless a signal is already waiting.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (lw *LogWriter) run() {
	defer close(lw.done)
	gather := time.NewTimer(logGather)
	gather.Stop()
	for range lw.wake {
		gather.Reset(logGather)
		select {
		case <-gather.C:
		case <-lw.hurry:
			gather.Stop()
		}
		for {
			lw.mu.Lock()
			out, closed := lw.pending, lw.closed
			if len(out) > 0 { // else pending keeps its buffer
				lw.pending, lw.spare = lw.spare[:0], nil
			}
			lw.room.Broadcast()
			lw.mu.Unlock()
			if len(out) == 0 {
				if closed {
					return
				}
				break
			}
			_, err := lw.w.Write(out)
			lw.mu.Lock()
			if err != nil && lw.err == nil {
				lw.err = err
			}
			if cap(out) <= 2*maxPendingLog {
				lw.spare = out
			}
			lw.mu.Unlock()
		}
	}
}

// Close writes out every line written before it and stops the goroutine.
// It returns the first error of the underlying writer.
func (lw *LogWriter) Close() error {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		<-lw.done
		return lw.err
	}
	lw.closed = true
	lw.room.Broadcast()
	lw.mu.Unlock()
	signal(lw.hurry)
	signal(lw.wake)
	<-lw.done
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.err
}
