package server

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// minSendSpace is the smallest chunk sent once the socket is writable,
// whatever its free space looks like.
const minSendSpace = 4 << 10

// waitSendSpace waits, holding no buffer, until the socket behind raw
// takes more data (poll's POLLOUT, under the connection's write deadline),
// and returns about how many bytes it can take without blocking: half its
// send buffer (the kernel counts overhead in it too) minus what is queued,
// at least minSendSpace. A stalled client's response then waits here
// rather than inside net/http's copy, which holds a 32 KiB buffer.
func waitSendSpace(raw syscall.RawConn) (int, error) {
	space := 0
	err := raw.Write(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, 0)
		if err != nil {
			return true // cannot tell: let the write find out
		}
		if n == 0 || pfd[0].Revents&unix.POLLOUT == 0 {
			return false // full: wait for the poller to say it is writable
		}
		sndbuf, err1 := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		queued, err2 := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		if err1 == nil && err2 == nil {
			space = sndbuf/2 - queued
		}
		return true
	})
	return max(space, minSendSpace), err
}
