package server

import (
	"context"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/storage"
	_ "github.com/gomirror/gomirror/storage/mem" // registers storage "mem"
)

// TestServesFromARegisteredDriver runs the server on the in-memory driver,
// which is not among the server's drivers: a driver is a package that
// registers itself, and a blank import of it is all a program needs.
func TestServesFromARegisteredDriver(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, func(c *config.Serve) { c.Storage = "mem" })
	hello := up.Module("example.com/hello", "v1.1.0")
	for _, tt := range []struct{ path, want string }{
		{"/example.com/hello/@v/v1.1.0.mod", string(hello.Mod)},
		{"/example.com/hello/@v/v1.1.0.zip", string(hello.Zip)},
	} {
		if r := get(t, s.URL+tt.path); r.code != 200 || r.body != tt.want {
			t.Errorf("GET %s: %d, %d bytes", tt.path, r.code, len(r.body))
		}
	}
	if err := s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := storage.ReadAll(context.Background(), s.store, "example.com/hello/@v/v1.1.0.zip")
	if err != nil || string(b) != string(hello.Zip) {
		t.Errorf("zip in the mem store: %d bytes, %v", len(b), err)
	}
	if _, err := s.stored("example.com/hello/@v/v1.1.0.zip"); err == nil {
		t.Error("the zip was written to storage-dir too")
	}
}
