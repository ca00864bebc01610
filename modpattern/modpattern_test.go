package modpattern_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/modpattern"
)

func mustParse(t *testing.T, s string) modpattern.List {
	t.Helper()
	l, err := modpattern.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return l
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name, list, path string
		match, exact     bool
	}{
		{"prefix: the pattern itself", "github.com/mycorp", "github.com/mycorp", true, true},
		{"prefix: below it", "github.com/mycorp", "github.com/mycorp/x/v2", true, true},
		{"prefix: whole elements only", "github.com/mycorp", "github.com/mycorpx/y", false, false},
		{"prefix: a shorter path", "github.com/mycorp/x", "github.com/mycorp", false, false},
		{"other module", "github.com/mycorp", "github.com/other/x", false, false},
		{"case variant of the path", "github.com/mycorp", "github.com/MyCorp/x", true, false},
		{"all upper case", "github.com/mycorp", "github.com/MYCORP/X", true, false},
		{"case variant of the pattern", "github.com/MyCorp", "github.com/mycorp/x", true, false},
		{"escaped case variant", "github.com/mycorp", "github.com/!my!corp/x", true, false},
		{"escaped path of an upper-case pattern", "github.com/MyCorp", "github.com/!my!corp/x", true, false},
		{"glob host", "*.corp.example", "git.corp.example/team/x", true, true},
		{"glob host, case variant below it", "*.corp.example", "git.corp.example/Team/x", true, true},
		{"glob host needs an element", "*.corp.example", "corp.example/x", false, false},
		{"glob element", "corp.example/*/lib", "corp.example/team/lib/v2", true, true},
		{"glob element, case variant", "corp.example/*/lib", "corp.example/Team/LIB", true, false},
		{"glob element, not enough elements", "corp.example/*/lib", "corp.example/team", false, false},
		{"character class", "corp.example/[a-c]x", "corp.example/bx/y", true, true},
		{"character class, case variant", "corp.example/[a-c]x", "corp.example/BX/y", true, false},
		{"second pattern of a list", "a.example, github.com/mycorp/", "github.com/MyCorp/x", true, false},
		{"trailing slash in the pattern", "github.com/mycorp/", "github.com/mycorp/x", true, true},
		{"empty list", "", "github.com/mycorp/x", false, false},
		{"list of empty patterns", " , ,", "github.com/mycorp/x", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustParse(t, tt.list)
			if got := l.Match(tt.path); got != tt.match {
				t.Errorf("Parse(%q).Match(%q) = %v, want %v", tt.list, tt.path, got, tt.match)
			}
			if got := l.MatchExact(tt.path); got != tt.exact {
				t.Errorf("Parse(%q).MatchExact(%q) = %v, want %v", tt.list, tt.path, got, tt.exact)
			}
			// MatchExact is the go command's rule itself.
			if want := module.MatchPrefixPatterns(l.String(), tt.path); l.MatchExact(tt.path) != want {
				t.Errorf("MatchExact(%q) = %v, module.MatchPrefixPatterns says %v", tt.path, !want, want)
			}
		})
	}
}

