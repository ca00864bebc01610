package negcache

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	notFound := fmt.Errorf("example.com/m@v1.0.0: %w", fs.ErrNotExist)
	tests := []struct {
		name     string
		ttl      time.Duration
		err      error
		remember bool
	}{
		{"not found, default TTL", 0, notFound, true},
		{"not found", time.Hour, notFound, true},
		{"disabled", -1, notFound, false},
		{"other error", time.Hour, errors.New("connection refused"), false},
		{"no error", time.Hour, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.ttl)
			if err := c.Get("k"); err != nil {
				t.Fatalf("Get before Note = %v", err)
			}
			c.Note("k", tt.err)
			err := c.Get("k")
			if tt.remember != (err != nil) || tt.remember && err != tt.err {
				t.Errorf("Get after Note(%v) = %v; want remembered %v", tt.err, err, tt.remember)
			}
			if c.Get("other") != nil {
				t.Error("another key is remembered")
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	c := New(20 * time.Millisecond)
	c.Note("k", fs.ErrNotExist)
	if c.Get("k") == nil {
		t.Fatal("not remembered")
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.Get("k") != nil {
		if time.Now().After(deadline) {
			t.Fatal("still remembered 5s after its 20ms TTL")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
