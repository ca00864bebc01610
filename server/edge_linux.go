package server

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// minSendSpace is the smallest chunk sent once the socket is writable,
// whatever its free space looks like.
const minSendSpace = 16 << 10

// waitSendSpace waits, holding no buffer, until the socket behind raw
// takes more data (poll's POLLOUT, under the connection's write deadline),
// and returns about how many bytes it can take without blocking, at least
// minSendSpace. A stalled client's response then waits here rather than
// inside net/http's copy, which holds a 32 KiB buffer.
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
		space = sendRoom(int(fd))
		return true
	})
	return max(space, minSendSpace), err
}

// sendRoom estimates how many more bytes the socket's send buffer takes.
// The kernel counts the buffer in memory it uses (SO_MEMINFO's sndbuf and
// wmem_queued), which is more than the bytes queued (SIOCOUTQ); the ratio
// of the two for what is queued now converts the free memory to bytes.
func sendRoom(fd int) int {
	var mi [unix.SK_MEMINFO_VARS]uint32
	size := uint32(unsafe.Sizeof(mi))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&mi[0])), uintptr(unsafe.Pointer(&size)), 0); e != 0 {
		return 0
	}
	queued, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	if err != nil {
		return 0
	}
	sndbuf, used := int64(mi[unix.SK_MEMINFO_SNDBUF]), int64(mi[unix.SK_MEMINFO_WMEM_QUEUED])
	free := sndbuf - used
	if free <= 0 {
		return 0
	}
	if used <= 0 || queued <= 0 {
		return int(free / 2) // nothing queued to measure the overhead by
	}
	return int(free * int64(queued) / used)
}
