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
	fences   []string // each fenced block, fences included, in order
	links    []string // link targets outside fenced blocks, in order
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// parse reads a Markdown text: headings and links outside fenced code
// blocks, the fenced blocks themselves, and the headings' anchors as
// GitHub makes them.
func parse(text string) doc {
	d := doc{anchors: map[string]bool{}}
	var fence []string
	inFence := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			fence = append(fence, line)
			if inFence {
				d.fences = append(d.fences, strings.Join(fence, "\n"))
				fence = nil
			}
			inFence = !inFence
			continue
		}
		if inFence {
			fence = append(fence, line)
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
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return parse(string(b))
}

// TestChineseREADMEMatches: README.zh-CN.md has README.md's sections (as
// many headings, of the same levels, in order), its fenced blocks byte for
// byte in order, and its link targets, apart from the link each has to the
// other.
func TestChineseREADMEMatches(t *testing.T) {
	en, zh := read(t, "README.md"), read(t, "README.zh-CN.md")
	level := func(h string) string { return h[:strings.Index(h, " ")] }
	if len(en.headings) != len(zh.headings) {
		t.Errorf("README.md has %d headings, README.zh-CN.md %d:\n%s\n--\n%s", len(en.headings), len(zh.headings),
			strings.Join(en.headings, "\n"), strings.Join(zh.headings, "\n"))
	} else {
		for i := range en.headings {
			if level(en.headings[i]) != level(zh.headings[i]) {
				t.Errorf("heading %d: %q in README.md, %q in README.zh-CN.md: not the same level", i+1, en.headings[i], zh.headings[i])
			}
		}
	}
	if len(en.fences) != len(zh.fences) {
		t.Errorf("README.md has %d fenced blocks, README.zh-CN.md %d", len(en.fences), len(zh.fences))
	}
	for i := range min(len(en.fences), len(zh.fences)) {
		if en.fences[i] != zh.fences[i] {
			t.Errorf("fenced block %d differs:\nREADME.md:\n%s\nREADME.zh-CN.md:\n%s", i+1, en.fences[i], zh.fences[i])
		}
	}
	if !slices.Contains(en.links, "README.zh-CN.md") {
		t.Errorf("README.md does not link to README.zh-CN.md")
	}
	if !slices.Contains(zh.links, "README.md") {
		t.Errorf("README.zh-CN.md does not link to README.md")
	}
	targets := func(d doc, other string) map[string]bool {
		m := map[string]bool{}
		for _, l := range d.links {
			if l != other {
				m[l] = true
			}
		}
		return m
	}
	enT, zhT := targets(en, "README.zh-CN.md"), targets(zh, "README.md")
	for l := range enT {
		if !zhT[l] {
			t.Errorf("README.md links to %s, README.zh-CN.md does not", l)
		}
	}
	for l := range zhT {
		if !enT[l] {
			t.Errorf("README.zh-CN.md links to %s, README.md does not", l)
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
