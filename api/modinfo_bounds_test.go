package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// recordingStorage records the keys got, and runs onGet before each Get.
type recordingStorage struct {
	storage.Storage
	mu    sync.Mutex
	gets  map[string]int
	onGet func(key string)
}

func (s *recordingStorage) Get(ctx context.Context, key string) (*storage.Object, error) {
	s.mu.Lock()
	s.gets[key]++
	s.mu.Unlock()
	if s.onGet != nil {
		s.onGet(key)
	}
	return s.Storage.Get(ctx, key)
}

func (s *recordingStorage) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[key]
}

func putKey(t *testing.T, st storage.Storage, m module.Version, k layout.Kind, b []byte) string {
	t.Helper()
	key, err := layout.Key(m, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(context.Background(), st, key, b); err != nil {
		t.Fatal(err)
	}
	return key
}

// TestVersionLicenseAttack: the reviewer's module, 8 license files of
// 200 KiB of license-like words (seconds of licensecheck CPU per request
// before), costs one bounded scan: the answer says the licenses were cut,
// and requests after the first do not read the zip again.
func TestVersionLicenseAttack(t *testing.T) {
	st := mem.New()
	m := module.Version{Path: "example.com/hostile", Version: "v1.0.0"}
	words := strings.Fields("Permission is hereby granted free of charge to any person obtaining a copy of this software Licensed under the Apache License Version 2.0 GNU General Public License Redistribution and use in source and binary forms")
	r := rand.New(rand.NewSource(1))
	var text strings.Builder
	for text.Len() < 200<<10 {
		text.WriteString(words[r.Intn(len(words))] + " ")
	}
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	for i := range 8 {
		f, _ := zw.Create(fmt.Sprintf("%s@%s/LICENSE-%d", m.Path, m.Version, i))
		f.Write([]byte(text.String()))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	putKey(t, st, m, layout.Mod, []byte("module example.com/hostile\n"))
	zipKey := putKey(t, st, m, layout.Zip, z.Bytes())
	rs := &recordingStorage{Storage: st, gets: map[string]int{}}
	// The first scan in a process builds licensecheck's license set (about
	// 2 s of CPU, far more under -race on a busy machine): no timeout here,
	// the work is measured by what is read.
	h := api.New(api.Options{Storage: rs, Timeout: time.Hour})
	for range 3 {
		code, body := getCode(t, h, "/api/v1/modules/example.com/hostile/@v/v1.0.0")
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		var d struct {
			LicensesTruncated bool `json:"licenses_truncated"`
			Licenses          []struct {
				Truncated bool `json:"truncated"`
			} `json:"licenses"`
		}
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatal(err)
		}
		if !d.LicensesTruncated || len(d.Licenses) != 8 {
			t.Fatalf("licenses_truncated %v, %d licenses: want true, 8", d.LicensesTruncated, len(d.Licenses))
		}
		for i, l := range d.Licenses {
			if !l.Truncated {
				t.Errorf("license %d of 200 KiB not marked truncated", i)
			}
		}
	}
	if n := rs.count(zipKey); n != 1 {
		t.Errorf("zip read %d times for 3 requests, want 1", n)
	}
}

// TestGraphConcurrency: while two graphs are being computed, a third
// request waits, and gives up with its context without reading anything.
func TestGraphConcurrency(t *testing.T) {
	st := mem.New()
	slow := []module.Version{{Path: "example.com/slow1", Version: "v1.0.0"}, {Path: "example.com/slow2", Version: "v1.0.0"}}
	other := module.Version{Path: "example.com/other", Version: "v1.0.0"}
	for _, m := range append(slow, other) {
		putKey(t, st, m, layout.Mod, []byte("module "+m.Path+"\n"))
	}
	otherKey, _ := layout.Key(other, layout.Mod)
	entered, release := make(chan struct{}, 2), make(chan struct{})
	rs := &recordingStorage{Storage: st, gets: map[string]int{}, onGet: func(key string) {
		if strings.Contains(key, "slow") {
			entered <- struct{}{}
			<-release
		}
	}}
	svc := api.NewService(api.Options{Storage: rs})
	done := make(chan error, 2)
	for _, m := range slow {
		go func() { _, err := svc.Graph(context.Background(), m); done <- err }()
	}
	<-entered
	<-entered // both slots are taken
	ctx, cancel := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() { _, err := svc.Graph(ctx, other); waited <- err }()
	cancel()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Errorf("third graph: %v, want context.Canceled", err)
	}
	if n := rs.count(otherKey); n != 0 {
		t.Errorf("third graph read its go.mod %d times while waiting", n)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if _, err := svc.Graph(context.Background(), other); err != nil || rs.count(otherKey) != 1 {
		t.Errorf("third graph once a slot is free: %v, %d reads", err, rs.count(otherKey))
	}
}

// TestGraphSettledCache: a graph that can no longer change (complete, every
// go.mod stored) is computed once; one that lacks a go.mod is kept for 30
// seconds only, and sees the go.mod once it is stored.
func TestGraphSettledCache(t *testing.T) {
	st := mem.New()
	root := module.Version{Path: "example.com/root", Version: "v1.0.0"}
	dep := module.Version{Path: "example.com/dep", Version: "v1.0.0"}
	rootKey := putKey(t, st, root, layout.Mod, []byte("module example.com/root\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n"))
	rs := &recordingStorage{Storage: st, gets: map[string]int{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := api.NewService(api.Options{Storage: rs, Now: func() time.Time { return now }})

	g, err := svc.Graph(context.Background(), root)
	if err != nil || g.Complete {
		t.Fatalf("graph without dep's go.mod: complete %v, %v", g != nil && g.Complete, err)
	}
	now = now.Add(29 * time.Second)
	if again, err := svc.Graph(context.Background(), root); err != nil || again != g || rs.count(rootKey) != 1 {
		t.Fatalf("an incomplete graph within 30 s: %d reads of the root's go.mod (want 1), %v", rs.count(rootKey), err)
	}
	now = now.Add(2 * time.Second)
	if _, err := svc.Graph(context.Background(), root); err != nil || rs.count(rootKey) != 2 {
		t.Fatalf("an incomplete graph after 30 s is computed again: %d reads of the root's go.mod, %v", rs.count(rootKey), err)
	}
	putKey(t, st, dep, layout.Mod, []byte("module example.com/dep\n\ngo 1.21\n"))
	now = now.Add(31 * time.Second)
	g, err = svc.Graph(context.Background(), root)
	if err != nil || !g.Complete || len(g.Nodes) != 2 {
		t.Fatalf("graph once dep's go.mod is stored: %+v, %v", g, err)
	}
	reads := rs.count(rootKey)
	for range 3 {
		now = now.Add(time.Hour)
		again, err := svc.Graph(context.Background(), root)
		if err != nil || again != g {
			t.Fatalf("settled graph not kept: %p vs %p, %v", again, g, err)
		}
	}
	if n := rs.count(rootKey); n != reads {
		t.Errorf("a settled graph was computed again: %d reads of the root's go.mod, want %d", n, reads)
	}
}
