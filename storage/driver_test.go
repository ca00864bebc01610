package storage_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// capable is a driver with every optional capability, recording the keys
// its capabilities were given.
type capable struct {
	*mem.Store
	keys []string
}

func (c *capable) AdoptFile(ctx context.Context, key, name string) error {
	c.keys = append(c.keys, key)
	return nil
}
func (c *capable) AdoptSynced(ctx context.Context, key, name string) error {
	c.keys = append(c.keys, key)
	return nil
}
func (c *capable) PresignGet(ctx context.Context, key string, ttl time.Duration) (*url.URL, error) {
	c.keys = append(c.keys, key)
	return &url.URL{Path: key}, nil
}
func (c *capable) TempDir() string           { return "/tmp/capable" }
func (c *capable) Root() string              { return "/srv/capable" }
func (c *capable) Unsynced() storage.Storage { return c.Store }

var (
	_ storage.FileAdopter   = (*capable)(nil)
	_ storage.SyncedAdopter = (*capable)(nil)
	_ storage.Presigner     = (*capable)(nil)
	_ storage.TempDirer     = (*capable)(nil)
	_ storage.Rooter        = (*capable)(nil)
	_ storage.Unsyncer      = (*capable)(nil)
)

func TestWrapKeepsCapabilitiesAndChecksTheirKeys(t *testing.T) {
	ctx := context.Background()
	d := &capable{Store: mem.New()}
	s := storage.Wrap(d)
	if storage.Wrap(s) != s {
		t.Error("Wrap of a wrapped store wraps it again")
	}
	const bad = "../etc/passwd"
	tests := []struct {
		name string
		use  func() error // uses the capability, found with As, with key bad
	}{
		{"FileAdopter", func() error {
			a, ok := storage.As[storage.FileAdopter](s)
			if !ok {
				return errors.New("not found")
			}
			return a.AdoptFile(ctx, bad, "f")
		}},
		{"SyncedAdopter", func() error {
			a, ok := storage.As[storage.SyncedAdopter](s)
			if !ok {
				return errors.New("not found")
			}
			return a.AdoptSynced(ctx, bad, "f")
		}},
		{"Presigner", func() error {
			p, ok := storage.As[storage.Presigner](s)
			if !ok {
				return errors.New("not found")
			}
			_, err := p.PresignGet(ctx, bad, time.Minute)
			return err
		}},
		{"Unsyncer", func() error {
			return storage.PutBytes(ctx, storage.Unsynced(s), bad, []byte("x"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.use(); !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("err = %v, want ErrInvalidKey", err)
			}
		})
	}
	if len(d.keys) != 0 {
		t.Errorf("driver was given invalid keys %q", d.keys)
	}
	if td, ok := storage.As[storage.TempDirer](s); !ok || td.TempDir() != d.TempDir() {
		t.Errorf("TempDirer through the wrapper: %v, %v", td, ok)
	}
	if r, ok := storage.As[storage.Rooter](s); !ok || r.Root() != d.Root() {
		t.Errorf("Rooter through the wrapper: %v, %v", r, ok)
	}
	if p, ok := storage.As[storage.Presigner](s); !ok {
		t.Error("no Presigner through the wrapper")
	} else if u, err := p.PresignGet(ctx, "m.example/@v/v1.0.0.zip", time.Minute); err != nil || u.Path != "m.example/@v/v1.0.0.zip" {
		t.Errorf("PresignGet through the wrapper = %v, %v", u, err)
	}
}

func TestWrapWithoutCapabilities(t *testing.T) {
	s := storage.Wrap(mem.New())
	if _, ok := storage.As[storage.FileAdopter](s); ok {
		t.Error("mem store offers FileAdopter")
	}
	if _, ok := storage.As[storage.Presigner](s); ok {
		t.Error("mem store offers Presigner")
	}
	if storage.Unsynced(s) != s {
		t.Error("Unsynced of a store without the capability is not the store")
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	if _, err := storage.Open(ctx, "nfs", nil); err == nil || !strings.Contains(err.Error(), `"nfs"`) {
		t.Errorf("Open of an unknown driver: %v", err)
	}
	s, err := storage.Open(ctx, "mem", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a/../b"); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Get of an invalid key through Open's store: %v", err)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	storage.Register("mem", func(context.Context, storage.Settings) (storage.Storage, error) { return nil, nil })
}
