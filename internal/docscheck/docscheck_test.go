package docscheck

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// root is the repository's root, relative to this package.
const root = "../.."

// doc is what the tests read of a Markdown file.
type doc struct {
	headings []string // "## Title", outside fenced blocks, in order
	anchors  map[string]bool
	links    []string // link targets outside fenced blocks, in order
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// parse reads a Markdown text: headings and links outside fenced code
// blocks, and the headings' anchors as GitHub makes them.
func parse(text string) doc {
	d := doc{anchors: map[string]bool{}}
	inFence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		if level := len(line) - len(strings.TrimLeft(line, "#")); level > 0 && level <= 6 && strings.HasPrefix(line[level:], " ") {
			d.headings = append(d.headings, line)
			a := slug(line[level+1:])
			for n := 1; d.anchors[a]; n++ { // GitHub numbers repeated anchors
				a = slug(line[level+1:]) + "-" + strconv.Itoa(n)
			}
			d.anchors[a] = true
		}
		for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
			d.links = append(d.links, m[1])
		}
	}
	return d
}

// slug is the anchor GitHub gives a heading: lower case, letters, digits,
// '-' and '_' kept, spaces become '-', anything else dropped.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func read(t *testing.T, name string) doc {
	t.Helper()
	return parse(readText(t, name))
}

func readText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestChineseREADMEMatches: README.zh-CN.md has README.md's sections (as
// many headings, of the same levels, in order), section by section the
// same paragraphs, list items, table rows, inline code, links and fenced
// blocks (compare), and each links to the other.
func TestChineseREADMEMatches(t *testing.T) {
	enText, zhText := readText(t, "README.md"), readText(t, "README.zh-CN.md")
	en, zh := parse(enText), parse(zhText)
	for _, p := range compare(enText, zhText) {
		t.Error(p)
	}
	if !slices.Contains(en.links, "README.zh-CN.md") {
		t.Errorf("README.md does not link to README.zh-CN.md")
	}
	if !slices.Contains(zh.links, "README.md") {
		t.Errorf("README.zh-CN.md does not link to README.md")
	}
}

// Markers of a paragraph, list item or table row that one README has and
// the other has not (a note for the Chinese reader that the pages it links
// to are in English): compare leaves such a block out.
const (
	zhOnly = "<!-- zh-only -->"
	enOnly = "<!-- en-only -->"
)

// section is what compare matches of the text under one heading.
type section struct {
	heading                 string // "## Title", "" before the first
	paragraphs, items, rows int
	spans                   []string // inline code spans, sorted; a <placeholder> as <>
	links                   []string // link targets, sorted; the link to the other README as "README"
	fences                  []string // fenced blocks, '#' comments stripped
}

var (
	spanRE        = regexp.MustCompile("`[^`]+`")
	placeholderRE = regexp.MustCompile(`<[^<>]*>`)
	itemRE        = regexp.MustCompile(`^\s*([-*+]|[0-9]+\.)\s`)
)

// sections splits a Markdown text at its headings and counts, in each
// section, its paragraphs, list items and table rows (a block marked
// zhOnly or enOnly is left out), collects its inline code spans and its
// fenced blocks.
func sections(text string) []section {
	var (
		out     []section
		cur     section
		block   []string // the lines of the paragraph, item or row being read
		kind    string   // its kind: "paragraph", "item", "more" (an item's next paragraph), "row", "" between blocks
		last    string   // the kind of the block before the blank lines
		fence   []string
		inFence bool
	)
	endBlock := func() {
		b := strings.Join(block, "\n")
		if kind != "" && !strings.Contains(b, zhOnly) && !strings.Contains(b, enOnly) {
			switch kind {
			case "paragraph":
				cur.paragraphs++
			case "item":
				cur.items++
			case "row":
				cur.rows++
			}
			for _, sp := range spanRE.FindAllString(b, -1) {
				cur.spans = append(cur.spans, placeholderRE.ReplaceAllString(sp, "<>"))
			}
			for _, m := range linkRE.FindAllStringSubmatch(b, -1) {
				l := m[1]
				if l == "README.md" || l == "README.zh-CN.md" {
					l = "README"
				}
				cur.links = append(cur.links, l)
			}
		}
		switch kind {
		case "more":
			last = "item"
		case "":
		default:
			last = kind
		}
		block, kind = nil, ""
	}
	endSection := func() {
		endBlock()
		slices.Sort(cur.spans)
		slices.Sort(cur.links)
		out = append(out, cur)
	}
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			if !inFence {
				endBlock()
			}
			fence = append(fence, line)
			if inFence {
				cur.fences = append(cur.fences, strings.Join(fence, "\n"))
				fence = nil
			}
			inFence = !inFence
			continue
		}
		if inFence {
			fence = append(fence, stripComment(line))
			continue
		}
		if level := len(line) - len(strings.TrimLeft(line, "#")); level > 0 && level <= 6 && strings.HasPrefix(line[level:], " ") {
			endSection()
			cur, last = section{heading: line}, ""
			continue
		}
		switch {
		case trimmed == "":
			endBlock()
			continue
		case strings.HasPrefix(trimmed, "<!--") && strings.HasSuffix(trimmed, "-->") && kind == "":
			continue // a comment on its own line is no block
		case strings.HasPrefix(trimmed, "|"):
			endBlock()
			kind = "row"
		case itemRE.MatchString(line):
			endBlock()
			kind = "item"
		case kind == "" && last == "item" && strings.HasPrefix(line, " "):
			kind = "more" // an item's paragraph after a blank line: not counted again
		case kind == "" || kind == "row":
			endBlock()
			kind = "paragraph"
		}
		block = append(block, line)
	}
	endSection()
	return out
}

