package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Recorder. Zero fields take the defaults named.
type Options struct {
	// Sink receives the records in batches: the database. Nil means no
	// database: records go to Lines only, and nothing is spilled.
	Sink Sink
	// SpillDir is a local directory of gomirror's own (created 0700 if
	// missing) that holds the spill files while Sink fails. Required
	// with a Sink. Several processes may share it: each appends to files
	// of its own and replays only files no other process holds (flock).
	SpillDir string
	// Lines, if not nil, receives a copy of every record as a JSON line
	// (the spill file's format), for log shippers: written by a goroutine
	// of its own, never by Record, a batch per Write, when the batch is
	// written to the sink or spilled (not again when it is replayed; a
	// record after Close is not copied). A Lines that falls behind by 64
	// batches loses copies (Stats.LinesDropped), never records. See
	// OpenLines.
	Lines io.Writer

	// BatchSize is the most records per Sink.WriteAudit; default 1024
	// (a batch's fixed cost in the database, about 0.4 ms of CPU on
	// SQLite, is that of ~340 records of cached-.info traffic: larger
	// batches cost less CPU per request).
	BatchSize     int
	FlushInterval time.Duration // how long a record waits for its batch to fill; default 1s
	// QueueSize bounds the records held in memory waiting for the
	// writer; default 65,536.
	QueueSize int
	// WriteTimeout bounds a Sink.WriteAudit; a write that takes longer
	// counts as failed (its batch is spilled). Default 5s.
	WriteTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between attempts to write
	// to a failing Sink; defaults 1s and 1 min.
	RetryMin, RetryMax time.Duration

	// Replica is set as Record.Replica of every record.
	Replica string
	// Logger receives the Recorder's warnings (sink failing and back,
	// spill problems, dropped records); default none.
	Logger *slog.Logger

	// roundDone, if not nil, is signalled (without waiting) after each
	// round of the writer goroutine: tests wait on it for a state to be
	// reached.
	roundDone chan<- struct{}
}

// Defaults of Options.
const (
	DefaultBatchSize     = 1024
	DefaultFlushInterval = time.Second
	DefaultQueueSize     = 65536
	DefaultWriteTimeout  = 5 * time.Second
	DefaultRetryMin      = time.Second
	DefaultRetryMax      = time.Minute
)

// linesQueue is how many batches of JSON lines may wait for Options.Lines
// before more are dropped (counted in Stats.LinesDropped).
const linesQueue = 64

// dropLogEvery is the least time between two warnings about dropped
// records.
const dropLogEvery = 10 * time.Second

// Stats are a Recorder's counters since New.
type Stats struct {
	Queued   int    // records in memory now: not yet written, spilled or dropped
	Written  uint64 // records the sink accepted from the queue
	Spilled  uint64 // records appended to a spill file
	Replayed uint64 // records the sink accepted from spill files (this process's and leftovers)
	// Dropped counts records lost from the audit log: Record found the
	// queue full (neither the sink nor the spill disk kept up), a spill
	// failed during Close, a spill file line could not be read back, or
	// the sink refused the record while it took others (it is kept in
	// SpillDir/audit-rejected.jsonl).
	Dropped uint64
	// LinesDropped counts records not copied to Options.Lines because
	// that writer fell behind by more than 64 batches or failed.
	LinesDropped uint64
}

