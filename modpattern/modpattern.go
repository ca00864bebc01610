// Package modpattern owns gomirror's lists of module path patterns in the
// go command's GOPRIVATE syntax (also GONOPROXY, GONOSUMDB, and the modules
// of auth rules): parsing and validating them, joining them, and matching
// module paths against them.
//
// A list is comma-separated. Each pattern is a glob as path.Match understands
// it, and it matches a path when it matches the path's leading elements
// (as many as the pattern has): "corp.example" matches
// "corp.example/a/b", "*.corp.example" matches "git.corp.example/x", and
// "corp.example/*/lib" matches "corp.example/team/lib/v2". These are exactly
// the go command's rules; matching is done by
// golang.org/x/mod/module.MatchPrefixPatterns.
//
// One thing differs from the go command, on purpose: [List.Match] ignores
// case. Every decision gomirror takes with a list is a privacy decision (send
// a module to version control only, never name it to the checksum database,
// ask a client for a token), and such a decision must fail safe: a path that
// differs from a private one only in case is private too. Module paths in
// proxy URLs are case-encoded ("!my!corp" is "MyCorp"), and a case variant
// of a private path is a different, valid module path that an attacker can
// ask for; treating it as public would send a private name to the public
// upstream and the checksum database. [List.MatchExact] is the go command's
// own, case-sensitive rule, for reasoning about what a client's go command
// does (gomirror doctor), never for gomirror's own decisions.
package modpattern

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// List is a parsed, validated list of module path patterns. The zero List is
// empty and matches nothing. A List is immutable and safe for concurrent use.
type List struct {
	pats   []string // as written, trimmed, in order, without duplicates
	folded string   // pats folded (see fold) and comma-joined, for Match
	exact  string   // pats comma-joined, for MatchExact
}

// Parse parses a comma-separated list of patterns. Spaces around a pattern
// and a trailing slash are removed, empty patterns are skipped, and a
// pattern that repeats an earlier one exactly is dropped (one that differs
// in case is kept: it matters to MatchExact). A pattern that path.Match
// rejects (such as "corp.example/[x") is an error naming it: the go command
// would silently never match it, which for a privacy setting means the
// module it was meant to protect is public.
func Parse(list string) (List, error) {
	var l List
	for p := range strings.SplitSeq(list, ",") {
		p = strings.TrimSuffix(strings.TrimSpace(p), "/")
		if p == "" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return List{}, fmt.Errorf("bad pattern %q: %v", p, err)
		}
		if _, err := path.Match(fold(p), ""); err != nil {
			return List{}, fmt.Errorf("bad pattern %q: %v once case is ignored", p, err)
		}
		l = l.with(p)
	}
	return l, nil
}

// Join returns the patterns of lists together, in order, without
// duplicates: a path matches the result when it matches any of lists.
func Join(lists ...List) List {
	var l List
	for _, in := range lists {
		for _, p := range in.pats {
			l = l.with(p)
		}
	}
	return l
}

// with returns l with p (trimmed, valid) added unless l has it already.
func (l List) with(p string) List {
	if slices.Contains(l.pats, p) {
		return l
	}
	out := List{pats: append(l.pats[:len(l.pats):len(l.pats)], p)}
	out.exact = strings.Join(out.pats, ",")
	folded := make([]string, len(out.pats))
	for i, q := range out.pats {
		folded[i] = fold(q)
	}
	out.folded = strings.Join(folded, ",")
	return out
}

// String returns the list in GOPRIVATE syntax: the patterns as written,
// comma-separated; "" for an empty list. Parse(l.String()) equals l.
func (l List) String() string { return l.exact }

// Empty reports whether the list has no pattern.
func (l List) Empty() bool { return len(l.pats) == 0 }

// Patterns returns the patterns of the list, as written.
func (l List) Patterns() []string { return append([]string(nil), l.pats...) }

// Match reports whether the module path matches a pattern of the list,
// ignoring case: "corp.example/Team/x" and "corp.example/team/x" both match
// "corp.example/team" (and "corp.example/TEAM"). path may also be given in
// its case-encoded form from a proxy URL ("corp.example/!team/x"): '!' never
// occurs in a module path, and it is read as the escape it is.
//
// Match is the rule for every decision gomirror takes itself; see the
// package documentation for why it ignores case.
func (l List) Match(path string) bool {
	return l.folded != "" && module.MatchPrefixPatterns(l.folded, fold(path))
}

// MatchExact reports whether the go command, given this list as GOPRIVATE
// (or GONOPROXY, GONOSUMDB), treats the module path as matching: the same
// rule as Match but case-sensitive, and without decoding '!'. Use it only to
// predict what a go command does (for example whether its GONOSUMDB covers
// its GOPRIVATE); gomirror's own decisions use Match.
func (l List) MatchExact(path string) bool {
	return l.exact != "" && module.MatchPrefixPatterns(l.exact, path)
}

// LiteralPrefixes returns, for each pattern of the list, its leading
// elements that have no glob metacharacter (*, ?, [, \), folded as Match
// compares them (Fold): a path that Match finds matching that pattern has
// them as its own leading elements once folded. A pattern whose first
// element is a glob has none. It lets a caller with many lists (a
// policy's rules) index them by literal prefix and ask Match only of the
// lists that can match.
func (l List) LiteralPrefixes() [][]string {
	out := make([][]string, len(l.pats))
	for i, p := range l.pats {
		var elems []string
		for e := range strings.SplitSeq(fold(p), "/") {
			if e == "" || strings.ContainsAny(e, `*?[\`) {
				break
			}
			elems = append(elems, e)
		}
		out[i] = elems
	}
	return out
}

// Fold returns a path (or pattern) in the form Match compares: lower
// case, with the case escapes of proxy URLs ('!') removed.
func Fold(s string) string { return fold(s) }

// fold maps a path or pattern to the form Match compares: lower case, with
// the case escapes of proxy URLs ('!' before a letter that was upper case)
// removed. Module paths are ASCII, and '!' is not allowed in them, so two
// valid module paths fold alike exactly when they differ only in case.
func fold(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "!", ""))
}
