package vulndb

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/internal/zipdir"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// URLSource is a vulnerability database reached over its HTTP API (the
// vulndb setting as a URL: another gomirror's /vuln/, or a database
// serving the documented API). A fetch reads index/db.json and the two
// indexes and, when the time or the indexes' hash differs from the copy
// served, every entry,
// writes them into a zip of gomirror's own (the entries under
// "db/data/osv/", the copy's Origin in "db/origin") and keeps that in
// storage under .gomirror/vulndb/, where Stored finds it at the next start.
type URLSource struct {
	// URL is the database's base URL.
	URL string
	// Storage keeps the last copy fetched.
	Storage storage.Storage
	// TempDir holds the zip being written; "" is the system's.
	TempDir string
	// HTTP makes the requests (see Client).
	HTTP *http.Client
}

var _ Source = (*URLSource)(nil)

const (
	urlZipDir    = "db/data/osv/"
	urlZipOrigin = "db/origin"
)

// String names the source: "url <URL>" (credentials redacted).
func (us *URLSource) String() string { return "url " + redact.URL(us.URL) }

// key is where the copy of this URL is kept.
func (us *URLSource) key() string {
	sum := sha256.Sum256([]byte(us.URL))
	return layout.StateDir + "/vulndb/url-" + hex.EncodeToString(sum[:8]) + ".zip"
}

// Stored opens the copy kept in storage.
func (us *URLSource) Stored(ctx context.Context) (*Zip, error) {
	obj, err := us.Storage.Get(ctx, us.key())
	if err != nil {
		return nil, err
	}
	ra, size, closeFn, err := readerAt(ctx, obj, us.TempDir)
	if err != nil {
		return nil, err
	}
	origin, err := zipOrigin(ctx, ra, size)
	if err != nil {
		closeFn()
		return nil, fmt.Errorf("%s: %w", us.key(), err)
	}
	return &Zip{RA: ra, Size: size, Close: closeFn, Dir: urlZipDir, Origin: origin}, nil
}

// zipOrigin reads db/origin of a zip written by Fetch.
func zipOrigin(ctx context.Context, ra io.ReaderAt, size int64) (string, error) {
	ents, err := zipdir.Read(ctx, ra, size, zipdir.Limits{DirBytes: maxZipDir, Entries: maxZipEntries}, func(name []byte) bool {
		return string(name) == urlZipOrigin
	})
	if err != nil {
		return "", err
	}
	if len(ents) != 1 {
		return "", errors.New("no " + urlZipOrigin)
	}
	b, _, err := zipdir.ReadEntry(ctx, ra, size, ents[0], 4<<10)
	return string(b), err
}

// Fetch returns a new copy if the database's time differs from current's.
func (us *URLSource) Fetch(ctx context.Context, current string) (*Zip, error) {
	c := &Client{URL: us.URL, HTTP: us.HTTP}
	mod, err := c.Modified(ctx)
	if err != nil {
		return nil, err
	}
	// The time alone does not tell a new copy (a database whose entries
	// leave modified zero never moves it): the copy is named by it and a
	// hash of the two indexes too.
	// Both are streamed (hashed as they are read; of vulns.json only
	// the IDs are kept).
	h := sha256.New()
	var ids []string
	for _, name := range []string{"index/vulns", "index/modules"} {
		body, err := c.open(ctx, name, maxIndexBytes)
		if err != nil {
			return nil, err
		}
		r := io.TeeReader(body, h)
		if name == "index/vulns" {
			ids, err = parseIDs(r)
		}
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		body.Close()
		if err != nil {
			return nil, err
		}
		h.Write([]byte{0})
	}
	origin := redact.URL(us.URL) + "@" + mod.UTC().Format(time.RFC3339Nano) + "#" + hex.EncodeToString(h.Sum(nil)[:8])
	if origin == current {
		return nil, nil
	}
	f, err := os.CreateTemp(us.TempDir, "gomirror-vulndb-*.zip")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // closing it frees it
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	zw := zip.NewWriter(f)
	var (
		mu    sync.Mutex // the zip writer, total
		total int64
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, id := range ids {
		g.Go(func() error {
			b, _, err := c.EntryBytes(gctx, id)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if total += int64(len(b)); total > maxTotalBytes {
				return fmt.Errorf("entries over %d bytes in all", maxTotalBytes)
			}
			w, err := zw.Create(urlZipDir + id + ".json")
			if err == nil {
				_, err = w.Write(b)
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	w, err := zw.Create(urlZipOrigin)
	if err == nil {
		_, err = io.WriteString(w, origin)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	if err := us.Storage.Put(ctx, us.key(), io.NewSectionReader(f, 0, size)); err != nil {
		return nil, fmt.Errorf("keeping the copy: %w", err)
	}
	ok = true
	return &Zip{RA: f, Size: size, Close: f.Close, Dir: urlZipDir, Origin: origin, Modified: mod}, nil
}
