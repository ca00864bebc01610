package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// killChildEnv makes the test binary the child of TestSIGKILLWhileSpilling.
const killChildEnv = "GOMIRROR_AUDIT_KILL_CHILD_DIR"

// TestSIGKILLWhileSpilling kills a process that records continuously
// while its sink is down, at a moment it does not choose: every record it
// had reported spilled is replayed by the next Recorder, once, whatever
// the kill cut mid-write.
func TestSIGKILLWhileSpilling(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLWhileSpilling$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child prints Stats.Spilled after each round; kill it once it
	// has spilled a few thousand records, while it keeps spilling.
	sc := bufio.NewScanner(out)
	var reported uint64
	for sc.Scan() {
		n, err := strconv.ParseUint(sc.Text(), 10, 64)
		if err != nil {
			continue
		}
		reported = n
		if n >= 5000 {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if reported < 5000 {
		t.Fatalf("the child reported %d records spilled", reported)
	}

	sink := newFakeSink(sinkOK)
	r, rounds := testRecorder(t, sink, dir, nil)
	waitFor(t, rounds, "the spill files replayed", func() bool {
		left, _ := os.ReadDir(dir)
		return len(left) == 0
	})
	r.Close(context.Background())
	if n := sink.count(); uint64(n) < reported {
		t.Errorf("replayed %d records; the child had reported %d spilled", n, reported)
	}
	for id, n := range sink.landings {
		if n != 1 {
			t.Errorf("record %s landed %d times", id, n)
		}
	}
	t.Logf("child reported %d spilled, %d replayed, stats %+v", reported, sink.count(), r.Stats())
}

// killChild records without end to a Recorder whose sink always fails,
// printing Stats.Spilled after each round.
func killChild(dir string) {
	rounds := make(chan struct{}, 1)
	r, err := New(Options{
		Sink: newFakeSink(sinkFail), SpillDir: dir, BatchSize: 64,
		FlushInterval: time.Millisecond, RetryMin: time.Hour, roundDone: rounds,
	})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	go func() {
		for i := 0; ; i++ {
			r.Record(Record{ID: fmt.Sprint("c-", i), Module: "example.com/m", Kind: KindZip})
			if i%64 == 0 {
				time.Sleep(time.Millisecond) // a request rate, not synchronisation
			}
		}
	}()
	for range rounds {
		fmt.Println(r.Stats().Spilled)
	}
}