// A Recorder takes audit records off the request path and writes them to
// a Sink in batches, with nothing lost across a failing or slow sink, a
// restart or a SIGTERM.
//
// Record appends to an in-memory queue under a mutex held for an append,
// and returns: it never waits for the sink, the disk or the writer. One
// writer goroutine takes the queue as batches fill (BatchSize) or every
// FlushInterval, and writes each batch with Sink.WriteAudit under
// WriteTimeout. A write that fails or times out marks the sink down: that
// batch and everything taken after it is appended to a spill file in
// SpillDir (one JSON line per record, synced per append), so the queue
// keeps draining at the disk's speed, and the sink is tried again after a
// backoff (RetryMin doubling to RetryMax). A sink slower than the traffic
// (a round spending more than FlushInterval in it) has the rest of the
// round spilled likewise. A sink call that ignores its context is left
// behind, and no other call starts until it returns.
//
// While the sink works and no full batch is waiting, the writer replays
// spill files, oldest first, in batches, and removes each once the sink
// has all of it: files this Recorder spilled, and files a previous process
// left (found by New, and again whenever the sink comes back). A crash
// during replay replays the file again from its start: record IDs make
// that harmless. A line that is not a record (the end of a file whose
// process was killed mid-write) is skipped with a warning and counted as
// Dropped.
//
// Memory stays bounded: at most QueueSize records are held, from Record
// until they are written or spilled (the queue and what the writer took
// from it), plus a batch read back from a spill file and a batch of a
// sink call left behind. When QueueSize are held (the sink is down or
// slow and the spill disk cannot keep up, or fails), Record drops the
// record and counts it in Stats.Dropped, and the writer logs the count at
// most every 10 s: the one way a record is lost besides a damaged spill
// file and a record the sink refuses (see Stats.Dropped). A spill that fails puts its records back at the head of the
// queue, to be tried again after RetryMin.
//
// Close flushes: see Close.
type Recorder struct {
	sink      Sink
	batchSize int
	queueSize int
	flush     time.Duration
	timeout   time.Duration
	retryMin  time.Duration
	retryMax  time.Duration
	replica   string
	log       *slog.Logger
	roundDone chan<- struct{}

	prefix string // of record IDs, random per Recorder

	mu     sync.Mutex
	cur    []Record   // filling; nil when empty
	full   [][]Record // batches waiting for the writer, oldest first
	n      int        // records in memory: in cur and full, and taken by the writer but not finished
	closed bool

	idMu   sync.Mutex
	seq    uint64 // the last record ID's number
	idBuf  []byte // setIDs', reused
	idEnds []int

	free chan []Record // emptied batches for cur, capacity 16

	wake chan struct{} // a batch is full; capacity 1
	stop chan struct{} // Close was called; capacity 1
	done chan struct{} // the writer goroutine has ended
	// base is the context of sink writes, cancelled when Close's ctx
	// ends.
	base       context.Context
	cancelBase context.CancelFunc
	closeOnce  sync.Once
	closeErr   error

	spill *spillWriter

	lines     io.Writer
	linesC    chan []byte // encoded batches for lines; closed by the writer at its end
	linesFree chan []byte
	linesDone chan struct{}

	written, spilled, replayed, dropped, linesDropped atomic.Uint64

	w writerState // the writer goroutine's alone
}

// writerState is what only the writer goroutine touches.
type writerState struct {
	down     bool      // the last sink write failed
	retryAt  time.Time // when down: the next attempt
	backoff  time.Duration
	retry    *time.Timer
	hung     chan error // a sink call left behind, until it returns
	spare    [][]Record // the last take's slice, reused
	buf      bytes.Buffer
	enc      *json.Encoder
	spillErr time.Time // when the last spill failed: spills wait RetryMin after

	replay       []*spillFile // to replay, oldest first; replay[0] is being read
	pending      []Record     // read from replay[0], not written yet
	pendingFails int          // how often pending failed

	loggedDrops uint64
	dropLogAt   time.Time
}

