package tty

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPseudoTerminalIsTerminal: both ends of a pseudo-terminal are
// terminals (the positive case: a prompt is asked there).
func TestPseudoTerminalIsTerminal(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	defer pts.Close()
	if !IsTerminal(pts) || !IsTerminal(ptmx) {
		t.Errorf("IsTerminal(pts) = %v, IsTerminal(ptmx) = %v; want true", IsTerminal(pts), IsTerminal(ptmx))
	}
}
