package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestIndexFindsEveryMatchingRule: the index of a rule set never leaves
// out a rule whose patterns match a path (it may keep ones that do not:
// Match decides), over generated patterns and paths with globs, case
// variants and proxy-URL case escapes.
func TestIndexFindsEveryMatchingRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	elems := []string{"github.com", "GitHub.com", "corp.example", "org", "Org", "x", "!org", "lib"}
	globs := []string{"*", "*.com", "org*", "o?g", "[ol]rg", "*.example"}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	var src strings.Builder
	src.WriteString("rules:\n")
	for range 300 {
		var pats []string
		for range 1 + rng.IntN(2) {
			var es []string
			for j := range 1 + rng.IntN(3) {
				if rng.IntN(4) == 0 || j == 0 && rng.IntN(8) == 0 {
					es = append(es, pick(globs))
				} else {
					es = append(es, strings.TrimPrefix(pick(elems), "!"))
				}
			}
			pats = append(pats, strings.Join(es, "/"))
		}
		fmt.Fprintf(&src, "  - module: %q\n", strings.Join(pats, ","))
	}
	p, err := Parse("p.yaml", []byte(src.String()))
	if err != nil {
		t.Fatal(err)
	}
	set := p.top
	checked, matched := 0, 0
	for range 3000 {
		var es []string
		for range 1 + rng.IntN(4) {
			es = append(es, pick(elems))
		}
		path := strings.Join(es, "/")
		cands := set.candidates(path, nil)
		for i, r := range set.rules {
			checked++
			if r.modules.Match(path) {
				matched++
				if !slices.Contains(cands, i) {
					t.Fatalf("path %q matches rule %d (%s), which the index leaves out (candidates %v)", path, i+1, r.modules, cands)
				}
			}
		}
	}
	if matched < 1000 {
		t.Errorf("only %d of %d rule-path pairs matched: the test does not exercise the index", matched, checked)
	}
}