// New returns a Recorder and starts its goroutines. It finds the spill
// files in SpillDir that no process holds, to replay them once the sink
// works. Close stops it.
func New(opts Options) (*Recorder, error) {
	r := &Recorder{
		sink:      opts.Sink,
		batchSize: orDefault(opts.BatchSize, DefaultBatchSize),
		queueSize: orDefault(opts.QueueSize, DefaultQueueSize),
		flush:     orDefault(opts.FlushInterval, DefaultFlushInterval),
		timeout:   orDefault(opts.WriteTimeout, DefaultWriteTimeout),
		retryMin:  orDefault(opts.RetryMin, DefaultRetryMin),
		retryMax:  orDefault(opts.RetryMax, DefaultRetryMax),
		replica:   opts.Replica,
		log:       opts.Logger,
		roundDone: opts.roundDone,
		free:      make(chan []Record, 16),
		wake:      make(chan struct{}, 1),
		stop:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		lines:     opts.Lines,
	}
	r.retryMax = max(r.retryMax, r.retryMin)
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	// 12 characters, 60 random bits: IDs of two Recorders, of replicas
	// or of successive processes, do not meet.
	r.prefix = base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(rnd[:])[:12] + "-"
	if r.sink != nil {
		if opts.SpillDir == "" {
			return nil, errors.New("audit: a sink needs a spill directory")
		}
		if err := os.MkdirAll(opts.SpillDir, 0o700); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		r.spill = &spillWriter{dir: opts.SpillDir, prefix: r.prefix}
		left, err := findSpills(opts.SpillDir, func(string) bool { return false })
		if err != nil {
			return nil, err
		}
		r.w.replay = left
	}
	r.base, r.cancelBase = context.WithCancel(context.Background())
	r.w.enc = json.NewEncoder(&r.w.buf)
	r.w.enc.SetEscapeHTML(false)
	r.w.retry = time.NewTimer(time.Hour)
	r.w.retry.Stop()
	if r.lines != nil {
		r.linesC = make(chan []byte, linesQueue)
		r.linesFree = make(chan []byte, 4)
		r.linesDone = make(chan struct{})
		go r.runLines()
	}
	go r.run()
	return r, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Record queues rec to be written. It sets rec.Time when zero (now, UTC)
// and rec.Replica; the writer goroutine sets rec.ID when empty, before
// rec goes anywhere (unique across Recorders: a random prefix and a
// sequence number; one string for a batch's IDs). It never blocks on the
// sink, the disk or the writer goroutine, and does not allocate (but for
// a new batch slice when none is free for reuse, amortized over
// BatchSize records). After Close, it appends rec to a spill
// file of its own before it returns (the slow path: the server stops
// sending records before it closes the Recorder), for the next process to
// replay.
func (r *Recorder) Record(rec Record) {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	rec.Replica = r.replica
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		b := []Record{rec}
		r.setIDs(b)
		sanitize(&b[0])
		rec = b[0]
		r.recordLate(rec)
		return
	}
	if r.n >= r.queueSize {
		r.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	if r.cur == nil {
		select {
		case r.cur = <-r.free:
		default:
			r.cur = make([]Record, 0, r.batchSize)
		}
	}
	r.cur = append(r.cur, rec)
	r.n++
	wake := len(r.cur) >= r.batchSize
	if wake {
		r.full = append(r.full, r.cur)
		r.cur = nil
	}
	r.mu.Unlock()
	if wake {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// recordLate spills a record that came after Close.
func (r *Recorder) recordLate(rec Record) {
	if r.spill == nil {
		r.dropped.Add(1)
		return
	}
	b, err := json.Marshal(rec)
	if err == nil {
		err = r.spill.append(append(b, '\n'))
	}
	r.spill.close()
	if err != nil {
		r.dropped.Add(1)
		r.log.Error("audit: a record after Close is lost", "id", rec.ID, "err", err)
		return
	}
	r.spilled.Add(1)
}

// Stats returns the Recorder's counters.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	n := r.n
	r.mu.Unlock()
	return Stats{
		Queued:       n,
		Written:      r.written.Load(),
		Spilled:      r.spilled.Load(),
		Replayed:     r.replayed.Load(),
		Dropped:      r.dropped.Load(),
		LinesDropped: r.linesDropped.Load(),
	}
}

// Close stops the Recorder: it writes every record queued before it to
// the sink, as long as ctx and the sink allow, and appends the rest to a
// spill file, which the next Recorder on SpillDir replays; records in
// spill files stay there. It returns once every queued record is in the
// sink or a spill file (ctx bounds the time given to the sink, not the
// spill's disk writes), and the copy to Options.Lines is written or ctx
// is done. Its error reports records lost (the spill failed too). Records
// after Close are spilled by Record itself. Close may be called more than
// once; later calls wait for the first.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		// A sink write under way, and those of the last round, end
		// with ctx.
		context.AfterFunc(ctx, r.cancelBase)
		r.stop <- struct{}{}
	})
	<-r.done
	r.cancelBase()
	if r.linesDone != nil {
		select {
		case <-r.linesDone:
		case <-ctx.Done():
		}
	}
	return r.closeErr
}