// TestCaseVariantsOfValidPaths checks the fail-safe property on real module
// paths: every case variant of a path below a pattern, valid as a module
// path and given plain or escaped, matches.
func TestCaseVariantsOfValidPaths(t *testing.T) {
	l := mustParse(t, "github.com/mycorp,corp.example/team/*")
	for _, p := range []string{"github.com/mycorp/tool", "corp.example/team/lib/v2"} {
		for mask := range 1 << 6 {
			b := []byte(p)
			// Upper-case some letters after the first element, which a
			// module path must keep in lower case.
			first := strings.IndexByte(p, '/')
			for i, bit := first+1, 0; i < len(b) && bit < 6; i++ {
				if b[i] >= 'a' && b[i] <= 'z' {
					if mask&(1<<bit) != 0 {
						b[i] -= 'a' - 'A'
					}
					bit++
				}
			}
			v := string(b)
			if err := module.CheckPath(v); err != nil {
				t.Fatalf("test bug: %q is not a module path: %v", v, err)
			}
			esc, err := module.EscapePath(v)
			if err != nil {
				t.Fatal(err)
			}
			if !l.Match(v) || !l.Match(esc) {
				t.Errorf("case variant %q (escaped %q) of a private path does not match %q", v, esc, l)
			}
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
		patterns []string
	}{
		{"", "", nil},
		{" , ", "", nil},
		{"a.example", "a.example", []string{"a.example"}},
		{" a.example/ , b.example/x ", "a.example,b.example/x", []string{"a.example", "b.example/x"}},
		{"a.example,A.example,a.example/", "a.example,A.example", []string{"a.example", "A.example"}},
		{"*.corp.example,corp.example/[a-z]*", "*.corp.example,corp.example/[a-z]*", []string{"*.corp.example", "corp.example/[a-z]*"}},
	}
	for _, tt := range tests {
		l := mustParse(t, tt.in)
		if l.String() != tt.want || !reflect.DeepEqual(l.Patterns(), tt.patterns) || l.Empty() != (tt.patterns == nil) {
			t.Errorf("Parse(%q) = %q %q (empty %v), want %q %q", tt.in, l, l.Patterns(), l.Empty(), tt.want, tt.patterns)
		}
		if again := mustParse(t, l.String()); !reflect.DeepEqual(again, l) {
			t.Errorf("Parse(%q).String() does not parse back to the same list: %#v, %#v", tt.in, again, l)
		}
	}
}

func TestParseBadPatterns(t *testing.T) {
	for _, in := range []string{"corp.example/[x", "a.example,corp.example/[", `corp.example/x\`, "corp.example/[]"} {
		l, err := modpattern.Parse(in)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want an error", in, l)
			continue
		}
		if !strings.Contains(err.Error(), "bad pattern") {
			t.Errorf("Parse(%q): %v, want it to name the bad pattern", in, err)
		}
	}
}

func TestJoin(t *testing.T) {
	a := mustParse(t, "a.example,b.example")
	b := mustParse(t, "b.example/, c.example, B.example")
	j := modpattern.Join(a, modpattern.List{}, b)
	if got, want := j.String(), "a.example,b.example,c.example,B.example"; got != want {
		t.Errorf("Join = %q, want %q", got, want)
	}
	if !j.Match("c.example/x") || !j.Match("A.example/x") || j.Match("d.example/x") {
		t.Errorf("Join(%q, %q) matches wrongly", a, b)
	}
	if a.String() != "a.example,b.example" {
		t.Errorf("Join changed its argument: %q", a)
	}
	if e := modpattern.Join(); !e.Empty() || e.Match("a.example") || e.String() != "" {
		t.Errorf("Join() = %q, want an empty list", e)
	}
	var zero modpattern.List
	if zero.Match("") || zero.Match("a.example") || zero.MatchExact("a.example") {
		t.Error("the zero List matches")
	}
}

// BenchmarkMatch is the cost Match adds to each request (auth, routing,
// the checksum exemption): a path already in lower case is folded without
// allocating.
func BenchmarkMatch(b *testing.B) {
	l, err := modpattern.Parse("github.com/mycorp,*.corp.example,corp.example/*/lib")
	if err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{"golang.org/x/mod", "github.com/!my!corp/tool"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Match(path)
			}
		})
	}
}

func TestLiteralPrefixes(t *testing.T) {
	l, err := modpattern.Parse("GitHub.com/Org/*, *.corp.example, corp.example/a?c/d, x.example//y, !my!corp.example/lib, a.example/[b]")
	if err != nil {
		t.Fatal(err)
	}
	got := l.LiteralPrefixes()
	want := [][]string{{"github.com", "org"}, nil, {"corp.example"}, {"x.example"}, {"mycorp.example", "lib"}, {"a.example"}}
	if len(got) != len(want) {
		t.Fatalf("LiteralPrefixes() = %q", got)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("pattern %d: %q, want %q", i, got[i], want[i])
		}
	}
	if f := modpattern.Fold("GitHub.com/!my!corp/X"); f != "github.com/mycorp/x" {
		t.Errorf("Fold = %q", f)
	}
}
