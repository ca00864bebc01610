package i18n_test

import (
	"strings"
	"testing"

	"github.com/gomirror/gomirror/i18n"
)

// TestWriteTableWrapped: a table wider than the limit has its wide cells
// wrapped by display width (English between words, Chinese between any
// two characters), every line within the limit and the columns aligned;
// a table that fits is WriteTable's.
func TestWriteTableWrapped(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows [][]string
		max  int
		want string
	}{
		{"fits", [][]string{{"id", "text"}, {"a", "short"}}, 40, "id  text\na   short\n"},
		{"english", [][]string{{"ID", "Cause"}, {"not-found", "The proxy has no such module or version."}}, 30,
			"ID         Cause\n" +
				"not-found  The proxy has no\n" +
				"           such module or\n" +
				"           version.\n"},
		{"chinese", [][]string{{"编号", "原因"}, {"not-found", "代理上没有这个模块或版本。"}}, 24,
			"编号       原因\n" +
				"not-found  代理上没有这\n" +
				"           个模块或版\n" +
				"           本。\n"}, // 。 never starts a line
		{"brackets", [][]string{{"x", "代理拒绝提供此模（模块）"}}, 17,
			"x  代理拒绝提供此\n" +
				"   模（模块）\n"}, // （ never ends a line
		// An ID (no spaces) that fits keeps its column's natural width:
		// the wide text column is narrowed instead, though wider.
		{"id never split", [][]string{{"ID", "Cause"}, {"vendor-inconsistent", "The vendor directory does not match."}}, 34,
			"ID                   Cause\n" +
				"vendor-inconsistent  The vendor\n" +
				"                     directory\n" +
				"                     does not\n" +
				"                     match.\n"},
		{"long word", [][]string{{"a", "https://example.com/a/very/long/path"}}, 20,
			"a  https://example.c\n" +
				"   om/a/very/long/pa\n" +
				"   th\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := i18n.WriteTableWrapped(&b, tc.rows, tc.max); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tc.want)
			}
			for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
				if i18n.Width(l) > tc.max {
					t.Errorf("line %q: %d columns, over %d", l, i18n.Width(l), tc.max)
				}
			}
		})
	}
}
