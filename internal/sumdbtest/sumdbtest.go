// Package sumdbtest builds checksum database verifiers for tests: a
// sumdb.Verifier of a fakeproxy upstream's database, reached through that
// upstream's /sumdb/ endpoint as in production.
package sumdbtest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/modpattern"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/upstream"
)

// Verifier returns a Verifier of up's checksum database that keeps its
// state in store and exempts the modules matching noSumDB, and the upstream
// chain (up alone) it reaches the database through. At cleanup it waits
// for the Verifier's background work.
func Verifier(t testing.TB, up *fakeproxy.Server, store storage.Storage, noSumDB string) (*sumdb.Verifier, *upstream.Chain) {
	t.Helper()
	db, err := sumdb.ParseGOSUMDB(up.DBKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := upstream.ParseChain(up.URL, upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	remote, err := sumdb.NewRemote(db, chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	exempt, err := modpattern.Parse(noSumDB)
	if err != nil {
		t.Fatal(err)
	}
	v := sumdb.NewVerifier(db, store, remote, sumdb.VerifierOptions{NoSumDB: exempt, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := v.Wait(ctx); err != nil {
			t.Errorf("waiting for the checksum database verifier: %v", err)
		}
	})
	return v, chain
}