// run is the writer goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	if r.linesC != nil {
		defer close(r.linesC)
	}
	tick := time.NewTicker(r.flush)
	defer tick.Stop()
	now := make(chan struct{})
	close(now)
	for {
		all := true
		var retry <-chan time.Time
		if r.w.down {
			retry = r.w.retry.C
		}
		var busy <-chan struct{}
		if r.canReplay() {
			busy = now
		}
		select {
		case <-r.wake:
			all = false
		case <-tick.C:
		case <-retry:
		case <-busy:
		case <-r.stop:
			r.shutdown()
			return
		}
		r.round(all, false)
		if r.canReplay() {
			end := time.Now().Add(r.flush)
			for r.canReplay() && len(r.stop) == 0 && time.Now().Before(end) {
				r.replayBatch()
			}
		}
		r.logDrops()
		if r.roundDone != nil {
			select {
			case r.roundDone <- struct{}{}:
			default:
			}
		}
	}
}

// shutdown is the writer's last round, for Close.
func (r *Recorder) shutdown() {
	if lost := r.round(true, true); lost > 0 {
		r.closeErr = fmt.Errorf("audit: %d records lost: the sink and the spill directory failed", lost)
	}
	if r.spill != nil {
		r.spill.close()
	}
	for _, sf := range r.w.replay {
		sf.release()
	}
	r.w.replay, r.w.pending = nil, nil
	r.logDrops()
	if r.roundDone != nil {
		select {
		case r.roundDone <- struct{}{}:
		default:
		}
	}
}

// take removes batches from the queue: the full ones, and with all the
// one filling too.
func (r *Recorder) take(all bool) [][]Record {
	r.mu.Lock()
	out := r.full
	r.full = r.w.spare
	r.w.spare = nil
	if all && len(r.cur) > 0 {
		out = append(out, r.cur)
		r.cur = nil
	}
	r.mu.Unlock()
	for _, b := range out {
		r.setIDs(b)
		for i := range b {
			sanitize(&b[i])
		}
	}
	return out
}

// round takes batches from the queue and writes them to the sink, or to
// a spill file once the sink fails or the round has spent FlushInterval
// in it, or Close's ctx ends (r.base). closing is Close's round: a failed
// spill loses its records (returned) instead of requeueing them.
func (r *Recorder) round(all, closing bool) (lost int) {
	if r.sink != nil && !closing && !r.sinkUsable() && !r.spillUsable() {
		return 0 // both failed a moment ago: the queue waits
	}
	batches := r.take(all || r.w.down)
	start := time.Now()
	i := 0
	for ; i < len(batches) && r.sink != nil; i++ {
		if !r.sinkUsable() || r.base.Err() != nil || (i > 0 && !closing && time.Since(start) > r.flush) {
			break
		}
		if err := r.write(batches[i]); err != nil {
			if r.w.hung != nil {
				// The call left behind still reads the batch.
				batches[i] = slices.Clone(batches[i])
			}
			r.sinkFailed(err)
			break
		}
		r.sinkOK()
		r.written.Add(uint64(len(batches[i])))
		r.finish(batches[i], true)
	}
	if r.sink == nil {
		for ; i < len(batches); i++ {
			r.finish(batches[i], true)
		}
	}
	if rest := batches[i:]; len(rest) > 0 {
		if err := r.spillBatches(rest); err != nil {
			if closing {
				for _, b := range rest {
					lost += len(b)
					r.dropped.Add(uint64(len(b)))
					r.finish(b, false)
				}
				r.log.Error("audit: records lost at Close", "records", lost, "err", err)
			} else {
				r.requeue(rest)
			}
		}
	}
	clear(batches)
	r.w.spare = batches[:0]
	return lost
}