// stripComment is a line of a fenced block without its '#' comment (a '#'
// at the start or after a space, to the end of the line) and the spaces
// before it, so that the comments of a README's commands may be
// translated.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return strings.TrimRight(line[:i], " \t")
		}
	}
	return line
}

// compare matches a README (en) and its translation (zh) section by
// section: the same headings (count and levels, in order), and in each
// section as many paragraphs, list items and table rows, the same link
// targets, the same inline code spans (commands, flags, names, messages:
// the facts, which stay untranslated; <placeholders> may be translated)
// and the same fenced blocks but for their '#' comments. It returns a line per difference.
func compare(en, zh string) []string {
	var out []string
	es, zs := sections(en), sections(zh)
	level := func(h string) string { return strings.TrimRight(h[:strings.Index(h+" ", " ")], " ") }
	if len(es) != len(zs) {
		var eh, zhh []string
		for _, s := range es {
			eh = append(eh, s.heading)
		}
		for _, s := range zs {
			zhh = append(zhh, s.heading)
		}
		return []string{"README.md has " + strconv.Itoa(len(es)-1) + " headings, README.zh-CN.md " + strconv.Itoa(len(zs)-1) + ":\n" +
			strings.Join(eh, "\n") + "\n--\n" + strings.Join(zhh, "\n")}
	}
	for i := range es {
		e, z := es[i], zs[i]
		name := "section " + strconv.Itoa(i) + " (" + e.heading + " / " + z.heading + ")"
		if level(e.heading) != level(z.heading) {
			out = append(out, name+": headings not of the same level")
		}
		for _, c := range []struct {
			what string
			e, z int
		}{{"paragraphs", e.paragraphs, z.paragraphs}, {"list items", e.items, z.items}, {"table rows", e.rows, z.rows}, {"fenced blocks", len(e.fences), len(z.fences)}} {
			if c.e != c.z {
				out = append(out, name+": "+strconv.Itoa(c.e)+" "+c.what+" in README.md, "+strconv.Itoa(c.z)+" in README.zh-CN.md (mark a block that only one has "+zhOnly+" or "+enOnly+")")
			}
		}
		if !slices.Equal(e.spans, z.spans) {
			out = append(out, name+": inline code differs:\n  README.md only: "+strings.Join(minus(e.spans, z.spans), " ")+"\n  README.zh-CN.md only: "+strings.Join(minus(z.spans, e.spans), " "))
		}
		if !slices.Equal(e.links, z.links) {
			out = append(out, name+": links differ:\n  README.md only: "+strings.Join(minus(e.links, z.links), " ")+"\n  README.zh-CN.md only: "+strings.Join(minus(z.links, e.links), " "))
		}
		for j := range min(len(e.fences), len(z.fences)) {
			if e.fences[j] != z.fences[j] {
				out = append(out, name+": fenced block "+strconv.Itoa(j+1)+" differs (comments aside):\nREADME.md:\n"+e.fences[j]+"\nREADME.zh-CN.md:\n"+z.fences[j])
			}
		}
	}
	return out
}

// minus is a less b, as multisets (both sorted).
func minus(a, b []string) []string {
	var out []string
	i := 0
	for _, x := range a {
		for i < len(b) && b[i] < x {
			i++
		}
		if i < len(b) && b[i] == x {
			i++
			continue
		}
		out = append(out, x)
	}
	return out
}

