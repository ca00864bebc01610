package doctor

import "testing"

// TestSumDBAliasResolved: a GOSUMDB value that the go command maps to
// another database (an alias in its source) is checked as that database,
// with its key, as the go command would use it; an unknown bare name is
// refused.
func TestSumDBAliasResolved(t *testing.T) {
	const goroot = "../../sumdb/testdata/goroot"
	db := resolveSumDB("sum.alias.example", goroot)
	if db == nil || db.unusable || db.keyErr != nil || db.verifier == nil {
		t.Fatalf("alias: %+v; want the database it maps to, with its key", db)
	}
	if db.name != "sum.example.test" {
		t.Errorf("alias checked as %q; want the database it maps to, sum.example.test", db.name)
	}
	if db := resolveSumDB("sum.unknown.example", goroot); db == nil || !db.unusable {
		t.Errorf("unknown bare name: %+v; want unusable", db)
	}
}
