package audit

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"clean", "Go-http-client/1.1", "Go-http-client/1.1"},
		{"empty", "", ""},
		{"NUL", "a\x00b", "a\uFFFDb"},
		{"invalid", "a\xffb", "a\uFFFDb"},
		{"long", strings.Repeat("x", 1000), strings.Repeat("x", MaxField)},
		{"MaxField", strings.Repeat("x", MaxField), strings.Repeat("x", MaxField)},
		{"MaxField+1", strings.Repeat("x", MaxField+1), strings.Repeat("x", MaxField)},
		{"NUL last", "abc\x00", "abc\uFFFD"},
		{"valid non-ASCII", "modulé/世", "modulé/世"},
		{"DEL and controls", "a\x7f\tb", "a\x7f\tb"},
	} {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("%s: Clean(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
	// Whatever a client sends, the result is at most MaxField bytes of
	// valid UTF-8 without NUL, cut at a character's start.
	for _, in := range []string{
		strings.Repeat("\x00", 1000),
		strings.Repeat("a\xff", 1000),
		strings.Repeat("é", 1000),
		"x" + strings.Repeat("世", 1000),
	} {
		got := Clean(in)
		if len(got) > MaxField || !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 || len(got) < MaxField-3 {
			t.Errorf("Clean(%.20q...) = %d bytes %.20q...; want %d at most (and at least %d), valid, no NUL", in, len(got), got, MaxField, MaxField-3)
		}
	}
	s := "Go-http-client/1.1"
	if n := testing.AllocsPerRun(100, func() { Clean(s) }); n != 0 {
		t.Errorf("Clean of a clean string allocates %v times", n)
	}
}
