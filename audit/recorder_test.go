package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/testutil"
)

// fakeSink is a Sink whose faults the test switches: it keeps every
// record once by ID, as the Sink contract wants, and counts how often
// each ID landed.
type fakeSink struct {
	mu       sync.Mutex
	stored   map[string]Record
	landings map[string]int
	calls    int
	inflight int // calls under way
	most     int // the most calls under way at once
	failed   int
	mode     sinkMode
	hang     chan struct{} // closed to release calls of sinkHang
	refuse   string        // an ID whose batches fail
}

type sinkMode int

const (
	sinkOK          sinkMode = iota
	sinkFail                 // returns an error, stores nothing
	sinkWaitCtx              // waits for its context to end, stores nothing
	sinkHang                 // waits for f.hang, ignoring its context, stores nothing
	sinkLandThenErr          // stores the batch, then returns an error
	sinkSlow                 // stores the batch after 20ms
)

func newFakeSink(mode sinkMode) *fakeSink {
	return &fakeSink{stored: map[string]Record{}, landings: map[string]int{}, mode: mode, hang: make(chan struct{})}
}

func (f *fakeSink) setMode(m sinkMode) {
	f.mu.Lock()
	f.mode = m
	f.mu.Unlock()
}

func (f *fakeSink) WriteAudit(ctx context.Context, batch []Record) error {
	f.mu.Lock()
	f.calls++
	f.inflight++
	f.most = max(f.most, f.inflight)
	mode := f.mode
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	switch mode {
	case sinkFail:
		f.fail()
		return errors.New("database down")
	case sinkWaitCtx:
		<-ctx.Done()
		f.fail()
		return ctx.Err()
	case sinkHang:
		<-f.hang
		f.fail()
		return errors.New("released")
	case sinkSlow:
		time.Sleep(20 * time.Millisecond) // a slow database, not synchronisation
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range batch {
		if r.ID == f.refuse && r.ID != "" {
			f.failed++
			return errors.New("invalid byte sequence")
		}
	}
	for _, r := range batch {
		f.landings[r.ID]++
		if _, ok := f.stored[r.ID]; !ok {
			f.stored[r.ID] = r
		}
	}
	if mode == sinkLandThenErr {
		f.failed++
		return errors.New("connection reset after commit")
	}
	return nil
}

func (f *fakeSink) fail() {
	f.mu.Lock()
	f.failed++
	f.mu.Unlock()
}

func (f *fakeSink) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.stored)
}

func (f *fakeSink) prefixed(p string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for id := range f.stored {
		if strings.HasPrefix(id, p) {
			n++
		}
	}
	return n
}

func (f *fakeSink) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// testRecorder returns a Recorder on sink with fast timings, a spill
// directory, and the channel its writer signals after each round.
func testRecorder(t *testing.T, sink Sink, dir string, edit func(*Options)) (*Recorder, chan struct{}) {
	t.Helper()
	rounds := make(chan struct{}, 1)
	o := Options{
		Sink: sink, SpillDir: dir,
		BatchSize: 16, FlushInterval: 2 * time.Millisecond, WriteTimeout: 50 * time.Millisecond,
		RetryMin: 2 * time.Millisecond, RetryMax: 10 * time.Millisecond,
		Replica: "r1", roundDone: rounds,
	}
	if edit != nil {
		edit(&o)
	}
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r, rounds
}

// steady edits Options for a test that wants every record written to a
// working sink by Close: a write that takes WriteTimeout, or a round that
// spends FlushInterval in the sink, spills (and Close does not replay),
// and under -race a write may be slow.
func steady(o *Options) { o.FlushInterval, o.WriteTimeout = time.Minute, time.Minute }

// waitFor waits for cond to hold, checking after each writer round.
func waitFor(t *testing.T, rounds <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-rounds:
		case <-deadline:
			t.Fatalf("still waiting for %s after 30s", what)
		}
	}
}

// record records n records for module m and returns their IDs.
func record(r *Recorder, m string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%d", m, i)
		r.Record(Record{ID: ids[i], Module: m, Version: "v1.0.0", Kind: KindInfo, Status: 200})
	}
	return ids
}

// spilledIDs reads every spill file in dir and returns how often each ID
// is there.
func spilledIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, spillPrefix+"*"+spillSuffix))
	ids := map[string]int{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(b) {
			var r Record
			if err := json.Unmarshal(line, &r); err != nil {
				t.Fatalf("%s: %q: %v", name, line, err)
			}
			ids[r.ID]++
		}
	}
	return ids
}

