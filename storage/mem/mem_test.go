package mem_test

import (
	"context"
	"testing"

	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
	"github.com/gomirror/gomirror/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage { return mem.New() })
}

// TestRegistered opens the driver by name, as the server opens drivers.
func TestRegistered(t *testing.T) {
	s, err := storage.Open(context.Background(), "mem", nil)
	if err != nil {
		t.Fatal(err)
	}
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		s, err := storage.Open(context.Background(), "mem", nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	if _, ok := storage.As[*mem.Store](s); !ok {
		t.Errorf("storage.Open(mem) = %T, which does not unwrap to a *mem.Store", s)
	}
}
