//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package tty

// isTerminal is false where gomirror cannot tell: a command that would
// ask then needs its --yes.
func isTerminal(fd uintptr) bool { return false }
