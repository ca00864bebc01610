package obs

import (
	"io"
	"sync"
)

// maxPendingLog is how many bytes of log lines LogWriter holds before a
// Write waits for them to be written out.
const maxPendingLog = 256 << 10

// LogWriter takes log lines off the request path: Write copies p into a
// buffer and returns, and one goroutine writes what has accumulated to the
// underlying writer, as soon as it can, in one call. Under load many lines
// go out in one system call; idle, each line goes out at once.
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

	wake chan struct{} // something pending, or closed; capacity 1
	done chan struct{} // the writing goroutine has ended
}

// NewLogWriter returns a LogWriter over w and starts its goroutine; Close
// stops it.
func NewLogWriter(w io.Writer) *LogWriter {
	lw := &LogWriter{w: w, wake: make(chan struct{}, 1), done: make(chan struct{})}
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
	lw.mu.Unlock()
	if wake {
		select {
		case lw.wake <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

func (lw *LogWriter) run() {
	defer close(lw.done)
	for range lw.wake {
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
	select {
	case lw.wake <- struct{}{}:
	default:
	}
	<-lw.done
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.err
}