func TestRecordSetsIDTimeReplica(t *testing.T) {
	sink := newFakeSink(sinkOK)
	r1, _ := testRecorder(t, sink, t.TempDir(), steady)
	r2, _ := testRecorder(t, sink, t.TempDir(), func(o *Options) { steady(o); o.Replica = "r2" })
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for range 100 {
		r1.Record(Record{Kind: KindZip})
		r2.Record(Record{Kind: KindZip, Time: when})
	}
	r1.Record(Record{ID: "given", Kind: KindMod})
	for _, r := range []*Recorder{r1, r2} {
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := sink.count(); n != 201 {
		t.Fatalf("sink has %d records, want 201 (IDs unique across two Recorders)", n)
	}
	prefixes := map[string]bool{}
	for id, rec := range sink.stored {
		if id == "given" {
			continue
		}
		if len(id) > 20 {
			t.Errorf("ID %q: longer than 20 bytes", id)
		}
		prefixes[id[:strings.IndexByte(id, '-')]] = true
		switch rec.Replica {
		case "r1":
			if rec.Time.IsZero() || rec.Time.Location() != time.UTC {
				t.Errorf("r1 record time %v, want now in UTC", rec.Time)
			}
		case "r2":
			if !rec.Time.Equal(when) {
				t.Errorf("r2 record time %v, want %v kept", rec.Time, when)
			}
		default:
			t.Errorf("record %s: replica %q", id, rec.Replica)
		}
	}
	if len(prefixes) != 2 {
		t.Errorf("ID prefixes %v: want one per Recorder", prefixes)
	}
	if rec, ok := sink.stored["given"]; !ok || rec.Replica != "r1" {
		t.Errorf("the record with an ID: %+v, %v", rec, ok)
	}
}

// TestRecordSanitizes: strings reach the sink as valid UTF-8 without NUL
// bytes, which a database may refuse.
func TestRecordSanitizes(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Go-http-client/1.1", "Go-http-client/1.1"},
		{"é", "é"},
		{"a\xffb", "a\uFFFDb"},
		{"a\x00b", "a\uFFFDb"},
		{"\xc3", "\uFFFD"},
	} {
		sink := newFakeSink(sinkOK)
		r, _ := testRecorder(t, sink, t.TempDir(), steady)
		r.Record(Record{ID: "x", Agent: tc.in, Client: tc.in, Kind: KindInfo})
		r.Close(context.Background())
		if got := sink.stored["x"]; got.Agent != tc.want || got.Client != tc.want {
			t.Errorf("%q: sink got agent %q, client %q, want %q", tc.in, got.Agent, got.Client, tc.want)
		}
	}
}

// TestOutage: the sink fails in each of its ways for a while, records
// keep coming, and once it is back every record is in it; a record is
// written twice only when the sink said it failed after it landed.
func TestOutage(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode sinkMode
	}{
		{"fail", sinkFail},
		{"wait for ctx", sinkWaitCtx},
		{"hang", sinkHang},
		{"land then fail", sinkLandThenErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := newFakeSink(sinkOK)
			dir := t.TempDir()
			r, rounds := testRecorder(t, sink, dir, nil)
			ids := record(r, "before", 100)
			waitFor(t, rounds, "the first records written", func() bool { return sink.count() == 100 })

			base := r.Stats().Spilled // a slow write under -race spills too
			sink.setMode(tc.mode)
			ids = append(ids, record(r, "during", 500)...)
			waitFor(t, rounds, "the outage's records spilled", func() bool { return r.Stats().Spilled == base+500 })
			ids = append(ids, record(r, "during2", 100)...)
			waitFor(t, rounds, "the failing sink's records spilled", func() bool { return r.Stats().Spilled == base+600 })

			if tc.mode == sinkHang {
				close(sink.hang)
			}
			sink.setMode(sinkOK)
			ids = append(ids, record(r, "after", 100)...)
			waitFor(t, rounds, "every record in the sink", func() bool { return sink.count() == len(ids) })
			waitFor(t, rounds, "the spill files replayed and removed", func() bool {
				left, _ := filepath.Glob(filepath.Join(dir, "*"))
				return len(left) == 0
			})
			if err := r.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				n := sink.landings[id]
				if n == 0 || n > 1 && tc.mode != sinkLandThenErr {
					t.Errorf("record %s landed %d times", id, n)
				}
			}
			s := r.Stats()
			if s.Written+s.Replayed < uint64(len(ids)) || s.Spilled == 0 || s.Replayed < s.Spilled || s.Dropped != 0 {
				t.Errorf("stats %+v for %d records", s, len(ids))
			}
		})
	}
}

