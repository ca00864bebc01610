package gc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/gc"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// accesses is a fake Accesses and Catalog.
type accesses struct {
	times     map[module.Version]time.Time
	deleted   []string
	forgotten []string
}

func (a *accesses) AccessTimes(ctx context.Context, f func(db.VersionAccess) error) error {
	for mv, t := range a.times {
		if err := f(db.VersionAccess{Module: mv.Path, Version: mv.Version, Time: t}); err != nil {
			return err
		}
	}
	return nil
}

func (a *accesses) DeleteArtifact(ctx context.Context, module, version, file string) error {
	a.deleted = append(a.deleted, module+"@"+version+" "+file)
	return nil
}

func (a *accesses) ForgetAccess(ctx context.Context, module, version string) error {
	a.forgotten = append(a.forgotten, module+"@"+version)
	return nil
}

// now is the collections' clock: 400 days after the fixture's files are
// stored (mem's clock), so that the recorded accesses are later.
var now = time.Now().Add(400 * 24 * time.Hour)

func day(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }

// fixture is a store of versions example.com/mN@v1.0.0, each with a
// .info (10 B), .mod (10 B + its 5 B hash) and a zip (100 B + 5 B hash),
// stored now, last downloaded the given number of days ago (in order:
// m0 the given days[0]), plus checksum database data and state.
func fixture(t *testing.T, days ...int) (storage.Storage, *accesses) {
	t.Helper()
	s := storage.Wrap(mem.New())
	acc := &accesses{times: map[module.Version]time.Time{}}
	ctx := context.Background()
	put := func(key string, n int) {
		if err := storage.PutBytes(ctx, s, key, []byte(strings.Repeat("x", n))); err != nil {
			t.Fatal(err)
		}
	}
	for i, d := range days {
		mv := module.Version{Path: fmt.Sprintf("example.com/m%d", i), Version: "v1.0.0"}
		base := mv.Path + "/@v/v1.0.0"
		put(base+".info", 10)
		put(base+".mod", 10)
		put(base+".modhash", 5)
		put(base+".zip", 100)
		put(base+".ziphash", 5)
		acc.times[mv] = day(d)
	}
	put("sumdb/sum.example/tile/8/0/000", 5000)
	put(".gomirror/state", 5000)
	return s, acc
}

