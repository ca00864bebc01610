package gc_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/gc"
)

// TestMemoryBounded: a Memory keeps at most its bound of versions, moves
// times only forward, reports an overflow, and forgets a version.
func TestMemoryBounded(t *testing.T) {
	ctx := context.Background()
	m := gc.NewMemory(1)
	t0 := time.Unix(1000, 0)
	m.RecordAccess(ctx, []db.VersionAccess{{Module: "example.com/a", Version: "v1.0.0", Time: t0}})
	if m.Overflowed() {
		t.Fatal("overflowed within its bound")
	}
	m.RecordAccess(ctx, []db.VersionAccess{{Module: "example.com/a", Version: "v1.0.0", Time: t0.Add(-time.Hour)},
		{Module: "example.com/b", Version: "v1.0.0", Time: t0}})
	if !m.Overflowed() {
		t.Error("a version beyond the bound was dropped without Overflowed")
	}
	var got []string
	m.AccessTimes(ctx, func(a db.VersionAccess) error {
		got = append(got, a.Module+" "+a.Time.Format(time.RFC3339))
		return nil
	})
	if want := []string{"example.com/a " + t0.Format(time.RFC3339)}; !slices.Equal(got, want) {
		t.Errorf("remembered %q, want %q", got, want)
	}
	m.ForgetAccess(ctx, "example.com/a", "v1.0.0")
	n := 0
	m.AccessTimes(ctx, func(db.VersionAccess) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d versions remembered after ForgetAccess, want 0", n)
	}
}

// TestRetentionRecordedOnly: with RetentionRecordedOnly (the in-memory
// access times overflowed), retention evicts a version with an old
// recorded download, and keeps one with none (its stored time proves
// nothing), counted as "unrecorded"; the quota still applies to both.
func TestRetentionRecordedOnly(t *testing.T) {
	s, acc := fixture(t, 100, 100)
	delete(acc.times, module.Version{Path: "example.com/m1", Version: "v1.0.0"})
	rep, err := gc.Collect(context.Background(), gc.Options{Storage: s, Retention: 30 * 24 * time.Hour, Accesses: acc,
		RetentionRecordedOnly: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if got := evicted(rep); !slices.Equal(got, []string{"m0 zip retention"}) || rep.Kept["unrecorded"] != 1 {
		t.Errorf("evicted %q, kept %v; want m0's zip, m1 kept as unrecorded", got, rep.Kept)
	}
}
