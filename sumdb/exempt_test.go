package sumdb_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/sumdbtest"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/sumdb"
)

// exemptSetup is a Verifier and a /sumdb/ Endpoint of a fake upstream's
// database that exempt github.com/mycorp, as private does.
func exemptSetup(t *testing.T) (*fakeproxy.Server, *sumdb.Verifier, *sumdb.Endpoint) {
	t.Helper()
	up := fakeproxy.New(t)
	store, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v, chain := sumdbtest.Verifier(t, up, store, "github.com/mycorp")
	remote, err := sumdb.NewRemote(v.DB(), chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	return up, v, sumdb.NewEndpoint(v, store, remote, time.Minute)
}

// naming returns the requests the fake upstream received that name
// github.com/mycorp in any case.
func naming(up *fakeproxy.Server) []string {
	var out []string
	for _, r := range up.Requests() {
		if strings.Contains(strings.ToLower(r), "mycorp") || strings.Contains(strings.ToLower(r), "!my!corp") {
			out = append(out, r)
		}
	}
	return out
}

// TestVerifierExemptsCaseVariants is the checksum half of issue 11's case
// attack: a path that differs from an exempt (private) one only in case is
// exempt too, and looking it up reaches neither x/mod's client nor the
// database.
func TestVerifierExemptsCaseVariants(t *testing.T) {
	up, v, _ := exemptSetup(t)
	for _, path := range []string{"github.com/mycorp/x", "github.com/MyCorp/x", "github.com/MYCORP/x/v2", "github.com/myCorp"} {
		if !v.Exempt(path) {
			t.Errorf("Exempt(%q) = false; a case variant of an exempt path must be exempt", path)
		}
		lines, err := v.Lookup(t.Context(), path, "v1.0.0")
		if !errors.Is(err, sumdb.ErrExempt) {
			t.Errorf("Lookup(%q) = %q, %v; want ErrExempt", path, lines, err)
		}
		if _, err := v.Lookup(t.Context(), path, "v1.0.0/go.mod"); !errors.Is(err, sumdb.ErrExempt) {
			t.Errorf("Lookup(%q, go.mod) = %v; want ErrExempt", path, err)
		}
	}
	if n := naming(up); len(n) > 0 {
		t.Errorf("the checksum database was asked about exempt paths: %q", n)
	}
	if got := up.Requests(); len(got) != 0 {
		t.Errorf("exempt lookups reached the upstream: %q", got)
	}

	// The instrument works: a path that is not exempt is looked up.
	if v.Exempt("github.com/other/x") {
		t.Error("Exempt(github.com/other/x) = true")
	}
	if _, err := v.Lookup(t.Context(), "example.com/hello", "v1.0.0"); err != nil {
		t.Fatalf("Lookup of a public module: %v", err)
	}
	if up.Hits("/sumdb/"+fakeproxy.DBName+"/lookup/example.com/hello@v1.0.0") != 1 {
		t.Errorf("the public module's lookup did not reach the database: %q", up.Requests())
	}
}

// TestProxyRefusesLookupOfCaseVariant asks gomirror's /sumdb/ endpoint for
// the escaped case variant of an exempt path, as issue 11's attacker did:
// it is "not found" without any request reaching the upstream.
func TestProxyRefusesLookupOfCaseVariant(t *testing.T) {
	up, _, p := exemptSetup(t)
	for _, lookup := range []string{
		"lookup/github.com/!my!corp/x@v1.0.0",
		"lookup/github.com/!m!y!c!o!r!p/x@v1.0.0",
		"lookup/github.com/mycorp/x@v1.0.0",
	} {
		b, _, err := p.Get(t.Context(), lookup)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Get(%s) = %q, %v; want not found", lookup, b, err)
		}
	}
	if got := up.Requests(); len(got) != 0 {
		t.Errorf("lookups of exempt paths reached the upstream: %q", got)
	}
}
