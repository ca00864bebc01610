package server

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestLoopbackFillsReachTheCatalog: what an operator command's in-process
// mirror stores (snapshot create, import) is in the catalog of the
// database the running server uses, as soon as the command ends, and the
// command leaves no audit record.
func TestLoopbackFillsReachTheCatalog(t *testing.T) {
	up := fakeproxy.New(t)
	dbFile := filepath.Join(t.TempDir(), "gomirror.db")
	s := start(t, up, func(c *config.Serve) { c.Database = dbFile })
	waitDB(t, s)
	ctx := context.Background()
	cfg := *s.cfg
	l, err := StartLoopback(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/example.com/hello/@v/v1.1.0.info", "/example.com/hello/@v/v1.1.0.mod", "/example.com/hello/@v/v1.1.0.zip"} {
		resp, err := http.Get(l.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s through the loopback: %s", p, resp.Status)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	arts, err := s.records.DB().Module(ctx, "example.com/hello")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var zip bool
	for _, a := range arts {
		zip = zip || a.Version == "v1.1.0" && a.File == "zip"
	}
	if !zip {
		t.Errorf("the running server's catalog of example.com/hello: %+v; want the zip the loopback stored", arts)
	}
	if page, err := s.records.DB().QueryAudit(ctx, audit.Query{}); err != nil || len(page.Records) != 0 {
		t.Errorf("audit records: %+v, %v; want none from the loopback", page.Records, err)
	}
}