// setIDs gives the records of b without an ID one: the Recorder's
// prefix and the next number of its sequence, in base 36. The IDs of a
// batch share one string.
func (r *Recorder) setIDs(b []Record) {
	r.idMu.Lock() // for Record after Close; uncontended otherwise
	defer r.idMu.Unlock()
	buf, ends := r.idBuf[:0], r.idEnds[:0]
	for i := range b {
		if b[i].ID == "" {
			r.seq++
			buf = strconv.AppendUint(append(buf, r.prefix...), r.seq, 36)
			ends = append(ends, len(buf))
		}
	}
	if len(ends) == 0 {
		return
	}
	all, start, j := string(buf), 0, 0
	for i := range b {
		if b[i].ID == "" {
			b[i].ID = all[start:ends[j]]
			start = ends[j]
			j++
		}
	}
	r.idBuf, r.idEnds = buf, ends
}

// sanitize makes the strings of rec what Clean returns: at most MaxField
// bytes, valid UTF-8 without NUL bytes (a client's User-Agent may be
// anything a header allows), which a database may refuse: a record it
// refuses would fail its batch every time. Callers of Record clean what
// clients choose before (the memory it holds is then bounded too); this
// is the backstop.
func sanitize(rec *Record) {
	for _, s := range []*string{&rec.ID, &rec.Client, &rec.Remote, &rec.Method, &rec.Module, &rec.Version, &rec.Kind, &rec.Cache, &rec.Upstream, &rec.Agent, &rec.Replica, &rec.Policy} {
		*s = Clean(*s)
	}
}

// requeue puts batches back at the head of the queue.
func (r *Recorder) requeue(batches [][]Record) {
	r.mu.Lock()
	r.full = append(append([][]Record(nil), batches...), r.full...)
	r.mu.Unlock()
}

// finish copies b, which is out of the queue for good (written, spilled
// or dropped), to Lines (if copy) and returns it to the free list.
func (r *Recorder) finish(b []Record, copy bool) {
	if copy && r.linesC != nil {
		r.copyLines(b)
	}
	r.mu.Lock()
	r.n -= len(b)
	r.mu.Unlock()
	clear(b)
	select {
	case r.free <- b[:0]:
	default:
	}
}

// sinkUsable reports whether the sink may be written to now.
func (r *Recorder) sinkUsable() bool {
	if r.sink == nil {
		return false
	}
	if r.w.hung != nil {
		select {
		case <-r.w.hung:
			r.w.hung = nil
		default:
			return false
		}
	}
	return !r.w.down || !time.Now().Before(r.w.retryAt)
}

func (r *Recorder) spillUsable() bool {
	return r.spill != nil && (r.w.spillErr.IsZero() || time.Since(r.w.spillErr) >= r.retryMin)
}

// write writes batch to the sink within WriteTimeout. A call that does
// not return by then is left running (w.hung) and reported as failed;
// batch is then the call's (the caller must not reuse it).
func (r *Recorder) write(batch []Record) error {
	ctx, cancel := context.WithTimeout(r.base, r.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.sink.WriteAudit(ctx, batch) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		r.w.hung = done
		return fmt.Errorf("audit: writing to the sink: %w", ctx.Err())
	}
}

func (r *Recorder) sinkFailed(err error) {
	if !r.w.down {
		r.w.backoff = r.retryMin
		r.log.Warn("audit: the sink fails; spilling records to disk until it is back", "err", err)
	} else {
		r.w.backoff = min(2*r.w.backoff, r.retryMax)
	}
	r.w.down = true
	r.w.retryAt = time.Now().Add(r.w.backoff)
	r.w.retry.Reset(r.w.backoff)
}

