package snapshot

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// bigManifest returns a manifest of n entries (n/4 modules of 4 versions).
func bigManifest(name string, n int) *Manifest {
	m := &Manifest{Format: Format, Name: name, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Creator: "ops@host", Sources: []string{"go.mod"}}
	for i := range n {
		m.Modules = append(m.Modules, Entry{Path: fmt.Sprintf("example.com/m%07d", i/4), Version: fmt.Sprintf("v1.%d.0", i%4), Hash: h1, GoModHash: h2})
	}
	return m
}

// gateStore holds every Get of a manifest until release is closed, and
// says on arrived that one came.
type gateStore struct {
	storage.Storage
	arrived chan string
	release chan struct{}
}

func (g *gateStore) Get(ctx context.Context, key string) (*storage.Object, error) {
	if strings.HasPrefix(key, layout.SnapshotDir+"/") {
		g.arrived <- key
		<-g.release
	}
	return g.Storage.Get(ctx, key)
}

// TestViewsBoundManifestReads: requests for many large snapshots at once
// read at most MaxLoadBytes of manifests at a time; the others wait, and
// all are served once the first are read.
func TestViewsBoundManifestReads(t *testing.T) {
	ctx := context.Background()
	base := mem.New()
	const n = 8
	for i := range n {
		if err := Create(ctx, base, bigManifest(fmt.Sprintf("big%d", i), 4000)); err != nil {
			t.Fatal(err)
		}
	}
	info, err := base.Stat(ctx, layout.SnapshotKey("big0"))
	if err != nil {
		t.Fatal(err)
	}
	g := &gateStore{Storage: base, arrived: make(chan string, n), release: make(chan struct{})}
	vs := NewViews(g, nil, ViewOptions{MaxLoadBytes: info.Size*5/2 + 100}) // two at a time
	waited := make(chan struct{}, n)
	vs.waiting = func() { waited <- struct{}{} }
	errs := make(chan error, n)
	for i := range n {
		go func() {
			v, err := vs.View(ctx, layout.View{Kind: layout.SnapshotView, Name: fmt.Sprintf("big%d", i)})
			if err == nil {
				if vers := v.(*view).ix.versions("example.com/m0000999"); len(vers) != 4 {
					err = fmt.Errorf("big%d: versions %v", i, vers)
				}
			}
			errs <- err
		}()
	}
	// Every request either reads (arrives at Get) or waits.
	reading := 0
	for range n {
		select {
		case <-g.arrived:
			reading++
		case <-waited:
		}
	}
	if reading != 2 {
		t.Errorf("%d manifests of %d bytes read at a time with MaxLoadBytes %d; want 2", reading, info.Size, info.Size*5/2+100)
	}
	close(g.release)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestViewIndexIsCompact: what a view keeps of a manifest is a fraction
// of its JSON (no hashes, versions in one string), and answers as the
// manifest does.
func TestViewIndexIsCompact(t *testing.T) {
	m := bigManifest("big", 40000)
	m.Modules[5].Hash = "" // a go.mod-only version
	for i := 8; i < 12; i++ {
		m.Modules[i].Hash = "" // a module of go.mod-only versions (m0000002)
	}
	var buf strings.Builder
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix, err := readIndex(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if limit := int64(buf.Len()) / 4; held > limit || ix.weight() > limit {
		t.Errorf("index of a %d-byte manifest holds %d bytes (weight %d); want at most %d", buf.Len(), held, ix.weight(), limit)
	}
	for _, e := range []Entry{m.Modules[0], m.Modules[5], m.Modules[39999]} {
		found, zip := ix.find(e.Path, e.Version)
		if !found || zip != (e.Hash != "") {
			t.Errorf("find(%s@%s) = %v, %v", e.Path, e.Version, found, zip)
		}
	}
	if found, _ := ix.find("example.com/m0000001", "v1.9.0"); found {
		t.Error("find of a version not in it")
	}
	if v, ok := ix.latest("example.com/m0000002"); ok {
		t.Errorf("latest of a module of go.mod-only versions = %s; want none", v)
	}
	for _, path := range []string{"example.com/m0000001", "example.com/m0000002", "example.com/m0009999", "example.com/none"} {
		want, wok := m.Latest(path)
		got, ok := ix.latest(path)
		if got != want || ok != wok || strings.Join(ix.versions(path), " ") != strings.Join(m.Versions(path), " ") {
			t.Errorf("%s: latest %s %v, versions %v; the manifest's: %s %v, %v", path, got, ok, ix.versions(path), want, wok, m.Versions(path))
		}
	}
	runtime.KeepAlive(ix)
}

// flakyStore fails Stat and Get of snapshots while failing is set, and
// counts the Gets of snapshots.
type flakyStore struct {
	storage.Storage
	failing bool
	gets    int
}

func (f *flakyStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	if f.failing && strings.HasPrefix(key, layout.SnapshotDir+"/") {
		return storage.Info{}, errors.New("storage unavailable")
	}
	return f.Storage.Stat(ctx, key)
}

func (f *flakyStore) Get(ctx context.Context, key string) (*storage.Object, error) {
	if strings.HasPrefix(key, layout.SnapshotDir+"/") {
		f.gets++
		if f.failing {
			return nil, errors.New("storage unavailable")
		}
	}
	return f.Storage.Get(ctx, key)
}

// TestViewsKeepWhatTheyRead: a storage failure at a refresh keeps the
// last known manifest served; a manifest that cannot be decoded is read
// once per change of its object, not per request; a view's list has no
// pseudo-versions (as the protocol's lists), though they are served.
func TestViewsKeepWhatTheyRead(t *testing.T) {
	ctx := context.Background()
	base := mem.New()
	m := testManifest("s1")
	m.Modules = append(m.Modules[:1], append([]Entry{{Path: "example.com/a", Version: "v1.0.1-0.20240102030405-abcdefabcdef", Hash: h1, GoModHash: h2}}, m.Modules[1:]...)...)
	if err := Create(ctx, base, m); err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, base, layout.SnapshotKey("bad"), []byte(`{"format": 1, "name": "bad", "extra": 1}`)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := &flakyStore{Storage: base}
	vs := NewViews(f, nil, ViewOptions{Now: func() time.Time { return now }})
	sv := layout.View{Kind: layout.SnapshotView, Name: "s1"}
	v, err := vs.View(ctx, sv)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := layout.Escape(module.Version{Path: "example.com/a"})
	if err != nil {
		t.Fatal(err)
	}
	list, _, err := v.List(ctx, lm)
	if err != nil || string(list) != "v1.0.0\nv1.2.0\nv1.3.0\n" {
		t.Errorf("list = %q, %v; want the snapshot's versions without the pseudo-version", list, err)
	}
	if found, _ := v.(*view).ix.find("example.com/a", "v1.0.1-0.20240102030405-abcdefabcdef"); !found {
		t.Error("the pseudo-version is not in the view")
	}
	f.failing = true
	now = now.Add(time.Hour) // past the refresh
	if _, err := vs.View(ctx, sv); err != nil {
		t.Errorf("with storage failing at the refresh: %v; want the last known manifest", err)
	}
	f.failing = false
	bad := layout.View{Kind: layout.SnapshotView, Name: "bad"}
	gets := f.gets
	for range 3 {
		if _, err := vs.View(ctx, bad); err == nil || !strings.Contains(err.Error(), "extra") {
			t.Errorf("an undecodable manifest: %v", err)
		}
	}
	if f.gets-gets != 1 {
		t.Errorf("an undecodable manifest read %d times for 3 requests, want once", f.gets-gets)
	}
}
