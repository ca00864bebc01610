package i18n

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/width"
)

// Text is a message for a person that is not yet in a language: a key of
// the catalogue (an English fmt format) and its arguments. Library
// packages return Texts (a field of a report) and the command renders
// them with the Printer of the user's language; String gives English
// (logs, errors, tests).
//
// An argument that is itself a Text is rendered in the same language.
type Text struct {
	Key  string
	Args []any
}

// T returns the Text of key (a constant: the catalogue test finds every
// key given to T and fails when one has no translation) with args.
func T(key string, args ...any) Text { return Text{Key: key, Args: args} }

// String is the English text.
func (t Text) String() string {
	if len(t.Args) == 0 {
		return t.Key
	}
	return fmt.Sprintf(t.Key, englishArgs(t.Args)...)
}

// IsZero reports whether t is empty (no key).
func (t Text) IsZero() bool { return t.Key == "" }

// MarshalText is the English text, so that a Text in a JSON report is a
// plain string there, stable for machines.
func (t Text) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads a Text that MarshalText wrote (a JSON report read
// back): the English string, as data (key "%s" with the string as its
// argument), so that String and MarshalText give it back as it was and a
// Printer of any language renders it as it is, a '%' in it included.
func (t *Text) UnmarshalText(b []byte) error {
	*t = Text{Key: "%s", Args: []any{string(b)}}
	return nil
}

func englishArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if t, ok := a.(Text); ok {
			a = t.String()
		}
		out[i] = a
	}
	return out
}

// Printer renders catalogue keys and Texts in one language. Its verbs are
// those of golang.org/x/text/message: %d groups digits by the language's
// rules (1,234), so a number that must print as it is (a port, a status
// code, an exit status) is given with %s and strconv, or with %v of a
// string.
type Printer struct {
	tag language.Tag
	p   *message.Printer
}

// NewPrinter returns the printer of tag, one of Supported.
func NewPrinter(tag language.Tag) *Printer {
	return &Printer{tag: tag, p: Default().Printer(tag)}
}

// English is the printer of English.
func English() *Printer { return NewPrinter(language.English) }

// Tag returns the printer's language.
func (p *Printer) Tag() language.Tag { return p.tag }

// Chinese reports whether the printer's language is Chinese.
func (p *Printer) Chinese() bool { return Code(p.tag) == "zh" }

// Sprintf renders key (a constant catalogue key) with args.
func (p *Printer) Sprintf(key string, args ...any) string {
	return p.p.Sprintf(key, p.args(args)...)
}

// Fprintf writes key (a constant catalogue key) rendered with args to w.
func (p *Printer) Fprintf(w io.Writer, key string, args ...any) (int, error) {
	return io.WriteString(w, p.Sprintf(key, args...))
}

// Translate returns the translation of text, a catalogue key used as it
// is, not as a format (a help text, which may hold a '%'), or text itself
// when the catalogue lacks it or the language is English. It is for texts
// that are data where they are given (cobra's Short, Long and flag
// usages): the catalogue scan cannot see them, so whoever gives them
// checks with Has that they are in the catalogue.
func (p *Printer) Translate(text string) string {
	if p.Chinese() {
		if zh, ok := Default().zh[text]; ok {
			return zh
		}
	}
	return text
}

// Text renders t; the zero Text is "".
func (p *Printer) Text(t Text) string {
	if t.IsZero() {
		return ""
	}
	return p.Sprintf(t.Key, t.Args...)
}

func (p *Printer) args(args []any) []any {
	var out []any
	for i, a := range args {
		var s string
		switch a := a.(type) {
		case Text:
			s = p.Text(a)
		case *Error:
			s = p.Text(a.Text)
		case error:
			s = p.Error(a)
		default:
			continue
		}
		if out == nil {
			out = append([]any(nil), args...)
		}
		out[i] = s
	}
	if out == nil {
		return args
	}
	return out
}

