// Package tty tells whether a file is a terminal, where a person can
// answer a question (a y/N prompt), without a dependency beyond
// golang.org/x/sys. /dev/null, a pipe and a regular file are not
// terminals.
package tty

// Fd is what an *os.File is for IsTerminal.
type Fd interface {
	Fd() uintptr
}

// IsTerminal reports whether x (a reader to ask on, a writer to draw
// progress on) is a terminal: an *os.File (anything with Fd) whose
// descriptor the system says is one.
func IsTerminal(x any) bool {
	f, ok := x.(Fd)
	return ok && isTerminal(f.Fd())
}
