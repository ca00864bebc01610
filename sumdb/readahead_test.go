package sumdb_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/sumdbtest"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/sumdb"
)

// growDB adds modules example.com/mNNN@v1.0.0 for n in [from, to) to the
// fake upstream and looks each up in its checksum database, in order, so
// that module mNNN gets a record of its own at the end of the log.
func growDB(t *testing.T, up *fakeproxy.Server, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		path := fmt.Sprintf("example.com/m%03d", i)
		if _, err := up.Add(path, "v1.0.0", map[string][]byte{"go.mod": []byte("module " + path + "\n")}); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(up.URL + "/sumdb/" + fakeproxy.DBName + "/lookup/" + path + "@v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("lookup %s in the fake database: %s", path, resp.Status)
		}
	}
}

func newVerifier(t *testing.T, up *fakeproxy.Server) *sumdb.Verifier {
	t.Helper()
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := sumdbtest.Verifier(t, up, store, "")
	return v
}

// tileGate holds the checksum database's tile requests at the fake
// upstream until released, noting which are waiting.
type tileGate struct {
	mu      sync.Mutex
	waiting map[string]bool // tile path -> held now
	changed chan struct{}   // closed and replaced when waiting grows
	release chan struct{}
	once    sync.Once
}

func newTileGate(t *testing.T, up *fakeproxy.Server) *tileGate {
	g := &tileGate{waiting: map[string]bool{}, changed: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(g.open) // before the fake upstream waits for its requests
	prefix := "/sumdb/" + fakeproxy.DBName + "/"
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		tile, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || !strings.HasPrefix(tile, "tile/") {
			return false
		}
		g.mu.Lock()
		g.waiting[tile] = true
		close(g.changed)
		g.changed = make(chan struct{})
		g.mu.Unlock()
		<-g.release
		return false // answered as usual
	})
	return g
}

// open lets the held requests and all later ones through.
func (g *tileGate) open() { g.once.Do(func() { close(g.release) }) }

// waitFor waits until every tile in want is held at once; it reports
// what was held if that does not happen within d.
func (g *tileGate) waitFor(t *testing.T, d time.Duration, want ...string) {
	t.Helper()
	deadline := time.After(d)
	for {
		g.mu.Lock()
		all := true
		for _, w := range want {
			all = all && g.waiting[w]
		}
		held := fmt.Sprint(g.waiting)
		changed := g.changed
		g.mu.Unlock()
		if all {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("tiles %v were not all requested while the first ones were held (held: %s): "+
				"the lookup's proofs are read in rounds, one waiting for the other", want, held)
		}
	}
}

// TestLookupReadsBothProofsTilesInOneRound looks up a record near the start
// of a log that has grown since the last verified tree head. Checking it
// takes two proofs: that the new head extends the verified one (a tile at
// the log's end) and that the record is in the tree (the log's first
// tile). sumdb.Client reads the second proof's tiles only after the
// first's arrive; the Verifier asks for both as soon as the lookup answer
// is in, so both must be in flight together while the fake upstream holds
// every tile request.
func TestLookupReadsBothProofsTilesInOneRound(t *testing.T) {
	up := fakeproxy.New(t)
	growDB(t, up, 0, 600)
	v := newVerifier(t, up)
	ctx := context.Background()
	if _, err := v.Lookup(ctx, "example.com/m599", "v1.0.0"); err != nil {
		t.Fatal(err) // verified head: the tree of 600 records and fixtures
	}
	growDB(t, up, 600, 610)

	gate := newTileGate(t, up)
	type result struct {
		lines []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		lines, err := v.Lookup(ctx, "example.com/m003", "v1.0.0")
		done <- result{lines, err}
	}()
	// The record proof needs tile 0 of level 0 (records 0-255), which no
	// earlier lookup read; the consistency proof needs the partial tile at
	// the end of the log (records 512-609).
	gate.waitFor(t, 10*time.Second, "tile/8/0/000", "tile/8/0/002.p/98")
	gate.open()

	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.lines) != 1 || !strings.HasPrefix(r.lines[0], "example.com/m003 v1.0.0 h1:") {
		t.Fatalf("lookup answered %q, want the module's go.sum line", r.lines)
	}
}

// TestLookupSurvivesFailedReadAhead makes the first request for every tile
// fail: the tiles read ahead meet the failure, and the lookup must still
// succeed by reading them again itself rather than report the failure.
func TestLookupSurvivesFailedReadAhead(t *testing.T) {
	up := fakeproxy.New(t)
	growDB(t, up, 0, 300)
	v := newVerifier(t, up)
	up.InjectFirst(fakeproxy.Prefix("/sumdb/"+fakeproxy.DBName+"/tile/"), fakeproxy.Status(http.StatusBadGateway, "bad gateway"))
	lines, err := v.Lookup(context.Background(), "example.com/m007", "v1.0.0")
	if err != nil {
		t.Fatalf("lookup failed although every tile was answered on a second request: %v", err)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "example.com/m007 v1.0.0 h1:") {
		t.Fatalf("lookup answered %q, want the module's go.sum line", lines)
	}
}