func keys(t *testing.T, s storage.Storage) []string {
	ks, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func evicted(rep gc.Report) []string {
	var out []string
	for _, e := range rep.Evictions {
		out = append(out, fmt.Sprintf("%s %s %s", strings.TrimPrefix(e.Module, "example.com/"), strings.Join(e.Files, "+"), e.Reason))
	}
	return out
}

func TestCollect(t *testing.T) {
	const perVersion = 120 // info + mod + zip (hash side-files are not counted)
	tests := []struct {
		name string
		days []int
		opts gc.Options
		want []string
		kept map[string]int
	}{
		{"nothing configured", []int{1, 2}, gc.Options{}, nil, map[string]int{}},
		{"under quota", []int{1, 2}, gc.Options{MaxBytes: 2 * perVersion}, nil, map[string]int{}},
		{"over quota: least recently downloaded zips first", []int{5, 50, 1, 20},
			gc.Options{MaxBytes: 4*perVersion - 150},
			[]string{"m1 zip quota", "m3 zip quota"}, map[string]int{}},
		{"retention: zips only by default", []int{200, 10, 181},
			gc.Options{Retention: 180 * 24 * time.Hour},
			[]string{"m0 zip retention", "m2 zip retention"}, map[string]int{}},
		{"retention with metadata", []int{200, 10},
			gc.Options{Retention: 180 * 24 * time.Hour, EvictMetadata: true},
			[]string{"m0 zip+mod+info retention"}, map[string]int{}},
		{"quota: metadata once no zip is left", []int{3, 2, 1},
			gc.Options{MaxBytes: 2 * 25, EvictMetadata: true},
			[]string{"m0 zip quota", "m1 zip quota", "m2 zip quota", "m0 mod+info quota"}, map[string]int{}},
		{"pinned (by either source), private and serving stay", []int{90, 80, 70, 60, 50},
			gc.Options{MaxBytes: 1, Pins: []gc.Pins{gc.PinsFunc(func(context.Context) (map[module.Version]struct{}, error) {
				return map[module.Version]struct{}{{Path: "example.com/m0", Version: "v1.0.0"}: {}}, nil
			}), gc.PinsFunc(func(context.Context) (map[module.Version]struct{}, error) {
				return map[module.Version]struct{}{{Path: "example.com/m4", Version: "v1.0.0"}: {}}, nil
			})},
				Private: func(p string) bool { return p == "example.com/m1" },
				Serving: func(mv module.Version) bool { return mv.Path == "example.com/m2" }},
			[]string{"m3 zip quota"}, map[string]int{"pinned": 2, "private": 1, "serving": 1}},
		{"private evicted when allowed", []int{90, 80},
			gc.Options{MaxBytes: 1, EvictPrivate: true, Private: func(string) bool { return true }},
			[]string{"m0 zip quota", "m1 zip quota"}, map[string]int{}},
		{"grace window keeps recent downloads", []int{0, 5},
			gc.Options{MaxBytes: 1, Grace: 24 * time.Hour},
			[]string{"m1 zip quota"}, map[string]int{"grace": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, acc := fixture(t, tt.days...)
			opts := tt.opts
			opts.Storage, opts.Accesses, opts.Catalog, opts.Now = s, acc, acc, func() time.Time { return now }
			before := keys(t, s)
			dry := opts
			dry.DryRun = true
			rep, err := gc.Collect(context.Background(), dry)
			if err != nil {
				t.Fatal(err)
			}
			if got := evicted(rep); !slices.Equal(got, tt.want) {
				t.Errorf("dry run plans %q, want %q", got, tt.want)
			}
			if after := keys(t, s); !slices.Equal(after, before) {
				t.Fatalf("dry run changed the store")
			}
			if rep.StoredBytes != int64(len(tt.days)*perVersion) || rep.Versions != len(tt.days) {
				t.Errorf("report: %d versions, %d bytes; want %d, %d (sumdb and state not counted)", rep.Versions, rep.StoredBytes, len(tt.days), len(tt.days)*perVersion)
			}
			if fmt.Sprint(rep.Kept) != fmt.Sprint(tt.kept) {
				t.Errorf("kept %v, want %v", rep.Kept, tt.kept)
			}
			rep, err = gc.Collect(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := evicted(rep); !slices.Equal(got, tt.want) {
				t.Errorf("collection evicted %q, want %q", got, tt.want)
			}
			left := keys(t, s)
			var freed int64
			for _, e := range rep.Evictions {
				freed += e.Bytes
				for _, f := range e.Files {
					key := e.Module + "/@v/" + e.Version + "." + f
					if slices.Contains(left, key) {
						t.Errorf("%s still stored", key)
					}
					if (f == "zip" || f == "mod") && !slices.Contains(left, key+"hash") {
						t.Errorf("%shash removed (hash side-files stay)", key)
					}
				}
			}
			if rep.AfterBytes != rep.StoredBytes-freed {
				t.Errorf("after = %d, want %d - %d", rep.AfterBytes, rep.StoredBytes, freed)
			}
			if opts.MaxBytes > 0 && len(rep.Kept) == 0 && rep.AfterBytes > opts.MaxBytes && !opts.EvictMetadata && rep.AfterBytes-int64(len(tt.days))*20 > opts.MaxBytes {
				t.Errorf("still over quota: %d > %d", rep.AfterBytes, opts.MaxBytes)
			}
			for _, k := range []string{"sumdb/sum.example/tile/8/0/000", ".gomirror/state"} {
				if !slices.Contains(left, k) {
					t.Errorf("%s was removed", k)
				}
			}
			if len(acc.deleted) != 0 && len(tt.want) == 0 || len(tt.want) > 0 && len(acc.deleted) == 0 {
				t.Errorf("catalog told of %q", acc.deleted)
			}
		})
	}
}

// TestNeverRecordedUsesStoredTime: a version without a recorded access
// counts as downloaded when stored: m1, stored 400 days ago and never
// downloaded since, goes before m0, downloaded 10 days ago.
func TestNeverRecordedUsesStoredTime(t *testing.T) {
	s, acc := fixture(t, 10, 10)
	delete(acc.times, module.Version{Path: "example.com/m1", Version: "v1.0.0"}) // stored "now" (mem's clock)
	rep, err := gc.Collect(context.Background(), gc.Options{Storage: s, Accesses: acc, MaxBytes: 160, DryRun: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if got := evicted(rep); !slices.Equal(got, []string{"m1 zip quota"}) {
		t.Fatalf("planned %q, want m1's zip", got)
	}
	if e := rep.Evictions[0]; e.Recorded || now.Sub(e.LastAccess) < 399*24*time.Hour {
		t.Errorf("m1's last access should be its stored time, not recorded: %+v", e)
	}
}

// TestPinsFailureEvictsNothing: without the pins, any version may be one.
func TestPinsFailureEvictsNothing(t *testing.T) {
	s, acc := fixture(t, 300)
	before := keys(t, s)
	_, err := gc.Collect(context.Background(), gc.Options{Storage: s, Accesses: acc, Retention: time.Hour,
		Pins: []gc.Pins{gc.PinsFunc(func(context.Context) (map[module.Version]struct{}, error) { return nil, errors.New("no manifest") })}})
	if err == nil {
		t.Error("Collect succeeded without the pins")
	}
	if !slices.Equal(keys(t, s), before) {
		t.Error("Collect deleted without the pins")
	}
}

// failingDeletes is a store whose deletions of keys containing fail fail.
type failingDeletes struct {
	storage.Storage
	fail string
}

func (f failingDeletes) Delete(ctx context.Context, key string) error {
	if strings.Contains(key, f.fail) {
		return errors.New("injected: delete failed")
	}
	return f.Storage.Delete(ctx, key)
}

// TestFailedDeleteNotCounted (review finding 5): a version whose files
// cannot be deleted is marked failed in the report and counted neither
// as evicted nor as freed; the bytes after include it.
func TestFailedDeleteNotCounted(t *testing.T) {
	s, acc := fixture(t, 90, 80)
	fs := failingDeletes{s, "example.com/m0/"}
	rep, err := gc.Collect(context.Background(), gc.Options{Storage: fs, MaxBytes: 1, Accesses: acc, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failed != 1 || rep.Evicted[gc.ReasonQuota] != 1 || rep.Freed[gc.ReasonQuota] != 100 {
		t.Errorf("failed %d, evicted %v, freed %v; want 1 failed, 1 evicted of 100 bytes", rep.Failed, rep.Evicted, rep.Freed)
	}
	if rep.AfterBytes != rep.StoredBytes-100 {
		t.Errorf("after %d bytes, want %d (only m1's zip gone)", rep.AfterBytes, rep.StoredBytes-100)
	}
	var failed []string
	for _, e := range rep.Evictions {
		if e.Failed {
			failed = append(failed, e.Module)
		}
	}
	if !slices.Equal(failed, []string{"example.com/m0"}) {
		t.Errorf("evictions marked failed: %q, want example.com/m0", failed)
	}
}

// countingWalks is a store that counts the keys its walks yield, by their
// first element.
type countingWalks struct {
	storage.Storage
	yielded map[string]int
}

func (c *countingWalks) Walk(ctx context.Context, prefix string, fn func(string, storage.Info) error) error {
	return storage.Walk(ctx, c.Storage, prefix, func(key string, info storage.Info) error {
		first, _, _ := strings.Cut(key, "/")
		c.yielded[first]++
		return fn(key, info)
	})
}

// TestWalkSkipsStateAndSumDB (review finding 7): a collection does not
// walk the checksum database's data nor gomirror's state (a direct fetch's
// module cache under .gomirror/ may hold 100,000 files): the store yields
// none of their keys.
func TestWalkSkipsStateAndSumDB(t *testing.T) {
	s, acc := fixture(t, 1, 2)
	ctx := context.Background()
	for i := range 50 {
		for _, k := range []string{fmt.Sprintf(".gomirror/direct/mod/f%d", i), fmt.Sprintf("sumdb/sum.example/lookup/m%d", i)} {
			if err := storage.PutBytes(ctx, s, k, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := &countingWalks{Storage: s, yielded: map[string]int{}}
	rep, err := gc.Collect(ctx, gc.Options{Storage: c, MaxBytes: 1 << 30, Accesses: acc, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Versions != 2 || c.yielded["example.com"] != 10 {
		t.Errorf("%d versions, %d module keys walked; want 2, 10", rep.Versions, c.yielded["example.com"])
	}
	if n := c.yielded[".gomirror"] + c.yielded["sumdb"]; n != 0 {
		t.Errorf("the walk yielded %d keys of .gomirror/ and sumdb/, want 0", n)
	}
}

// TestZipHashKept (review finding 6): evicting a zip leaves its .ziphash
// (harmless without the zip, see package cache), so that a refill racing
// the eviction (new hash, then new zip) is never left without its hash;
// the freed bytes are the zip's.
func TestZipHashKept(t *testing.T) {
	s, acc := fixture(t, 90)
	rep, err := gc.Collect(context.Background(), gc.Options{Storage: s, MaxBytes: 1, Accesses: acc, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ks := keys(t, s)
	if slices.Contains(ks, "example.com/m0/@v/v1.0.0.zip") || !slices.Contains(ks, "example.com/m0/@v/v1.0.0.ziphash") {
		t.Errorf("after evicting the zip, stored: %q; want the .ziphash without the .zip", ks)
	}
	if rep.Freed[gc.ReasonQuota] != 100 {
		t.Errorf("freed %d bytes, want 100 (the zip's)", rep.Freed[gc.ReasonQuota])
	}
}

// TestStopsWhenLockLost (review finding 9): a collection checks its lock
// (Options.Held) before each batch of deletions and stops once it is
// lost: what it had not deleted is neither deleted nor reported.
func TestStopsWhenLockLost(t *testing.T) {
	days := make([]int, 3*gc.DeleteBatch)
	for i := range days {
		days[i] = 100 - i%50
	}
	s, acc := fixture(t, days...)
	checks := 0
	held := func(context.Context) bool { checks++; return checks == 1 } // lost after the first batch
	rep, err := gc.Collect(context.Background(), gc.Options{Storage: s, MaxBytes: 1, Accesses: acc, Held: held, Now: func() time.Time { return now }})
	if !errors.Is(err, gc.ErrLockLost) {
		t.Fatalf("Collect = %v, want ErrLockLost", err)
	}
	zips := 0
	for _, k := range keys(t, s) {
		if strings.HasSuffix(k, ".zip") {
			zips++
		}
	}
	if zips != len(days)-gc.DeleteBatch || len(rep.Evictions) != gc.DeleteBatch || rep.Evicted[gc.ReasonQuota] != gc.DeleteBatch {
		t.Errorf("%d zips left, %d evictions reported (%v); want %d left, %d reported", zips, len(rep.Evictions), rep.Evicted, len(days)-gc.DeleteBatch, gc.DeleteBatch)
	}
	if rep.AfterBytes != rep.StoredBytes-int64(gc.DeleteBatch)*100 {
		t.Errorf("after %d, want %d", rep.AfterBytes, rep.StoredBytes-int64(gc.DeleteBatch)*100)
	}
}

// olderStored is a store whose walk reports the keys under old as stored
// a year earlier.
type olderStored struct {
	storage.Storage
	old string
}

func (o olderStored) Walk(ctx context.Context, prefix string, fn func(string, storage.Info) error) error {
	return storage.Walk(ctx, o.Storage, prefix, func(key string, info storage.Info) error {
		if strings.HasPrefix(key, o.old) {
			info.ModTime = info.ModTime.Add(-365 * 24 * time.Hour)
		}
		return fn(key, info)
	})
}

// TestTiesByStoredTime (review minor): versions recorded at the same time
// (one flush) go in the order they were stored, oldest first, not by
// module path.
func TestTiesByStoredTime(t *testing.T) {
	s, acc := fixture(t, 10, 10)
	o := olderStored{s, "example.com/m1/"}
	rep, err := gc.Collect(context.Background(), gc.Options{Storage: o, MaxBytes: 2*120 - 50, Accesses: acc, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if got := evicted(rep); !slices.Equal(got, []string{"m1 zip quota"}) {
		t.Errorf("evicted %q, want m1's zip (stored earlier)", got)
	}
}
