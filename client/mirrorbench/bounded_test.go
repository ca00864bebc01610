package mirrorbench

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

// hugeBody streams n bytes made of chunk repeated, after head, without
// holding them.
func hugeBody(w http.ResponseWriter, head []byte, chunk []byte, n int64) {
	w.Write(head)
	for sent := int64(len(head)); sent < n; sent += int64(len(chunk)) {
		if _, err := w.Write(chunk); err != nil {
			return
		}
	}
}

// zipHead is a zip local file header for name, as a module zip starts.
func zipHead(name string) []byte {
	var b bytes.Buffer
	b.WriteString("PK\x03\x04")
	hdr := make([]byte, 26)
	binary.LittleEndian.PutUint16(hdr[22:], uint16(len(name)))
	b.Write(hdr)
	b.WriteString(name)
	return b.Bytes()
}

// TestHostileBodiesKeepMemoryBounded: a mirror streaming a huge list, .info,
// .mod or .zip costs a bounded amount of memory (bytes allocated while
// reading it, far below the body's size), and the answer counts as a
// failure ("too large"), never as a success.
func TestHostileBodiesKeepMemoryBounded(t *testing.T) {
	m := module.Version{Path: "example.com/hello", Version: "v1.1.0"}
	const size = 24 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/list"):
			hugeBody(w, nil, bytes.Repeat([]byte("v1.0.0\n"), 4096), size)
		case strings.HasSuffix(r.URL.Path, ".info"):
			hugeBody(w, []byte(`{"Version":"v1.1.0","x":"`), bytes.Repeat([]byte("x"), 32<<10), size)
		case strings.HasSuffix(r.URL.Path, ".mod"):
			hugeBody(w, []byte("module example.com/hello\n"), bytes.Repeat([]byte("// x\n"), 8192), size)
		case strings.HasSuffix(r.URL.Path, ".zip"):
			hugeBody(w, zipHead(m.String()+"/a.go"), make([]byte, 64<<10), size)
		}
	}))
	defer srv.Close()
	c := &http.Client{}
	for _, kind := range Kinds {
		var err error
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, _, err = fetch(context.Background(), c, srv.URL, m, kind, time.Minute, Limits{Zip: 8 << 20})
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("%s: err = %v, want too large", kind, err)
		}
		// The server's writes, the client's buffers, ReadAll growing to
		// the 1 MiB limit and the race detector allocate too; holding
		// the body would take its whole 24 MiB.
		if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
			t.Errorf("%s: %d bytes allocated reading a %d-byte body", kind, got, size)
		}
	}
}
