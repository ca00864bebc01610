package smallcache

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"
)

func TestBoundAndOrder(t *testing.T) {
	mod := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	body := bytes.Repeat([]byte("x"), 1000)
	per := cost("k0", entry{b: body}) // every key below has 2 bytes
	c := New(3 * per)
	for _, tt := range []struct {
		name      string
		add       string // key added, "" for none
		get       string // key looked up first, "" for none
		want      []string
		wantBytes int64
	}{
		{name: "first", add: "k0", want: []string{"k0"}, wantBytes: per},
		{name: "second", add: "k1", want: []string{"k0", "k1"}, wantBytes: 2 * per},
		{name: "third fills the bound", add: "k2", want: []string{"k0", "k1", "k2"}, wantBytes: 3 * per},
		{name: "a fourth evicts the least recently used, k1 (k0 was just read)", get: "k0", add: "k3", want: []string{"k0", "k2", "k3"}, wantBytes: 3 * per},
		{name: "adding a kept key changes nothing", add: "k3", want: []string{"k0", "k2", "k3"}, wantBytes: 3 * per},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.get != "" {
				if _, ok := c.Get(tt.get); !ok {
					t.Fatalf("%s not kept", tt.get)
				}
			}
			if tt.add != "" {
				c.Add(tt.add, body, mod)
			}
			n, used := c.Len()
			if n != len(tt.want) || used != tt.wantBytes {
				t.Errorf("Len = %d entries, %d bytes; want %d, %d", n, used, len(tt.want), tt.wantBytes)
			}
			for _, k := range tt.want {
				if !c.lru.Contains(k) {
					t.Errorf("%s not kept", k)
				}
			}
		})
	}
}

func TestGetSharesTheSliceAndKeepsTheModTime(t *testing.T) {
	mod := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	c := New(1 << 20)
	b := []byte(`{"Version":"v1.0.0"}`)
	c.Add("a/@v/v1.0.0.info", b, mod)
	for i := range 2 {
		obj, ok := c.Get("a/@v/v1.0.0.info")
		if !ok {
			t.Fatal("not kept")
		}
		if obj.Size != int64(len(b)) || !obj.ModTime.Equal(mod) {
			t.Errorf("read %d: size %d, modified %v; want %d, %v", i, obj.Size, obj.ModTime, len(b), mod)
		}
		got, err := io.ReadAll(obj.Body)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("read %d: %q, %v", i, got, err)
		}
		obj.Body.Close()
	}
	// One slice for every reader: reading allocates no copy of it.
	allocs := testing.AllocsPerRun(100, func() {
		obj, _ := c.Get("a/@v/v1.0.0.info")
		obj.Body.Close()
	})
	if allocs > 3 { // the object, its body and its bytes.Reader
		t.Errorf("Get allocates %.0f times, want at most 3 (no copy of the bytes)", allocs)
	}
}

func TestWhatIsNotKept(t *testing.T) {
	mod := time.Now()
	for _, tt := range []struct {
		name string
		max  int64
		size int
	}{
		{"larger than MaxEntry", 1 << 30, MaxEntry + 1},
		{"larger than the bound", 1000, 1000},
		{"cache disabled", 0, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.max)
			c.Add("k", make([]byte, tt.size), mod)
			if _, ok := c.Get("k"); ok {
				t.Error("kept")
			}
			if n, used := c.Len(); n != 0 || used != 0 {
				t.Errorf("Len = %d, %d", n, used)
			}
		})
	}
	c := New(1 << 20)
	c.Add("k", make([]byte, MaxEntry), mod)
	if _, ok := c.Get("k"); !ok {
		t.Error("an entry of exactly MaxEntry bytes is not kept")
	}
}

// TestManyEntriesStayWithinTheBound adds far more than fits.
func TestManyEntriesStayWithinTheBound(t *testing.T) {
	const max = 64 << 10
	c := New(max)
	for i := range 10000 {
		c.Add(fmt.Sprintf("example.com/m%d/@v/v1.0.0.info", i), make([]byte, i%700), time.Now())
		if _, used := c.Len(); used > max {
			t.Fatalf("after %d adds: %d bytes counted, bound %d", i+1, used, max)
		}
	}
	if n, _ := c.Len(); n < 10 {
		t.Errorf("only %d entries kept", n)
	}
}