// Lang chooses the language of a command-line tool: flag (the --lang
// value) when it is set, which must name a supported language ("en",
// "zh", or a tag such as "zh-CN"); else the locale of the environment as
// getenv reads it, LC_ALL over LC_MESSAGES over LANG as POSIX orders them
// (the first that is set decides): Chinese for a zh locale (zh_CN.UTF-8,
// zh_TW, zh), English for any other, C and POSIX included, and when none
// is set.
func Lang(flag string, getenv func(string) string) (language.Tag, error) {
	if flag != "" {
		if t, err := language.Parse(flag); err == nil {
			if _, i, conf := Default().matcher.Match(t); conf >= language.High {
				return Supported[i], nil
			}
		}
		return language.Tag{}, Errorf("unsupported language %q (want en or zh)", flag)
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		loc := getenv(v)
		if loc == "" {
			continue
		}
		loc, _, _ = strings.Cut(loc, ".")
		loc, _, _ = strings.Cut(loc, "@")
		base, _, _ := strings.Cut(strings.ReplaceAll(loc, "-", "_"), "_")
		if strings.EqualFold(base, "zh") {
			return language.SimplifiedChinese, nil
		}
		return language.English, nil
	}
	return language.English, nil
}

// Width is the number of terminal columns s takes: 2 for an East Asian
// wide or fullwidth character (汉字, fullwidth punctuation), 1 for others.
func Width(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

// Pad returns s followed by spaces up to n columns (Width); s as it is
// when it is already as wide.
func Pad(s string, n int) string {
	if w := Width(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}

// WriteTable writes rows as a table whose columns are aligned by display
// width (a Chinese cell lines up as an English one does), two spaces
// between columns, no trailing spaces. Rows may have fewer cells than
// others. Use it rather than text/tabwriter, which counts a Chinese
// character as one column.
func WriteTable(w io.Writer, rows [][]string) error {
	widths := columnWidths(rows)
	for _, r := range rows {
		if err := writeRow(w, r, widths); err != nil {
			return err
		}
	}
	return nil
}

// columnWidths is the display width of each column of rows.
func columnWidths(rows [][]string) []int {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], Width(c))
		}
	}
	return widths
}

// writeRow writes one line of a table: cells padded to widths, two spaces
// between them, the last one as it is, no trailing spaces.
func writeRow(w io.Writer, cells []string, widths []int) error {
	var b strings.Builder
	for i, c := range cells {
		if i == len(cells)-1 {
			b.WriteString(c)
			break
		}
		b.WriteString(Pad(c, widths[i]))
		b.WriteString("  ")
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), " ")+"\n")
	return err
}

// Error is an error whose message is a Text, so that the command that
// prints it can print it in the user's language; Error() is English.
// Errorf makes one.
type Error struct{ Text Text }

// Errorf returns an *Error of key (a constant catalogue key) with args
// (use %v, not %w, for an error argument).
// As with fmt.Errorf's %w, an error among args is what Unwrap returns
// (the first one), so errors.Is and errors.As see through it.
func Errorf(key string, args ...any) error { return &Error{Text: T(key, args...)} }

func (e *Error) Error() string { return e.Text.String() }

// Unwrap returns the errors among the Text's arguments.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, a := range e.Text.Args {
		if err, ok := a.(error); ok {
			errs = append(errs, err)
		}
	}
	return errs
}

// Error renders err in the printer's language: each *Error in its chain
// of arguments is translated, any other error is its Error() (English).
func (p *Printer) Error(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Error() == err.Error() {
		return p.Text(e.Text)
	}
	return err.Error()
}

