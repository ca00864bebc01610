// Package storagetest is the conformance suite every storage driver must pass.
//
// A driver's test calls Run with a constructor that returns an empty store:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Storage { return New(t.TempDir()) })
//	}
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomirror/gomirror/storage"
)

// Run runs the conformance suite. newStore must return a new, empty store
// each time it is called: a driver's own store, or one from storage.Open.
// Each is tested behind storage.Wrap, as storage.Open hands it out, so the
// suite covers what callers see (keys checked once, capabilities found
// with storage.As).
func Run(t *testing.T, newDriver func(t *testing.T) storage.Storage) {
	newStore := func(t *testing.T) storage.Storage { return storage.Wrap(newDriver(t)) }
	t.Run("missing key is fs.ErrNotExist", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		if _, err := s.Get(ctx, "example.com/m/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Get missing: err = %v, want fs.ErrNotExist", err)
		}
		if _, err := s.Stat(ctx, "example.com/m/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat missing: err = %v, want fs.ErrNotExist", err)
		}
		if err := s.Delete(ctx, "example.com/m/@v/v1.0.0.zip"); err != nil {
			t.Errorf("Delete missing: err = %v, want nil", err)
		}
	})

	t.Run("a key's directory is not an object", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		mustPut(t, s, "example.com/m/@v/list", "v1.0.0\n")
		for _, key := range []string{"example.com/m", "example.com/m/@v", "example.com/m/@v/list/x"} {
			if _, err := s.Get(ctx, key); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Get(%q): err = %v, want fs.ErrNotExist", key, err)
			}
		}
	})

	t.Run("put then get round-trips bytes, size and modtime", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		data := make([]byte, 3<<20+17) // larger than any single buffer
		rand.Read(data)
		key := "github.com/!burnt!sushi/toml/@v/v1.4.0.zip"
		if err := s.Put(ctx, key, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		obj, err := s.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Body.Close()
		got, err := io.ReadAll(obj.Body)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Errorf("Get returned %d bytes that differ from the %d put", len(got), len(data))
		}
		if obj.Size != int64(len(data)) {
			t.Errorf("Object.Size = %d, want %d", obj.Size, len(data))
		}
		info, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(len(data)) || info.ModTime.IsZero() {
			t.Errorf("Stat = %+v, want size %d and a modtime", info, len(data))
		}
	})

	t.Run("seekable bodies seek", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		mustPut(t, s, "m.example/x/@v/v1.0.0.mod", "module m.example/x\n")
		obj, err := s.Get(ctx, "m.example/x/@v/v1.0.0.mod")
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Body.Close()
		rs, ok := obj.Body.(io.ReadSeeker)
		if !ok {
			t.Skip("driver returns a non-seekable body")
		}
		if _, err := rs.Seek(7, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(rs)
		if string(rest) != "m.example/x\n" {
			t.Errorf("after Seek(7): %q", rest)
		}
	})

	t.Run("put replaces previous content", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "m.example/x/@v/list", "v1.0.0\n")
		mustPut(t, s, "m.example/x/@v/list", "v1.0.0\nv1.1.0\n")
		if got := mustGet(t, s, "m.example/x/@v/list"); got != "v1.0.0\nv1.1.0\n" {
			t.Errorf("after replace: %q", got)
		}
	})

	t.Run("empty object", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "m.example/x/@v/list", "")
		if got := mustGet(t, s, "m.example/x/@v/list"); got != "" {
			t.Errorf("got %q, want empty", got)
		}
	})

	t.Run("failed put leaves nothing behind", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		mustPut(t, s, "m.example/x/@v/v1.0.0.info", `{"Version":"v1.0.0"}`)
		boom := errors.New("reader failed")
		r := io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), errReader{boom})
		if err := s.Put(ctx, "m.example/x/@v/v1.0.0.info", r); !errors.Is(err, boom) {
			t.Errorf("Put with failing reader: err = %v, want %v", err, boom)
		}
		if got := mustGet(t, s, "m.example/x/@v/v1.0.0.info"); got != `{"Version":"v1.0.0"}` {
			t.Errorf("previous content damaged by failed Put: %q", got)
		}
		if err := s.Put(ctx, "m.example/x/@v/v1.0.0.zip", io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), errReader{boom})); err == nil {
			t.Fatal("Put with failing reader succeeded")
		}
		if _, err := s.Get(ctx, "m.example/x/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("partial object visible after failed Put: err = %v", err)
		}
		keys, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keys, []string{"m.example/x/@v/v1.0.0.info"}) {
			t.Errorf("List after failed Put = %q, want only the earlier object", keys)
		}
	})

	t.Run("cancelled put stores nothing", func(t *testing.T) {
		s := newStore(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = s.Put(ctx, "m.example/x/@v/v1.0.0.zip", bytes.NewReader(make([]byte, 1<<20)))
		if _, err := s.Get(context.Background(), "m.example/x/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("object visible after cancelled Put: err = %v", err)
		}
	})

	t.Run("concurrent puts of one key leave one complete value", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		const writers = 8
		values := make([]string, writers)
		for i := range values {
			values[i] = fmt.Sprint(i) + string(bytes.Repeat([]byte{'a' + byte(i)}, 256<<10))
		}
		var wg sync.WaitGroup
		for _, v := range values {
			wg.Go(func() {
				if err := s.Put(ctx, "m.example/x/@v/v1.0.0.zip", bytes.NewReader([]byte(v))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got := mustGet(t, s, "m.example/x/@v/v1.0.0.zip")
		if !slices.Contains(values, got) {
			t.Errorf("after concurrent puts: a %d-byte value that no writer wrote", len(got))
		}
	})

	t.Run("create if absent: one creator wins, nothing else stored", func(t *testing.T) {
		s := newStore(t)
		c, ok := storage.As[storage.Creator](s)
		if !ok {
			t.Skip("the driver has no storage.Creator")
		}
		ctx := context.Background()
		const key = ".gomirror/snapshots/s1.json"
		if err := c.CreateIfAbsent(ctx, key, strings.NewReader("first")); err != nil {
			t.Fatalf("CreateIfAbsent of a new key: %v", err)
		}
		if err := c.CreateIfAbsent(ctx, key, strings.NewReader("second")); !errors.Is(err, fs.ErrExist) {
			t.Errorf("CreateIfAbsent of an existing key: %v, want fs.ErrExist", err)
		}
		if got := mustGet(t, s, key); got != "first" {
			t.Errorf("after a refused create: %q, want %q", got, "first")
		}
		if err := c.CreateIfAbsent(ctx, "../x", strings.NewReader("x")); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("CreateIfAbsent of an invalid key: %v", err)
		}
		// Creators at the same moment: exactly one wins, its bytes stay.
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = c.CreateIfAbsent(ctx, ".gomirror/snapshots/race.json", strings.NewReader(fmt.Sprintf("writer %d", i)))
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("writers %d and %d both created the key", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, fs.ErrExist):
				t.Errorf("writer %d: %v, want fs.ErrExist", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no writer created the key")
		}
		if got := mustGet(t, s, ".gomirror/snapshots/race.json"); got != fmt.Sprintf("writer %d", winner) {
			t.Errorf("stored %q, want the winner's (writer %d)", got, winner)
		}
	})

	t.Run("delete removes", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		mustPut(t, s, "m.example/x/@v/v1.0.0.mod", "module m.example/x\n")
		if err := s.Delete(ctx, "m.example/x/@v/v1.0.0.mod"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "m.example/x/@v/v1.0.0.mod"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Get after Delete: err = %v", err)
		}
	})

	t.Run("list by prefix in lexical order", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		keys := []string{
			"m.example/x/@v/v1.1.0.info",
			"m.example/x/@v/v1.0.0.info",
			"m.example/x/@v/v1.0.0.mod",
			"m.example/xy/@v/v2.0.0.info",
			"m.example/x/sub/@v/v0.1.0.info",
			"other.example/y/@v/list",
		}
		for _, k := range keys {
			mustPut(t, s, k, k)
		}
		tests := []struct {
			prefix string
			want   []string
		}{
			{"m.example/x/@v/", []string{"m.example/x/@v/v1.0.0.info", "m.example/x/@v/v1.0.0.mod", "m.example/x/@v/v1.1.0.info"}},
			{"m.example/x/@v/v1.0", []string{"m.example/x/@v/v1.0.0.info", "m.example/x/@v/v1.0.0.mod"}},
			{"m.example/x", []string{"m.example/x/@v/v1.0.0.info", "m.example/x/@v/v1.0.0.mod", "m.example/x/@v/v1.1.0.info", "m.example/x/sub/@v/v0.1.0.info", "m.example/xy/@v/v2.0.0.info"}},
			{"nothing.example/", nil},
		}
		for _, tt := range tests {
			got, err := s.List(ctx, tt.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", tt.prefix, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
			}
			// ListAfter (the driver's, or List's) returns those after a
			// key, listed or not.
			for i := -1; i < len(tt.want); i++ {
				after, want := "", tt.want
				if i >= 0 {
					after, want = tt.want[i], tt.want[i+1:]
				}
				for _, a := range []string{after, after + "!"} {
					if a == "!" {
						continue
					}
					if a != after && i+1 < len(tt.want) && tt.want[i+1] <= a {
						continue
					}
					got, err := storage.ListAfter(ctx, s, tt.prefix, a)
					if err != nil {
						t.Fatalf("ListAfter(%q, %q): %v", tt.prefix, a, err)
					}
					if len(got) == 0 && len(want) == 0 {
						continue
					}
					if !slices.Equal(got, want) {
						t.Errorf("ListAfter(%q, %q) = %q, want %q", tt.prefix, a, got, want)
					}
				}
			}
			// Walk (the driver's, or List and Stat) finds the same keys,
			// with each one's size (every key's content is itself).
			var walked []string
			err = storage.Walk(ctx, s, tt.prefix, func(key string, info storage.Info) error {
				if info.Size != int64(len(key)) || info.ModTime.IsZero() {
					t.Errorf("Walk(%q): %s has size %d, modtime %v; want %d and a time", tt.prefix, key, info.Size, info.ModTime, len(key))
				}
				walked = append(walked, key)
				return nil
			})
			if err != nil {
				t.Fatalf("Walk(%q): %v", tt.prefix, err)
			}
			slices.Sort(walked)
			if !slices.Equal(walked, tt.want) {
				t.Errorf("Walk(%q) = %q, want %q", tt.prefix, walked, tt.want)
			}
		}
		stop := errors.New("stop")
		if err := storage.Walk(ctx, s, "", func(string, storage.Info) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("Walk returned %v, want its function's error", err)
		}
		// TopLevel (the driver's, or from List) names the first elements
		// (a driver's own state, .gomirror/, may be among them).
		top, err := storage.TopLevel(ctx, s)
		if err != nil {
			t.Fatalf("TopLevel: %v", err)
		}
		top = slices.DeleteFunc(top, func(k string) bool { return k == ".gomirror/" })
		slices.Sort(top)
		if want := []string{"m.example/", "other.example/"}; !slices.Equal(top, want) {
			t.Errorf("TopLevel = %q, want %q", top, want)
		}
	})

	t.Run("adopting a file stores its bytes and removes it", func(t *testing.T) {
		s := newStore(t)
		a, ok := storage.As[storage.FileAdopter](s)
		if !ok {
			t.Skip("driver does not adopt files")
		}
		dir := t.TempDir()
		if td, ok := storage.As[storage.TempDirer](s); ok {
			dir = td.TempDir()
		}
		f, err := os.CreateTemp(dir, "adopt-*")
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("zip"), 1000)
		f.Write(data)
		f.Close()
		if err := a.AdoptFile(context.Background(), "m.example/x/@v/v1.0.0.zip", f.Name()); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, s, "m.example/x/@v/v1.0.0.zip"); got != string(data) {
			t.Errorf("adopted object has %d bytes, want %d", len(got), len(data))
		}
		if _, err := os.Stat(f.Name()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("adopted file still at its old place: %v", err)
		}
		keys, _ := s.List(context.Background(), "")
		if !slices.Equal(keys, []string{"m.example/x/@v/v1.0.0.zip"}) {
			t.Errorf("List after AdoptFile = %q", keys)
		}
	})

	t.Run("invalid keys are rejected", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		for _, key := range []string{"", "/abs", "../escape", "a/../../b", "a//b", "a/./b", "a\\b", "trailing/", string(make([]byte, 2000))} {
			if err := s.Put(ctx, key, bytes.NewReader([]byte("x"))); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Put(%q): err = %v, want ErrInvalidKey", key, err)
			}
			if _, err := s.Get(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("Get(%q): err = %v, want ErrInvalidKey", key, err)
			}
		}
	})
}

func mustPut(t *testing.T, s storage.Storage, key, value string) {
	t.Helper()
	if err := storage.PutBytes(context.Background(), s, key, []byte(value)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, s storage.Storage, key string) string {
	t.Helper()
	b, err := storage.ReadAll(context.Background(), s, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(b)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