// TestHangingSinkNeverBlocksRecord: with a sink that never returns, Record
// keeps returning, the queue stays within QueueSize, and every record ends
// in a spill file or counted as dropped; with a queue large enough, none
// is dropped.
func TestHangingSinkNeverBlocksRecord(t *testing.T) {
	for _, queue := range []int{64, 20000} {
		t.Run(fmt.Sprint(queue), func(t *testing.T) {
			sink := newFakeSink(sinkHang)
			dir := t.TempDir()
			r, _ := testRecorder(t, sink, dir, func(o *Options) { o.QueueSize = queue })
			t.Cleanup(func() { close(sink.hang) }) // before r's Close
			const workers, each = 8, 2500
			maxQueued := testutil.Within(t, "Record with a hanging sink", func() int {
				var wg sync.WaitGroup
				var mu sync.Mutex
				most := 0
				for w := range workers {
					wg.Go(func() {
						for i := range each {
							r.Record(Record{ID: fmt.Sprintf("%d-%d", w, i), Kind: KindInfo})
							if i%100 == 0 {
								q := r.Stats().Queued
								mu.Lock()
								most = max(most, q)
								mu.Unlock()
							}
						}
					})
				}
				wg.Wait()
				return most
			})
			if maxQueued > queue {
				t.Errorf("queue held %d records, more than QueueSize %d", maxQueued, queue)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := testutil.Within(t, "Close", func() error { return r.Close(ctx) }); err != nil {
				t.Fatal(err)
			}
			s := r.Stats()
			spilled := spilledIDs(t, dir)
			if uint64(len(spilled)) != s.Spilled || s.Spilled+s.Dropped != workers*each || s.Written != 0 {
				t.Errorf("stats %+v, %d records in spill files, for %d records", s, len(spilled), workers*each)
			}
			for id, n := range spilled {
				if n != 1 {
					t.Errorf("record %s spilled %d times", id, n)
				}
			}
			if queue >= workers*each && s.Dropped != 0 {
				t.Errorf("%d records dropped with room in the queue", s.Dropped)
			}
			sink.mu.Lock()
			defer sink.mu.Unlock()
			if sink.most != 1 {
				t.Errorf("%d sink calls at once: a call left behind must keep others from starting", sink.most)
			}
		})
	}
}

// TestSlowSink: a sink that works but is slower than the records come
// has the records it cannot take in a round spilled, so that the queue
// drains at the disk's speed; they are replayed when it has time.
func TestSlowSink(t *testing.T) {
	sink := newFakeSink(sinkSlow)
	r, rounds := testRecorder(t, sink, t.TempDir(), func(o *Options) {
		o.BatchSize, o.FlushInterval, o.WriteTimeout = 64, 10*time.Millisecond, time.Minute
	})
	ids := record(r, "m", 2000)
	waitFor(t, rounds, "the queue drained", func() bool { return r.Stats().Queued == 0 })
	if s := r.Stats(); s.Spilled == 0 || s.Written+s.Spilled != 2000 {
		t.Fatalf("stats %+v: want what the slow sink did not take at once spilled", s)
	}
	waitFor(t, rounds, "every record in the sink", func() bool { return sink.count() == len(ids) })
	for _, id := range ids {
		if sink.landings[id] != 1 {
			t.Errorf("record %s landed %d times", id, sink.landings[id])
		}
	}
}

// TestRefusedRecord: a record the sink refuses (whichever batch it is
// in) fails its batch, which is spilled, until the replay writes it a
// record at a time: the others are stored, it goes to the rejected file.
func TestRefusedRecord(t *testing.T) {
	sink := newFakeSink(sinkOK)
	sink.refuse = "m-50"
	dir := t.TempDir()
	var logs testutil.Buffer
	r, rounds := testRecorder(t, sink, dir, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	ids := record(r, "m", 100)
	waitFor(t, rounds, "the others stored", func() bool { return sink.count() == 99 })
	waitFor(t, rounds, "the refused record dropped", func() bool { return r.Stats().Dropped == 1 })
	for _, id := range ids {
		if n := sink.landings[id]; n != 1 && id != "m-50" {
			t.Errorf("record %s landed %d times", id, n)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, rejectedFile))
	if err != nil || !strings.Contains(string(b), `"id":"m-50"`) || bytes.Count(b, []byte("\n")) != 1 {
		t.Errorf("rejected file: %q, %v", b, err)
	}
	if !strings.Contains(logs.String(), "id=m-50") {
		t.Errorf("log does not name the refused record:\n%s", logs.String())
	}
	waitFor(t, rounds, "the spill files removed", func() bool {
		left, _ := filepath.Glob(filepath.Join(dir, spillPrefix+"*"))
		return len(left) == 0
	})
}

// TestCloseWithSinkDown: Close spills what it cannot write, and the next
// Recorder on the directory replays all of it.
func TestCloseWithSinkDown(t *testing.T) {
	dir := t.TempDir()
	down := newFakeSink(sinkFail)
	r, _ := testRecorder(t, down, dir, func(o *Options) { o.FlushInterval = time.Hour; o.BatchSize = 1000 })
	ids := record(r, "m", 700) // all in the queue: no batch is full
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := r.Stats(); s.Spilled != 700 || s.Written != 0 {
		t.Fatalf("after Close: %+v", s)
	}
	if got := spilledIDs(t, dir); len(got) != 700 {
		t.Fatalf("spill files hold %d records, want 700", len(got))
	}

	up := newFakeSink(sinkOK)
	r2, rounds := testRecorder(t, up, dir, nil)
	waitFor(t, rounds, "the leftover replayed", func() bool { return r2.Stats().Replayed == 700 })
	for _, id := range ids {
		if up.landings[id] != 1 {
			t.Errorf("record %s landed %d times", id, up.landings[id])
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("left after replay: %v", left)
	}
}

// TestCloseGivesTheSinkCtx: a sink that works gets every queued record at
// Close, and a hanging one has Close return when ctx ends, with the
// records spilled.
func TestCloseGivesTheSinkCtx(t *testing.T) {
	up := newFakeSink(sinkOK)
	r, _ := testRecorder(t, up, t.TempDir(), func(o *Options) { steady(o); o.BatchSize = 1000 })
	record(r, "m", 500)
	if err := r.Close(context.Background()); err != nil || up.count() != 500 {
		t.Fatalf("Close: %v, sink has %d of 500", err, up.count())
	}

	hang := newFakeSink(sinkWaitCtx)
	dir := t.TempDir()
	r, _ = testRecorder(t, hang, dir, func(o *Options) { o.FlushInterval = time.Hour; o.WriteTimeout = time.Hour })
	record(r, "m", 500)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := testutil.Within(t, "Close", func() error { return r.Close(ctx) }); err != nil {
		t.Fatal(err)
	}
	if got := spilledIDs(t, dir); len(got) != 500 {
		t.Errorf("spill files hold %d records, want 500", len(got))
	}
}

// TestSpillFileDamage: a line that is not a record (the end of a file
// whose process was killed mid-write, or garbage) is skipped with a
// warning, and the rest is replayed.
func TestSpillFileDamage(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := range 5 {
		b, _ := json.Marshal(Record{ID: fmt.Sprint("ok", i), Kind: KindZip})
		lines = append(lines, string(b))
	}
	name := filepath.Join(dir, spillPrefix+"00000000000000000001-x1"+spillSuffix)
	content := strings.Join(lines[:2], "\n") + "\n{not json\n" + strings.Join(lines[2:4], "\n") + "\n" + lines[4][:20]
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// A complete last line without its newline is a record.
	name2 := filepath.Join(dir, spillPrefix+"00000000000000000002-x1"+spillSuffix)
	if err := os.WriteFile(name2, []byte(lines[4]), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs testutil.Buffer
	sink := newFakeSink(sinkOK)
	r, rounds := testRecorder(t, sink, dir, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	waitFor(t, rounds, "the files replayed", func() bool {
		left, _ := filepath.Glob(filepath.Join(dir, "*"))
		return len(left) == 0
	})
	if n := sink.count(); n != 5 {
		t.Errorf("sink has %d records, want 5", n)
	}
	if s := r.Stats(); s.Dropped != 2 || s.Replayed != 5 {
		t.Errorf("stats %+v, want 2 dropped (the damaged lines), 5 replayed", s)
	}
	if !strings.Contains(logs.String(), "line 3") || !strings.Contains(logs.String(), "line 6") {
		t.Errorf("log does not name the damaged lines 3 and 6:\n%s", logs.String())
	}
}

// TestSpillFailureKeepsRecords: while both the sink and the spill
// directory fail, records wait in the queue (up to QueueSize; beyond,
// they are counted as dropped); when the spill directory works again they
// are spilled, and replayed when the sink is back.
func TestSpillFailureKeepsRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spill")
	sink := newFakeSink(sinkFail)
	r, rounds := testRecorder(t, sink, dir, func(o *Options) { o.QueueSize = 300 })
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil { // not a directory: spills fail
		t.Fatal(err)
	}
	record(r, "m", 400)
	waitFor(t, rounds, "a sink failure", func() bool { return sink.failures() > 0 })
	<-rounds // maybe of a round before
	<-rounds // after the failure's round, which tried to spill
	s := r.Stats()
	if s.Spilled != 0 || s.Dropped != 100 || s.Queued != 300 {
		t.Fatalf("stats %+v: want 300 queued, 100 dropped beyond QueueSize, nothing spilled", s)
	}
	kept := 400 - int(s.Dropped)
	os.Remove(dir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	waitFor(t, rounds, "the queue spilled", func() bool { return r.Stats().Spilled == uint64(kept) })
	sink.setMode(sinkOK)
	waitFor(t, rounds, "the spill replayed", func() bool { return sink.count() == kept })
	for id, n := range sink.landings {
		if n != 1 || !strings.HasPrefix(id, "m-") {
			t.Errorf("record %s landed %d times", id, n)
		}
	}
}

// TestConcurrentRecord runs Record from many goroutines (under -race in
// CI): every record lands once.
func TestConcurrentRecord(t *testing.T) {
	sink := newFakeSink(sinkOK)
	r, _ := testRecorder(t, sink, t.TempDir(), steady)
	var wg sync.WaitGroup
	const workers, each = 16, 1000
	for range workers {
		wg.Go(func() {
			for range each {
				r.Record(Record{Kind: KindInfo})
			}
		})
	}
	wg.Wait()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := sink.count(); n != workers*each {
		t.Errorf("sink has %d records, want %d", n, workers*each)
	}
	for id, n := range sink.landings {
		if n != 1 {
			t.Errorf("record %s landed %d times", id, n)
		}
	}
	if s := r.Stats(); s.Written != workers*each || s.Spilled != 0 || s.Queued != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestRecordAfterClose: a record after Close goes to a spill file that
// the next Recorder replays.
func TestRecordAfterClose(t *testing.T) {
	dir := t.TempDir()
	r, _ := testRecorder(t, newFakeSink(sinkOK), dir, nil)
	r.Close(context.Background())
	r.Record(Record{ID: "late", Kind: KindZip})
	if got := spilledIDs(t, dir); got["late"] != 1 {
		t.Fatalf("spill files: %v", got)
	}
	sink := newFakeSink(sinkOK)
	_, rounds := testRecorder(t, sink, dir, nil)
	waitFor(t, rounds, "the late record replayed", func() bool { return sink.count() == 1 })
}

// TestSpillFileOfAnotherProcess: a spill file that another open file
// holds (a live process still appending to it) is not replayed.
func TestSpillFileOfAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	other := &spillWriter{dir: dir, prefix: "other-"}
	b, _ := json.Marshal(Record{ID: "theirs"})
	if err := other.append(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	sink := newFakeSink(sinkOK)
	r, rounds := testRecorder(t, sink, dir, nil)
	record(r, "m", 40)
	waitFor(t, rounds, "own records written", func() bool { return sink.prefixed("m-") == 40 })
	if _, ok := sink.stored["theirs"]; ok && lockWorks {
		t.Fatal("a held spill file was replayed")
	}
	other.close()
	r.Close(context.Background())
	sink2 := newFakeSink(sinkOK)
	_, rounds = testRecorder(t, sink2, dir, nil)
	waitFor(t, rounds, "the released file replayed", func() bool { return sink2.count() == 1 })
}

func TestLines(t *testing.T) {
	var out testutil.Buffer
	for _, sink := range []Sink{nil, newFakeSink(sinkOK)} {
		out = testutil.Buffer{}
		r, _ := testRecorder(t, sink, t.TempDir(), func(o *Options) { o.Lines = &out })
		record(r, "m", 100)
		if err := r.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		n := 0
		for sc.Scan() {
			var rec Record
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec.ID != fmt.Sprint("m-", n) || rec.Module != "m" || rec.Replica != "r1" {
				t.Fatalf("line %d: %s: %v", n, sc.Text(), err)
			}
			n++
		}
		if n != 100 {
			t.Errorf("sink %v: %d lines, want 100", sink, n)
		}
	}
}

// blockingWriter blocks every Write until release is closed.
type blockingWriter struct{ release chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// TestLinesBlocked: a Lines writer that blocks costs the copy, not the
// audit log: the sink gets every record, the copies that do not fit are
// counted, and Close returns when its ctx ends.
func TestLinesBlocked(t *testing.T) {
	sink := newFakeSink(sinkOK)
	w := blockingWriter{make(chan struct{})}
	r, rounds := testRecorder(t, sink, t.TempDir(), func(o *Options) { steady(o); o.Lines = w })
	t.Cleanup(func() { close(w.release) }) // before r's Close
	const n = (linesQueue + 10) * 16
	record(r, "m", n)
	waitFor(t, rounds, "every record in the sink", func() bool { return sink.count() == n })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := testutil.Within(t, "Close", func() error { return r.Close(ctx) }); err != nil {
		t.Fatal(err)
	}
	// linesQueue batches wait for the blocked Write, which has one (or
	// has not started yet).
	if s := r.Stats(); s.LinesDropped != n-(linesQueue+1)*16 && s.LinesDropped != n-linesQueue*16 {
		t.Errorf("stats %+v: want %d lines dropped", s, n-(linesQueue+1)*16)
	}
}

func TestOpenLines(t *testing.T) {
	if w, err := OpenLines("", nil); w != nil || err != nil {
		t.Errorf(`OpenLines(""): %v, %v`, w, err)
	}
	var stdout bytes.Buffer
	w, err := OpenLines("-", &stdout)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x\n"))
	w.Close()
	if stdout.String() != "x\n" {
		t.Errorf("stdout got %q", stdout.String())
	}
	name := filepath.Join(t.TempDir(), "audit.jsonl")
	os.WriteFile(name, []byte("old\n"), 0o644)
	for range 2 {
		w, err := OpenLines(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("new\n"))
		w.Close()
	}
	if b, _ := os.ReadFile(name); string(b) != "old\nnew\nnew\n" {
		t.Errorf("file holds %q, want appended lines", b)
	}
	os.Remove(name)
	w, _ = OpenLines(name, nil)
	w.Close()
	if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("created file: %v, %v", fi.Mode(), err)
	}
}

// TestRecordAllocs: Record does not allocate (the writer sets the IDs).
func TestRecordAllocs(t *testing.T) {
	r, _ := testRecorder(t, newFakeSink(sinkOK), t.TempDir(), func(o *Options) {
		o.BatchSize, o.QueueSize, o.FlushInterval = 4096, 8192, time.Hour
	})
	rec := Record{Time: time.Now(), Module: "example.com/m", Version: "v1.0.0", Kind: KindInfo, Status: 200}
	if n := testing.AllocsPerRun(1000, func() { r.Record(rec) }); n != 0 {
		t.Errorf("Record: %v allocations, want 0", n)
	}
}

// BenchmarkRecord measures Record with the writer goroutine writing to a
// sink that discards, as it runs beside request goroutines: in rounds of
// 4,096 records (16 batches), the timer stopped while the writer catches
// up, so that the queue never fills (a tight loop of Record outruns any
// writer, and would measure the dropping of records; dropped/op shows
// that none is).
func BenchmarkRecord(b *testing.B) {
	rounds := make(chan struct{}, 1)
	r, err := New(Options{Sink: discard{}, SpillDir: b.TempDir(), roundDone: rounds})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	rec := Record{Time: time.Now(), Remote: "10.0.0.1", Method: "GET", Module: "example.com/m", Version: "v1.0.0", Kind: KindInfo, Status: 200, Cache: "hit"}
	const round = 4096
	catchUp := func(b *testing.B) {
		b.StopTimer()
		for r.Stats().Queued > 0 {
			<-rounds
		}
		b.StartTimer()
	}
	report := func(b *testing.B, d uint64) {
		b.ReportMetric(float64(r.Stats().Dropped-d)/float64(b.N), "dropped/op")
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		d := r.Stats().Dropped
		for i := 0; b.Loop(); i++ {
			r.Record(rec)
			if i%round == round-1 {
				catchUp(b)
			}
		}
		report(b, d)
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		d := r.Stats().Dropped
		for b.Loop() { // rounds of up to round records from 8 goroutines
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range round / 8 {
						r.Record(rec)
					}
				})
			}
			wg.Wait()
			catchUp(b)
		}
		report(b, d)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*round), "ns/record")
	})
}

type discard struct{}

func (discard) WriteAudit(context.Context, []Record) error { return nil }
