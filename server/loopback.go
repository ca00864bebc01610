package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/proxy"
	"github.com/gomirror/gomirror/storage"
)

// Loopback is an in-process mirror for an operator command (snapshot
// create, bundle export): the server that serve would run with the same
// settings, so everything the command fetches goes through the real cache
// code (fetched, verified against the checksum database, gated by the
// policy, stored), on a listener on 127.0.0.1 that the command's go
// processes use as their GOPROXY.
type Loopback struct {
	// URL is the mirror's GOPROXY URL. Its path is a random secret prefix:
	// other local users, who can reach the port too, get 404 (the mirror
	// runs with auth off, since the command's own go processes hold no
	// token).
	URL string
	srv *Server

	cancel context.CancelFunc
	done   chan error
}

// StartLoopback starts the in-process mirror for cfg (the settings as
// config.LoadServe loaded them; cfg itself is not changed). Compared with
// serve it listens on 127.0.0.1 on a free port over plain HTTP, has auth,
// the admin listener, the audit log, alerts and the garbage collector off
// (and the vulnerability database, unless a policy may need it). It opens
// the database for the catalog only: what it stores is written to the
// catalog as serve's fills are (catalog.Feed), so the running server's
// catalog (/api/v1/modules, console) has it when the command ends, and
// nothing else (no audit record, no rebuild, no pruning). With SQLite
// next to a running server, both write in WAL mode with a busy timeout
// (db.Open's DSN); a database that cannot be opened or written to leaves
// the catalog-behind mark (layout.CatalogBehindMarker) as serve does,
// and the next server start rebuilds the catalog. StartLoopback returns
// once the first attempt to open the database has ended, so that no
// fill comes before it. Close stops it.
func StartLoopback(ctx context.Context, cfg *config.Serve, log *slog.Logger) (*Loopback, error) {
	c := *cfg
	c.Listen = "127.0.0.1:0"
	c.TLSCert, c.TLSKey = "", ""
	c.Auth, c.TokensFile, c.AuthRules = "off", "", nil
	c.AdminListen = ""
	c.AuditLog = ""
	c.MaxStoredBytes, c.RetentionPeriod = 0, 0 // the serving server collects
	c.Alerts, c.Notifiers = nil, nil
	c.TrustedProxies = ""
	if c.Policy == "" {
		// Only the policy reads the vulnerability database; its first
		// refresh would fetch a large module for nothing.
		c.VulnDB = "off"
	}
	srv, err := New(&c, log)
	if err != nil {
		return nil, err
	}
	if srv.records != nil {
		srv.records.catalogOnly = true
	}
	var secret [16]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	prefix := "/" + hex.EncodeToString(secret[:])
	inner := srv.handler
	srv.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok || !strings.HasPrefix(rest, "/") {
			http.Error(w, "not found", proxy.Status(fs.ErrNotExist))
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = rest, ""
		inner.ServeHTTP(w, r2)
	})
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &Loopback{URL: "http://" + ln.Addr().String() + prefix, srv: srv, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() { l.done <- srv.Serve(ctx, ln, func(net.Addr) { close(ready) }) }()
	select {
	case <-ready:
		if srv.records != nil {
			// A fill before the database is open would be lost to the
			// running server's catalog (this mirror never rebuilds it):
			// the first attempt to open it ends before any request.
			select {
			case <-srv.records.Tried():
			case <-time.After(dbRetry):
				log.Warn("the database did not answer in time; what this command stores reaches the catalog once a server rebuilds it", "waited", dbRetry)
			}
		}
		return l, nil
	case err := <-l.done:
		cancel()
		if err == nil {
			err = errors.New("the in-process mirror stopped at once")
		}
		return nil, err
	}
}

// Storage returns the mirror's storage, opened as serve opens it.
func (l *Loopback) Storage() storage.Storage { return l.srv.store }

// Close stops the mirror, waiting for its fills (within the
// shutdown-timeout setting).
func (l *Loopback) Close() error {
	l.cancel()
	return <-l.done
}
