package gc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/gc"
)

type recorder struct {
	batches [][]db.VersionAccess
	fail    error
}

func (r *recorder) RecordAccess(ctx context.Context, batch []db.VersionAccess) error {
	if r.fail != nil {
		return r.fail
	}
	r.batches = append(r.batches, batch)
	return nil
}

func names(b []db.VersionAccess) []string {
	var out []string
	for _, a := range b {
		out = append(out, a.Module+"@"+a.Version)
	}
	slices.Sort(out)
	return out
}

func TestTrackerFlush(t *testing.T) {
	tr := gc.NewTracker()
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	b := module.Version{Path: "example.com/b", Version: "v0.1.0"}
	tr.Touch(a)
	tr.Touch(a)
	tr.Begin(b)
	if tr.Touched(b) {
		t.Fatal("Begin recorded a download (Touch does)")
	}
	tr.Touch(b)
	if !tr.Serving(b) || tr.Serving(a) {
		t.Fatalf("Serving(b) = %v, Serving(a) = %v; want true, false", tr.Serving(b), tr.Serving(a))
	}
	tr.Begin(b)
	tr.End(b)
	if !tr.Serving(b) {
		t.Fatal("b served twice and ended once is no longer serving")
	}
	tr.End(b)
	if tr.Serving(b) {
		t.Fatal("b still serving after both ends")
	}
	// A failed flush keeps the accesses for the next one; so does no
	// recorder (database not open).
	r := &recorder{fail: errors.New("db down")}
	at := time.Unix(1e9, 0)
	if err := tr.Flush(context.Background(), r, at); err == nil {
		t.Fatal("Flush hid the recorder's error")
	}
	if err := tr.Flush(context.Background(), nil, at); err != nil {
		t.Fatal(err)
	}
	r.fail = nil
	if err := tr.Flush(context.Background(), r, at); err != nil {
		t.Fatal(err)
	}
	if len(r.batches) != 1 || fmt.Sprint(names(r.batches[0])) != "[example.com/a@v1.0.0 example.com/b@v0.1.0]" || !r.batches[0][0].Time.Equal(at) {
		t.Fatalf("flushed %v", r.batches)
	}
	// Flushed accesses are not written again.
	if err := tr.Flush(context.Background(), r, at); err != nil || len(r.batches) != 1 {
		t.Fatalf("a second flush wrote %v (%v)", r.batches, err)
	}
}

// TestTrackerHotPathAllocs: once a version has been seen since the last
// flush (and after a flush, whose maps keep their room), marking it
// allocates nothing.
func TestTrackerHotPathAllocs(t *testing.T) {
	tr := gc.NewTracker()
	m := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	tr.Begin(m)
	tr.Touch(m)
	tr.End(m)
	tr.Flush(context.Background(), &recorder{}, time.Now())
	if n := testing.AllocsPerRun(1000, func() { tr.Begin(m); tr.Touch(m); tr.End(m) }); n != 0 {
		t.Errorf("Begin+End: %v allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { tr.Touch(m) }); n != 0 {
		t.Errorf("Touch: %v allocations, want 0", n)
	}
}

func TestTrackerConcurrent(t *testing.T) {
	tr := gc.NewTracker()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 1000 {
				m := module.Version{Path: fmt.Sprintf("example.com/m%d", j%50), Version: fmt.Sprintf("v1.0.%d", i)}
				tr.Begin(m)
				tr.Touch(m)
				tr.End(m)
			}
		}()
	}
	wg.Wait()
	r := &recorder{}
	tr.Flush(context.Background(), r, time.Now())
	if len(r.batches) != 1 || len(r.batches[0]) != 8*50 {
		t.Fatalf("flushed %d batches, first of %d; want 1 of 400", len(r.batches), len(r.batches[0]))
	}
	for j := range 50 {
		if tr.Serving(module.Version{Path: fmt.Sprintf("example.com/m%d", j), Version: "v1.0.0"}) {
			t.Fatal("a version is still serving after every End")
		}
	}
}

func BenchmarkTrackerBeginEnd(b *testing.B) {
	tr := gc.NewTracker()
	m := module.Version{Path: "github.com/example/module", Version: "v1.2.3"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tr.Begin(m)
			tr.End(m)
		}
	})
}
