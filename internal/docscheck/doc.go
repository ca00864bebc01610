// Package docscheck has no code of its own: its tests keep the
// repository's Markdown documentation consistent. README.zh-CN.md must
// match README.md (the same headings in the same order, the same fenced
// code blocks, the same link targets), and every relative link of the
// READMEs and docs/ pages must lead to a file that exists and, when it
// names an anchor, to a heading of that file.
package docscheck
