package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/gomirror/gomirror/bundle"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// tileFailStore fails the first Put of a hash tile once either the Put of
// sumdb/<name>/supported has started or every other checksum database
// file's Put has returned (others untouched): supported must not be stored
// while a database file may still fail.
type tileFailStore struct {
	storage.Storage
	supported string
	others    int // database files besides supported and the failing tile

	mu       sync.Mutex
	failing  bool
	returned int
	release  chan struct{}
	once     sync.Once
}

func (s *tileFailStore) Put(ctx context.Context, key string, r io.Reader) error {
	s.mu.Lock()
	fail := !s.failing && strings.Contains(key, "/tile/")
	s.failing = s.failing || fail
	s.mu.Unlock()
	if key == s.supported {
		s.once.Do(func() { close(s.release) })
	}
	if fail {
		<-s.release
		return fmt.Errorf("put %s: disk full (test)", key)
	}
	err := s.Storage.Put(ctx, key, r)
	if strings.HasPrefix(key, layout.SumDBDir+"/") && key != s.supported {
		s.mu.Lock()
		if s.returned++; s.returned == s.others {
			s.once.Do(func() { close(s.release) })
		}
		s.mu.Unlock()
	}
	return err
}

// TestSupportedAfterDatabaseFiles: sumdb/<name>/supported is stored after
// every other checksum database file, so a failure while storing them
// never leaves a store that tells a GOPROXY=file:// reader "this proxy
// serves the database" without the tiles that prove its records.
func TestSupportedAfterDatabaseFiles(t *testing.T) {
	f := newFixture(t)
	b := f.export(t, nil)
	ctx := context.Background()
	clean := mem.New()
	rep, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: clean, DB: f.db})
	if err != nil {
		t.Fatal(err)
	}
	inner := mem.New()
	st := &tileFailStore{Storage: inner, supported: layout.SumDBSupportedKey(f.db.Name), others: rep.SumDBAdded - 1, release: make(chan struct{})}
	_, err = bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: st, DB: f.db})
	var partly *bundle.PartlyStoredError
	if !errors.As(err, &partly) {
		t.Fatalf("import: %v; want a PartlyStoredError", err)
	}
	if _, err := inner.Stat(ctx, st.supported); err == nil {
		t.Errorf("supported stored though a tile was not: %v", partly)
	}
}
