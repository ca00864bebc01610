// Package docscheck has no code of its own: its tests keep the
// repository's Markdown documentation consistent. README.zh-CN.md must
// match README.md: the same headings in the same order and, section by
// section, as many paragraphs, list items and table rows, the same inline
// code, link targets and fenced code blocks (their '#' comments may be
// translated; a block only one README has is marked <!-- zh-only --> or
// <!-- en-only -->). Every relative link of the
// READMEs and docs/ pages must lead to a file that exists and, when it
// names an anchor, to a heading of that file.
package docscheck
