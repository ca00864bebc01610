package expiring

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestMap(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New[error](time.Minute, 3)
	c.now = func() time.Time { return now }
	notFound := errors.New("not found")

	if _, ok := c.Get("a"); ok {
		t.Fatal("empty cache returned an entry")
	}
	c.Put("a", notFound)
	if err, ok := c.Get("a"); !ok || err != notFound {
		t.Errorf("fresh entry: %v, %v; want the stored error", err, ok)
	}
	now = now.Add(61 * time.Second)
	if err, ok := c.Get("a"); ok {
		t.Errorf("expired entry still returned: %v", err)
	}

	// Full of live entries: it starts over rather than growing.
	for i := range 5 {
		c.Put(fmt.Sprint(i), notFound)
	}
	if n := len(c.entries); n > 3 {
		t.Errorf("cache grew to %d entries, max 3", n)
	}
	if err, ok := c.Get("4"); !ok || err != notFound {
		t.Errorf("newest entry lost: %v", err)
	}

	var disabled *Map[error]
	disabled.Put("x", notFound)
	if _, ok := disabled.Get("x"); ok {
		t.Error("nil cache returned an entry")
	}
}
