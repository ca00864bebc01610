package modinfo

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/licensecheck"
	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// licenseSalad returns n bytes of license-like words, which licensecheck
// takes long to scan.
func licenseSalad(n int) []byte {
	words := strings.Fields("Permission is hereby granted free of charge to any person obtaining a copy of this software Licensed under the Apache License Version 2.0 GNU General Public License Redistribution and use in source and binary forms")
	r := rand.New(rand.NewSource(1))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[r.Intn(len(words))])
		b.WriteByte(' ')
	}
	return []byte(b.String()[:n])
}

// storeLicenses stores a .mod and a zip of m with files license files of
// size bytes each.
func storeLicenses(t *testing.T, st storage.Storage, m module.Version, files, size int) {
	t.Helper()
	text := licenseSalad(size)
	put(t, st, m, layout.Mod, []byte("module "+m.Path+"\n"))
	put(t, st, m, layout.Zip, hostileZip(t, func(w *zip.Writer) {
		for i := range files {
			f, _ := w.Create(fmt.Sprintf("%s@%s/LICENSE-%d", m.Path, m.Version, i))
			f.Write(text)
		}
	}))
}

// countingReader counts the Gets of each key.
type countingReader struct {
	Reader
	mu   sync.Mutex
	gets map[string]int
}

func (c *countingReader) Get(ctx context.Context, key string) (*storage.Object, error) {
	c.mu.Lock()
	c.gets[key]++
	c.mu.Unlock()
	return c.Reader.Get(ctx, key)
}

func (c *countingReader) count(t *testing.T, m module.Version) int {
	t.Helper()
	key, err := layout.Key(m, layout.Zip)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets[key]
}

