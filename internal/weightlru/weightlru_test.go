package weightlru

import "testing"

// TestCache: the cache holds at most its entries and its bytes,
// evicting the least recently used, and counts a key added twice once.
func TestCache(t *testing.T) {
	weigh := func(v int) int64 { return int64(v) }
	tests := []struct {
		name      string
		entries   int
		max       int64
		add       [][2]int // key, weight
		get       int      // a key used after the adds before the last
		wantKeys  []int
		wantBytes int64
	}{
		{"entries bound", 2, 100, [][2]int{{1, 10}, {2, 10}, {3, 10}}, -1, []int{2, 3}, 20},
		{"bytes bound", 10, 25, [][2]int{{1, 10}, {2, 10}, {3, 10}}, -1, []int{2, 3}, 20},
		{"recently used kept", 10, 25, [][2]int{{1, 10}, {2, 10}, {3, 10}}, 1, []int{1, 3}, 20},
		{"over the bound alone", 10, 25, [][2]int{{1, 10}, {2, 30}}, -1, []int{}, 0},
		{"added twice", 10, 25, [][2]int{{1, 10}, {1, 10}, {2, 10}}, -1, []int{1, 2}, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := New[int](tc.entries, tc.max, weigh)
			for i, a := range tc.add {
				if i == len(tc.add)-1 && tc.get >= 0 {
					w.Get(tc.get)
				}
				w.Add(a[0], a[1])
			}
			if got := w.bytes.Load(); got != tc.wantBytes {
				t.Errorf("bytes %d, want %d", got, tc.wantBytes)
			}
			if w.Len() != len(tc.wantKeys) {
				t.Errorf("%d entries, want %v", w.Len(), tc.wantKeys)
			}
			for _, k := range tc.wantKeys {
				if _, ok := w.Get(k); !ok {
					t.Errorf("key %d evicted", k)
				}
			}
		})
	}
}
