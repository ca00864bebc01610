//go:build windows

package tty

import "golang.org/x/sys/windows"

// isTerminal asks for the console mode, which only a console has.
func isTerminal(fd uintptr) bool {
	var mode uint32
	return windows.GetConsoleMode(windows.Handle(fd), &mode) == nil
}
