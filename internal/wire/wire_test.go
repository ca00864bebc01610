package wire

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/storage"
	_ "github.com/gomirror/gomirror/storage/fs"
)

func TestOpenStorage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, driver, dir string
		wantKey           string // the setting a *config.Error names; "" for success
	}{
		{"fs", "fs", t.TempDir(), ""},
		{"empty is fs", "", t.TempDir(), ""},
		{"fs in a file", "fs", file, "storage-dir"},
		{"unregistered driver", "nfs", t.TempDir(), "storage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			cfg.Storage, cfg.StorageDir = tt.driver, tt.dir
			s, err := OpenStorage(context.Background(), &cfg)
			if tt.wantKey == "" {
				if err != nil {
					t.Fatal(err)
				}
				if r, ok := storage.As[storage.Rooter](s); !ok || r.Root() != tt.dir {
					t.Errorf("store's root: %v, %v; want %s", r, ok, tt.dir)
				}
				if _, err := s.Get(context.Background(), "../x"); !errors.Is(err, storage.ErrInvalidKey) {
					t.Errorf("Get of an invalid key: %v; want ErrInvalidKey from the base wrapper", err)
				}
				return
			}
			ce, ok := errors.AsType[*config.Error](err)
			if !ok || ce.Key != tt.wantKey {
				t.Errorf("err = %v; want a *config.Error naming %s", err, tt.wantKey)
			}
		})
	}
}

func TestGroupOptionsLagWeight(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name string
		in   *float64
		want float64
	}{
		{"unset: upstream's default", nil, 0},
		{"0: record lags, do not score them", f(0), -1},
		{"a weight", f(2.5), 2.5},
	} {
		if got := groupOptions(config.UpstreamGroup{Name: "g", LagWeight: tc.in}, nil).LagWeight; got != tc.want {
			t.Errorf("%s: LagWeight %v, want %v", tc.name, got, tc.want)
		}
	}
}
