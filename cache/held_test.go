package cache

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestHeldZipsBounds: held zips stay within their byte and count budgets
// and their TTL, the oldest going first; a removed zip's file is deleted,
// a taken one's is the taker's.
func TestHeldZipsBounds(t *testing.T) {
	type step struct {
		add   string // key to add, with size bytes; "" to take
		size  int64
		take  string
		after time.Duration // clock moved forward before the step
		ok    bool          // add's or take's result
	}
	tests := []struct {
		name     string
		maxBytes int64
		maxCount int
		steps    []step
		held     []string // keys held at the end, oldest first
	}{
		{"within budget", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "b", size: 40, ok: true}}, []string{"a", "b"}},
		{"bytes: oldest out", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "b", size: 40, ok: true}, {add: "c", size: 40, ok: true}}, []string{"b", "c"}},
		{"count: oldest out", 100, 2, []step{{add: "a", size: 1, ok: true}, {add: "b", size: 1, ok: true}, {add: "c", size: 1, ok: true}}, []string{"b", "c"}},
		{"larger than the budget", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "big", size: 101}}, []string{"a"}},
		{"same key twice", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "a", size: 40}}, []string{"a"}},
		{"taken", 100, 10, []step{{add: "a", size: 40, ok: true}, {take: "a", ok: true}, {take: "a"}}, nil},
		{"expired: not taken", 100, 10, []step{{add: "a", size: 40, ok: true}, {take: "a", after: time.Minute}}, nil},
		{"expired: removed by add", 100, 10, []step{{add: "a", size: 40, ok: true}, {add: "b", size: 1, after: 30 * time.Second, ok: true}, {add: "c", size: 1, after: 45 * time.Second, ok: true}}, []string{"b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			now := time.Unix(1e9, 0)
			h := newHeldZips(tt.maxBytes, tt.maxCount, time.Minute)
			h.now = func() time.Time { return now }
			var rejected []string
			for i, s := range tt.steps {
				now = now.Add(s.after)
				if s.take != "" {
					z := h.take(s.take)
					if (z != nil) != s.ok {
						t.Fatalf("step %d: take(%q) = %v, want found %v", i, s.take, z, s.ok)
					}
					if z != nil {
						if _, err := os.Stat(z.name); err != nil {
							t.Errorf("step %d: taken zip's file: %v", i, err)
						}
					}
					continue
				}
				name := filepath.Join(dir, s.add+"-"+string(rune('0'+i)))
				if err := os.WriteFile(name, make([]byte, s.size), 0o644); err != nil {
					t.Fatal(err)
				}
				if ok := h.add(&heldZip{key: s.add, name: name, size: s.size}); ok != s.ok {
					t.Fatalf("step %d: add(%q) = %v, want %v", i, s.add, ok, s.ok)
				} else if !ok {
					rejected = append(rejected, name)
				}
			}
			var keys []string
			var bytes int64
			for e := h.order.Front(); e != nil; e = e.Next() {
				z := e.Value.(*heldZip)
				keys, bytes = append(keys, z.key), bytes+z.size
			}
			if !slices.Equal(keys, tt.held) {
				t.Errorf("held %q, want %q", keys, tt.held)
			}
			if n, b := h.len(); n != len(tt.held) || b != bytes || b > tt.maxBytes || n > tt.maxCount {
				t.Errorf("len() = %d, %d bytes; want %d, %d within %d, %d", n, b, len(tt.held), bytes, tt.maxCount, tt.maxBytes)
			}
			// Files on disk: the held ones, the taken ones and the
			// rejected ones (the caller's to remove); nothing evicted.
			files, _ := os.ReadDir(dir)
			taken := 0
			for _, s := range tt.steps {
				if s.take != "" && s.ok {
					taken++
				}
			}
			if len(files) != len(tt.held)+taken+len(rejected) {
				t.Errorf("%d files left, want %d held + %d taken + %d rejected", len(files), len(tt.held), taken, len(rejected))
			}
			h.drop()
			if n, b := h.len(); n != 0 || b != 0 {
				t.Errorf("after drop: %d held, %d bytes", n, b)
			}
			files, _ = os.ReadDir(dir)
			if len(files) != taken+len(rejected) {
				t.Errorf("after drop: %d files left, want %d", len(files), taken+len(rejected))
			}
		})
	}
}