func (r *Recorder) sinkOK() {
	if !r.w.down {
		return
	}
	r.w.down = false
	r.log.Info("audit: the sink is back")
	// Files of processes that ended while it was down.
	own := map[string]bool{r.spill.current(): true}
	for _, sf := range r.w.replay {
		own[sf.name] = true
	}
	if more, err := findSpills(r.spill.dir, func(name string) bool { return own[name] }); err == nil {
		r.w.replay = append(r.w.replay, more...)
	}
}

// spillBatches appends batches to the spill file. On success they are
// finished; on failure they are the caller's still.
func (r *Recorder) spillBatches(batches [][]Record) error {
	if r.spill == nil {
		return errors.New("audit: no spill directory")
	}
	r.w.buf.Reset()
	n := 0
	for _, b := range batches {
		for i := range b {
			r.w.enc.Encode(&b[i]) // a Record always encodes
		}
		n += len(b)
	}
	err := r.spill.append(r.w.buf.Bytes())
	if r.w.buf.Cap() > 4<<20 {
		r.w.buf = bytes.Buffer{} // the encoder writes to &r.w.buf still
	}
	if err != nil {
		if r.w.spillErr.IsZero() {
			r.log.Error("audit: spilling fails; records wait in memory", "records", n, "err", err)
		}
		r.w.spillErr = time.Now()
		return err
	}
	if !r.w.spillErr.IsZero() {
		r.log.Info("audit: spilling works again")
		r.w.spillErr = time.Time{}
	}
	r.spilled.Add(uint64(n))
	for _, b := range batches {
		r.finish(b, true)
	}
	return nil
}

// canReplay reports whether the writer has spilled records to replay and
// may now: the sink works and no full batch waits.
func (r *Recorder) canReplay() bool {
	if r.sink == nil || (len(r.w.replay) == 0 && r.spill.current() == "") || !r.sinkUsable() {
		return false
	}
	r.mu.Lock()
	idle := len(r.full) == 0
	r.mu.Unlock()
	return idle
}

// replayBatch writes the next batch of spilled records to the sink.
func (r *Recorder) replayBatch() {
	if len(r.w.replay) == 0 {
		sf := r.spill.detach()
		if sf == nil {
			return
		}
		r.w.replay = append(r.w.replay, sf)
	}
	sf := r.w.replay[0]
	var eof bool
	for len(r.w.pending) < r.batchSize {
		rec, err := sf.next()
		if errors.Is(err, errCorrupt) {
			r.dropped.Add(1)
			r.log.Warn("audit: skipping a line of a spill file", "err", err)
			continue
		}
		if err != nil {
			if err != io.EOF {
				r.log.Error("audit: reading a spill file; it stays for the next start", "file", sf.name, "err", err)
				sf.release()
				r.w.replay, r.w.pending = r.w.replay[1:], r.w.pending[:0]
				return
			}
			eof = true
			break
		}
		r.w.pending = append(r.w.pending, rec)
	}
	if len(r.w.pending) > 0 {
		if r.w.pendingFails > 0 && r.w.pendingFails%isolateAfter == 0 {
			if !r.isolate() {
				return
			}
		} else if err := r.write(r.w.pending); err != nil {
			if r.w.hung != nil {
				// The call left behind still reads it.
				r.w.pending = slices.Clone(r.w.pending)
			}
			r.w.pendingFails++
			r.sinkFailed(err)
			return
		} else {
			r.sinkOK()
			r.replayed.Add(uint64(len(r.w.pending)))
		}
		clear(r.w.pending)
		r.w.pending = r.w.pending[:0]
		r.w.pendingFails = 0
	}
	if eof {
		if err := sf.remove(); err != nil {
			r.log.Warn("audit: removing a replayed spill file", "file", sf.name, "err", err)
		}
		r.w.replay = r.w.replay[1:]
	}
}

