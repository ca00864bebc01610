package diskspace

import (
	"os"
	"os/exec"
	"testing"
)

// TestBuildsEverywhere: the package documents ErrUnsupported
// "elsewhere", but its unix file (//go:build unix) uses statfs fields that
// only some Unix systems have: it does not compile on openbsd (F_bsize,
// ...), netbsd (Statvfs), solaris or illumos (no Statfs), so neither does
// the binary (server, bundle, doctor import it).
func TestBuildsEverywhere(t *testing.T) {
	for _, goos := range []string{"openbsd", "netbsd", "solaris", "illumos"} {
		cmd := exec.Command("go", "build", "-o", os.DevNull, ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("GOOS=%s: %v\n%s", goos, err, out)
		}
	}
}
