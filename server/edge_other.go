//go:build !linux

package server

import "syscall"

// waitSendSpace is a no-op where the socket's free space is not known:
// the copy waits inside net/http instead.
func waitSendSpace(syscall.RawConn) (int, error) { return writeChunk, nil }
