package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/gomirror/gomirror/bundle"
	"github.com/gomirror/gomirror/internal/miniotest"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/s3"
)

// TestImportIntoS3: into a MinIO bucket through the s3 driver (no local
// temporary directory of the store: every file through Put), a tampered
// bundle leaves the bucket empty, a good one is stored whole, and a fresh
// checksum database client verifies every version from the bucket alone.
func TestImportIntoS3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs MinIO; skipped in -short mode")
	}
	srv := miniotest.Start(t)
	ctx := context.Background()
	st, err := s3.New(ctx, s3.Config{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket(t), PathStyle: true, Insecure: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	dst := storage.Wrap(st)
	f := newFixture(t)
	b := f.export(t, nil)

	es := unpack(t, b)
	bad := pack(t, flip(es, find(es, func(n string) bool { return n == bundle.ManifestName }), 300), false, nil)
	if _, err := bundle.Import(ctx, bytes.NewReader(bad), bundle.ImportOptions{Storage: dst, DB: f.db}); !errors.As(err, new(*bundle.RefusedError)) {
		t.Fatalf("tampered bundle: %v", err)
	}
	if got := keys(t, dst); len(got) != 0 {
		t.Fatalf("stored in the bucket after a refusal: %q", got)
	}

	rep, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 3*len(f.mods)-1 {
		t.Errorf("report %+v", rep)
	}
	for _, m := range f.mods {
		key, _ := layout.Key(module(m.Path, m.Version), layout.Mod)
		if got, err := storage.ReadAll(ctx, dst, key); err != nil || !bytes.Equal(got, f.up.Module(m.Path, m.Version).Mod) {
			t.Errorf("%s in the bucket: %q, %v", key, got, err)
		}
	}
	ops := &storeOps{t: t, s: dst, key: f.up.DBKey, conf: map[string][]byte{}}
	c := newClient(ops)
	for _, m := range f.mods {
		if _, err := c.Lookup(m.Path, m.Version+"/go.mod"); err != nil {
			t.Errorf("lookup of %s from the bucket: %v", m.Path, err)
		}
	}
	rep, err = bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: dst, DB: f.db})
	if err != nil || rep.Added != 0 {
		t.Errorf("second import into the bucket: %+v, %v", rep, err)
	}
}
