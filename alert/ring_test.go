package alert

import (
	"testing"
	"time"
)

func TestRing(t *testing.T) {
	const window = int64(time.Hour)
	base := t0.UnixNano()
	r := newRing(window)
	r.add(base, 3)
	r.add(base+window/2, 2)
	if n := r.sum(base + window/2); n != 5 {
		t.Errorf("sum in the window = %d, want 5", n)
	}
	// An event a whole window old maps to a slot that counts the present:
	// it must not wipe it.
	r.add(base+window/2-window, 7)
	if n := r.sum(base + window/2); n != 5 {
		t.Errorf("after an event a window old: sum %d, want 5", n)
	}
	if n := r.sum(base + window + window/12); n != 2 {
		t.Errorf("once the first slice left the window: sum %d, want 2", n)
	}
	if n := r.sum(base + 3*window); n != 0 {
		t.Errorf("long after: sum %d, want 0", n)
	}
}
