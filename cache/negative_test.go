package cache

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestNegativeCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newNegativeCache(time.Minute, 3)
	c.now = func() time.Time { return now }
	notFound := errors.New("not found")

	if err := c.get("a"); err != nil {
		t.Fatalf("empty cache returned %v", err)
	}
	c.put("a", notFound)
	if err := c.get("a"); err != notFound {
		t.Errorf("fresh entry: %v, want the stored error", err)
	}
	now = now.Add(61 * time.Second)
	if err := c.get("a"); err != nil {
		t.Errorf("expired entry still returned: %v", err)
	}

	// Full of fresh entries: it starts over rather than growing.
	for i := range 5 {
		c.put(fmt.Sprint(i), notFound)
	}
	if n := len(c.entries); n > 3 {
		t.Errorf("cache grew to %d entries, max 3", n)
	}
	if err := c.get("4"); err != notFound {
		t.Errorf("newest entry lost: %v", err)
	}

	var disabled *negativeCache
	disabled.put("x", notFound)
	if err := disabled.get("x"); err != nil {
		t.Errorf("nil cache returned %v", err)
	}
}