// isolateAfter is how many times a batch read back from a spill file
// fails before its records are written one at a time (isolate).
const isolateAfter = 3

// rejectedFile, in SpillDir, keeps the records the sink refused one at a
// time while it took others (isolate), one JSON line each, for the
// operator: they are not replayed.
const rejectedFile = "audit-rejected.jsonl"

// isolate writes the pending replay batch one record at a time, after it
// failed isolateAfter times: a record the sink refuses (a value the
// database cannot store) would otherwise fail its batch for ever, and
// hold up the replay of everything after it. If the sink takes some
// records, those it refused go to rejectedFile, counted in Stats.Dropped;
// if it takes none, it is down, and the batch waits. It reports whether
// the batch is done.
func (r *Recorder) isolate() bool {
	var refused []Record
	var errs []error
	took := 0
	for _, rec := range r.w.pending {
		if !r.sinkUsable() || r.base.Err() != nil {
			break // a call left behind, or Close
		}
		if err := r.write([]Record{rec}); err != nil {
			if r.w.hung != nil || errors.Is(err, context.DeadlineExceeded) {
				// Slow, not refused: a sink that is down may take
				// WriteTimeout per record.
				errs = append(errs, err)
				break
			}
			refused, errs = append(refused, rec), append(errs, err)
			continue
		}
		took++
	}
	if took+len(refused) < len(r.w.pending) || took == 0 {
		r.w.pendingFails++
		err := errors.New("audit: writing records one at a time: cut short")
		if len(errs) > 0 {
			err = errs[len(errs)-1]
		}
		r.sinkFailed(err)
		return false
	}
	r.sinkOK()
	r.replayed.Add(uint64(took))
	r.dropped.Add(uint64(len(refused)))
	if len(refused) == 0 {
		return true
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i, rec := range refused {
		enc.Encode(&rec)
		r.log.Error("audit: the sink refuses a record; it is kept in "+rejectedFile, "id", rec.ID, "err", errs[i])
	}
	if err := appendFile(filepath.Join(r.spill.dir, rejectedFile), buf.Bytes()); err != nil {
		r.log.Error("audit: records the sink refuses are lost", "records", len(refused), "err", err)
	}
	return true
}

// appendFile appends b to the file name (created 0600) and syncs it.
func appendFile(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyLines hands b, encoded, to the Lines goroutine, or counts it as
// dropped when that is 64 batches behind.
func (r *Recorder) copyLines(b []Record) {
	var buf []byte
	select {
	case buf = <-r.linesFree:
	default:
	}
	w := bytes.NewBuffer(buf)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i := range b {
		enc.Encode(&b[i])
	}
	select {
	case r.linesC <- w.Bytes():
	default:
		r.linesDropped.Add(uint64(len(b)))
	}
}

// runLines writes the encoded batches to Lines.
func (r *Recorder) runLines() {
	defer close(r.linesDone)
	var failing bool
	for buf := range r.linesC {
		if _, err := r.lines.Write(buf); err != nil {
			r.linesDropped.Add(uint64(bytes.Count(buf, []byte{'\n'})))
			if !failing {
				r.log.Error("audit: writing JSON lines", "err", err)
			}
			failing = true
		} else {
			failing = false
		}
		select {
		case r.linesFree <- buf[:0]:
		default:
		}
	}
}

// logDrops warns of records dropped since the last warning, at most every
// dropLogEvery.
func (r *Recorder) logDrops() {
	d := r.dropped.Load()
	if d == r.w.loggedDrops || time.Since(r.w.dropLogAt) < dropLogEvery {
		return
	}
	r.log.Error("audit: records dropped: the queue was full (the sink and the spill disk did not keep up) or unreadable in a spill file", "records", d-r.w.loggedDrops, "total", d)
	r.w.loggedDrops, r.w.dropLogAt = d, time.Now()
}