// TestCompare: compare finds a paragraph, item, row, code span or command
// that one README has and the other has not, and accepts translated
// prose, comments and placeholders, and marked blocks.
func TestCompare(t *testing.T) {
	const en = "# T\n\nIntro `a`.\n\n## One\n\nListen on `127.0.0.1:3000`,\nsee `<dir>/x`.\n\n- item `-x`\n- item two\n  wrapped\n\n" +
		"```sh\ngo run . serve   # run it\n```\n\n| a | b |\n|---|---|\n| c | d |\n"
	const zh = "# T\n\n介绍 `a`。\n\n## 一\n\n监听 `127.0.0.1:3000`，\n见 `<目录>/x`。\n\n- 条目 `-x`\n- 条目二\n  续行\n\n" +
		"```sh\ngo run . serve   # 运行\n```\n\n| 甲 | 乙 |\n|---|---|\n| 丙 | 丁 |\n"
	if p := compare(en, zh); len(p) != 0 {
		t.Fatalf("a faithful translation: %q", p)
	}
	if p := compare(en, strings.Replace(zh, "## 一\n", "## 一\n\n只有中文的说明。"+zhOnly+"\n", 1)); len(p) != 0 {
		t.Errorf("a marked zh-only paragraph: %q", p)
	}
	for _, tc := range []struct{ name, zh, want string }{
		{"extra paragraph", strings.Replace(zh, "- 条目 `-x`", "多出的一段。\n\n- 条目 `-x`", 1), "1 paragraphs in README.md, 2"},
		{"extra item", strings.Replace(zh, "- 条目二", "- 多出的条目\n- 条目二", 1), "2 list items in README.md, 3"},
		{"extra row", zh + "| 戊 | 己 |\n", "3 table rows in README.md, 4"},
		{"other port", strings.Replace(zh, "3000", "4000", 1), "inline code differs"},
		{"lost span", strings.Replace(zh, "`-x`", "-x", 1), "README.md only: `-x`"},
		{"other command", strings.Replace(zh, "serve   #", "serve --x #", 1), "fenced block 1 differs"},
		{"extra heading", zh + "\n## 多\n", "headings"},
		{"lost link", strings.Replace(zh, "介绍 `a`。", "介绍 `a`，见 [x](x.md)。", 1), "README.zh-CN.md only: x.md"},
	} {
		p := compare(en, tc.zh)
		if !strings.Contains(strings.Join(p, "\n"), tc.want) {
			t.Errorf("%s: compare = %q, want one with %q", tc.name, p, tc.want)
		}
	}
}

// TestLinks: every relative link of the READMEs and the docs/ pages names
// a file or directory that exists, and an anchor in a Markdown file names
// one of its headings.
func TestLinks(t *testing.T) {
	pages := []string{"README.md", "README.zh-CN.md", "deploy/README.md", "bench/README.md"}
	more, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range more {
		rel, _ := filepath.Rel(root, p)
		pages = append(pages, filepath.ToSlash(rel))
	}
	docs := map[string]doc{}
	get := func(name string) doc {
		if d, ok := docs[name]; ok {
			return d
		}
		d := read(t, name)
		docs[name] = d
		return d
	}
	n := 0
	for _, page := range pages {
		for _, l := range get(page).links {
			if strings.Contains(l, "://") || strings.HasPrefix(l, "mailto:") {
				continue
			}
			n++
			path, anchor, _ := strings.Cut(l, "#")
			target := page
			if path != "" {
				target = filepath.ToSlash(filepath.Join(filepath.Dir(page), path))
				if strings.HasPrefix(target, "../") {
					t.Errorf("%s: link %s leaves the repository", page, l)
					continue
				}
				if _, err := os.Stat(filepath.Join(root, target)); err != nil {
					t.Errorf("%s: link %s: %v", page, l, err)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(target, ".md") && !get(target).anchors[anchor] {
				t.Errorf("%s: link %s: no heading of %s has the anchor %q", page, l, target, anchor)
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d relative links found: the parser lost them", n)
	}
}

// TestSlug: anchors as GitHub makes them, for the headings the pages have.
func TestSlug(t *testing.T) {
	for _, tc := range []struct{ heading, want string }{
		{"Snapshots and environments: `/snapshots/NAME/`, `/env/NAME/`", "snapshots-and-environments-snapshotsname-envname"},
		{"A store as a `file://` GOPROXY", "a-store-as-a-file-goproxy"},
		{"The Go vulnerability database (`/vuln/`)", "the-go-vulnerability-database-vuln"},
		{"Storing in S3 (or MinIO, Ceph, OSS, COS)", "storing-in-s3-or-minio-ceph-oss-cos"},
		{"两条命令", "两条命令"},
	} {
		if got := slug(tc.heading); got != tc.want {
			t.Errorf("slug(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}