// TestLicenseScanBounded: a zip of 8 license files of 300 KiB each (the
// reviewer's attack: seconds of CPU in licensecheck) has at most 64 KiB of
// each file and 128 KiB in all scanned, and says so.
func TestLicenseScanBounded(t *testing.T) {
	st := mem.New()
	m := module.Version{Path: "example.com/hostile", Version: "v1.0.0"}
	storeLicenses(t, st, m, 8, 300<<10)
	d := NewDescriber(st, DescriberOptions{})
	var scans, total, largest int
	d.scan = func(b []byte) licensecheck.Coverage {
		scans++
		total += len(b)
		largest = max(largest, len(b))
		return licensecheck.Coverage{}
	}
	det, err := d.Get(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if largest > 64<<10 || total > 128<<10 {
		t.Errorf("scanned %d bytes in %d scans, the largest %d: want at most 64 KiB each, 128 KiB in all", total, scans, largest)
	}
	if !det.LicensesTruncated || len(det.Licenses) != 8 {
		t.Fatalf("licenses_truncated %v, %d licenses: want true, 8", det.LicensesTruncated, len(det.Licenses))
	}
	for _, l := range det.Licenses {
		if !l.Truncated {
			t.Errorf("%s not marked truncated", l.File)
		}
	}
}

// TestLicensesTruncatedFlag: the flag is set exactly when something was
// not scanned whole.
func TestLicensesTruncatedFlag(t *testing.T) {
	for _, tc := range []struct {
		files, size int
		want        bool
	}{
		{2, 10 << 10, false},
		{2, 64 << 10, false},
		{1, 64<<10 + 1, true},
		{3, 50 << 10, true}, // 150 KiB in all
		{9, 100, true},      // more files than the limit
		{8, 100, false},     // as many as the limit
	} {
		t.Run(fmt.Sprintf("%dx%d", tc.files, tc.size), func(t *testing.T) {
			st := mem.New()
			m := module.Version{Path: "example.com/l", Version: "v1.0.0"}
			storeLicenses(t, st, m, tc.files, tc.size)
			d := NewDescriber(st, DescriberOptions{})
			d.scan = func([]byte) licensecheck.Coverage { return licensecheck.Coverage{} }
			det, err := d.Get(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			if det.LicensesTruncated != tc.want {
				t.Errorf("licenses_truncated %v, want %v", det.LicensesTruncated, tc.want)
			}
		})
	}
}

// TestLicenseScanStopsWithContext: licensecheck cannot be interrupted, so
// the context is checked between files: once it ends, no further file is
// scanned and the call fails with the context's error.
func TestLicenseScanStopsWithContext(t *testing.T) {
	st := mem.New()
	m := module.Version{Path: "example.com/hostile", Version: "v1.0.0"}
	storeLicenses(t, st, m, 8, 1<<10)
	d := NewDescriber(st, DescriberOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scans := 0
	d.scan = func([]byte) licensecheck.Coverage {
		scans++
		cancel() // the request times out during the first scan
		for waitersOf(d, m)() > 0 {
			runtime.Gosched() // until the request has left, cancelling the reading
		}
		return licensecheck.Coverage{}
	}
	_, err := d.Get(ctx, m)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if scans != 1 {
		t.Errorf("%d files scanned, want 1", scans)
	}
	// Nothing is cached from a cancelled reading.
	d.scan = func([]byte) licensecheck.Coverage { return licensecheck.Coverage{} }
	det, err := d.Get(context.Background(), m)
	if err != nil || len(det.Licenses) != 8 {
		t.Fatalf("after a cancelled reading: %v, %+v", err, det)
	}
}

// TestDescriberCaches: a stored zip is read once, whatever the number of
// requests; a zip stored anew (another size) is read again.
func TestDescriberCaches(t *testing.T) {
	st := mem.New()
	m := module.Version{Path: "example.com/c", Version: "v1.0.0"}
	storeLicenses(t, st, m, 2, 1<<10)
	cr := &countingReader{Reader: st, gets: map[string]int{}}
	d := NewDescriber(cr, DescriberOptions{})
	for range 5 {
		det, err := d.Get(context.Background(), m)
		if err != nil || len(det.Licenses) != 2 {
			t.Fatalf("%v, %+v", err, det)
		}
	}
	if n := cr.count(t, m); n != 1 {
		t.Errorf("zip read %d times for 5 requests, want 1", n)
	}
	storeLicenses(t, st, m, 3, 1<<10)
	det, err := d.Get(context.Background(), m)
	if err != nil || len(det.Licenses) != 3 {
		t.Fatalf("after the zip changed: %v, %+v", err, det)
	}
	if n := cr.count(t, m); n != 2 {
		t.Errorf("zip read %d times, want 2", n)
	}
}

// TestDescriberConcurrency: with one reading at a time, a request for
// another zip waits while the first is read, and gives up with its
// context without reading anything; a request for the same zip shares
// the reading under way.
func TestDescriberConcurrency(t *testing.T) {
	st := mem.New()
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	b := module.Version{Path: "example.com/b", Version: "v1.0.0"}
	storeLicenses(t, st, a, 1, 1<<10)
	storeLicenses(t, st, b, 1, 1<<10)
	cr := &countingReader{Reader: st, gets: map[string]int{}}
	d := NewDescriber(cr, DescriberOptions{Concurrency: 1})
	entered, release := make(chan struct{}), make(chan struct{})
	var scans atomic.Int32
	d.scan = func([]byte) licensecheck.Coverage {
		if scans.Add(1) == 1 {
			close(entered)
			<-release
		}
		return licensecheck.Coverage{}
	}
	first := make(chan error, 2)
	go func() { _, err := d.Get(context.Background(), a); first <- err }()
	<-entered // a's reading holds the only slot

	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() { _, err := d.Get(ctx, b); waiting <- err }()
	cancel()
	if err := <-waiting; !errors.Is(err, context.Canceled) {
		t.Errorf("waiting request: %v, want context.Canceled", err)
	}

	go func() { _, err := d.Get(context.Background(), a); first <- err }()
	ka := waitersOf(d, a)
	for ka() < 2 {
		runtime.Gosched() // the second request for a joins the reading
	}
	close(release)
	for range 2 {
		if err := <-first; err != nil {
			t.Error(err)
		}
	}
	if n := cr.count(t, a); n != 1 {
		t.Errorf("zip of a read %d times for 2 concurrent requests, want 1", n)
	}
	if n, got := cr.count(t, b), scans.Load(); n != 0 || got != 1 {
		t.Errorf("zip of b read %d times, %d scans, while the slot was taken: want 0, 1", n, got)
	}
	if _, err := d.Get(context.Background(), b); err != nil || cr.count(t, b) != 1 {
		t.Errorf("b once the slot is free: %v, %d reads", err, cr.count(t, b))
	}
}

// waitersOf returns a function reporting how many callers wait for the
// reading of m's zip under way (0 if none).
func waitersOf(d *Describer, m module.Version) func() int {
	return func() int { return d.readings.Waiting(func(k zipKey) bool { return k.m == m }) }
}

// TestDescriberMarksCached: the go.mod of a module's latest version is
// read once for its marks; a newer version stored is read in turn.
func TestDescriberMarksCached(t *testing.T) {
	st := mem.New()
	v1 := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	v2 := module.Version{Path: "example.com/m", Version: "v1.1.0"}
	put(t, st, v1, layout.Mod, []byte("module example.com/m\n"))
	cr := &countingReader{Reader: st, gets: map[string]int{}}
	d := NewDescriber(cr, DescriberOptions{})
	modGets := func(m module.Version) int {
		key, _ := layout.Key(m, layout.Mod)
		cr.mu.Lock()
		defer cr.mu.Unlock()
		return cr.gets[key]
	}
	for range 3 {
		mk, err := d.ModuleMarks(context.Background(), v1.Path)
		if err != nil || mk.Latest != v1.Version {
			t.Fatalf("%v, %+v", err, mk)
		}
	}
	if n := modGets(v1); n != 1 {
		t.Errorf("latest go.mod read %d times for 3 calls, want 1", n)
	}
	put(t, st, v2, layout.Mod, []byte("module example.com/m\nretract v1.0.0 // broken\n"))
	mk, err := d.ModuleMarks(context.Background(), v1.Path)
	if err != nil || mk.Latest != v2.Version || len(mk.Retractions) != 1 {
		t.Fatalf("after v1.1.0 is stored: %v, %+v", err, mk)
	}
	det, err := d.Get(context.Background(), v1)
	if err != nil || det.Retracted == nil || det.Retracted.Rationale != "broken" {
		t.Fatalf("details of v1.0.0: %v, %+v", err, det)
	}
	if n := modGets(v2); n != 1 {
		t.Errorf("v1.1.0's go.mod read %d times, want 1", n)
	}
}

// TestWarm: Warm returns at once, scanning in another goroutine (here a
// scan that waits to be released), scans once however often it is
// called, and the channel it returns is closed when the scan is done.
// (licensecheck builds its license set at any first Scan, so one scan of
// a short text spares it to the first version page: bench/console_test.go
// reports the cold page's time, ms-cold-version.)
func TestWarm(t *testing.T) {
	d := NewDescriber(mem.New(), DescriberOptions{})
	release := make(chan struct{})
	var scans atomic.Int32
	var text atomic.Value
	d.scan = func(b []byte) licensecheck.Coverage {
		scans.Add(1)
		text.Store(string(b))
		<-release
		return licensecheck.Coverage{}
	}
	done := d.Warm() // would not return before release if it scanned here
	select {
	case <-done:
		t.Fatal("warm scan done before it was released")
	default:
	}
	if again := d.Warm(); again != done {
		t.Error("a second Warm returned another channel")
	}
	close(release)
	<-done
	d.Warm()
	if n := scans.Load(); n != 1 {
		t.Errorf("%d warm scans, want 1", n)
	}
	if s, _ := text.Load().(string); s == "" {
		t.Error("the warm scan was given no text")
	}
}