// WriteTableWrapped is WriteTable for a terminal maxWidth columns wide:
// when the table is wider, the widest columns are narrowed (first to no
// less than their longest word, so that an ID or other token without
// spaces that fits is never split; then, if still too wide, to no less
// than 8 columns each) and their cells wrapped by display width, English
// between words (a word wider than the column is cut), Chinese between
// any two characters; a row then takes several lines, the other cells
// blank on its continuation lines. A table that fits is WriteTable's.
func WriteTableWrapped(w io.Writer, rows [][]string, maxWidth int) error {
	widths := columnWidths(rows)
	const minCol = 8
	total := func() int {
		n := 2 * max(len(widths)-1, 0)
		for _, x := range widths {
			n += x
		}
		return n
	}
	if total() <= maxWidth {
		return WriteTable(w, rows)
	}
	// First narrow no column below its longest unbreakable word (an ID,
	// a path: what a user greps for stays whole); only if the table is
	// still too wide, down to minCol, cutting words.
	words := make([]int, len(widths))
	for _, r := range rows {
		for i, c := range r {
			words[i] = max(words[i], longestWord(c))
		}
	}
	narrow := func(floor func(i int) int) {
		for total() > maxWidth {
			widest := -1
			for i, x := range widths {
				if x > floor(i) && (widest < 0 || x > widths[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				return
			}
			widths[widest]--
		}
	}
	narrow(func(i int) int { return max(minCol, words[i]) })
	narrow(func(int) int { return minCol })
	for _, r := range rows {
		cells := make([][]string, len(r))
		lines := 1
		for i, c := range r {
			cells[i] = wrapCell(c, widths[i])
			lines = max(lines, len(cells[i]))
		}
		line := make([]string, len(r))
		for l := range lines {
			for i := range r {
				line[i] = ""
				if l < len(cells[i]) {
					line[i] = cells[i][l]
				}
			}
			if err := writeRow(w, line, widths); err != nil {
				return err
			}
		}
	}
	return nil
}

// longestWord is the display width of the longest run of narrow
// characters without a space in s (wide characters break anywhere).
func longestWord(s string) int {
	longest, n := 0, 0
	for _, r := range s {
		w := Width(string(r))
		if r == ' ' || r == '\n' || r == '\t' || w == 2 {
			n = 0
			continue
		}
		n += w
		longest = max(longest, n)
	}
	return longest
}

// wrapCell breaks s into lines of at most n display columns: between
// words, and between any two wide (CJK) characters.
func wrapCell(s string, n int) []string {
	if Width(s) <= n {
		return []string{s}
	}
	// Tokens: a word of narrow characters, one wide character, or a
	// space (a break that is dropped at a line end).
	var toks []string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			toks = append(toks, word.String())
			word.Reset()
		}
	}
	for _, r := range s {
		switch {
		case r == ' ' || r == '\n' || r == '\t':
			flush()
			toks = append(toks, " ")
		case strings.ContainsRune("。，、；：？！）》」』", r) && (word.Len() > 0 || len(toks) > 0 && toks[len(toks)-1] != " "):
			flush()
			toks[len(toks)-1] += string(r) // closing punctuation never starts a line
		case Width(string(r)) == 2:
			flush()
			toks = append(toks, string(r))
		default:
			word.WriteRune(r)
		}
	}
	flush()
	// Opening punctuation never ends a line: it goes with what follows.
	for i := len(toks) - 2; i >= 0; i-- {
		if strings.ContainsAny(toks[i], "（《「『") && Width(toks[i]) == 2 && toks[i+1] != " " {
			toks[i] += toks[i+1]
			toks = append(toks[:i+1], toks[i+2:]...)
		}
	}
	var lines []string
	var cur strings.Builder
	curW := 0
	end := func() {
		lines = append(lines, strings.TrimRight(cur.String(), " "))
		cur.Reset()
		curW = 0
	}
	for _, t := range toks {
		tw := Width(t)
		if t == " " {
			if curW > 0 && curW < n {
				cur.WriteString(" ")
				curW++
			}
			continue
		}
		if curW+tw > n && curW > 0 {
			end()
		}
		for tw > n { // a word wider than the column: cut it
			part, pw := "", 0
			for _, r := range t {
				if rw := Width(string(r)); pw+rw > n {
					break
				} else {
					part += string(r)
					pw += rw
				}
			}
			cur.WriteString(part)
			end()
			t = t[len(part):]
			tw = Width(t)
		}
		cur.WriteString(t)
		curW += tw
	}
	if curW > 0 {
		end()
	}
	return lines
}
